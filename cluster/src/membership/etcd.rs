//! The member list kept in an etcd cluster
//! (`ringside.worker.membership.manager.type=ETCD`, endpoints in
//! `ringside.etcd.endpoints`).
//!
//! Workers register in etcd themselves ([`EtcdRegistrar`]) and the
//! coordinator only reads and prunes the list ([`EtcdMembers`]), so workers
//! join, beat and fail while the coordinator is down, and a restarted
//! coordinator finds the list as it was.
//!
//! # Key layout
//!
//! Every key of a cluster lives under `/ringside/<cluster-name>/`:
//!
//! | key | value | lease |
//! | --- | --- | --- |
//! | `members/<worker-id>` | the member record, JSON (below) | none: an OFFLINE worker stays listed until it is removed |
//! | `alive/<worker-id>` | the worker's HTTP address (informational) | the worker's lease, whose TTL is the failure detection timeout |
//!
//! The member record is
//!
//! ```json
//! {
//!   "heartbeat": {"id": "…", "address": "http://10.0.0.7:29999", "s3_address": "…",
//!                 "capacity_bytes": 0, "used_bytes": 0, "pages": 0, "version": "…",
//!                 "cache_read_bytes": 0, "ufs_read_bytes": 0},
//!   "registered_at": "2026-05-01T12:00:00.123456789Z",
//!   "last_heartbeat": "2026-05-01T12:03:10.000000001Z"
//! }
//! ```
//!
//! A worker is ONLINE exactly while its `alive/<worker-id>` key exists. The
//! lease TTL is `ringside.worker.failure.detection.timeout` rounded up to whole
//! seconds, at least 1 (etcd raises TTLs under its own minimum, about 2 s with
//! default election settings). A worker that stops beating loses its lease
//! after the TTL, etcd deletes the alive key, and the worker is OFFLINE but
//! still listed; `ringside process remove-worker` deletes both keys.
//!
//! On each heartbeat a worker keeps its lease alive and writes both keys in
//! one transaction. The first heartbeat, and any after the lease was lost,
//! grants a new lease; `registered_at` is kept from an existing record, so a
//! worker restarted with the same identity keeps its registration time. A
//! worker removed while it is still beating registers again (with a new
//! `registered_at`) on its next heartbeat, as with the embedded backend.
//!
//! The coordinator reads the list with one transaction holding one range
//! read per prefix, so the members and their liveness come from one revision.

use std::{collections::HashSet, fmt, future::Future, time::Duration};

use chrono::{DateTime, Utc};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, LeaseKeepAliveStream, LeaseKeeper,
    PutOptions, Txn, TxnOp, TxnOpResponse,
};
use ringside_api::{WorkerHeartbeat, WorkerState, WorkerView};
use serde::{Deserialize, Serialize};

/// How long opening a TCP connection to an endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one etcd request may take, including waiting for a connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("no etcd endpoints are configured: set ringside.etcd.endpoints")]
    NoEndpoints,
    #[error("invalid etcd endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("invalid {what} {value:?} for etcd membership: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("cannot set up an etcd client for {endpoints}: {source}")]
    Client {
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    #[error("etcd at {endpoints}: {action} failed: {source}")]
    Request {
        action: String,
        endpoints: String,
        #[source]
        source: etcd_client::Error,
    },
    #[error("etcd at {endpoints}: {action} got no answer within {timeout:?}")]
    Timeout {
        action: String,
        endpoints: String,
        timeout: Duration,
    },
    #[error(
        "etcd at {endpoints} closed the lease keep-alive stream of worker {id}; it registers again on the next heartbeat"
    )]
    KeepAliveClosed { id: String, endpoints: String },
    #[error("cannot encode the member record of worker {id} for etcd at {endpoints}: {source}")]
    Encode {
        id: String,
        endpoints: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The worker side: registers one worker and keeps it alive.
pub struct EtcdRegistrar {
    endpoints: Vec<String>,
    shown: String,
    keys: Keys,
    ttl_secs: i64,
    /// `None` after a failure: the next heartbeat starts on a new connection.
    /// (Boxed, as the session: a client is kilobytes, and the registrar is
    /// kept inline by its users.)
    client: Option<Box<Client>>,
    /// The live registration, `None` until the first heartbeat and after a
    /// failure or a lost lease.
    session: Option<Box<Session>>,
}

struct Session {
    worker: String,
    lease: i64,
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
    registered_at: DateTime<Utc>,
}

impl fmt::Debug for EtcdRegistrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdRegistrar")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.keys.prefix)
            .field("ttl_secs", &self.ttl_secs)
            .field("lease", &self.session.as_ref().map(|s| s.lease))
            .finish_non_exhaustive()
    }
}

