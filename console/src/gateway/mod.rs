//! The one layer in front of every page, server function and REST route.
//!
//! For each request it (1) looks up the route's rule in [`routes::RULES`],
//! (2) refuses cross-site state changes (CSRF), (3) finds who is calling
//! from the session cookie or the `Authorization: Bearer` credential, (4)
//! names the resources the request touches (cluster, tenant, owning group,
//! path), reading the request body where they are in it, and (5) asks the
//! Rego policy once per resource. A request that passes carries its
//! [`Actor`] into the handler; one that does not gets 401 (or, for a page,
//! a redirect to the login page) or 403, and the decision log has it.

pub mod routes;

use axum::{
    body::{Body, Bytes},
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};
use ringside_api::{
    NewCluster,
    http::{ApiError, MAX_BODY_BYTES},
    operation::{Action as OperationAction, NewOperation},
};
use ringside_policy::{Action, Input, Resource};
use serde_json::Value;

use crate::{Actor, AppState, audit::Record, identity::Session};
use routes::{Access, Rule, SERVER_FN_PREFIX, Target, path_param};

/// How a denial is answered to a server function: in the UI's own error
/// encoding, which the app crate knows and this one does not.
pub type ServerFnDenial = fn(StatusCode, String) -> Response;

/// The gateway's state: the console, and how to answer server functions.
#[derive(Clone)]
pub struct Gateway {
    pub state: AppState,
    pub server_fn_denial: ServerFnDenial,
}

/// Which door a request came through, which decides how a refusal looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Door {
    Page,
    ServerFn,
    Api,
}

impl Door {
    fn of(path: &str) -> Door {
        if path.starts_with(SERVER_FN_PREFIX) {
            Door::ServerFn
        } else if path.starts_with("/api/") {
            Door::Api
        } else {
            Door::Page
        }
    }
}

/// Why a request was not let through.
struct Refusal {
    status: StatusCode,
    /// The error envelope's code.
    code: &'static str,
    message: String,
}

impl Refusal {
    fn unauthenticated(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: message.into(),
        }
    }

    fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
        }
    }

    fn too_large() -> Refusal {
        Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: format!("the body is larger than the {MAX_BODY_BYTES} bytes accepted"),
        }
    }
}

/// The middleware: `axum::middleware::from_fn_with_state(gateway, check)`.
pub async fn check(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let door = Door::of(&path);
    let Some(matched) = request.extensions().get::<MatchedPath>().cloned() else {
        // Not a route: the site's static files and the not-found page.
        return next.run(request).await;
    };
    let allowed = routes::methods(matched.as_str());
    if !allowed.is_empty() && !allowed.contains(request.method()) {
        return method_not_allowed(request.method(), matched.as_str(), &allowed);
    }
    let Some(rule) = routes::lookup(request.method(), matched.as_str()) else {
        tracing::error!(method = %request.method(), route = matched.as_str(), "route has no gateway rule; refused");
        return refuse(
            &gateway,
            door,
            &path,
            Refusal::forbidden(format!(
                "{} {} has no authorization rule: refused to everyone",
                request.method(),
                matched.as_str()
            )),
        );
    };
    match admit(&gateway, rule, &path, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => refuse(&gateway, door, &path, refusal),
    }
}

