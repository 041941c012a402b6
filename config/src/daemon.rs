//! The settings each program needs, gathered from a [`SiteConfig`] into plain
//! structs so a daemon receives exactly its part, already typed.

use std::path::PathBuf;
use std::time::Duration;

use crate::schema::keys;
use crate::site::SiteConfig;
use crate::types::{AuthenticationType, EvictorType, MembershipType, SelectionPolicy};

/// How files map to workers. Every party that hashes (coordinator, clients)
/// must agree on all of it, or they look for files on different workers.
#[derive(Clone, Debug, PartialEq)]
pub struct RingConfig {
    /// The hash ring policy.
    pub policy: SelectionPolicy,
    /// Virtual nodes per worker for the CONSISTENT and CAPACITY policies.
    pub virtual_nodes_per_worker: u32,
    /// Lookup table size of the MAGLEV policy; always prime.
    pub maglev_table_size: u64,
    /// Probes per lookup of the MULTI_PROBE policy.
    pub multi_probe_count: u32,
    /// Whether the ring holds ONLINE workers only (dynamic mode) rather
    /// than every registered worker (static mode).
    pub dynamic_membership: bool,
}

/// Where the cached data originally lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UfsConfig {
    /// Root of the under file system: an absolute path, `file:///path` or
    /// `s3://bucket/prefix`.
    pub root: String,
    /// Endpoint of an S3-compatible store, or `None` for AWS itself.
    pub s3_endpoint: Option<String>,
    /// Region of the S3 bucket.
    pub s3_region: String,
}

/// How a worker's page store is laid out and evicted.
#[derive(Clone, Debug, PartialEq)]
pub struct PageStoreConfig {
    /// Directory holding the cached pages.
    pub dir: PathBuf,
    /// Cache capacity in bytes.
    pub size: u64,
    /// Bytes kept on top of `size` for temporary writes and metadata.
    pub reserved_size: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// Which pages go first when space runs out.
    pub evictor: EvictorType,
    /// Fraction of `size` in use at which eviction starts.
    pub high_watermark: f64,
    /// Fraction of `size` in use at which eviction stops; below `high_watermark`.
    pub low_watermark: f64,
    /// Threads writing missed pages into the store behind the reads.
    pub async_write_threads: u32,
    /// Most bytes of pages queued for those threads; more are not cached.
    pub async_write_queue_size: u64,
    /// Whether every page is flushed to disk before it counts as cached.
    pub sync_writes: bool,
    /// Fetches a read keeps in flight while its pages come from memory or
    /// the UFS.
    pub read_ahead_pages: u32,
    /// Fetches a read keeps in flight once its cached pages come from the
    /// disk; not used with an S3 UFS.
    pub cold_read_ahead_pages: u32,
}

/// How the coordinator runs jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct JobConfig {
    /// Files per task handed to a worker.
    pub batch_size: u32,
    /// Tasks a worker runs at once.
    pub max_tasks_per_worker: u32,
    /// Fraction of failed files above which a job fails.
    pub failure_ratio_threshold: f64,
    /// How long finished jobs stay listed.
    pub retention_time: Duration,
}

/// Everything the coordinator daemon needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CoordinatorConfig {
    /// Name of the cluster.
    pub cluster_name: String,
    /// Host name or address that workers and clients use to reach it.
    pub hostname: String,
    /// Address to listen on.
    pub bind_host: String,
    /// Port of the HTTP API.
    pub port: u16,
    /// Directory of the persistent metastore (jobs, membership).
    pub metastore_dir: PathBuf,
    /// Where the member list is kept.
    pub membership: MembershipType,
    /// Worker list file; set whenever `membership` is STATIC.
    pub static_membership_file: Option<PathBuf>,
    /// etcd endpoints, used when `membership` is ETCD.
    pub etcd_endpoints: Vec<String>,
    /// Silence after which a worker is marked OFFLINE.
    pub failure_detection_timeout: Duration,
    /// In dynamic ring mode, time before an OFFLINE worker is removed.
    pub offline_removal_timeout: Duration,
    /// Hash ring settings, shared with clients.
    pub ring: RingConfig,
    /// The under file system jobs load from.
    pub ufs: UfsConfig,
    /// Job scheduling settings.
    pub job: JobConfig,
    /// The license token of `ringside.license`, if set.
    pub license: Option<String>,
    /// The vendor public key (base64) licenses are verified with, if set.
    pub license_verification_key: Option<String>,
    /// How long an expired license keeps working before new jobs are refused.
    pub license_grace_period: Duration,
    /// Who may make control calls.
    pub security: SecurityConfig,
}