impl EtcdRegistrar {
    /// Connects to etcd for the worker side of cluster `cluster`, and checks
    /// that etcd answers. `failure_timeout` is the cluster's failure
    /// detection timeout, the TTL of the worker's lease.
    pub async fn connect(
        endpoints: &[String],
        cluster: &str,
        failure_timeout: Duration,
    ) -> Result<Self, EtcdError> {
        let (endpoints, shown, keys, client) = connect_parts(endpoints, cluster).await?;
        Ok(Self {
            endpoints,
            shown,
            keys,
            ttl_secs: lease_ttl_secs(failure_timeout),
            client: Some(Box::new(client)),
            session: None,
        })
    }

    /// The TTL of the worker's lease, in seconds.
    pub fn lease_ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The key prefix of the cluster, `/ringside/<cluster-name>/`.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// Records one heartbeat: registers the worker on the first call (or
    /// after its lease was lost), keeps its lease alive and writes its member
    /// record with `last_heartbeat = now`. After a failure (etcd down,
    /// restarted, connection lost) the next call starts over on a new
    /// connection; a call that finds its connection stale retries once
    /// itself.
    pub async fn beat(&mut self, hb: &WorkerHeartbeat) -> Result<(), EtcdError> {
        check_segment("worker id", &hb.id)?;
        if self.session.as_ref().is_some_and(|s| s.worker != hb.id) {
            // Another identity on the same registrar: the old lease expires
            // by itself.
            self.session = None;
        }
        let had_session = self.session.is_some();
        match self.try_beat(hb).await {
            Ok(()) => Ok(()),
            Err(first) => {
                self.session = None;
                self.client = None;
                if !had_session {
                    return Err(first);
                }
                tracing::debug!(worker = %hb.id, error = %first, "etcd session lost; registering again");
                let again = self.try_beat(hb).await;
                if again.is_err() {
                    self.session = None;
                    self.client = None;
                }
                again
            }
        }
    }

