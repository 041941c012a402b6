//! The one table of every property Ringside understands: its type, default,
//! description and whether it can change without a restart.
//!
//! Defaults live here and nowhere else. Each row also yields a typed handle
//! in [`keys`], so code reads `config.get(keys::WORKER_PORT)` and gets a
//! `u16` instead of looking a string up and converting it.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::time::Duration;

use crate::types::{
    AuthenticationType, EvictorType, MembershipType, PropertyType, SelectionPolicy,
};

/// One property in the schema.
#[derive(Debug)]
pub struct Property {
    /// Full key, such as `ringside.worker.port`.
    pub name: &'static str,
    /// Type and limits of its value.
    pub kind: PropertyType,
    /// Default value as written in a properties file.
    pub default: &'static str,
    /// Whether a running daemon can apply a new value without restarting.
    pub dynamic: bool,
    /// One line saying what it controls.
    pub description: &'static str,
}

/// A typed handle on one schema property, read with
/// [`SiteConfig::get`](crate::SiteConfig::get).
pub struct Key<T> {
    index: usize,
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

// Derives would demand `T: Clone`, which the handle does not need.
impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

impl<T> std::fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<T> Key<T> {
    const fn new(index: usize, name: &'static str) -> Self {
        Key {
            index,
            name,
            _type: PhantomData,
        }
    }

    /// The full property name.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The schema row of this key.
    pub fn property(self) -> &'static Property {
        &SCHEMA[self.index]
    }

    /// Position in [`SCHEMA`], which is also the slot in a configuration.
    pub(crate) fn index(self) -> usize {
        self.index
    }
}

/// Expands the schema rows into [`SCHEMA`] and the typed constants in [`keys`],
/// so a property's name, type and default are written exactly once.
macro_rules! schema {
    ($(
        $ident:ident: $t:ty = $name:literal {
            kind: $kind:expr,
            default: $default:literal,
            dynamic: $dynamic:literal,
            description: $description:literal $(,)?
        }
    )*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum Slot { $($ident,)* }

        /// Typed handles on every property, one per row of [`SCHEMA`].
        pub mod keys {
            use super::{Key, Slot};
            use std::path::PathBuf;
            use std::time::Duration;
            use crate::types::{AuthenticationType, EvictorType, MembershipType, SelectionPolicy};

            $(
                #[doc = concat!("`", $name, "`: ", $description)]
                pub const $ident: Key<$t> = Key::new(Slot::$ident as usize, $name);
            )*
        }

        /// Every known property, in documentation order.
        pub static SCHEMA: &[Property] = &[
            $(Property {
                name: $name,
                kind: $kind,
                default: $default,
                dynamic: $dynamic,
                description: $description,
            },)*
        ];

        /// Reads every key as its declared Rust type, so a mismatch between
        /// a row's Rust type and its property type fails a test.
        #[cfg(test)]
        pub(crate) fn read_every_key(config: &crate::SiteConfig) {
            use std::path::PathBuf;
            $(let _: $t = config.get(keys::$ident);)*
        }
    };
}

const fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}
const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
const fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}
const fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}
const fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}
const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