/// Who may make control calls (anything but reads) to a cluster's
/// processes. Authenticated unless `authentication` is NONE.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityConfig {
    /// TOKEN (the default) or NONE.
    pub authentication: AuthenticationType,
    /// The cluster's shared secret, sent by workers and the CLI; the
    /// coordinator creates it when missing.
    pub cluster_token_file: PathBuf,
    /// The console's JWKS, for calls the console signs (coordinator only).
    pub console_jwks_url: Option<String>,
    /// The issuer of those calls.
    pub console_issuer: Option<String>,
}

impl SecurityConfig {
    /// Whether control calls are checked.
    pub fn enforcing(&self) -> bool {
        self.authentication == AuthenticationType::Token
    }

    fn from_site(site: &SiteConfig) -> SecurityConfig {
        let console_jwks_url: Option<String> =
            site.get(keys::COORDINATOR_SECURITY_CONSOLE_JWKS_URL);
        let console_issuer = site
            .get::<Option<String>>(keys::COORDINATOR_SECURITY_CONSOLE_ISSUER)
            .or_else(|| {
                console_jwks_url
                    .as_deref()
                    .map(|url| url.trim_end_matches("/api/v1/jwks.json").to_string())
            });
        SecurityConfig {
            authentication: site.get(keys::SECURITY_AUTHENTICATION_TYPE),
            cluster_token_file: site.get(keys::SECURITY_CLUSTER_TOKEN_FILE),
            console_jwks_url,
            console_issuer,
        }
    }
}

/// Everything a worker daemon needs.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerConfig {
    /// Name of the cluster it belongs to.
    pub cluster_name: String,
    /// Host name or address it registers under and clients connect to.
    pub hostname: String,
    /// Address to listen on.
    pub bind_host: String,
    /// Port of the HTTP read API.
    pub port: u16,
    /// Port of the S3-compatible read API.
    pub s3_port: u16,
    /// The page store.
    pub page_store: PageStoreConfig,
    /// File holding the worker's UUID across restarts.
    pub identity_file: PathBuf,
    /// How often it reports to its membership backend.
    pub heartbeat_interval: Duration,
    /// Silence after which the cluster marks it OFFLINE; in ETCD membership
    /// this is the TTL of its lease.
    pub failure_detection_timeout: Duration,
    /// Where the member list is kept.
    pub membership: MembershipType,
    /// etcd endpoints, used when `membership` is ETCD.
    pub etcd_endpoints: Vec<String>,
    /// Base URL of the coordinator.
    pub coordinator_address: String,
    /// How often it expires pages past their tenant's TTL and asks the
    /// coordinator for tenant policies it may have missed (they are pushed
    /// to it as they change).
    pub tenant_sync_interval: Duration,
    /// The under file system it reads misses from.
    pub ufs: UfsConfig,
    /// The cluster token it sends and checks.
    pub security: SecurityConfig,
}

/// Everything a client (CLI, SDK) needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL of the coordinator, before `--coordinator` and
    /// `RINGSIDE_COORDINATOR` are taken into account.
    pub coordinator_address: String,
    /// Hash ring settings; must match the coordinator's.
    pub ring: RingConfig,
    /// Whether to read the UFS directly when the owning worker is unreachable.
    pub ufs_fallback: bool,
    /// The under file system, for that fallback.
    pub ufs: UfsConfig,
    /// How long to wait for an answer.
    pub request_timeout: Duration,
    /// The cluster token it sends.
    pub security: SecurityConfig,
}

