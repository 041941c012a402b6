//! Server functions of the operations pages: the same `AppState` doors the
//! REST API's `/api/v1/operations` uses. Requests travel as JSON: an
//! operation is nested tagged data that a form encoding would flatten.

use leptos::{prelude::*, server_fn::codec::Json};
use ringside_api::operation::{NewOperation, OperationPreview, OperationSummary, OperationView};

#[cfg(feature = "ssr")]
use super::{actor, state};
use crate::error::UiError;

#[server(input = Json, endpoint = "ui/preview_operation")]
pub async fn preview_operation(request: NewOperation) -> Result<OperationPreview, UiError> {
    Ok(state()?.operations.preview(&request).await?)
}

#[server(input = Json, endpoint = "ui/start_operation")]
pub async fn start_operation(request: NewOperation) -> Result<OperationView, UiError> {
    Ok(state()?.create_operation(&actor()?, request).await?)
}

/// The newest operations first.
#[server(endpoint = "ui/list_operations")]
pub async fn list_operations() -> Result<Vec<OperationSummary>, UiError> {
    Ok(state()?.operations.list(50, None).await?)
}

#[server(endpoint = "ui/get_operation")]
pub async fn get_operation(id: String) -> Result<OperationView, UiError> {
    Ok(state()?.operations.get(&id).await?)
}

#[server(endpoint = "ui/cancel_operation")]
pub async fn cancel_operation(id: String) -> Result<OperationView, UiError> {
    Ok(state()?.cancel_operation(&actor()?, &id).await?)
}

#[server(endpoint = "ui/retry_operation_target")]
pub async fn retry_operation_target(id: String, cluster: String) -> Result<OperationView, UiError> {
    Ok(state()?.retry_target(&actor()?, &id, &cluster).await?)
}
