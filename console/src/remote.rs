//! Talking to coordinators: one HTTP client per CA certificate, and a
//! handle per cluster that knows its URL and opens its access token. The
//! poller reads through it; the operations engine writes through it.

use std::{collections::HashMap, time::Duration};

use serde::de::DeserializeOwned;

use crate::{identity::IdentityService, secrets::SecretKey, store::StoredCluster};

/// HTTP clients by cluster: clusters with a private CA get their own, built
/// once per certificate.
#[derive(Default)]
pub struct Clients {
    shared: Option<reqwest::Client>,
    by_ca: HashMap<String, reqwest::Client>,
}

impl Clients {
    fn for_cluster(
        &mut self,
        timeout: Duration,
        ca: Option<&str>,
    ) -> Result<reqwest::Client, String> {
        let build = |ca: Option<&str>| {
            let mut builder = reqwest::Client::builder().timeout(timeout);
            if let Some(pem) = ca {
                let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| format!("the cluster's CA certificate is unusable: {e}"))?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .build()
                .map_err(|e| format!("cannot build an http client: {e}"))
        };
        match ca {
            None => match &self.shared {
                Some(client) => Ok(client.clone()),
                None => {
                    let client = build(None)?;
                    self.shared = Some(client.clone());
                    Ok(client)
                }
            },
            Some(pem) => match self.by_ca.get(pem) {
                Some(client) => Ok(client.clone()),
                None => {
                    let client = build(Some(pem))?;
                    self.by_ca.insert(pem.to_string(), client.clone());
                    Ok(client)
                }
            },
        }
    }
}

/// One cluster's coordinator, with what its requests need.
pub struct Remote {
    pub name: String,
    base: String,
    token: Option<String>,
    client: Result<reqwest::Client, String>,
    /// The user the console calls for, and how it signs for them.
    acting_for: Option<(IdentityService, String)>,
}

impl Remote {
    pub fn new(
        stored: StoredCluster,
        key: &SecretKey,
        clients: &mut Clients,
        timeout: Duration,
    ) -> Remote {
        let name = stored.cluster.name;
        let token = stored
            .sealed_token
            .and_then(|sealed| match key.open(&name, &sealed) {
                Ok(token) => Some(token),
                Err(error) => {
                    tracing::warn!(cluster = %name, %error, "cannot open the cluster's access token; calling without it");
                    None
                }
            });
        Remote {
            client: clients.for_cluster(timeout, stored.cluster.ca_certificate.as_deref()),
            base: stored.cluster.coordinator_url,
            name,
            token,
            acting_for: None,
        }
    }

    /// The same coordinator, called on behalf of `user`: each request then
    /// carries the cluster's access token and names the user, or, for a
    /// cluster without one, a console-signed token for this cluster naming
    /// the user, which the coordinator verifies against the console's JWKS.
    pub fn acting_for(mut self, identity: &IdentityService, user: &str) -> Remote {
        self.acting_for = Some((identity.clone(), user.to_string()));
        self
    }

    /// A request to `path` (under the API prefix when it starts with it,
    /// else as given), with the access token.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let client = self.client.as_ref().map_err(String::clone)?;
        let mut request = client.request(method, self.url(path));
        match (&self.token, &self.acting_for) {
            (Some(token), acting_for) => {
                request = request.bearer_auth(token);
                if let Some((_, user)) = acting_for {
                    request = request.header(ringside_api::ACTING_FOR_HEADER, user);
                }
            }
            (None, Some((identity, user))) => {
                let signed = identity
                    .signer()
                    .sign(&self.name, user, &[])
                    .map_err(|e| format!("cannot sign the call for {user}: {e}"))?;
                request = request.bearer_auth(signed.expose());
            }
            (None, None) => {}
        }
        Ok(request)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`; an answer other than 2xx is an error.
    pub async fn get(&self, path: &str) -> Result<reqwest::Response, String> {
        let response = self
            .request(reqwest::Method::GET, path)?
            .send()
            .await
            .map_err(describe)?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.url(path), response.status()));
        }
        Ok(response)
    }

    /// GET `path` under the API prefix, as JSON.
    pub async fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let path = format!("{}{path}", ringside_api::API_PREFIX);
        self.get(&path)
            .await?
            .json::<T>()
            .await
            .map_err(|e| format!("{} answered with an unexpected body: {e}", self.url(&path)))
    }
}

/// reqwest's top-level message ("error sending request") hides the cause
/// people need, such as "connection refused"; walk down to it.
pub fn describe(error: reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}