impl RingConfig {
    /// The ring settings of `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        RingConfig {
            policy: site.get(keys::USER_WORKER_SELECTION_POLICY),
            virtual_nodes_per_worker: site.get(
                keys::USER_WORKER_SELECTION_POLICY_CONSISTENT_HASH_VIRTUAL_NODE_COUNT_PER_WORKER,
            ),
            maglev_table_size: site.get(keys::USER_WORKER_SELECTION_POLICY_MAGLEV_TABLE_SIZE),
            multi_probe_count: site.get(keys::USER_WORKER_SELECTION_POLICY_MULTI_PROBE_COUNT),
            dynamic_membership: site.get(keys::USER_DYNAMIC_CONSISTENT_HASH_RING_ENABLED),
        }
    }
}

impl UfsConfig {
    /// The UFS settings of `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        UfsConfig {
            root: site.get(keys::UFS_ROOT),
            s3_endpoint: site.get(keys::UFS_S3_ENDPOINT),
            s3_region: site.get(keys::UFS_S3_REGION),
        }
    }
}

impl PageStoreConfig {
    /// The page store settings of `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        PageStoreConfig {
            dir: site.get(keys::WORKER_PAGESTORE_DIR),
            size: site.get(keys::WORKER_PAGESTORE_SIZE),
            reserved_size: site.get(keys::WORKER_PAGESTORE_RESERVED_SIZE),
            page_size: site.get(keys::WORKER_PAGESTORE_PAGE_SIZE),
            evictor: site.get(keys::WORKER_PAGESTORE_EVICTOR_TYPE),
            high_watermark: site.get(keys::WORKER_PAGESTORE_HIGH_WATERMARK),
            low_watermark: site.get(keys::WORKER_PAGESTORE_LOW_WATERMARK),
            async_write_threads: site.get(keys::WORKER_PAGESTORE_ASYNC_WRITE_THREADS),
            async_write_queue_size: site.get(keys::WORKER_PAGESTORE_ASYNC_WRITE_QUEUE_SIZE),
            sync_writes: site.get(keys::WORKER_PAGESTORE_SYNC_WRITES),
            read_ahead_pages: site.get(keys::WORKER_PAGESTORE_READ_AHEAD_PAGES),
            cold_read_ahead_pages: site.get(keys::WORKER_PAGESTORE_COLD_READ_AHEAD_PAGES),
        }
    }
}

impl JobConfig {
    /// The job settings of `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        JobConfig {
            batch_size: site.get(keys::JOB_BATCH_SIZE),
            max_tasks_per_worker: site.get(keys::JOB_MAX_TASKS_PER_WORKER),
            failure_ratio_threshold: site.get(keys::JOB_FAILURE_RATIO_THRESHOLD),
            retention_time: site.get(keys::JOB_RETENTION_TIME),
        }
    }
}

impl CoordinatorConfig {
    /// The dynamic properties the coordinator reads, which it applies while
    /// it runs. The other dynamic properties are the workers' or the
    /// clients' (watermarks, heartbeat interval, request timeout).
    pub const DYNAMIC_KEYS: [&'static str; 5] = [
        keys::WORKER_FAILURE_DETECTION_TIMEOUT.name(),
        keys::WORKER_OFFLINE_REMOVAL_TIMEOUT.name(),
        keys::JOB_MAX_TASKS_PER_WORKER.name(),
        keys::JOB_FAILURE_RATIO_THRESHOLD.name(),
        keys::JOB_RETENTION_TIME.name(),
    ];