    /// Gives the lease back, so the worker is OFFLINE at once instead of
    /// after the TTL (for a graceful stop). The member record stays.
    pub async fn leave(&mut self) -> Result<(), EtcdError> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let mut client = self.client().await?;
        timed(
            &self.shown,
            || format!("revoking the lease of worker {}", session.worker),
            client.lease_revoke(session.lease),
        )
        .await
        .map(|_| ())
    }

    async fn client(&mut self) -> Result<Client, EtcdError> {
        match &self.client {
            Some(client) => Ok(Client::clone(client)),
            None => {
                let client = new_client(&self.endpoints, &self.shown).await?;
                self.client = Some(Box::new(client.clone()));
                Ok(client)
            }
        }
    }

    async fn try_beat(&mut self, hb: &WorkerHeartbeat) -> Result<(), EtcdError> {
        let mut client = self.client().await?;
        // Taken out for the call: a failure leaves no session behind.
        let mut session = self.session.take();
        if let Some(live) = &mut session
            && !keep_alive(&self.shown, live).await?
        {
            tracing::warn!(worker = %hb.id, endpoints = %self.shown, "etcd lease expired; registering again");
            session = None;
        }
        let mut session = match session {
            Some(session) => session,
            None => Box::new(self.register(&mut client, hb).await?),
        };

        let member_key = self.keys.member(&hb.id);
        let alive_key = self.keys.alive(&hb.id);
        let now = Utc::now();
        let encode = |registered_at| {
            serde_json::to_vec(&RecordRef {
                heartbeat: hb,
                registered_at,
                last_heartbeat: now,
            })
            .map_err(|source| EtcdError::Encode {
                id: hb.id.clone(),
                endpoints: self.shown.clone(),
                source,
            })
        };
        let kept = encode(session.registered_at)?;
        let fresh = encode(now)?;
        let alive = |lease| {
            TxnOp::put(
                alive_key.clone(),
                hb.address.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )
        };
        // The record exists: update it, keeping registered_at. It was removed
        // meanwhile: register afresh.
        let txn = Txn::new()
            .when([Compare::version(member_key.clone(), CompareOp::Greater, 0)])
            .and_then([
                TxnOp::put(member_key.clone(), kept, None),
                alive(session.lease),
            ])
            .or_else([TxnOp::put(member_key, fresh, None), alive(session.lease)]);
        let done = timed(
            &self.shown,
            || format!("writing the member record of worker {}", hb.id),
            client.txn(txn),
        )
        .await?;
        if !done.succeeded() {
            session.registered_at = now;
            tracing::info!(worker = %hb.id, endpoints = %self.shown, "worker registered in etcd");
        }
        self.session = Some(session);
        Ok(())
    }

    async fn register(
        &self,
        client: &mut Client,
        hb: &WorkerHeartbeat,
    ) -> Result<Session, EtcdError> {
        let lease = timed(
            &self.shown,
            || format!("granting a lease to worker {}", hb.id),
            client.lease_grant(self.ttl_secs, None),
        )
        .await?
        .id();
        let (keeper, stream) = timed(
            &self.shown,
            || format!("opening the lease keep-alive stream of worker {}", hb.id),
            client.lease_keep_alive(lease),
        )
        .await?;
        let member_key = self.keys.member(&hb.id);
        let existing = timed(
            &self.shown,
            || format!("reading the member record of worker {}", hb.id),
            client.get(member_key.clone(), None),
        )
        .await?;
        let registered_at = existing
            .kvs()
            .first()
            .and_then(
                |kv| match serde_json::from_slice::<Record>(kv.value()) {
                    Ok(record) => Some(record.registered_at),
                    Err(e) => {
                        tracing::warn!(key = %member_key, error = %e, "unreadable member record in etcd; replacing it");
                        None
                    }
                },
            )
            .unwrap_or_else(Utc::now);
        Ok(Session {
            worker: hb.id.clone(),
            lease,
            keeper,
            stream,
            registered_at,
        })
    }
}

/// Sends one keep-alive; `false` when etcd says the lease is gone.
async fn keep_alive(shown: &str, session: &mut Session) -> Result<bool, EtcdError> {
    let worker = session.worker.clone();
    let action = || format!("keeping the lease of worker {worker} alive");
    timed(shown, action, session.keeper.keep_alive()).await?;
    let answer = timed(shown, action, session.stream.message()).await?;
    match answer {
        Some(answer) => Ok(answer.ttl() > 0),
        None => Err(EtcdError::KeepAliveClosed {
            id: session.worker.clone(),
            endpoints: shown.to_string(),
        }),
    }
}

/// The coordinator side: reads and prunes the member list.
#[derive(Clone)]
pub struct EtcdMembers {
    endpoints: Vec<String>,
    shown: String,
    keys: Keys,
    /// Boxed: a client is kilobytes.
    client: Box<Client>,
}

impl fmt::Debug for EtcdMembers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdMembers")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

impl EtcdMembers {
    /// Connects to etcd for the coordinator of cluster `cluster`, and checks
    /// that etcd answers.
    pub async fn connect(endpoints: &[String], cluster: &str) -> Result<Self, EtcdError> {
        let (endpoints, shown, keys, client) = connect_parts(endpoints, cluster).await?;
        Ok(Self {
            endpoints,
            shown,
            keys,
            client: Box::new(client),
        })
    }

