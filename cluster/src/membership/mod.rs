//! Who is in the cluster. Workers announce themselves with heartbeats; the
//! coordinator keeps the member list in its backend, marks a worker OFFLINE
//! after `ringside.worker.failure.detection.timeout` of silence, and builds
//! the hash ring from the members: the ONLINE ones in dynamic mode, every
//! listed one in static mode. The ring's epoch moves whenever its member set
//! does.
pub mod etcd;

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use ringside_api::{WorkerHeartbeat, WorkerState, WorkerView};
use ringside_config::{CoordinatorConfig, MembershipType};
use ringside_ring::{Member, Ring, RingError};
use tokio::sync::watch;

use crate::metastore::{from_millis, from_sql, to_sql};
use sqlx::{Row, SqlitePool};

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("metastore database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("metastore migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("ring: {0}")]
    Ring(#[from] RingError),
    #[error("ring policy: {0}")]
    Policy(#[from] ringside_ring::ParseError),
    #[error("no worker with id {0:?} is a member")]
    UnknownWorker(String),
    #[error(
        "worker {id} at {address} is not in the static worker list {list}: add its host:port there or use dynamic membership"
    )]
    NotListed {
        id: String,
        address: String,
        list: String,
    },
    #[error("invalid heartbeat: {0}")]
    InvalidHeartbeat(String),
    #[error("cannot read the static worker list {path}: {reason}")]
    StaticList { path: String, reason: String },
    #[error(transparent)]
    Etcd(#[from] etcd::EtcdError),
    #[error(
        "this cluster keeps its members in etcd (ringside.worker.membership.manager.type=ETCD): workers register there, not with the coordinator"
    )]
    HeartbeatToEtcdCluster,
    /// A worker that may not join, such as one beyond the license's limits.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
}

/// The member table and the ring built from it.
#[derive(Clone, Debug)]
pub struct Membership {
    pool: SqlitePool,
    /// The coordinator's settings as they are now: the failure detection
    /// and removal timeouts are read from here at each use, so a pushed
    /// value applies at the next refresh.
    config: watch::Receiver<CoordinatorConfig>,
    dynamic: bool,
    /// `host:port` of every allowed worker in static mode.
    static_list: Option<(String, Vec<String>)>,
    /// The member list lives in etcd rather than in the metastore.
    etcd: Option<etcd::EtcdMembers>,
    ring: Arc<RwLock<Ring>>,
    /// Held while a worker that is not ONLINE is admitted, so two joining
    /// at once are each checked against the other.
    admission: Arc<tokio::sync::Mutex<()>>,
}

