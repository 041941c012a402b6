//! Talking to a coordinator: where it is, and turning its answers and
//! failures into one-line reasons.

use std::fmt;

use anyhow::{Context, anyhow};
use reqwest::StatusCode;
use ringside_api::{ErrorBody, error::root_cause};
use serde::{Serialize, de::DeserializeOwned};

/// A coordinator's API, reached over HTTP.
pub struct Coordinator {
    base: String,
    http: reqwest::Client,
}

impl Coordinator {
    /// `--coordinator` (or `RINGSIDE_COORDINATOR`, folded in by clap), else
    /// `ringside.coordinator.address`, whose default is
    /// `http://127.0.0.1:19999`.
    pub fn new(
        flag: Option<&str>,
        site: &ringside_config::SiteConfig,
    ) -> anyhow::Result<Coordinator> {
        let client = site.client();
        let base = flag.map_or(client.coordinator_address.clone(), str::to_string);
        let base = ringside_api::cluster::normalize_url(&base)
            .map_err(|e| anyhow!("invalid coordinator address: {}", e.message))?;
        // The cluster token, when the site names one: control calls need it.
        let headers = ringside_cluster::security::client_headers(&client.security)?;
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(client.request_timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Coordinator { base, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.base, ringside_api::API_PREFIX)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.get_query(path, &[]).await
    }

    /// `get` with query parameters, encoded here so paths may hold any
    /// character.
    pub async fn get_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<T> {
        let (_, body) = self
            .answer(self.http.get(self.url(path)).query(query))
            .await?;
        Ok(body)
    }

    /// POSTs without a body; the status tells apart answers that carry
    /// the same type (201 created, 200 existing).
    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<(StatusCode, T)> {
        self.answer(self.http.post(self.url(path))).await
    }

    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(StatusCode, T)> {
        self.answer(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn put_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(StatusCode, T)> {
        self.answer(self.http.put(self.url(path)).json(body)).await
    }

    pub async fn patch_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(StatusCode, T)> {
        self.answer(self.http.patch(self.url(path)).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(self.url(path)))
            .await
            .map(|_| ())
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<(StatusCode, T)> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = response
            .json()
            .await
            .with_context(|| format!("unexpected answer from {}", self.base))?;
        Ok((status, body))
    }

    /// Non-2xx answers become an [`ApiError`] inside the `anyhow::Error`, so
    /// callers that expect some refusals can downcast and tell them apart.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .map_err(|e| anyhow!("coordinator {} unreachable: {}", self.base, root_cause(&e)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(ApiError::from_answer(status, &text).into())
    }
}

/// A coordinator's refusal: its status, its error code when the body had
/// one, and the message shown to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Option<String>,
    pub message: String,
}

impl ApiError {
    fn from_answer(status: StatusCode, text: &str) -> ApiError {
        match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => ApiError {
                status,
                code: Some(body.error.code),
                message: body.error.message,
            },
            Err(_) => ApiError {
                status,
                code: None,
                message: format!("coordinator answered {status}"),
            },
        }
    }

    /// The refusal inside `error`, if it is one.
    pub fn of(error: &anyhow::Error) -> Option<&ApiError> {
        error.downcast_ref()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_code_and_fall_back_to_the_status() {
        let body =
            r#"{"error":{"code":"job_exists","message":"LOAD job 42 for /data is RUNNING"}}"#;
        let error: anyhow::Error = ApiError::from_answer(StatusCode::CONFLICT, body).into();
        let api = ApiError::of(&error).unwrap();
        assert_eq!(api.code.as_deref(), Some("job_exists"));
        assert_eq!(error.to_string(), "LOAD job 42 for /data is RUNNING");

        let api = ApiError::from_answer(StatusCode::BAD_GATEWAY, "<html>");
        assert_eq!(api.code, None);
        assert_eq!(api.to_string(), "coordinator answered 502 Bad Gateway");
    }
}
