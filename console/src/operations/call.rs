//! One target's call: the action sent to one coordinator, retried with
//! backoff while the failure is a passing one, always under the target's
//! idempotency key so that a retry — automatic, after a console restart,
//! or pressed by an operator — never runs the action twice on the cluster.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use ringside_api::{
    ErrorBody, PropertyPatch,
    job::{JobRequest, JobState, JobType, JobView},
    lifecycle::{RestartProgress, RestartRequest},
    operation::{Action, Rollout},
    tenant::{TenantChange, TenantPolicy},
};
use serde::Serialize;

use crate::remote::{Remote, describe};

/// The header the coordinator reads idempotency keys from.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An action ready to send: what needs looking up (a license's text) was
/// looked up once for the whole operation.
#[derive(Clone, Debug)]
pub enum Prepared {
    Submit(JobRequest),
    StopJob { job_type: JobType, path: String },
    ApplyLicense { id: String, license: String },
    PushProperties(PropertyPatch),
    RollingRestart(RestartRequest),
    SetTenantPolicy(TenantPolicy),
    RemoveTenant(String),
}

impl Prepared {
    /// The call for `action`; `license` finds an uploaded license's text.
    pub fn new(action: &Action, license: Option<String>) -> Result<Prepared, String> {
        let submit = |job_type, path: &str, options: &ringside_api::job::JobOptions| {
            Prepared::Submit(JobRequest {
                job_type,
                path: path.to_string(),
                options: options.clone(),
            })
        };
        Ok(match action {
            Action::Load { path, options } => submit(JobType::Load, path, options),
            Action::Free { path, options } => submit(JobType::Free, path, options),
            Action::Rebalance { target, options } => submit(JobType::Rebalance, target, options),
            Action::StopJob { job_type, path } => Prepared::StopJob {
                job_type: *job_type,
                path: path.clone(),
            },
            Action::PushProperties { properties } => Prepared::PushProperties(PropertyPatch {
                properties: properties.clone(),
            }),
            Action::RollingRestart { max_unavailable } => {
                Prepared::RollingRestart(RestartRequest {
                    max_unavailable: *max_unavailable,
                })
            }
            Action::SetTenantPolicy { policy } => Prepared::SetTenantPolicy(
                policy
                    .clone()
                    .validate()
                    .map_err(|e| format!("{}: {}", e.field, e.message))?,
            ),
            Action::RemoveTenant { name } => Prepared::RemoveTenant(name.clone()),
            Action::ApplyLicense { license_id } => Prepared::ApplyLicense {
                id: license_id.clone(),
                license: license.ok_or_else(|| {
                    format!("no license {license_id:?} is uploaded to the console")
                })?,
            },
        })
    }
}

/// How a target's call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub succeeded: bool,
    /// Calls made, retries included.
    pub attempts: u32,
    pub message: String,
}

/// Why one call failed.
#[derive(Debug)]
enum Failure {
    /// Worth retrying: unreachable, timed out, overloaded, 5xx.
    Passing(String),
    /// Retrying would get the same answer: bad input, not found, refused.
    Lasting(String),
}

/// Runs `call` on `remote` until it succeeds, fails for good, or has been
/// retried `rollout.retries` times.
pub async fn run(remote: &Remote, call: &Prepared, key: &str, rollout: &Rollout) -> Outcome {
    let timeout = Duration::from_millis(rollout.timeout_ms);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match once(remote, call, key, timeout).await {
            Ok(message) => {
                return Outcome {
                    succeeded: true,
                    attempts,
                    message,
                };
            }
            Err(Failure::Lasting(message)) => {
                return Outcome {
                    succeeded: false,
                    attempts,
                    message,
                };
            }
            Err(Failure::Passing(message)) if attempts > rollout.retries => {
                return Outcome {
                    succeeded: false,
                    attempts,
                    message: format!("gave up after {attempts} attempts: {message}"),
                };
            }
            Err(Failure::Passing(message)) => {
                tracing::debug!(cluster = %remote.name, attempts, %message, "retrying");
                tokio::time::sleep(backoff(attempts)).await;
            }
        }
    }
}