impl Membership {
    /// Opens the member table in the metastore database `pool`, with the
    /// coordinator's live settings `live`.
    pub async fn open(
        pool: SqlitePool,
        live: watch::Receiver<CoordinatorConfig>,
    ) -> Result<Membership, MembershipError> {
        sqlx::migrate!("./migrations").run(&pool).await?;
        let config = live.borrow().clone();
        let static_list = match config.membership {
            MembershipType::Static => {
                let path = config.static_membership_file.clone().ok_or_else(|| {
                    MembershipError::StaticList {
                        path: "(unset)".into(),
                        reason: "ringside.worker.static.membership.manager.config.file is required for STATIC membership".into(),
                    }
                })?;
                let text =
                    std::fs::read_to_string(&path).map_err(|e| MembershipError::StaticList {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                Some((path.display().to_string(), parse_static_list(&text)))
            }
            _ => None,
        };
        let etcd = match config.membership {
            MembershipType::Etcd => Some(
                etcd::EtcdMembers::connect(&config.etcd_endpoints, &config.cluster_name).await?,
            ),
            _ => None,
        };
        let ring = Ring::new(ring_config(&config.ring)?, Vec::<Member>::new(), 0)?;
        let membership = Membership {
            pool,
            config: live,
            dynamic: config.ring.dynamic_membership && static_list.is_none(),
            static_list,
            etcd,
            ring: Arc::new(RwLock::new(ring)),
            admission: Arc::default(),
        };
        membership.refresh().await?;
        Ok(membership)
    }

    /// Records a heartbeat: a new worker joins, a known one is ONLINE again.
    pub async fn heartbeat(&self, hb: &WorkerHeartbeat) -> Result<(), MembershipError> {
        self.heartbeat_with(hb, |_| Ok(())).await
    }

    /// [`Self::heartbeat`], asking `admit` first whether a worker that is
    /// not ONLINE (new, or back from OFFLINE) may join, or one that is
    /// ONLINE may grow its page store, given every member as
    /// [`Self::list`] shows it. Workers ONLINE as they were are not asked.
    pub async fn heartbeat_with(
        &self,
        hb: &WorkerHeartbeat,
        admit: impl FnOnce(&[WorkerView]) -> Result<(), MembershipError>,
    ) -> Result<(), MembershipError> {
        validate_heartbeat(hb)?;
        if self.etcd.is_some() {
            return Err(MembershipError::HeartbeatToEtcdCluster);
        }
        if let Some((list, allowed)) = &self.static_list {
            let host_port = hb
                .address
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            if !allowed.iter().any(|a| a == host_port) {
                return Err(MembershipError::NotListed {
                    id: hb.id.clone(),
                    address: hb.address.clone(),
                    list: list.clone(),
                });
            }
        }
        let admitting = if self.admitted(hb).await? {
            None
        } else {
            let guard = self.admission.clone().lock_owned().await;
            // Another beat of the same worker may have admitted it meanwhile.
            if !self.admitted(hb).await? {
                admit(&self.list().await?)?;
            }
            Some(guard)
        };
        let now = Utc::now().timestamp_millis();
        sqlx::query(
            "INSERT INTO members (id, address, s3_address, capacity_bytes, used_bytes, pages, version, last_heartbeat, registered_at, cache_read_bytes, ufs_read_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET address = ?2, s3_address = ?3, capacity_bytes = ?4,
                used_bytes = ?5, pages = ?6, version = ?7, last_heartbeat = ?8,
                cache_read_bytes = ?9, ufs_read_bytes = ?10",
        )
        .bind(&hb.id)
        .bind(&hb.address)
        .bind(&hb.s3_address)
        .bind(to_sql(hb.capacity_bytes))
        .bind(to_sql(hb.used_bytes))
        .bind(to_sql(hb.pages))
        .bind(&hb.version)
        .bind(now)
        .bind(to_sql(hb.cache_read_bytes))
        .bind(to_sql(hb.ufs_read_bytes))
        .execute(&self.pool)
        .await?;
        // Joined, back, or grown: the ring (capacity-weighted ones too)
        // takes it in.
        if admitting.is_some() {
            tracing::info!(worker = %hb.id, address = %hb.address, capacity_bytes = hb.capacity_bytes, "worker online");
            self.refresh().await?;
        }
        Ok(())
    }

    /// `ringside.worker.failure.detection.timeout` as it is now.
    fn failure_timeout(&self) -> Duration {
        self.config.borrow().failure_detection_timeout
    }

    /// Whether worker `id` is a member heard from within the failure
    /// detection timeout.
    /// Whether `hb`'s worker is ONLINE with at least the page store it now
    /// reports: nothing about it for a license to check again.
    async fn admitted(&self, hb: &WorkerHeartbeat) -> Result<bool, MembershipError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT last_heartbeat, capacity_bytes FROM members WHERE id = ?1")
                .bind(&hb.id)
                .fetch_optional(&self.pool)
                .await?;
        let now = Utc::now().timestamp_millis();
        let timeout = i64::try_from(self.failure_timeout().as_millis()).unwrap_or(i64::MAX);
        Ok(row.is_some_and(|(last, capacity)| {
            now.saturating_sub(last) <= timeout
                && u64::try_from(capacity).unwrap_or(0) >= hb.capacity_bytes
        }))
    }

    /// Every member with its state.
    pub async fn list(&self) -> Result<Vec<WorkerView>, MembershipError> {
        if let Some(etcd) = &self.etcd {
            return Ok(etcd.list().await?);
        }
        let rows = sqlx::query("SELECT * FROM members ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let now = Utc::now();
        let failure_timeout = self.failure_timeout();
        rows.iter()
            .map(|row| {
                let last: DateTime<Utc> = from_millis(row.try_get("last_heartbeat")?);
                let silent = (now - last).to_std().unwrap_or_default();
                Ok(WorkerView {
                    heartbeat: WorkerHeartbeat {
                        id: row.try_get("id")?,
                        address: row.try_get("address")?,
                        s3_address: row.try_get("s3_address")?,
                        capacity_bytes: from_sql(row.try_get("capacity_bytes")?),
                        used_bytes: from_sql(row.try_get("used_bytes")?),
                        pages: from_sql(row.try_get("pages")?),
                        version: row.try_get("version")?,
                        cache_read_bytes: from_sql(row.try_get("cache_read_bytes")?),
                        ufs_read_bytes: from_sql(row.try_get("ufs_read_bytes")?),
                    },
                    state: if silent > failure_timeout {
                        WorkerState::Offline
                    } else {
                        WorkerState::Online
                    },
                    last_heartbeat: last,
                    registered_at: from_millis(row.try_get("registered_at")?),
                })
            })
            .collect()
    }

    /// Removes a worker for good (`ringside process remove-worker`).
    pub async fn remove(&self, id: &str) -> Result<(), MembershipError> {
        if !self.delete(id).await? {
            return Err(MembershipError::UnknownWorker(id.to_string()));
        }
        tracing::info!(worker = %id, "worker removed");
        self.refresh().await
    }

    /// Deletes a member from whichever backend holds the list.
    async fn delete(&self, id: &str) -> Result<bool, MembershipError> {
        if let Some(etcd) = &self.etcd {
            return Ok(etcd.remove(id).await?);
        }
        let done = sqlx::query("DELETE FROM members WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The current ring.
    pub fn ring(&self) -> Ring {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Marks silent workers, drops long-OFFLINE ones in dynamic mode, and
    /// rebuilds the ring if its member set changed.
    pub async fn refresh(&self) -> Result<(), MembershipError> {
        let mut workers = self.list().await?;
        if self.dynamic {
            let now = Utc::now();
            let (failure, removal) = {
                let config = self.config.borrow();
                (
                    config.failure_detection_timeout,
                    config.offline_removal_timeout,
                )
            };
            for w in workers.iter().filter(|w| w.state == WorkerState::Offline) {
                let silent = (now - w.last_heartbeat).to_std().unwrap_or_default();
                if silent > failure + removal {
                    tracing::info!(worker = %w.heartbeat.id, "removing a long-offline worker");
                    self.delete(&w.heartbeat.id).await?;
                }
            }
            workers.retain(|w| w.state == WorkerState::Online);
        }
        let members = workers
            .iter()
            .map(|w| Member::new(w.heartbeat.id.clone(), w.heartbeat.capacity_bytes));
        let mut ring = self.ring.write().unwrap_or_else(|e| e.into_inner());
        let next = ring.next(members)?;
        if next.epoch() != ring.epoch() {
            tracing::info!(epoch = next.epoch(), workers = next.len(), "ring changed");
        }
        *ring = next;
        Ok(())
    }

    /// Runs `refresh` every second until the process ends.
    pub async fn watch(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "membership refresh failed");
            }
        }
    }
}

/// The ring library's settings from the site configuration's.
pub fn ring_config(
    site: &ringside_config::RingConfig,
) -> Result<ringside_ring::RingConfig, MembershipError> {
    let policy: ringside_ring::Policy = site.policy.as_str().parse()?;
    let config = ringside_ring::RingConfig {
        virtual_nodes_per_worker: site.virtual_nodes_per_worker,
        maglev_table_size: u32::try_from(site.maglev_table_size).unwrap_or(u32::MAX),
        multi_probe_count: site.multi_probe_count,
        ..ringside_ring::RingConfig::with_policy(policy)
    };
    config.validate()?;
    Ok(config)
}

fn validate_heartbeat(hb: &WorkerHeartbeat) -> Result<(), MembershipError> {
    let bad = |what: &str| Err(MembershipError::InvalidHeartbeat(what.to_string()));
    if hb.id.is_empty() || hb.id.len() > 128 {
        return bad("id must be 1 to 128 characters");
    }
    for (name, url) in [("address", &hb.address), ("s3_address", &hb.s3_address)] {
        if ringside_api::cluster::normalize_url(url).is_err() {
            return bad(&format!("{name} must be an http:// or https:// URL"));
        }
    }
    Ok(())
}

/// One `host:port` a line; `#` starts a comment.
pub fn parse_static_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
