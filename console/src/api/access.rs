//! `/api/v1/tokens` (API tokens for automation), `/api/v1/policy` (the
//! policy in force, its simulator and recent decisions) and
//! `/api/v1/tenants` (tenants with their owning group and per-cluster
//! usage, only those the caller may read).

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get, post},
};
use chrono::Utc;
use ringside_api::{
    access::{
        DecisionView, IssuedToken, NewToken, PolicySource, PolicyView, Simulation,
        SimulationAnswer, TenantOverview, TenantsOverview, TokenView,
    },
    http::{ApiError, ApiJson},
};
use ringside_auth::token::{Scope, StoredToken};
use ringside_policy::{Action, DecisionRecord, Input, Resource};
use utoipa::OpenApi;

use crate::{Actor, AppState, ConsoleError, audit::Record, identity::SUPER_ADMIN_ROLE};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_tokens,
        issue_token,
        revoke_token,
        policy,
        simulate,
        decisions,
        tenants,
        tenant
    ),
    components(schemas(
        NewToken,
        IssuedToken,
        TokenView,
        PolicyView,
        Simulation,
        SimulationAnswer,
        DecisionView,
        TenantsOverview,
        TenantOverview
    ))
)]
pub struct AccessDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(issue_token))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/policy", get(policy))
        .route("/policy/simulate", post(simulate))
        .route("/policy/decisions", get(decisions))
        .route("/tenants", get(tenants))
        .route("/tenants/{name}", get(tenant))
}

fn token_view(token: StoredToken) -> TokenView {
    TokenView {
        id: token.id,
        name: token.name,
        owner: token.owner,
        scopes: token.scopes.iter().map(|s| s.to_string()).collect(),
        created_at: token.created_at,
        expires_at: token.expires_at,
        revoked: token.revoked,
    }
}

fn decision_view(record: DecisionRecord) -> DecisionView {
    DecisionView {
        time: record.time,
        user: record.user,
        groups: record.groups,
        roles: record.roles,
        action: record.action,
        resource: record.resource,
        result: serde_json::to_value(record.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        revision: record.revision,
        reason: record.reason,
    }
}

fn is_super_admin(actor: &Actor) -> bool {
    actor.roles().iter().any(|r| r == SUPER_ADMIN_ROLE)
}

impl AppState {
    /// The caller's tokens; a super-admin sees everyone's.
    pub async fn list_tokens(&self, actor: &Actor) -> Result<Vec<TokenView>, ConsoleError> {
        let owner = (!is_super_admin(actor)).then(|| actor.name());
        Ok(self
            .identity
            .tokens(owner)
            .await?
            .into_iter()
            .map(token_view)
            .collect())
    }

    /// Issues a token acting for `actor`, audited as `token.issue`.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        new: NewToken,
    ) -> Result<IssuedToken, ConsoleError> {
        let record = Record::new(actor, "token.issue")
            .detail(serde_json::json!({ "name": new.name, "scopes": new.scopes, "expires_in": new.expires_in }));
        let outcome = self.issue(actor, new).await;
        self.audited(record, &outcome).await;
        outcome
    }

    async fn issue(&self, actor: &Actor, new: NewToken) -> Result<IssuedToken, ConsoleError> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ringside_api::FieldError::new(
                "name",
                "the token name is empty or longer than 100 characters: expected what the token is for, e.g. nightly-load",
            )
            .into());
        }
        let mut scopes = Vec::new();
        for scope in &new.scopes {
            let scope: Scope = scope
                .parse()
                .map_err(|e: ringside_auth::token::TokenError| {
                    ringside_api::FieldError::new("scopes", e.to_string())
                })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(ringside_api::FieldError::new(
                "scopes",
                "no scope: expected read, write or both",
            )
            .into());
        }
        if scopes.contains(&Scope::Write) && actor.is_read_only() {
            return Err(ringside_api::FieldError::new(
                "scopes",
                "a read-only token cannot issue a token with the write scope",
            )
            .into());
        }
        let expires_at = match new.expires_in.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let ttl: Duration = humantime::parse_duration(text).map_err(|e| {
                    ringside_api::FieldError::new(
                        "expires_in",
                        format!("{text:?} is not a duration ({e}): expected e.g. 30d or 12h"),
                    )
                })?;
                Some(
                    Utc::now()
                        + chrono::Duration::from_std(ttl).map_err(|_| {
                            ringside_api::FieldError::new("expires_in", "too far in the future")
                        })?,
                )
            }
        };
        let (token, stored) = self
            .identity
            .issue_token(actor, name, scopes, expires_at)
            .await?;
        Ok(IssuedToken {
            token: token.expose().to_string(),
            view: token_view(stored),
        })
    }

    /// Revokes a token of the caller's (any token, for a super-admin).
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<(), ConsoleError> {
        let record = Record::new(actor, "token.revoke").detail(serde_json::json!({ "token": id }));
        let outcome = async {
            let token = self
                .identity
                .token(id)
                .await?
                .filter(|t| is_super_admin(actor) || t.owner == actor.name())
                .ok_or_else(|| ConsoleError::NoToken(id.to_string()))?;
            self.identity.revoke_token(&token.id).await?;
            tracing::info!(user = %actor, token = %token.id, "api token revoked");
            Ok(())
        }
        .await;
        self.audited(record, &outcome).await;
        outcome
    }

    /// Tenants the caller may read, with every cluster's view of them.
    pub async fn readable_tenants(&self, actor: &Actor) -> Result<TenantsOverview, ConsoleError> {
        let mut overview = self.tenants_overview().await?;
        let mut readable = Vec::new();
        for tenant in overview.tenants {
            let resource = Resource::new("tenant")
                .for_tenant(tenant.name.clone())
                .in_group(tenant.group.clone());
            let input = Input::new(
                actor.name(),
                actor.groups().to_vec(),
                actor.roles().to_vec(),
                Action::TenantRead,
                resource,
            );
            if self.policy.simulate(&input).await.allow {
                readable.push(tenant);
            }
        }
        overview.tenants = readable;
        Ok(overview)
    }
}