async fn admit(
    gateway: &Gateway,
    rule: &Rule,
    path: &str,
    mut request: Request,
) -> Result<Request, Refusal> {
    let state = &gateway.state;
    let bearer = bearer(request.headers());
    let session = match (&bearer, session_cookie(request.headers(), state)) {
        (None, Some(cookie)) => state.identity.session(&cookie).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the session store");
            Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "unavailable",
                message: "the session store cannot be read".into(),
            }
        })?,
        _ => None,
    };
    if !is_safe(request.method()) && bearer.is_none() {
        check_same_origin(request.headers(), state, session.as_ref())?;
    }
    if rule.access == Access::Public {
        if let Some(session) = session {
            request.extensions_mut().insert(session.actor.clone());
            request.extensions_mut().insert(session);
        }
        return Ok(request);
    }
    let actor = match (&bearer, &session) {
        (Some(credential), _) => state.identity.bearer(credential).await.map_err(|e| {
            tracing::info!(error = %e, path, "bearer credential refused");
            Refusal::unauthenticated(e.to_string())
        })?,
        (None, Some(session)) => session.actor.clone(),
        (None, None) => {
            return Err(Refusal::unauthenticated(
                ringside_api::http::UNAUTHENTICATED,
            ));
        }
    };
    if let Access::Policy(action, target) = rule.access {
        let (request_back, questions) =
            resources(state, rule, path, action, target, request).await?;
        request = request_back;
        authorize(state, &actor, questions).await?;
    }
    request.extensions_mut().insert(actor);
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    Ok(request)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim().to_string())
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap, state: &AppState) -> Option<String> {
    let name = state.identity.cookie_name();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// A state change from a browser must come from the console's own pages:
/// its `Origin` (or `Sec-Fetch-Site`) says so. Without either header (not
/// a browser), a session-authenticated change must carry the session's
/// `X-CSRF-Token`. Bearer-authenticated calls carry no ambient credential
/// and are not checked.
fn check_same_origin(
    headers: &HeaderMap,
    state: &AppState,
    session: Option<&Session>,
) -> Result<(), Refusal> {
    let cross_site = || {
        Refusal::forbidden(
            "cross-site request refused: state changes must come from the console's own pages (CSRF protection)",
        )
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        let public = state.identity.issuer();
        return if origin == public || (host.is_some() && origin_host == host) {
            Ok(())
        } else {
            Err(cross_site())
        };
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return if site == "same-origin" || site == "none" {
            Ok(())
        } else {
            Err(cross_site())
        };
    }
    match session {
        None => Ok(()),
        Some(session) => {
            let sent = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ringside_auth::session::constant_time_eq(
                sent.as_bytes(),
                session.csrf_token.as_bytes(),
            ) {
                Ok(())
            } else {
                Err(Refusal::forbidden(
                    "missing or wrong X-CSRF-Token: a change made with a session cookie needs the session's token (GET /api/v1/auth/me)",
                ))
            }
        }
    }
}

/// One question for the policy: may the actor do `action` on this?
type Question = (Action, Resource);

/// The questions `request` asks, and the request back (its body read and
/// put back where the resources are in it). When the body cannot be read
/// as the route expects, the question is asked of the bare resource kind:
/// the handler refuses such a body anyway, and only someone allowed the
/// action everywhere gets that far.
async fn resources(
    state: &AppState,
    rule: &Rule,
    path: &str,
    action: Action,
    target: Target,
    request: Request,
) -> Result<(Request, Vec<Question>), Refusal> {
    let bare = || vec![(action, Resource::new(action.kind()))];
    let param = |name: &str| path_param(rule.path, path, name);
    match target {
        Target::Kind(kind) => Ok((request, vec![(action, Resource::new(kind))])),
        Target::ClusterInPath => {
            let questions = match param("name") {
                Some(name) => vec![(action, cluster_resource(state, &name).await)],
                None => bare(),
            };
            Ok((request, questions))
        }
        Target::TenantInPath => {
            let questions = match param("name") {
                Some(name) => vec![(action, tenant_resource(state, &name, None).await)],
                None => bare(),
            };
            Ok((request, questions))
        }
        Target::ClusterInForm(field) => {
            let (request, body) = read_body(request).await?;
            let questions = match form_field(&body, field) {
                Some(name) => vec![(action, cluster_resource(state, &name).await)],
                None => bare(),
            };
            Ok((request, questions))
        }
        Target::NewCluster => {
            let (request, body) = read_body(request).await?;
            let questions = match new_cluster(&body, rule.path.starts_with(SERVER_FN_PREFIX)) {
                Some((name, group)) => {
                    let mut resource = Resource::new("cluster").on_cluster(name);
                    resource.group = group;
                    vec![(action, resource)]
                }
                None => bare(),
            };
            Ok((request, questions))
        }
        Target::NewOperation(field) => {
            let (request, body) = read_body(request).await?;
            let parsed = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
                let v = match field {
                    Some(field) => v.get(field)?.clone(),
                    None => v,
                };
                serde_json::from_value::<NewOperation>(v).ok()
            });
            let questions = match parsed {
                Some(operation) => match state.operations.preview(&operation).await {
                    Ok(preview) => {
                        operation_questions(state, &operation.action, &preview.targets).await
                    }
                    Err(_) => bare(),
                },
                None => bare(),
            };
            Ok((request, questions))
        }
        Target::StoredOperation => {
            let (request, body) = if rule.path.starts_with(SERVER_FN_PREFIX) {
                read_body(request).await?
            } else {
                (request, Bytes::new())
            };
            let id = param("id").or_else(|| form_field(&body, "id"));
            let cluster = param("cluster").or_else(|| form_field(&body, "cluster"));
            let questions = match id {
                Some(id) => match state.operations.get(&id).await {
                    Ok(view) => {
                        let targets: Vec<String> = view
                            .targets
                            .iter()
                            .map(|t| t.cluster.clone())
                            .filter(|c| cluster.as_ref().is_none_or(|wanted| wanted == c))
                            .collect();
                        operation_questions(state, &view.summary.request.action, &targets).await
                    }
                    Err(_) => bare(),
                },
                None => bare(),
            };
            Ok((request, questions))
        }
    }
}

