//! Talking to a coordinator: where it is, and turning its answers and
//! failures into one-line reasons.

use anyhow::{Context, anyhow};
use ringside_api::ErrorBody;
use serde::de::DeserializeOwned;

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
        let http = reqwest::Client::builder()
            .timeout(client.request_timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Coordinator { base, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.base, ringside_api::API_PREFIX)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.send(self.http.get(self.url(path))).await?;
        response
            .json()
            .await
            .with_context(|| format!("unexpected answer from {}", self.base))
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send(self.http.delete(self.url(path)))
            .await
            .map(|_| ())
    }

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
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(anyhow!("{}", body.error.message)),
            Err(_) => Err(anyhow!("coordinator answered {status}")),
        }
    }
}

/// The innermost cause: "connection refused", not "error sending request".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