    /// The key prefix of the cluster, `/ringside/<cluster-name>/`.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// Every member, sorted by id; ONLINE exactly while its alive key exists.
    /// Records that cannot be read are skipped with a warning.
    pub async fn list(&self) -> Result<Vec<WorkerView>, EtcdError> {
        let mut client = Client::clone(&self.client);
        let members_prefix = self.keys.members_prefix();
        let alive_prefix = self.keys.alive_prefix();
        let txn = Txn::new().and_then([
            TxnOp::get(
                members_prefix.clone(),
                Some(GetOptions::new().with_prefix()),
            ),
            TxnOp::get(
                alive_prefix.clone(),
                Some(GetOptions::new().with_prefix().with_keys_only()),
            ),
        ]);
        let answer = timed(
            &self.shown,
            || format!("listing the members under {}", self.keys.prefix),
            client.txn(txn),
        )
        .await?;
        let mut ranges = answer.op_responses().into_iter().filter_map(|r| match r {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        });
        let (Some(members), Some(alive)) = (ranges.next(), ranges.next()) else {
            return Ok(Vec::new());
        };
        let alive: HashSet<&[u8]> = alive
            .kvs()
            .iter()
            .filter_map(|kv| kv.key().strip_prefix(alive_prefix.as_bytes()))
            .collect();
        let mut views = Vec::with_capacity(members.kvs().len());
        for kv in members.kvs() {
            let Some(id) = kv.key().strip_prefix(members_prefix.as_bytes()) else {
                continue;
            };
            let key = String::from_utf8_lossy(kv.key());
            let record = match serde_json::from_slice::<Record>(kv.value()) {
                Ok(record) => record,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "skipping an unreadable member record in etcd");
                    continue;
                }
            };
            if record.heartbeat.id.as_bytes() != id {
                tracing::warn!(%key, id = %record.heartbeat.id, "skipping a member record filed under another id in etcd");
                continue;
            }
            views.push(WorkerView {
                state: if alive.contains(id) {
                    WorkerState::Online
                } else {
                    WorkerState::Offline
                },
                heartbeat: record.heartbeat,
                last_heartbeat: record.last_heartbeat,
                registered_at: record.registered_at,
            });
        }
        views.sort_by(|a, b| a.heartbeat.id.cmp(&b.heartbeat.id));
        Ok(views)
    }

    /// Removes a worker: deletes its member record and alive key. `false`
    /// when neither existed.
    pub async fn remove(&self, id: &str) -> Result<bool, EtcdError> {
        check_segment("worker id", id)?;
        let mut client = Client::clone(&self.client);
        let txn = Txn::new().and_then([
            TxnOp::delete(self.keys.member(id), None),
            TxnOp::delete(self.keys.alive(id), None),
        ]);
        let answer = timed(
            &self.shown,
            || format!("removing worker {id}"),
            client.txn(txn),
        )
        .await?;
        let deleted: i64 = answer
            .op_responses()
            .iter()
            .map(|r| match r {
                TxnOpResponse::Delete(d) => d.deleted(),
                _ => 0,
            })
            .sum();
        if deleted > 0 {
            tracing::info!(worker = %id, endpoints = %self.shown, "worker removed from etcd");
        }
        Ok(deleted > 0)
    }
}

/// What both sides need: the checked endpoints, how errors name them, the
/// cluster's keys, and a client that has been answered once.
async fn connect_parts(
    endpoints: &[String],
    cluster: &str,
) -> Result<(Vec<String>, String, Keys, Client), EtcdError> {
    let keys = Keys::new(cluster)?;
    let endpoints = normalize_endpoints(endpoints)?;
    let shown = endpoints.join(",");
    let client = open(&endpoints, &shown, &keys).await?;
    Ok((endpoints, shown, keys, client))
}

