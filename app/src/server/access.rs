//! Server functions of the login, tenants, policy and tokens pages: the
//! same `AppState` doors as the REST API's `/api/v1/auth`, `/tenants`,
//! `/policy` and `/tokens`.

use leptos::{prelude::*, server_fn::codec::Json};
use ringside_api::access::{
    DecisionView, IssuedToken, LoginOptions, Me, PolicyView, Simulation, SimulationAnswer,
    TenantsOverview, TokenView,
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{actor, state};
use crate::error::UiError;

/// What the login page offers: the password form, single sign-on, or both.
#[server(endpoint = "ui/login_choices")]
pub async fn login_choices() -> Result<LoginOptions, UiError> {
    Ok(state()?.identity.login_options())
}

/// Who is logged in, for the header.
#[server(endpoint = "ui/whoami")]
pub async fn whoami() -> Result<Me, UiError> {
    let session = use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<ringside_console::identity::Session>()
            .cloned()
    });
    Ok(ringside_console::api::auth::me_of(
        &actor()?,
        session.as_ref(),
    ))
}

/// The tenants the caller may read, with per-cluster usage.
#[server(endpoint = "ui/list_tenants")]
pub async fn list_tenants() -> Result<TenantsOverview, UiError> {
    Ok(state()?.readable_tenants(&actor()?).await?)
}

/// The policy page: the policy in force and the latest decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPage {
    pub policy: PolicyView,
    pub decisions: Vec<DecisionView>,
}

#[server(endpoint = "ui/policy_status")]
pub async fn policy_status() -> Result<PolicyPage, UiError> {
    let state = state()?;
    Ok(PolicyPage {
        policy: state.policy_view(),
        decisions: state.recent_decisions(),
    })
}

#[server(input = Json, endpoint = "ui/simulate_policy")]
pub async fn simulate_policy(question: Simulation) -> Result<SimulationAnswer, UiError> {
    Ok(state()?.simulate_policy(question).await?)
}

#[server(endpoint = "ui/list_tokens")]
pub async fn list_tokens() -> Result<Vec<TokenView>, UiError> {
    Ok(state()?.list_tokens(&actor()?).await?)
}

/// Issues a token; `scopes` separated by commas or spaces.
#[server(endpoint = "ui/issue_token")]
pub async fn issue_token(
    name: String,
    scopes: String,
    expires_in: String,
) -> Result<IssuedToken, UiError> {
    let new = ringside_api::access::NewToken {
        name,
        scopes: scopes
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        expires_in: Some(expires_in),
    };
    Ok(state()?.issue_token(&actor()?, new).await?)
}

#[server(endpoint = "ui/revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), UiError> {
    Ok(state()?.revoke_token(&actor()?, &id).await?)
}