/// The body, read whole (within the API's limit) and put back.
async fn read_body(request: Request) -> Result<(Request, Bytes), Refusal> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| Refusal::too_large())?;
    Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes))
}

fn form_field(body: &[u8], field: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == field)
        .map(|(_, value)| value.trim().to_string())
}

/// A new cluster's name and `group` label, from the REST API's JSON or the
/// registration form's fields.
fn new_cluster(body: &[u8], form: bool) -> Option<(String, Option<String>)> {
    if form {
        let name = form_field(body, "name")?;
        let labels =
            ringside_api::cluster::parse_labels(&form_field(body, "labels").unwrap_or_default())
                .ok()?;
        return Some((name, labels.get(GROUP_LABEL).cloned()));
    }
    let new: NewCluster = serde_json::from_slice(body).ok()?;
    let group = new.labels.get(GROUP_LABEL).cloned();
    Some((new.name, group))
}

/// The label that names the group owning a cluster.
pub const GROUP_LABEL: &str = "group";

async fn cluster_resource(state: &AppState, name: &str) -> Resource {
    let mut resource = Resource::new("cluster").on_cluster(name);
    if let Ok(Some(stored)) = state.store.get_cluster(name).await {
        resource.group = stored.cluster.labels.get(GROUP_LABEL).cloned();
    }
    resource
}

/// A tenant as the policy sees it, owned by its recorded group (or, for a
/// tenant the console has no record of, by `new_group`).
async fn tenant_resource(state: &AppState, name: &str, new_group: Option<&str>) -> Resource {
    let mut resource = Resource::new("tenant").for_tenant(name);
    resource.group = match state.tenant_group(name).await {
        Ok(Some(group)) => Some(group),
        _ => new_group.map(str::to_string),
    };
    resource
}

/// What an operation asks of the policy on each of its `targets`: a
/// tenant change is a change to the tenant (create, update or delete, by
/// whether the console knows it), anything else `operation.run` on each
/// cluster.
async fn operation_questions(
    state: &AppState,
    action: &OperationAction,
    targets: &[String],
) -> Vec<Question> {
    let mut questions = Vec::new();
    match action {
        OperationAction::SetTenantPolicy { policy } => {
            let recorded = state.tenant_group(&policy.name).await.ok().flatten();
            let verb = if recorded.is_some() {
                Action::TenantUpdate
            } else {
                Action::TenantCreate
            };
            let owner = tenant_resource(state, &policy.name, Some(&policy.group)).await;
            for cluster in targets {
                questions.push((verb, owner.clone().on_cluster(cluster.clone())));
                // Handing a tenant to another group is a change to both.
                if recorded.as_deref().is_some_and(|g| g != policy.group) {
                    let handed = Resource::new("tenant")
                        .for_tenant(policy.name.clone())
                        .on_cluster(cluster.clone())
                        .in_group(policy.group.clone());
                    questions.push((verb, handed));
                }
            }
            questions.extend(tenant_clusters(state, targets).await);
        }
        OperationAction::RemoveTenant { name } => {
            let owner = tenant_resource(state, name, None).await;
            for cluster in targets {
                questions.push((
                    Action::TenantDelete,
                    owner.clone().on_cluster(cluster.clone()),
                ));
            }
            questions.extend(tenant_clusters(state, targets).await);
        }
        other => {
            let path = match other {
                OperationAction::Load { path, .. } | OperationAction::Free { path, .. } => {
                    Some(path.clone())
                }
                _ => None,
            };
            for cluster in targets {
                let mut resource = cluster_resource(state, cluster).await;
                resource.path = path.clone();
                questions.push((Action::OperationRun, resource));
            }
        }
    }
    if questions.is_empty() {
        questions.push((Action::OperationRun, Resource::new("operation")));
    }
    questions
}

