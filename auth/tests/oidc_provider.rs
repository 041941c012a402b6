//! Login and bearer tokens against a real OpenID provider: the npm
//! `oidc-provider` package run by `end2end/oidc/provider.mjs` with
//! `end2end/oidc/config.json` (needs `npm ci --prefix end2end`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use reqwest::Url;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use ringside_auth::SecretString;
use ringside_auth::jwt::JwtError;
use ringside_auth::oidc::{OidcConfig, OidcError, PendingLogin, Provider};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const REDIRECT_URI: &str = "http://127.0.0.1:3000/api/v1/auth/callback";
const CONSOLE_RESOURCE: &str = "urn:ringside:console";

/// The running IdP; dropping it kills the node process.
struct TestIdp {
    issuer: String,
    _child: Child,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn start_idp() -> Result<TestIdp> {
    let root = workspace_root();
    ensure!(
        root.join("end2end/node_modules/oidc-provider").is_dir(),
        "end2end/node_modules/oidc-provider is missing: run `npm ci --prefix end2end`"
    );
    let mut child = Command::new("node")
        .arg(root.join("end2end/oidc/provider.mjs"))
        .arg("--config")
        .arg(root.join("end2end/oidc/config.json"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting node (is Node.js installed?)")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("oidc-provider listening on ") {
                let issuer = rest
                    .split(" issuer ")
                    .nth(1)
                    .context("ready line without issuer")?;
                return Ok(issuer.to_owned());
            }
        }
        bail!("the test IdP exited before it was ready")
    })
    .await
    .context("the test IdP did not print its ready line within 60 s")??;
    // oidc-provider writes notices to stdout later on; keep the pipe open
    // and drained.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(TestIdp {
        issuer: ready,
        _child: child,
    })
}

fn console_config(issuer: &str, client_id: &str, secret: &str) -> OidcConfig {
    let mut config = OidcConfig::new(issuer, client_id, Some(SecretString::new(secret)));
    config.roles_claim = "realm_access.roles".to_owned();
    config
}

/// A browser stand-in: no automatic redirects, and a cookie jar keyed by
/// name (the IdP's cookies have distinct names, so paths can be ignored).
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            cookies: BTreeMap::new(),
        })
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn store_cookies(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let Ok(header) = header.to_str() else {
                continue;
            };
            let pair = header.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
    }

    /// Follows the IdP's redirects and fills in its login and consent forms
    /// as `login`, until it redirects to [`REDIRECT_URI`]; returns that URL
    /// without requesting it.
    async fn log_in(&mut self, authorize_url: &str, login: &str) -> Result<Url> {
        let mut url = Url::parse(authorize_url)?;
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..20 {
            let request = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let response = request.header(COOKIE, self.cookie_header()).send().await?;
            self.store_cookies(&response);
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .context("redirect without location")?;
                let next = url.join(location.to_str()?)?;
                if next.as_str().starts_with(REDIRECT_URI) {
                    return Ok(next);
                }
                url = next;
                continue;
            }
            ensure!(
                status.is_success(),
                "the IdP answered {status} at {}",
                url.path()
            );
            let page = response.text().await?;
            let action = page
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .context("an IdP page without a form")?;
            url = url.join(action)?;
            form = Some(if page.contains(r#"name="prompt" value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else if page.contains(r#"name="prompt" value="consent""#) {
                vec![("prompt", "consent")]
            } else {
                bail!(
                    "an IdP form that is neither login nor consent at {}",
                    url.path()
                );
            });
        }
        bail!("no redirect to the console after 20 steps")
    }
}

fn query_param(url: &Url, name: &str) -> Result<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .with_context(|| {
            format!(
                "callback without {name} (error: {:?})",
                query_param_opt(url, "error")
            )
        })
}