/// The caller's API tokens (a super-admin's list has everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [TokenView])))]
async fn list_tokens(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(state.list_tokens(&actor).await?))
}

/// Issues an API token acting for the caller, with the caller's groups
/// and roles of now; send it as `Authorization: Bearer rst_…`.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken, responses(
    (status = 201, body = IssuedToken),
    (status = 400, description = "A field breaks its rule"),
))]
async fn issue_token(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.issue_token(&actor, new).await?),
    ))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path, description = "Token id")), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "No such token of the caller's"),
))]
async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.revoke_token(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl AppState {
    pub fn policy_view(&self) -> PolicyView {
        let status = self.policy.status();
        let text = if status.backend == "embedded"
            && status
                .sources
                .iter()
                .all(|s| std::path::Path::new(s).is_file())
        {
            status
                .sources
                .iter()
                .map(|name| PolicySource {
                    name: name.clone(),
                    text: std::fs::read_to_string(name).unwrap_or_default(),
                })
                .collect()
        } else if status.backend == "embedded" {
            vec![PolicySource {
                name: "ringside.rego (shipped)".into(),
                text: ringside_policy::PolicyEngine::shipped_policy().to_string(),
            }]
        } else {
            Vec::new()
        };
        PolicyView {
            backend: status.backend.to_string(),
            revision: status.revision,
            sources: status.sources,
            loaded_at: status.loaded_at,
            last_error: status.last_error.map(|e| e.to_string()),
            text,
        }
    }

    /// The most recent decisions, newest first.
    pub fn recent_decisions(&self) -> Vec<DecisionView> {
        self.policy
            .recent_decisions()
            .into_iter()
            .map(decision_view)
            .collect()
    }

    /// Would `question.user` be allowed? Evaluated by the same engine, not
    /// logged under their name.
    pub async fn simulate_policy(
        &self,
        question: Simulation,
    ) -> Result<SimulationAnswer, ConsoleError> {
        let action: Action =
            question
                .action
                .parse()
                .map_err(|e: ringside_policy::PolicyError| {
                    ringside_api::FieldError::new("action", e.to_string())
                })?;
        let resource = question.resource;
        let resource = Resource {
            kind: resource.kind,
            cluster: resource.cluster,
            tenant: resource.tenant,
            path: resource.path,
            group: resource.group,
        };
        let input = Input::new(
            question.user,
            question.groups,
            question.roles,
            action,
            resource,
        );
        let decision = self.policy.simulate(&input).await;
        Ok(SimulationAnswer {
            allow: decision.allow,
            revision: decision.revision,
            reason: decision.reason,
        })
    }
}

/// The policy in force, and the last reload error.
#[utoipa::path(get, path = "/api/v1/policy", responses((status = 200, body = PolicyView)))]
async fn policy(State(state): State<AppState>) -> Json<PolicyView> {
    Json(state.policy_view())
}

/// "Would user U be allowed action A on resource R?", answered by the
/// engine that decides real requests.
#[utoipa::path(post, path = "/api/v1/policy/simulate", request_body = Simulation, responses(
    (status = 200, body = SimulationAnswer),
    (status = 400, description = "An unknown action"),
))]
async fn simulate(
    State(state): State<AppState>,
    ApiJson(question): ApiJson<Simulation>,
) -> Result<Json<SimulationAnswer>, ApiError> {
    Ok(Json(state.simulate_policy(question).await?))
}

/// The most recent decisions, newest first (the full log is the
/// decision-log file).
#[utoipa::path(get, path = "/api/v1/policy/decisions", responses((status = 200, description = "Decision records")))]
async fn decisions(State(state): State<AppState>) -> Json<Vec<DecisionView>> {
    Json(state.recent_decisions())
}

/// Every tenant the caller may read, with its owning group and each
/// cluster's policy and bytes cached.
#[utoipa::path(get, path = "/api/v1/tenants", responses((status = 200, body = TenantsOverview)))]
async fn tenants(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<TenantsOverview>, ApiError> {
    Ok(Json(state.readable_tenants(&actor).await?))
}

/// One tenant (the gateway has checked the caller may read it).
#[utoipa::path(get, path = "/api/v1/tenants/{name}", params(("name" = String, Path, description = "Tenant name")), responses(
    (status = 200, body = TenantOverview),
    (status = 404, description = "No such tenant"),
))]
async fn tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TenantOverview>, ApiError> {
    state
        .tenants_overview()
        .await?
        .tenants
        .into_iter()
        .find(|t| t.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no tenant named {name:?}")))
}