/// The lease TTL for a failure detection timeout: whole seconds rounded up,
/// at least 1.
pub fn lease_ttl_secs(failure_timeout: Duration) -> i64 {
    let secs = failure_timeout
        .as_secs()
        .saturating_add(u64::from(failure_timeout.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

/// The member record as stored.
#[derive(Deserialize)]
struct Record {
    heartbeat: WorkerHeartbeat,
    registered_at: DateTime<Utc>,
    last_heartbeat: DateTime<Utc>,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    heartbeat: &'a WorkerHeartbeat,
    registered_at: DateTime<Utc>,
    last_heartbeat: DateTime<Utc>,
}

#[derive(Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(cluster: &str) -> Result<Self, EtcdError> {
        check_segment("cluster name", cluster)?;
        Ok(Self {
            prefix: format!("/ringside/{cluster}/"),
        })
    }

    fn members_prefix(&self) -> String {
        format!("{}members/", self.prefix)
    }

    fn alive_prefix(&self) -> String {
        format!("{}alive/", self.prefix)
    }

    fn member(&self, id: &str) -> String {
        format!("{}members/{id}", self.prefix)
    }

    fn alive(&self, id: &str) -> String {
        format!("{}alive/{id}", self.prefix)
    }
}

/// A cluster name or worker id must be one non-empty key segment.
fn check_segment(what: &'static str, value: &str) -> Result<(), EtcdError> {
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.contains('/') {
        "it contains '/'"
    } else if value.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(EtcdError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    })
}

/// Trims the endpoints and drops trailing slashes; only `http://URL` and
/// `host:port` are accepted (no TLS).
fn normalize_endpoints(endpoints: &[String]) -> Result<Vec<String>, EtcdError> {
    let mut out = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let trimmed = endpoint.trim().trim_end_matches('/');
        if trimmed.is_empty() {
            continue;
        }
        let invalid = |reason: &str| EtcdError::InvalidEndpoint {
            endpoint: endpoint.clone(),
            reason: reason.to_string(),
        };
        if trimmed.starts_with("https://") {
            return Err(invalid(
                "https is not supported by this build: use an http:// endpoint",
            ));
        }
        let url = if trimmed.starts_with("http://") {
            trimmed.to_string()
        } else if trimmed.contains("://") {
            return Err(invalid("expected http://host:port or host:port"));
        } else {
            format!("http://{trimmed}")
        };
        if let Err(e) = url.parse::<axum::http::Uri>() {
            return Err(invalid(&format!("not a valid URL: {e}")));
        }
        out.push(url);
    }
    if out.is_empty() {
        return Err(EtcdError::NoEndpoints);
    }
    Ok(out)
}

/// A new client. It dials on its first request, so this needs no network.
async fn new_client(endpoints: &[String], shown: &str) -> Result<Client, EtcdError> {
    let options = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3));
    Client::connect(endpoints, Some(options))
        .await
        .map_err(|source| EtcdError::Client {
            endpoints: shown.to_string(),
            source,
        })
}

/// A new client that has been heard from.
async fn open(endpoints: &[String], shown: &str, keys: &Keys) -> Result<Client, EtcdError> {
    let mut client = new_client(endpoints, shown).await?;
    timed(
        shown,
        || "the first request (a connection check)".to_string(),
        client.get(
            keys.prefix.clone(),
            Some(GetOptions::new().with_prefix().with_count_only()),
        ),
    )
    .await?;
    Ok(client)
}

/// Runs one request with [`REQUEST_TIMEOUT`]: the client's own timeout does
/// not cover waiting for a connection to an endpoint that is down.
async fn timed<T>(
    shown: &str,
    action: impl FnOnce() -> String,
    request: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(source)) => Err(EtcdError::Request {
            action: action(),
            endpoints: shown.to_string(),
            source,
        }),
        Err(_) => Err(EtcdError::Timeout {
            action: action(),
            endpoints: shown.to_string(),
            timeout: REQUEST_TIMEOUT,
        }),
    }
}