    /// The coordinator's settings from `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        CoordinatorConfig {
            cluster_name: site.get(keys::CLUSTER_NAME),
            hostname: site.get(keys::COORDINATOR_HOSTNAME),
            bind_host: site.get(keys::COORDINATOR_BIND_HOST),
            port: site.get(keys::COORDINATOR_PORT),
            metastore_dir: site.get(keys::COORDINATOR_METASTORE_DIR),
            membership: site.get(keys::WORKER_MEMBERSHIP_MANAGER_TYPE),
            static_membership_file: site.get(keys::WORKER_STATIC_MEMBERSHIP_MANAGER_CONFIG_FILE),
            etcd_endpoints: site.get(keys::ETCD_ENDPOINTS),
            failure_detection_timeout: site.get(keys::WORKER_FAILURE_DETECTION_TIMEOUT),
            offline_removal_timeout: site.get(keys::WORKER_OFFLINE_REMOVAL_TIMEOUT),
            ring: RingConfig::from_site(site),
            ufs: UfsConfig::from_site(site),
            job: JobConfig::from_site(site),
            license: site.get(keys::LICENSE),
            license_verification_key: site.get(keys::LICENSE_VERIFICATION_KEY),
            license_grace_period: site.get(keys::LICENSE_GRACE_PERIOD),
            security: SecurityConfig::from_site(site),
        }
    }
}

impl WorkerConfig {
    /// The worker's settings from `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        WorkerConfig {
            cluster_name: site.get(keys::CLUSTER_NAME),
            hostname: site.get(keys::WORKER_HOSTNAME),
            bind_host: site.get(keys::WORKER_BIND_HOST),
            port: site.get(keys::WORKER_PORT),
            s3_port: site.get(keys::WORKER_S3_PORT),
            page_store: PageStoreConfig::from_site(site),
            identity_file: site.get(keys::WORKER_IDENTITY_UUID_FILE_PATH),
            heartbeat_interval: site.get(keys::WORKER_HEARTBEAT_INTERVAL),
            failure_detection_timeout: site.get(keys::WORKER_FAILURE_DETECTION_TIMEOUT),
            membership: site.get(keys::WORKER_MEMBERSHIP_MANAGER_TYPE),
            etcd_endpoints: site.get(keys::ETCD_ENDPOINTS),
            coordinator_address: site.get(keys::COORDINATOR_ADDRESS),
            tenant_sync_interval: site.get(keys::WORKER_TENANT_SYNC_INTERVAL),
            security: SecurityConfig::from_site(site),
            ufs: UfsConfig::from_site(site),
        }
    }
}

impl ClientConfig {
    /// A client's settings from `site`.
    pub fn from_site(site: &SiteConfig) -> Self {
        ClientConfig {
            coordinator_address: site.get(keys::COORDINATOR_ADDRESS),
            ring: RingConfig::from_site(site),
            ufs_fallback: site.get(keys::USER_UFS_FALLBACK_ENABLED),
            ufs: UfsConfig::from_site(site),
            request_timeout: site.get(keys::USER_REQUEST_TIMEOUT),
            security: SecurityConfig::from_site(site),
        }
    }
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self::from_site(&SiteConfig::default())
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::from_site(&SiteConfig::default())
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::from_site(&SiteConfig::default())
    }
}

impl SiteConfig {
    /// The coordinator's part of this configuration.
    pub fn coordinator(&self) -> CoordinatorConfig {
        CoordinatorConfig::from_site(self)
    }

    /// A worker's part of this configuration.
    pub fn worker(&self) -> WorkerConfig {
        WorkerConfig::from_site(self)
    }

