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
