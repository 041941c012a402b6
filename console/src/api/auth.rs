//! `/api/v1/auth`: logging in with the bootstrap admin's password or
//! through the identity provider, logging out, and who am I; and
//! `/api/v1/jwks.json`, the key coordinators verify the console's calls by.
//!
//! The login routes answer browsers (an HTML form post, a redirect back to
//! the page they came from) and scripts (JSON in, JSON out) alike.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use ringside_api::{access::Me, http::ApiError};
use ringside_auth::SecretString;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::{
    Actor, AppState, ConsoleError,
    audit::Record,
    gateway::session_cookie,
    identity::{IdentityError, NewSession, Session, safe_next},
};

#[derive(OpenApi)]
#[openapi(
    paths(login, oidc_start, callback, logout, me, jwks),
    components(schemas(PasswordLogin, Me))
)]
pub struct AuthDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/oidc", get(oidc_start))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/jwks.json", get(jwks))
}

/// The bootstrap admin's credentials.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordLogin {
    pub username: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// The console page to return to (form posts only).
    #[serde(default)]
    pub next: Option<String>,
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `/login` again, showing `error`, keeping where the user was going.
fn back_to_login(error: &str, next: &str) -> Response {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("error", error)
        .append_pair("next", next)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

fn with_cookie(state: &AppState, session: &NewSession, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = state.identity.session_cookie(session).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Records a login, made or refused, in the audit trail.
async fn audit_login(state: &AppState, user: &str, via: &str, error: Option<&IdentityError>) {
    let record =
        Record::new(&Actor::named(user), "auth.login").detail(serde_json::json!({ "via": via }));
    let record = match error {
        None => record,
        Some(e) => record.refused("unauthenticated", &e.to_string(), None),
    };
    state.keep_record(record).await;
}

/// Logs in as the bootstrap admin: a session cookie (HttpOnly,
/// SameSite=Lax, Secure over https). A form post is sent back to `next`.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = PasswordLogin, responses(
    (status = 200, description = "Logged in (JSON)", body = Me),
    (status = 303, description = "Logged in or refused (form post)"),
    (status = 400, description = "Not a login"),
    (status = 401, description = "Wrong user name or password"),
))]
async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let json = is_json(&headers);
    let parsed: Result<PasswordLogin, String> = if json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        let field = |name: &str| {
            form_urlencoded::parse(&body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        match (field("username"), field("password")) {
            (Some(username), Some(password)) => Ok(PasswordLogin {
                username,
                password: SecretString::new(password),
                next: field("next"),
            }),
            _ => Err("expected the fields username and password".into()),
        }
    };
    let credentials = match parsed {
        Ok(credentials) => credentials,
        Err(e) if json => return ApiError::invalid_field("body", e).into_response(),
        Err(e) => return back_to_login(&e, "/"),
    };
    let next = safe_next(credentials.next.as_deref());
    let outcome = state
        .identity
        .login_password(credentials.username.trim(), &credentials.password)
        .await;
    audit_login(
        &state,
        credentials.username.trim(),
        "password",
        outcome.as_ref().err(),
    )
    .await;
    match outcome {
        Ok(session) if json => {
            let me = Me {
                user: session.actor.name().to_string(),
                display_name: session.actor.name().to_string(),
                groups: session.actor.groups().to_vec(),
                roles: session.actor.roles().to_vec(),
                via: "password".into(),
                csrf_token: Some(session.csrf_token.clone()),
                read_only: false,
            };
            with_cookie(&state, &session, Json(me))
        }
        Ok(session) => with_cookie(&state, &session, Redirect::to(&next)),
        Err(e) if json => ApiError::from(ConsoleError::from(e)).into_response(),
        Err(e) => back_to_login(&e.to_string(), &next),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Next {
    /// The console page to return to after the login.
    next: Option<String>,
}

/// Starts a login at the identity provider (authorization code flow with
/// PKCE): a redirect there.
#[utoipa::path(get, path = "/api/v1/auth/oidc", params(Next), responses(
    (status = 303, description = "To the provider"),
    (status = 404, description = "No provider is configured"),
))]
async fn oidc_start(State(state): State<AppState>, Query(next): Query<Next>) -> Response {
    let next = safe_next(next.next.as_deref());
    match state.identity.start_oidc(&next).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(IdentityError::NoProvider) => {
            ApiError::not_found(IdentityError::NoProvider.to_string()).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start an oidc login");
            back_to_login(&e.to_string(), &next)
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the browser back: the code is exchanged, the
/// ID token checked, a session opened.
#[utoipa::path(get, path = "/api/v1/auth/callback", params(Callback), responses(
    (status = 303, description = "Logged in: back to the page; refused: to the login page"),
))]
async fn callback(State(state): State<AppState>, Query(callback): Query<Callback>) -> Response {
    if let Some(error) = callback.error {
        let message = match callback.error_description {
            Some(description) => format!("{error}: {description}"),
            None => error,
        };
        return back_to_login(
            &format!("the identity provider refused the login: {message}"),
            "/",
        );
    }
    let (Some(code), Some(login_state)) = (callback.code, callback.state) else {
        return back_to_login(
            "the callback has no code and state: start the login again",
            "/",
        );
    };
    match state.identity.finish_oidc(&code, &login_state).await {
        Ok((session, next)) => {
            audit_login(&state, session.actor.name(), "oidc", None).await;
            with_cookie(&state, &session, Redirect::to(&next))
        }
        Err(e) => {
            tracing::warn!(error = %e, "oidc login refused");
            audit_login(&state, "anonymous", "oidc", Some(&e)).await;
            back_to_login(&e.to_string(), "/")
        }
    }
}

/// Ends the session on the server and clears its cookie. A form post is
/// sent to the login page.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses(
    (status = 204, description = "Logged out"),
    (status = 303, description = "Logged out (form post)"),
))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(cookie) = session_cookie(&headers, &state) {
        state
            .identity
            .logout(&cookie)
            .await
            .map_err(ConsoleError::from)?;
    }
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut response = if browser {
        Redirect::to("/login").into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    if let Ok(value) = state.identity.clearing_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/auth/me", responses(
    (status = 200, body = Me),
    (status = 401, description = "Not logged in"),
))]
async fn me(actor: Actor, session: Option<axum::Extension<Session>>) -> Json<Me> {
    Json(me_of(&actor, session.as_deref()))
}

/// The caller as `/api/v1/auth/me` describes them.
pub fn me_of(actor: &Actor, session: Option<&Session>) -> Me {
    Me {
        user: actor.name().to_string(),
        display_name: session.map_or_else(|| actor.name().to_string(), |s| s.display_name.clone()),
        groups: actor.groups().to_vec(),
        roles: actor.roles().to_vec(),
        via: session.map_or_else(|| "bearer".to_string(), |s| s.via.clone()),
        csrf_token: session.map(|s| s.csrf_token.clone()),
        read_only: actor.is_read_only(),
    }
}

/// The public key of the console's calls to coordinators (a JWK set).
#[utoipa::path(get, path = "/api/v1/jwks.json", responses((status = 200, description = "JWK set")))]
async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity.signer().jwks())
}