schema! {
    CLUSTER_NAME: String = "ringside.cluster.name" {
        kind: PropertyType::Name,
        default: "ringside",
        dynamic: false,
        description: "Name of this cluster as the console, metrics and logs show it",
    }

    COORDINATOR_HOSTNAME: String = "ringside.coordinator.hostname" {
        kind: PropertyType::Host,
        default: "127.0.0.1",
        dynamic: false,
        description: "Host name or address of the coordinator that workers and clients connect to",
    }
    COORDINATOR_BIND_HOST: String = "ringside.coordinator.bind.host" {
        kind: PropertyType::Host,
        default: "0.0.0.0",
        dynamic: false,
        description: "Address the coordinator listens on",
    }
    COORDINATOR_PORT: u16 = "ringside.coordinator.port" {
        kind: PropertyType::Port,
        default: "19999",
        dynamic: false,
        description: "Port of the coordinator's HTTP API",
    }
    COORDINATOR_ADDRESS: String = "ringside.coordinator.address" {
        kind: PropertyType::Url,
        default: "http://127.0.0.1:19999",
        dynamic: false,
        description: "Base URL workers and the CLI use to reach the coordinator",
    }
    COORDINATOR_METASTORE_DIR: PathBuf = "ringside.coordinator.metastore.dir" {
        kind: PropertyType::Path,
        default: "/tmp/ringside/metastore",
        dynamic: false,
        description: "Directory where the coordinator persists jobs and membership",
    }

    WORKER_HOSTNAME: String = "ringside.worker.hostname" {
        kind: PropertyType::Host,
        default: "127.0.0.1",
        dynamic: false,
        description: "Host name or address the worker registers under and clients connect to",
    }
    WORKER_BIND_HOST: String = "ringside.worker.bind.host" {
        kind: PropertyType::Host,
        default: "0.0.0.0",
        dynamic: false,
        description: "Address the worker listens on",
    }
    WORKER_PORT: u16 = "ringside.worker.port" {
        kind: PropertyType::Port,
        default: "29999",
        dynamic: false,
        description: "Port of the worker's HTTP read API",
    }
    WORKER_S3_PORT: u16 = "ringside.worker.s3.port" {
        kind: PropertyType::Port,
        default: "29998",
        dynamic: false,
        description: "Port of the worker's S3-compatible read API",
    }
    WORKER_PAGESTORE_DIR: PathBuf = "ringside.worker.pagestore.dir" {
        kind: PropertyType::Path,
        default: "/tmp/ringside/pagestore",
        dynamic: false,
        description: "Directory holding the worker's cached pages",
    }
    WORKER_PAGESTORE_SIZE: u64 = "ringside.worker.pagestore.size" {
        kind: PropertyType::Size { min: MIB, max: u64::MAX },
        default: "1GiB",
        dynamic: false,
        description: "Cache capacity of the page store",
    }
    WORKER_PAGESTORE_RESERVED_SIZE: u64 = "ringside.worker.pagestore.reserved.size" {
        kind: PropertyType::Size { min: 0, max: u64::MAX },
        default: "64MiB",
        dynamic: false,
        description: "Extra space for temporary page writes and metadata, on top of the capacity (about 10% of it)",
    }
    WORKER_PAGESTORE_PAGE_SIZE: u64 = "ringside.worker.pagestore.page.size" {
        kind: PropertyType::Size { min: 4 * KIB, max: GIB },
        default: "1MiB",
        dynamic: false,
        description: "Size of the pages files are cut into",
    }
    WORKER_PAGESTORE_EVICTOR_TYPE: EvictorType = "ringside.worker.pagestore.evictor.type" {
        kind: PropertyType::Enum(EvictorType::NAMES),
        default: "LRU",
        dynamic: false,
        description: "Which pages are evicted first when the page store is full",
    }
    WORKER_PAGESTORE_HIGH_WATERMARK: f64 = "ringside.worker.pagestore.high.watermark" {
        kind: PropertyType::Ratio,
        default: "0.9",
        dynamic: true,
        description: "Fraction of the capacity in use at which eviction starts",
    }
    WORKER_PAGESTORE_LOW_WATERMARK: f64 = "ringside.worker.pagestore.low.watermark" {
        kind: PropertyType::Ratio,
        default: "0.8",
        dynamic: true,
        description: "Fraction of the capacity in use at which eviction stops; below the high watermark",
    }
    WORKER_PAGESTORE_ASYNC_WRITE_THREADS: u32 = "ringside.worker.pagestore.async.write.threads" {
        kind: PropertyType::Integer { min: 1, max: 64 },
        default: "4",
        dynamic: false,
        description: "Threads that write pages read from the UFS into the page store, behind the reads that fetched them",
    }
    WORKER_PAGESTORE_ASYNC_WRITE_QUEUE_SIZE: u64 = "ringside.worker.pagestore.async.write.queue.size" {
        kind: PropertyType::Size { min: 0, max: u64::MAX },
        default: "128MiB",
        dynamic: false,
        description: "Most bytes of pages waiting for those threads; a page missed while the queue is full is served but not cached",
    }
    WORKER_PAGESTORE_READ_AHEAD_PAGES: u32 = "ringside.worker.pagestore.read.ahead.pages" {
        kind: PropertyType::Integer { min: 1, max: 256 },
        default: "4",
        dynamic: false,
        description: "Fetches a read keeps in flight ahead of the one it is sending (a page each; from S3, a run of missed pages of up to 8 MiB), while its pages come from the OS page cache or the UFS",
    }
    WORKER_PAGESTORE_COLD_READ_AHEAD_PAGES: u32 = "ringside.worker.pagestore.cold.read.ahead.pages" {
        kind: PropertyType::Integer { min: 1, max: 256 },
        default: "16",
        dynamic: false,
        description: "Fetches a read keeps in flight once a cached page it needs comes from the disk instead of the OS page cache (each page is a file of its own, so the kernel's readahead stops at the page); at least read.ahead.pages, and not used with an S3 UFS",
    }
    WORKER_PAGESTORE_SYNC_WRITES: bool = "ringside.worker.pagestore.sync.writes" {
        kind: PropertyType::Bool,
        default: "false",
        dynamic: false,
        description: "Flush every page to disk (fdatasync) before it counts as cached; off, as caches do, a power loss may drop recently cached pages, which reads then miss",
    }
    WORKER_IDENTITY_UUID_FILE_PATH: PathBuf = "ringside.worker.identity.uuid.file.path" {
        kind: PropertyType::Path,
        default: "/tmp/ringside/worker_identity",
        dynamic: false,
        description: "File keeping the worker's UUID so it rejoins the ring as itself after a restart",
    }
    WORKER_MEMBERSHIP_MANAGER_TYPE: MembershipType = "ringside.worker.membership.manager.type" {
        kind: PropertyType::Enum(MembershipType::NAMES),
        default: "EMBEDDED",
        dynamic: false,
        description: "Where the cluster's member list is kept: coordinator metastore, etcd, or a static file",
    }
    WORKER_STATIC_MEMBERSHIP_MANAGER_CONFIG_FILE: Option<PathBuf> = "ringside.worker.static.membership.manager.config.file" {
        kind: PropertyType::Optional(&PropertyType::Path),
        default: "",
        dynamic: false,
        description: "File listing the workers, one host:port a line; required when the membership type is STATIC",
    }
    WORKER_HEARTBEAT_INTERVAL: Duration = "ringside.worker.heartbeat.interval" {
        kind: PropertyType::Duration { min: millis(100), max: hours(1) },
        default: "3s",
        dynamic: true,
        description: "How often a worker reports to its membership backend; below the failure detection timeout",
    }
    WORKER_TENANT_SYNC_INTERVAL: Duration = "ringside.worker.tenant.sync.interval" {
        kind: PropertyType::Duration { min: secs(1), max: hours(1) },
        default: "10s",
        dynamic: false,
        description: "How often a worker removes pages past their tenant's TTL and checks its coordinator for tenant policies it missed",
    }
    WORKER_FAILURE_DETECTION_TIMEOUT: Duration = "ringside.worker.failure.detection.timeout" {
        kind: PropertyType::Duration { min: secs(1), max: days(1) },
        default: "15s",
        dynamic: true,
        description: "Silence after which a worker is marked OFFLINE",
    }
    WORKER_OFFLINE_REMOVAL_TIMEOUT: Duration = "ringside.worker.offline.removal.timeout" {
        kind: PropertyType::Duration { min: secs(1), max: days(30) },
        default: "10m",
        dynamic: true,
        description: "In dynamic ring mode, time an OFFLINE worker stays registered before it is removed",
    }

    USER_WORKER_SELECTION_POLICY: SelectionPolicy = "ringside.user.worker.selection.policy" {
        kind: PropertyType::Enum(SelectionPolicy::NAMES),
        default: "CONSISTENT",
        dynamic: false,
        description: "Hash ring policy mapping files to workers; changing it moves cached data",
    }
    USER_WORKER_SELECTION_POLICY_CONSISTENT_HASH_VIRTUAL_NODE_COUNT_PER_WORKER: u32 = "ringside.user.worker.selection.policy.consistent.hash.virtual.node.count.per.worker" {
        kind: PropertyType::Integer { min: 1, max: 100_000 },
        default: "2000",
        dynamic: false,
        description: "Virtual nodes per worker on the CONSISTENT and CAPACITY rings",
    }
    USER_WORKER_SELECTION_POLICY_MAGLEV_TABLE_SIZE: u64 = "ringside.user.worker.selection.policy.maglev.table.size" {
        kind: PropertyType::Prime { min: 3, max: 16_777_216 },
        default: "65537",
        dynamic: false,
        description: "Lookup table size of the MAGLEV policy; a prime much larger than the worker count",
    }
    USER_WORKER_SELECTION_POLICY_MULTI_PROBE_COUNT: u32 = "ringside.user.worker.selection.policy.multi.probe.count" {
        kind: PropertyType::Integer { min: 1, max: 1000 },
        default: "21",
        dynamic: false,
        description: "Probes per lookup of the MULTI_PROBE policy",
    }
    USER_DYNAMIC_CONSISTENT_HASH_RING_ENABLED: bool = "ringside.user.dynamic.consistent.hash.ring.enabled" {
        kind: PropertyType::Bool,
        default: "true",
        dynamic: false,
        description: "Build the ring from ONLINE workers only (dynamic mode) instead of every registered worker (static mode)",
    }
    USER_UFS_FALLBACK_ENABLED: bool = "ringside.user.ufs.fallback.enabled" {
        kind: PropertyType::Bool,
        default: "true",
        dynamic: false,
        description: "Let clients read from the UFS directly when the owning worker is unreachable",
    }
    USER_REQUEST_TIMEOUT: Duration = "ringside.user.request.timeout" {
        kind: PropertyType::Duration { min: millis(100), max: hours(1) },
        default: "30s",
        dynamic: true,
        description: "How long a client waits for a coordinator or worker to answer a request",
    }

    UFS_ROOT: String = "ringside.ufs.root" {
        kind: PropertyType::UfsUri,
        default: "/tmp/ringside/ufs",
        dynamic: false,
        description: "Under file system the cluster caches: an absolute path, file:///path or s3://bucket/prefix",
    }
    UFS_S3_ENDPOINT: Option<String> = "ringside.ufs.s3.endpoint" {
        kind: PropertyType::Optional(&PropertyType::Url),
        default: "",
        dynamic: false,
        description: "Endpoint of an S3-compatible store; empty for AWS",
    }
    UFS_S3_REGION: String = "ringside.ufs.s3.region" {
        kind: PropertyType::String,
        default: "us-east-1",
        dynamic: false,
        description: "Region of the S3 bucket",
    }

    ETCD_ENDPOINTS: Vec<String> = "ringside.etcd.endpoints" {
        kind: PropertyType::List { item: &PropertyType::Url, min_items: 1 },
        default: "http://127.0.0.1:2379",
        dynamic: false,
        description: "etcd endpoints used when the membership type is ETCD",
    }

    JOB_BATCH_SIZE: u32 = "ringside.job.batch.size" {
        kind: PropertyType::Integer { min: 1, max: 100_000 },
        default: "200",
        dynamic: false,
        description: "Files per task a job hands to a worker",
    }
    JOB_MAX_TASKS_PER_WORKER: u32 = "ringside.job.max.tasks.per.worker" {
        kind: PropertyType::Integer { min: 1, max: 1024 },
        default: "3",
        dynamic: true,
        description: "Tasks a worker runs at once for jobs",
    }
    JOB_FAILURE_RATIO_THRESHOLD: f64 = "ringside.job.failure.ratio.threshold" {
        kind: PropertyType::Ratio,
        default: "0.05",
        dynamic: true,
        description: "Fraction of failed files above which a job is marked FAILED; 1 never fails a job",
    }
    JOB_RETENTION_TIME: Duration = "ringside.job.retention.time" {
        kind: PropertyType::Duration { min: minutes(1), max: days(365) },
        default: "7d",
        dynamic: true,
        description: "How long finished jobs stay listed before they are cleaned up",
    }

    SECURITY_AUTHENTICATION_TYPE: AuthenticationType = "ringside.security.authentication.type" {
        kind: PropertyType::Enum(AuthenticationType::NAMES),
        default: "TOKEN",
        dynamic: false,
        description: "TOKEN: control calls (anything but reads) to the coordinator and workers must carry the cluster token or come signed by the console; NONE turns that off, for a sandbox only",
    }
    SECURITY_CLUSTER_TOKEN_FILE: PathBuf = "ringside.security.cluster.token.file" {
        kind: PropertyType::Path,
        default: "/tmp/ringside/cluster.token",
        dynamic: false,
        description: "File holding the cluster's shared secret, the same on every process of the cluster: the coordinator writes a new one (mode 0600) at its first start if the file does not exist; workers refuse to start without it, and the CLI sends it with control calls",
    }
    COORDINATOR_SECURITY_CONSOLE_JWKS_URL: Option<String> = "ringside.coordinator.security.console.jwks.url" {
        kind: PropertyType::Optional(&PropertyType::Url),
        default: "",
        dynamic: false,
        description: "The console's key set (https://CONSOLE/api/v1/jwks.json): control calls signed by that console for this cluster are accepted, and logged with the user it acts for",
    }
    COORDINATOR_SECURITY_CONSOLE_ISSUER: Option<String> = "ringside.coordinator.security.console.issuer" {
        kind: PropertyType::Optional(&PropertyType::String),
        default: "",
        dynamic: false,
        description: "The console's public URL, the issuer of the tokens it signs; defaults to the JWKS URL without /api/v1/jwks.json",
    }
    LICENSE: Option<String> = "ringside.license" {
        kind: PropertyType::Optional(&PropertyType::String),
        default: "",
        dynamic: false,
        description: "License token (RSL1.…) of this cluster, as `ringside license issue` writes it; empty for none; needs the verification key, and a license applied through the API replaces it until this value changes",
    }
    LICENSE_VERIFICATION_KEY: Option<String> = "ringside.license.verification.key" {
        kind: PropertyType::Optional(&PropertyType::String),
        default: "",
        dynamic: false,
        description: "The vendor's public key (base64, as in the .pub file of `ringside license keygen`) licenses are verified with; empty: no license can be applied and none is enforced",
    }
    LICENSE_GRACE_PERIOD: Duration = "ringside.license.grace.period" {
        kind: PropertyType::Duration { min: millis(0), max: days(365) },
        default: "14d",
        dynamic: false,
        description: "How long after its expiry date a license keeps working, with loud warnings, before new jobs are refused",
    }
}

