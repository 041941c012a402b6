//! Server functions of the license dashboard: the `AppState` doors the
//! REST API's `/api/v1/licenses` uses.

use leptos::prelude::*;
use ringside_api::{
    licenses::{LicenseDashboard, UploadedLicense},
    operation::OperationView,
};

#[cfg(feature = "ssr")]
use super::{actor, state};
use crate::error::UiError;

#[server(endpoint = "ui/get_license_dashboard")]
pub async fn get_license_dashboard() -> Result<LicenseDashboard, UiError> {
    Ok(state()?.license_dashboard().await?)
}

/// The expiry chart, drawn as SVG.
#[server(endpoint = "ui/license_expiry_chart")]
pub async fn license_expiry_chart() -> Result<String, UiError> {
    Ok(state()?.license_expiry_chart().await?)
}

#[server(endpoint = "ui/upload_license")]
pub async fn upload_license(license: String) -> Result<UploadedLicense, UiError> {
    Ok(state()?.upload_license(&actor()?, &license).await?)
}

#[server(endpoint = "ui/apply_license")]
pub async fn apply_license(id: String) -> Result<OperationView, UiError> {
    Ok(state()?.apply_license(&actor()?, &id).await?)
}