fn query_param_opt(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The callback's code, after checking that it carries the pending `state`.
fn code_for(callback: &Url, pending: &PendingLogin) -> Result<String> {
    ensure!(
        query_param(callback, "state")? == pending.state.expose(),
        "the callback's state is not the pending login's"
    );
    query_param(callback, "code")
}

#[tokio::test]
async fn a_user_logs_in_with_code_and_pkce() -> Result<()> {
    let idp = start_idp().await?;
    let console = Provider::discover(console_config(
        &idp.issuer,
        "ringside-console",
        "console-test-secret",
    ))
    .await?;
    assert_eq!(console.metadata().issuer, idp.issuer);

    let start = console.start_login(REDIRECT_URI, &["email", "profile"])?;
    let authorize = Url::parse(&start.authorize_url)?;
    assert_eq!(query_param(&authorize, "code_challenge_method")?, "S256");
    assert_eq!(query_param(&authorize, "scope")?, "openid email profile");

    let mut browser = Browser::new()?;
    let callback = browser.log_in(&start.authorize_url, "alice").await?;
    let code = code_for(&callback, &start.pending)?;
    let identity = console.finish_login(&code, &start.pending).await?;
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.name, "alice@ringside.test");
    assert_eq!(identity.groups, ["platform", "ringside-admins"]);
    assert_eq!(identity.roles, ["admin"]);
    assert_eq!(identity.issuer, idp.issuer);

    // A code is good for one exchange.
    let err = console
        .finish_login(&code, &start.pending)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::CodeExchange(_)), "{err}");

    // A second login in the same browser session skips the forms; an ID
    // token whose nonce is not the pending login's is refused.
    let second = console.start_login(REDIRECT_URI, &["email"])?;
    let callback = browser.log_in(&second.authorize_url, "alice").await?;
    let code = code_for(&callback, &second.pending)?;
    let mut replayed = second.pending.clone();
    replayed.nonce = start.pending.nonce.clone();
    let err = console.finish_login(&code, &replayed).await.unwrap_err();
    assert!(matches!(err, OidcError::NonceMismatch), "{err}");

    // The wrong PKCE verifier cannot redeem a code.
    let third = console.start_login(REDIRECT_URI, &[])?;
    let callback = browser.log_in(&third.authorize_url, "alice").await?;
    let code = code_for(&callback, &third.pending)?;
    let mut stolen = third.pending.clone();
    stolen.pkce_verifier = second.pending.pkce_verifier.clone();
    let err = console.finish_login(&code, &stolen).await.unwrap_err();
    assert!(matches!(err, OidcError::CodeExchange(_)), "{err}");
    Ok(())
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() -> Result<()> {
    let idp = start_idp().await?;
    let console = Provider::discover(console_config(
        &idp.issuer,
        "ringside-console",
        "console-test-secret",
    ))
    .await?;
    let other = Provider::discover(console_config(
        &idp.issuer,
        "ringside-other-app",
        "other-app-test-secret",
    ))
    .await?;

    // Bob logs in to the other application; its real ID token is then
    // presented to the console.
    let start = other.start_login(REDIRECT_URI, &["email"])?;
    let callback = Browser::new()?.log_in(&start.authorize_url, "bob").await?;
    let code = code_for(&callback, &start.pending)?;
    let response: serde_json::Value = reqwest::Client::new()
        .post(&other.metadata().token_endpoint)
        .basic_auth("ringside-other-app", Some("other-app-test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", start.pending.pkce_verifier.expose()),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id_token = response["id_token"].as_str().context("no id_token")?;

    let identity = other.id_token_validator().validate(id_token).await?;
    assert_eq!(identity.subject, "bob");
    assert_eq!(identity.roles, ["viewer"]);
    let err = console
        .id_token_validator()
        .validate(id_token)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JwtError::WrongAudience(aud) if aud == "ringside-other-app"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn client_credentials_access_tokens_are_bearer_identities() -> Result<()> {
    let idp = start_idp().await?;
    let console = Provider::discover(console_config(
        &idp.issuer,
        "ringside-console",
        "console-test-secret",
    ))
    .await?;

    let token_for = |resource: &'static str| {
        let endpoint = console.metadata().token_endpoint.clone();
        async move {
            let response: serde_json::Value = reqwest::Client::new()
                .post(endpoint)
                .basic_auth("ringside-automation", Some("automation-test-secret"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", resource),
                    ("scope", "read"),
                ])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            anyhow::Ok(SecretString::new(
                response["access_token"]
                    .as_str()
                    .context("no access_token")?,
            ))
        }
    };
    let token = token_for(CONSOLE_RESOURCE).await?;

    let bearer = console.access_token_validator(vec![CONSOLE_RESOURCE.to_owned()])?;
    let validated = bearer
        .validate_at(token.expose(), chrono::Utc::now())
        .await?;
    assert_eq!(validated.identity.subject, "ringside-automation");
    assert_eq!(validated.identity.roles, ["operator"]);
    assert_eq!(validated.identity.groups, ["automation"]);
    assert_eq!(validated.claims["scope"], "read");

    // The same token is not an ID token for the console...
    let err = console
        .id_token_validator()
        .validate(token.expose())
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::WrongType(_)), "{err}");
    // ...nor an access token for another API.
    let elsewhere = console.access_token_validator(vec!["urn:ringside:other-api".to_owned()])?;
    let err = elsewhere.validate(token.expose()).await.unwrap_err();
    assert!(matches!(err, JwtError::WrongAudience(_)), "{err}");
    // An unknown resource gets no token at all.
    assert!(token_for("urn:ringside:unknown").await.is_err());
    Ok(())
}

#[tokio::test]
async fn discovery_requires_the_exact_issuer() -> Result<()> {
    let idp = start_idp().await?;
    let with_slash = format!("{}/", idp.issuer);
    let err = Provider::discover(console_config(&with_slash, "ringside-console", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err}");
    Ok(())
}