/// Looks a property up by its full name.
pub fn property(name: &str) -> Option<&'static Property> {
    SCHEMA.iter().find(|p| p.name == name)
}

pub(crate) fn index_of(name: &str) -> Option<usize> {
    SCHEMA.iter().position(|p| p.name == name)
}

const PREFIX: &str = "ringside.";

/// The known key an unknown one most likely meant, if any is close enough
/// that suggesting it helps more than it confuses.
pub fn suggest(unknown: &str) -> Option<&'static str> {
    let lower = unknown.trim().to_ascii_lowercase();
    // Operators coming from the reference system keep its prefix or forget ours.
    let mut candidates = vec![lower.clone()];
    if let Some(rest) = lower.strip_prefix("alluxio.") {
        candidates.push(format!("{PREFIX}{rest}"));
    }
    if !lower.starts_with(PREFIX) {
        candidates.push(format!("{PREFIX}{lower}"));
    }
    for candidate in &candidates {
        if let Some(p) = property(candidate) {
            return Some(p.name);
        }
    }
    // A truncated key (`ringside.worker.host`) means the shortest key it starts.
    let truncated = candidates
        .iter()
        .filter(|c| c.len() > PREFIX.len() + 3)
        .flat_map(|c| {
            SCHEMA
                .iter()
                .filter(move |p| p.name.starts_with(c.as_str()))
        })
        .min_by_key(|p| p.name.len());
    if let Some(p) = truncated {
        return Some(p.name);
    }
    candidates
        .iter()
        .flat_map(|candidate| {
            SCHEMA.iter().map(move |p| {
                let distance = strsim::damerau_levenshtein(candidate, p.name);
                // Longer keys tolerate more typos before the guess stops helping.
                let limit = (p.name.len() / 8).max(2);
                (distance, p.name, distance <= limit)
            })
        })
        .filter(|(_, _, close)| *close)
        .min_by_key(|(distance, _, _)| *distance)
        .map(|(_, name, _)| name)
}