    /// A client's part of this configuration.
    pub fn client(&self) -> ClientConfig {
        ClientConfig::from_site(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let worker = WorkerConfig::default();
        assert_eq!(worker.port, 29999);
        assert_eq!(worker.s3_port, 29998);
        assert_eq!(worker.page_store.page_size, 1 << 20);
        assert_eq!(worker.page_store.size, 1 << 30);
        assert_eq!(worker.page_store.evictor, EvictorType::Lru);
        assert_eq!(
            (
                worker.page_store.high_watermark,
                worker.page_store.low_watermark
            ),
            (0.9, 0.8)
        );
        assert_eq!(worker.membership, MembershipType::Embedded);
        assert_eq!(worker.coordinator_address, "http://127.0.0.1:19999");

        let coordinator = CoordinatorConfig::default();
        assert_eq!(coordinator.port, 19999);
        assert_eq!(
            coordinator.failure_detection_timeout,
            Duration::from_secs(15)
        );
        assert_eq!(coordinator.ring.policy, SelectionPolicy::Consistent);
        assert_eq!(coordinator.ring.virtual_nodes_per_worker, 2000);
        assert_eq!(
            coordinator.etcd_endpoints,
            vec!["http://127.0.0.1:2379".to_owned()]
        );
        assert_eq!(coordinator.license, None);
        assert_eq!(coordinator.license_verification_key, None);
        assert_eq!(
            coordinator.license_grace_period,
            Duration::from_secs(14 * 86_400)
        );

        let client = ClientConfig::default();
        assert!(client.ufs_fallback);
        assert_eq!(client.ring, coordinator.ring);
    }

    /// A dynamic property changes the coordinator's settings exactly when
    /// it is one of [`CoordinatorConfig::DYNAMIC_KEYS`], so the list cannot
    /// miss a key the coordinator reads nor name one it ignores.
    #[test]
    fn the_coordinators_dynamic_keys_are_the_dynamic_ones_it_reads() {
        use crate::schema::SCHEMA;
        use crate::site::Source;
        use crate::types::PropertyType;

        for key in CoordinatorConfig::DYNAMIC_KEYS {
            assert!(
                crate::schema::property(key).is_some_and(|p| p.dynamic),
                "{key}"
            );
        }
        let base = SiteConfig::default();
        for property in SCHEMA.iter().filter(|p| p.dynamic) {
            let candidates = match property.kind {
                PropertyType::Duration { min, max } => vec![
                    format!("{}ms", min.as_millis() + 1),
                    format!("{}ms", max.as_millis()),
                ],
                PropertyType::Integer { min, max } => vec![min.to_string(), max.to_string()],
                PropertyType::Ratio => vec!["0.85".to_owned(), "0.95".to_owned()],
                ref other => panic!(
                    "{}: add test values for a dynamic {}",
                    property.name,
                    other.name()
                ),
            };
            let changed = candidates
                .iter()
                .filter_map(|value| {
                    base.with_changes([(property.name, value.as_str(), Source::Override)])
                        .ok()
                })
                .find(|site| !base.diff(site).is_empty())
                .unwrap_or_else(|| panic!("no other valid value for {}", property.name));
            assert_eq!(
                changed.coordinator() != base.coordinator(),
                CoordinatorConfig::DYNAMIC_KEYS.contains(&property.name),
                "{}: the coordinator reads it exactly when DYNAMIC_KEYS lists it",
                property.name
            );
        }
    }

    #[test]
    fn structs_follow_the_site_config() {
        let site = SiteConfig::parse(
            "ringside.cluster.name=eu-1\n\
             ringside.worker.pagestore.size=100GiB\n\
             ringside.worker.pagestore.evictor.type=fifo\n\
             ringside.user.worker.selection.policy=capacity\n\
             ringside.license=RSL1.eyJ2ZXJzaW9uIjoxfQ.c2ln\n\
             ringside.license.grace.period=3d\n\
             ringside.ufs.root=s3://bucket/data\n\
             ringside.ufs.s3.endpoint=http://127.0.0.1:5000\n",
            "f",
            &[],
        )
        .unwrap();
        let worker = site.worker();
        assert_eq!(worker.cluster_name, "eu-1");
        assert_eq!(worker.page_store.size, 100 << 30);
        assert_eq!(worker.page_store.evictor, EvictorType::Fifo);
        assert_eq!(
            worker.ufs.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        let coordinator = site.coordinator();
        assert_eq!(coordinator.ring.policy, SelectionPolicy::Capacity);
        assert_eq!(coordinator.ufs.root, "s3://bucket/data");
        assert_eq!(
            coordinator.license.as_deref(),
            Some("RSL1.eyJ2ZXJzaW9uIjoxfQ.c2ln")
        );
        assert_eq!(
            coordinator.license_grace_period,
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(site.client().ring, coordinator.ring);
    }
}
