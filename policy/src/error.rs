use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong loading a policy, evaluating it, asking OPA, or writing the
/// decision log. Cloneable so the last load error can be kept and shown on the
/// console's policy page while the last good policy stays in force.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    /// A policy file could not be read.
    #[error("policy file {file} cannot be read: {source}; expected a readable rego file")]
    ReadPolicy {
        /// The file as configured.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A policy file does not parse or does not compile.
    #[error("policy file {file} is not valid rego at line {line}, column {column}: {message}")]
    InvalidPolicy {
        /// The file as configured (`<shipped>/ringside.rego` for the shipped policy).
        file: PathBuf,
        /// 1-based line of the problem.
        line: u32,
        /// 1-based column of the problem.
        column: u32,
        /// What the Rego parser or compiler said.
        message: String,
    },
    /// The policies are valid one by one but not together (for example a
    /// rule defined twice with conflicting values), so no line can be named.
    #[error("policy files {files} do not compile together: {message}")]
    InvalidPolicies {
        /// The files, comma-separated.
        files: String,
        /// What the Rego compiler said.
        message: String,
    },
    /// The configured query cannot be evaluated against the loaded policies.
    #[error(
        "policy query {query} cannot be used: {message}; expected the path of a rule, such as data.ringside.authz.allow"
    )]
    InvalidQuery {
        /// The query as configured.
        query: String,
        /// What the Rego compiler said.
        message: String,
    },
    /// Evaluation ran but produced something other than `true` or `false`.
    #[error("policy query {query} yielded {got}, expected true or false")]
    NotBoolean {
        /// The query or OPA decision path.
        query: String,
        /// What came back, as JSON (`undefined` when the rule had no value).
        got: String,
    },
    /// Evaluation itself failed (a builtin error, a conflict between rule
    /// values, a time limit).
    #[error("policy query {query} failed: {message}")]
    Evaluation {
        /// The query.
        query: String,
        /// What the Rego interpreter said.
        message: String,
    },
    /// An OPA request failed before an answer came back.
    #[error(
        "opa request to {url} failed: {message}; expected an opa server answering its data api"
    )]
    OpaUnreachable {
        /// The full decision URL.
        url: String,
        /// The transport error.
        message: String,
    },
    /// OPA did not answer within the configured timeout.
    #[error("opa at {url} did not answer within {timeout:?}")]
    OpaTimeout {
        /// The full decision URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// OPA answered with an HTTP error status.
    #[error(
        "opa at {url} answered http {status}: {body}; expected 200 with {{\"result\": true|false}}"
    )]
    OpaStatus {
        /// The full decision URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// OPA answered 200 with a body that is not a JSON object.
    #[error(
        "opa at {url} answered with a body that is not json: {message}; expected {{\"result\": true|false}}"
    )]
    OpaBody {
        /// The full decision URL.
        url: String,
        /// The JSON parser's message.
        message: String,
    },
    /// The OPA client could not be built from the configuration.
    #[error(
        "opa client for {url} cannot be built: {message}; expected an http url such as http://127.0.0.1:8181"
    )]
    OpaConfig {
        /// The configured base URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The decision log file could not be opened.
    #[error("decision log {file} cannot be opened for appending: {source}")]
    OpenDecisionLog {
        /// The configured file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A string that is not one of the console's action names.
    #[error("unknown action {given:?}, expected one of {expected}")]
    UnknownAction {
        /// What was given.
        given: String,
        /// The known names, comma-separated.
        expected: String,
    },
}