/// The Markdown table of every property, as `docs/configuration.md` shows it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| Key | Type | Default | Dynamic | Description |\n| --- | --- | --- | --- | --- |\n",
    );
    for row in SCHEMA {
        out.push_str(&markdown_row(row));
        out.push('\n');
    }
    out
}

/// One table row; also what the docs test looks for, so the docs cannot
/// drift from the schema.
pub fn markdown_row(property: &Property) -> String {
    let default = match property.kind.parse(property.default) {
        Some(value) if !value.to_string().is_empty() => format!("`{value}`"),
        _ => "*(none)*".to_owned(),
    };
    let mut row = String::new();
    let _ = write!(
        row,
        "| `{}` | {} | {} | {} | {} |",
        property.name,
        property.kind.name(),
        default,
        if property.dynamic { "yes" } else { "no" },
        property.description
    );
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_default_is_valid_for_its_type() {
        for p in SCHEMA {
            assert!(
                p.kind.parse(p.default).is_some(),
                "default {:?} of {} is not {}",
                p.default,
                p.name,
                p.kind.expected()
            );
        }
    }

    #[test]
    fn keys_are_unique_prefixed_and_lowercase() {
        let mut seen = HashSet::new();
        for p in SCHEMA {
            assert!(seen.insert(p.name), "{} listed twice", p.name);
            assert!(p.name.starts_with(PREFIX), "{}", p.name);
            assert!(
                p.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'),
                "{}",
                p.name
            );
        }
    }

    #[test]
    fn descriptions_are_one_line_without_table_breaking_characters() {
        for p in SCHEMA {
            assert!(!p.description.is_empty(), "{}", p.name);
            assert!(!p.description.contains(['\n', '|']), "{}", p.name);
            assert!(!p.description.ends_with('.'), "{}", p.name);
        }
    }

    #[test]
    fn key_handles_point_at_their_rows() {
        assert_eq!(keys::WORKER_PORT.name(), "ringside.worker.port");
        assert_eq!(keys::WORKER_PORT.property().default, "29999");
        assert_eq!(
            keys::LICENSE_VERIFICATION_KEY.property().name,
            "ringside.license.verification.key"
        );
        assert_eq!(
            index_of("ringside.cluster.name"),
            Some(keys::CLUSTER_NAME.index())
        );
        assert!(property("ringside.nope").is_none());
    }

    #[test]
    fn brief_defaults_hold() {
        let default = |name: &str| property(name).map(|p| p.default);
        assert_eq!(default("ringside.coordinator.port"), Some("19999"));
        assert_eq!(default("ringside.worker.port"), Some("29999"));
        assert_eq!(default("ringside.worker.s3.port"), Some("29998"));
        assert_eq!(default("ringside.worker.pagestore.page.size"), Some("1MiB"));
        assert_eq!(
            default("ringside.worker.failure.detection.timeout"),
            Some("15s")
        );
        assert_eq!(
            default(
                "ringside.user.worker.selection.policy.consistent.hash.virtual.node.count.per.worker"
            ),
            Some("2000")
        );
    }

    #[test]
    fn suggests_close_keys() {
        assert_eq!(
            suggest("ringside.worker.prot"),
            Some("ringside.worker.port")
        );
        assert_eq!(
            suggest("ringside.worker.pagestore.sise"),
            Some("ringside.worker.pagestore.size")
        );
        assert_eq!(suggest("alluxio.worker.port"), Some("ringside.worker.port"));
        assert_eq!(suggest("worker.port"), Some("ringside.worker.port"));
        assert_eq!(
            suggest("Ringside.Worker.Port"),
            Some("ringside.worker.port")
        );
        assert_eq!(
            suggest("ringside.worker.failure.detection.timout"),
            Some("ringside.worker.failure.detection.timeout")
        );
        assert_eq!(
            suggest("ringside.worker.host"),
            Some("ringside.worker.hostname")
        );
        assert_eq!(suggest("ringside.totally.different"), None);
        assert_eq!(suggest(""), None);
    }

    #[test]
    fn markdown_rows_show_canonical_defaults() {
        let row = markdown_row(keys::WORKER_PAGESTORE_SIZE.property());
        assert_eq!(
            row,
            "| `ringside.worker.pagestore.size` | size >= 1MiB | `1GiB` | no | Cache capacity of the page store |"
        );
        let row = markdown_row(keys::LICENSE.property());
        assert!(row.contains("| optional string | *(none)* | no |"), "{row}");
        let row = markdown_row(keys::LICENSE_GRACE_PERIOD.property());
        assert!(row.contains("| `14d` | no |"), "{row}");
    }
}