/// The wait before retry `attempts` (1-based): 200 ms, doubling, at most 5 s.
fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempts.saturating_sub(1).min(8))
        .min(MAX_BACKOFF)
}

async fn once(
    remote: &Remote,
    call: &Prepared,
    key: &str,
    timeout: Duration,
) -> Result<String, Failure> {
    match call {
        Prepared::Submit(request) => {
            let response = send(remote, Method::POST, "/jobs", Some(request), key, timeout).await?;
            match response.status() {
                status if status.is_success() => {
                    let job: JobView = body(remote, response).await?;
                    let how = if status == StatusCode::CREATED {
                        "submitted"
                    } else {
                        "resumed"
                    };
                    Ok(format!("{} job {} {how}", job.job_type, job.id))
                }
                // Already active: the cluster is where the operation wants it.
                StatusCode::CONFLICT => {
                    let error = error_message(response).await;
                    if error.0 == "job_exists" {
                        Ok(error.1)
                    } else {
                        Err(classify(StatusCode::CONFLICT, error))
                    }
                }
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::StopJob { job_type, path } => {
            let current = remote
                .request(Method::GET, &api("/jobs/current"))
                .map_err(Failure::Lasting)?
                .query(&[("job_type", job_type.as_str()), ("path", path.as_str())])
                .timeout(timeout)
                .send()
                .await
                .map_err(unreachable)?;
            if !current.status().is_success() {
                let status = current.status();
                return Err(classify(status, error_message(current).await));
            }
            let job: JobView = body(remote, current).await?;
            if matches!(
                job.state,
                JobState::Succeeded | JobState::Failed | JobState::Stopped
            ) {
                return Ok(format!(
                    "{} job {} already {}",
                    job.job_type, job.id, job.state
                ));
            }
            let path = format!("/jobs/{}/stop", job.id);
            let response = send::<()>(remote, Method::POST, &path, None, key, timeout).await?;
            match response.status() {
                status if status.is_success() => {
                    Ok(format!("{} job {} stopped", job.job_type, job.id))
                }
                StatusCode::CONFLICT => {
                    let error = error_message(response).await;
                    if error.0 == "job_finished" {
                        Ok(error.1)
                    } else {
                        Err(classify(StatusCode::CONFLICT, error))
                    }
                }
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::ApplyLicense { id, license } => {
            #[derive(Serialize)]
            struct Apply<'a> {
                license: &'a str,
            }
            let response = send(
                remote,
                Method::PUT,
                "/license",
                Some(&Apply { license }),
                key,
                timeout,
            )
            .await?;
            match response.status() {
                status if status.is_success() => Ok(format!("license {id} applied")),
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::PushProperties(patch) => {
            let response = send(
                remote,
                Method::PATCH,
                "/properties",
                Some(patch),
                key,
                timeout,
            )
            .await?;
            match response.status() {
                status if status.is_success() => Ok(format!(
                    "{} set live",
                    patch
                        .properties
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::RollingRestart(request) => {
            let path = "/lifecycle/restart";
            let response = send(remote, Method::POST, path, Some(request), key, timeout).await?;
            match response.status() {
                status if status.is_success() => {
                    let progress: RestartProgress = body(remote, response).await?;
                    Ok(format!(
                        "rolling restart of {} workers started, {} batches",
                        progress.total, progress.batches
                    ))
                }
                // One already rolling: the cluster is where the operation wants it.
                StatusCode::CONFLICT => {
                    let error = error_message(response).await;
                    if error.0 == "restart_running" {
                        Ok(error.1)
                    } else {
                        Err(classify(StatusCode::CONFLICT, error))
                    }
                }
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::SetTenantPolicy(policy) => {
            let path = format!("/tenants/{}", policy.name);
            let response = send(remote, Method::PUT, &path, Some(policy), key, timeout).await?;
            match response.status() {
                status if status.is_success() => {
                    let change: TenantChange = body(remote, response).await?;
                    Ok(tenant_change(&policy.name, "set", &change))
                }
                status => Err(classify(status, error_message(response).await)),
            }
        }
        Prepared::RemoveTenant(name) => {
            let path = format!("/tenants/{name}");
            let response = send::<()>(remote, Method::DELETE, &path, None, key, timeout).await?;
            match response.status() {
                status if status.is_success() => {
                    let change: TenantChange = body(remote, response).await?;
                    Ok(tenant_change(name, "removed", &change))
                }
                StatusCode::NOT_FOUND => Ok(format!("tenant {name} was not there")),
                status => Err(classify(status, error_message(response).await)),
            }
        }
    }
}

/// What a tenant change did on one cluster: the revision, and how many of
/// its workers took it at once (the rest catch up on their own).
fn tenant_change(name: &str, what: &str, change: &TenantChange) -> String {
    let reached = change.workers.iter().filter(|w| w.error.is_none()).count();
    format!(
        "tenant {name} {what} (revision {}), {reached} of {} workers have it",
        change.revision,
        change.workers.len()
    )
}

fn api(path: &str) -> String {
    format!("{}{path}", ringside_api::API_PREFIX)
}

async fn send<T: Serialize>(
    remote: &Remote,
    method: Method,
    path: &str,
    json: Option<&T>,
    key: &str,
    timeout: Duration,
) -> Result<reqwest::Response, Failure> {
    let mut request = remote
        .request(method, &api(path))
        .map_err(Failure::Lasting)?
        .header(IDEMPOTENCY_KEY, key)
        .timeout(timeout);
    if let Some(json) = json {
        request = request.json(json);
    }
    request.send().await.map_err(unreachable)
}

fn unreachable(error: reqwest::Error) -> Failure {
    let what = if error.is_timeout() {
        "timed out"
    } else {
        "unreachable"
    };
    Failure::Passing(format!("{what}: {}", describe(error)))
}

async fn body<T: serde::de::DeserializeOwned>(
    remote: &Remote,
    response: reqwest::Response,
) -> Result<T, Failure> {
    response.json().await.map_err(|e| {
        Failure::Passing(format!(
            "{} answered with an unexpected body: {e}",
            remote.name
        ))
    })
}

/// The error envelope's code and message, or the status when the body is
/// not one.
async fn error_message(response: reqwest::Response) -> (String, String) {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (String::new(), format!("the coordinator answered {status}")),
    }
}

fn classify(status: StatusCode, (code, message): (String, String)) -> Failure {
    let passing = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || code == "idempotency_key_running";
    let message = format!("{}: {message}", status.as_u16());
    if passing {
        Failure::Passing(message)
    } else {
        Failure::Lasting(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(1600));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn only_passing_failures_are_retried() {
        let passing = |status: u16, code: &str| {
            matches!(
                classify(
                    StatusCode::from_u16(status).unwrap(),
                    (code.into(), "m".into())
                ),
                Failure::Passing(_)
            )
        };
        assert!(passing(503, "unavailable"));
        assert!(passing(500, ""));
        assert!(passing(429, ""));
        assert!(passing(409, "idempotency_key_running"));
        assert!(!passing(409, "job_finished"));
        assert!(!passing(400, "invalid_field"));
        assert!(!passing(403, "license_expired"));
        assert!(!passing(404, "not_found"));
    }

    #[test]
    fn a_license_must_be_uploaded_before_it_is_applied() {
        let action = Action::ApplyLicense {
            license_id: "L-1".into(),
        };
        assert!(Prepared::new(&action, None).unwrap_err().contains("L-1"));
        assert!(matches!(
            Prepared::new(&action, Some("RSL1.x.y".into())),
            Ok(Prepared::ApplyLicense { .. })
        ));
    }
}
