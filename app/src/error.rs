//! The error type every server function returns, kept structured across the
//! network so the UI can put a field's error next to that field.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    /// A form field broke its rule; shown next to the field.
    #[error("{message}")]
    Field { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// Not logged in, or the session has ended.
    #[error("{0}")]
    Unauthenticated(String),
    /// The policy does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Anything else: the console could not do what was asked.
    #[error("{0}")]
    Server(String),
}

impl UiError {
    /// The message for one form field, if this error is about it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            UiError::Field { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        UiError::Server(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<ringside_console::ConsoleError> for UiError {
    fn from(error: ringside_console::ConsoleError) -> Self {
        use ringside_console::ConsoleError;
        match error {
            ConsoleError::Invalid(e) | ConsoleError::Conflict(e) => UiError::Field {
                field: e.field,
                message: e.message,
            },
            ConsoleError::NotFound(_)
            | ConsoleError::NoOperation(_)
            | ConsoleError::NoLicense(_)
            | ConsoleError::NoToken(_)
            | ConsoleError::NoTarget { .. } => UiError::NotFound(error.to_string()),
            ConsoleError::OperationFinished { .. } => UiError::Field {
                field: "operation".to_string(),
                message: error.to_string(),
            },
            other => {
                leptos::logging::error!("console operation failed: {other}");
                UiError::Server(other.to_string())
            }
        }
    }
}

/// How the console's gateway refuses a server function call: the status,
/// and the error in the encoding the browser's server function client
/// decodes.
#[cfg(feature = "ssr")]
pub fn server_fn_denial(status: http::StatusCode, message: String) -> axum::response::Response {
    let error = if status == http::StatusCode::UNAUTHORIZED {
        UiError::Unauthenticated(message)
    } else {
        UiError::Forbidden(message)
    };
    let mut response = axum::response::Response::new(axum::body::Body::from(error.ser()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