/// A tenant's policy changes each target cluster's cache too: owning the
/// tenant does not open another group's clusters to it.
async fn tenant_clusters(state: &AppState, targets: &[String]) -> Vec<Question> {
    let mut questions = Vec::new();
    for cluster in targets {
        questions.push((
            Action::ClusterUpdate,
            cluster_resource(state, cluster).await,
        ));
    }
    questions
}

/// Asks the policy each question; the first denial refuses the request.
async fn authorize(
    state: &AppState,
    actor: &Actor,
    questions: Vec<Question>,
) -> Result<(), Refusal> {
    for (action, resource) in questions {
        if actor.is_read_only() && action.is_change() {
            return Err(Refusal::forbidden(format!(
                "{actor} is using a read-only API token: {} needs a token with the write scope",
                action.as_str()
            )));
        }
        let input = Input::new(
            actor.name(),
            actor.groups().to_vec(),
            actor.roles().to_vec(),
            action,
            resource,
        );
        let decision = state.policy.authorize(&input).await;
        if !decision.allow {
            tracing::info!(user = %actor, action = action.as_str(), resource = %describe(&input.resource), revision = %decision.revision, "request denied by policy");
            let message = format!(
                "{actor} may not {} on {} (policy revision {})",
                action.as_str(),
                describe(&input.resource),
                decision.revision
            );
            // Refused changes belong in the audit trail beside the ones
            // made; refused reads are in the decision log only.
            if action.is_change() {
                let mut record = Record::new(actor, action.as_str())
                    .detail(serde_json::json!({ "resource": input.resource, "policy_revision": decision.revision }))
                    .refused("forbidden", &message, None);
                if let Some(cluster) = &input.resource.cluster {
                    record = record.target(cluster.clone());
                }
                state.keep_record(record).await;
            }
            return Err(Refusal::forbidden(message));
        }
    }
    Ok(())
}

/// `cluster eu-1 (group platform)`, for refusals and logs.
fn describe(resource: &Resource) -> String {
    let mut text = resource.kind.clone();
    if let Some(tenant) = &resource.tenant {
        text.push_str(&format!(" {tenant}"));
    }
    match &resource.cluster {
        Some(cluster) if resource.kind == "cluster" => text.push_str(&format!(" {cluster}")),
        Some(cluster) => text.push_str(&format!(" on cluster {cluster}")),
        None => {}
    }
    match &resource.group {
        Some(group) => text.push_str(&format!(" (group {group})")),
        None => text.push_str(" (no owning group)"),
    }
    text
}

fn refuse(gateway: &Gateway, door: Door, path: &str, refusal: Refusal) -> Response {
    match door {
        Door::ServerFn => (gateway.server_fn_denial)(refusal.status, refusal.message),
        Door::Api => ApiError::new(refusal.status, refusal.code, refusal.message).into_response(),
        Door::Page if refusal.status == StatusCode::UNAUTHORIZED => {
            let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        Door::Page => (refusal.status, Html(forbidden_page(&refusal.message))).into_response(),
    }
}

/// A method the route does not answer: 405, saying which it does.
fn method_not_allowed(method: &Method, route: &str, allowed: &[Method]) -> Response {
    let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if allowed.contains(&Method::GET) {
        names.push("HEAD");
    }
    let allow = names.join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {route}: it answers {allow}"),
    )
    .into_response();
    if let Ok(value) = allow.parse() {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// The 403 page: plain HTML, so it shows even when the app cannot load.
fn forbidden_page(message: &str) -> String {
    let message = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Forbidden · Ringside</title>
<link rel="stylesheet" href="/pkg/ringside.css"></head>
<body class="bg-slate-50 text-slate-900 antialiased">
<main class="mx-auto max-w-xl px-6 py-16" data-testid="forbidden">
<h1 class="text-2xl font-semibold">403: not allowed</h1>
<p class="mt-4 text-slate-700" data-testid="forbidden-reason">{message}</p>
<p class="mt-4 text-sm text-slate-600">Ask an administrator for a role that allows it, or log in as someone else.</p>
<form method="post" action="/api/v1/auth/logout" class="mt-6"><button class="rounded bg-slate-800 px-3 py-1.5 text-sm text-white">Log out</button></form>
<p class="mt-4"><a class="text-sky-700 underline" href="/">Back to the fleet</a></p>
</main></body></html>"#
    )
}
