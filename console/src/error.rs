//! What can go wrong in a console operation; mapped to HTTP statuses once,
//! in `api`, and to the UI's error type once, in the app's server functions.

use ringside_api::FieldError;

use crate::{history::HistoryError, secrets::SecretError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The request broke a rule of one of its fields.
    #[error("{}", .0.message)]
    Invalid(#[from] FieldError),
    /// The request clashes with what exists, e.g. a name already taken.
    #[error("{}", .0.message)]
    Conflict(FieldError),
    #[error("no cluster named {0:?} is registered")]
    NotFound(String),
    /// A cluster's coordinator could not be asked.
    #[error("cannot reach the coordinator of {cluster:?}: {error}")]
    Unreachable { cluster: String, error: String },
    #[error("no license with id {0} is uploaded")]
    NoLicense(String),
    #[error("no api token with id {0} of yours")]
    NoToken(String),
    #[error("no operation with id {0}")]
    NoOperation(String),
    #[error("operation {id} has no target {cluster:?}")]
    NoTarget { id: String, cluster: String },
    #[error("operation {id} already ended {state}: nothing left to cancel")]
    OperationFinished {
        id: String,
        state: ringside_api::operation::OperationState,
    },
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("metrics history: {0}")]
    History(#[from] HistoryError),
    #[error("cannot draw the chart: {0}")]
    Chart(ringside_charts::ChartError),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error("the authorization policy: {0}")]
    Policy(#[from] ringside_policy::PolicyError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> Self {
        match error {
            // A taken name is the user's input at fault, next to its field.
            StoreError::Duplicate(name) => ConsoleError::Conflict(FieldError::new(
                "name",
                format!("a cluster named {name:?} is already registered: expected a unique name"),
            )),
            other => ConsoleError::Store(other),
        }
    }
}
