//! The cluster spec `ringside cluster apply -f` takes: YAML shaped like the
//! reference's cluster resource, checked in full before anything changes.
//!
//! ```yaml
//! apiVersion: ringside.io/v1
//! kind: RingsideCluster
//! metadata:
//!   name: demo
//! spec:
//!   version: 0.1.0
//!   properties:
//!     ringside.ufs.root: file:///data
//!   coordinator:
//!     port: 19999
//!   worker:
//!     count: 3
//!     port: 29999          # worker i serves HTTP on port + 2i, S3 on port + 2i + 1
//!     pagestore:
//!       hostPath: /mnt/ringside/pagestore
//!       size: 10GiB
//!       reservedSize: 1GiB
//!     rollingUpdate:
//!       maxUnavailable: 10%
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use ringside_api::{
    cluster::validate_name,
    lifecycle::{DesiredState, MaxUnavailable},
};
use ringside_config::{SiteConfig, keys, units::parse_size};
use serde::Deserialize;

pub const API_VERSION: &str = "ringside.io/v1";
pub const KIND: &str = "RingsideCluster";
/// Most workers one spec may ask for on one machine.
pub const MAX_WORKERS: u32 = 256;

/// A spec that cannot be applied: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cluster spec {file}: {field}: {reason}")]
pub struct SpecError {
    pub file: String,
    /// Where in the spec, e.g. `spec.worker.count`.
    pub field: String,
    pub reason: String,
}

/// The spec as written; [`ClusterSpec::parse`] checks it into a [`Spec`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: RawSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSpec {
    version: String,
    /// A directory holding `<version>/ringside` for each release.
    #[serde(default)]
    releases: Option<PathBuf>,
    #[serde(default)]
    properties: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    coordinator: RawCoordinator,
    worker: RawWorker,
    #[serde(default)]
    etcd: Option<RawEtcd>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCoordinator {
    #[serde(default)]
    port: Option<u32>,
    #[serde(default)]
    metastore: RawMetastore,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetastore {
    #[serde(default)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawWorker {
    count: i64,
    #[serde(default)]
    port: Option<u32>,
    #[serde(default)]
    pagestore: RawPagestore,
    #[serde(default)]
    rolling_update: RawRollingUpdate,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPagestore {
    #[serde(default)]
    host_path: Option<PathBuf>,
    #[serde(default)]
    size: Option<serde_norway::Value>,
    #[serde(default)]
    reserved_size: Option<serde_norway::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRollingUpdate {
    #[serde(default)]
    max_unavailable: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEtcd {
    endpoints: Vec<String>,
}

/// A checked spec, with every default filled in and every path absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub releases: Option<PathBuf>,
    /// Cluster-wide properties, canonical `key=value` text: the site file
    /// every process reads (the reference's ConfigMap).
    pub site_properties: String,
    pub coordinator_port: u16,
    pub metastore_dir: Option<PathBuf>,
    pub workers: u32,
    pub worker_port: u16,
    pub pagestore_dir: Option<PathBuf>,
    /// The schema's default when the spec leaves it out.
    pub pagestore_size: Option<u64>,
    pub pagestore_reserved: Option<u64>,
    pub max_unavailable: MaxUnavailable,
    pub etcd_endpoints: Vec<String>,
}

/// Keys a spec field sets; writing them under `properties` too would leave
/// two answers to one question.
const MANAGED: &[(&str, &str)] = &[
    ("ringside.cluster.name", "metadata.name"),
    ("ringside.coordinator.port", "spec.coordinator.port"),
    ("ringside.coordinator.address", "spec.coordinator.port"),
    ("ringside.coordinator.hostname", "spec.coordinator.port"),
    ("ringside.coordinator.bind.host", "spec.coordinator.port"),
    (
        "ringside.coordinator.metastore.dir",
        "spec.coordinator.metastore.dir",
    ),
    ("ringside.worker.port", "spec.worker.port"),
    ("ringside.worker.s3.port", "spec.worker.port"),
    ("ringside.worker.hostname", "spec.worker.port"),
    ("ringside.worker.bind.host", "spec.worker.port"),
    (
        "ringside.worker.pagestore.dir",
        "spec.worker.pagestore.hostPath",
    ),
    (
        "ringside.worker.pagestore.size",
        "spec.worker.pagestore.size",
    ),
    (
        "ringside.worker.pagestore.reserved.size",
        "spec.worker.pagestore.reservedSize",
    ),
    (
        "ringside.worker.identity.uuid.file.path",
        "the state directory (each worker keeps its identity there)",
    ),
    ("ringside.etcd.endpoints", "spec.etcd.endpoints"),
];

impl Spec {
    /// Reads and checks the spec file at `path`.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: path.display().to_string(),
            field: "(file)".into(),
            reason: format!("cannot read it: {e}"),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let base = std::path::absolute(&base).unwrap_or(base);
        Spec::parse(&text, &path.display().to_string(), &base)
    }

    /// Checks spec `text` (named `file` in errors); relative paths are
    /// taken from `base`.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Spec, SpecError> {
        let error = |field: &str, reason: String| SpecError {
            file: file.to_string(),
            field: field.to_string(),
            reason,
        };
        let doc: Document = serde_norway::from_str(text).map_err(|e| {
            // serde_norway names the path of the failing field first
            // ("spec.worker: unknown field …"); keep it as the field.
            let message = e.to_string();
            match message.split_once(": ") {
                Some((path, rest)) if !path.contains(' ') => error(path, rest.to_string()),
                _ => error("(document)", message),
            }
        })?;
        if doc.api_version != API_VERSION {
            return Err(error(
                "apiVersion",
                format!("{:?}: expected {API_VERSION}", doc.api_version),
            ));
        }
        if doc.kind != KIND {
            return Err(error("kind", format!("{:?}: expected {KIND}", doc.kind)));
        }
        let name = doc.metadata.name;
        // The console's rule for cluster names, so every applied cluster
        // can be registered there under its own name.
        validate_name(&name).map_err(|e| error("metadata.name", e.message))?;
        let raw = doc.spec;
        let version = raw.version.trim().to_string();
        if version.is_empty()
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        {
            return Err(error(
                "spec.version",
                format!(
                    "{version:?}: expected a release name of letters, digits, '.', '_', '+' and '-', e.g. 0.1.0"
                ),
            ));
        }
        let absolute = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let coordinator_port = port("spec.coordinator.port", raw.coordinator.port, 19999)
            .map_err(|r| error("spec.coordinator.port", r))?;
        let workers = u32::try_from(raw.worker.count)
            .ok()
            .filter(|n| *n <= MAX_WORKERS)
            .ok_or_else(|| {
                error(
                    "spec.worker.count",
                    format!(
                        "{}: expected a whole number from 0 to {MAX_WORKERS}",
                        raw.worker.count
                    ),
                )
            })?;
        let worker_port = port("spec.worker.port", raw.worker.port, 29999)
            .map_err(|r| error("spec.worker.port", r))?;
        let last_port = u32::from(worker_port) + 2 * workers.max(1) - 1;
        if last_port > u32::from(u16::MAX) {
            return Err(error(
                "spec.worker.port",
                format!(
                    "{workers} workers from port {worker_port} need ports up to {last_port}: expected a lower port or fewer workers"
                ),
            ));
        }
        if (u32::from(worker_port)..=last_port).contains(&u32::from(coordinator_port)) {
            return Err(error(
                "spec.coordinator.port",
                format!(
                    "{coordinator_port} is among the workers' ports {worker_port}–{last_port}: expected a port outside them"
                ),
            ));
        }
        let size =
            |field: &str, value: Option<serde_norway::Value>| -> Result<Option<u64>, SpecError> {
                let Some(value) = value else { return Ok(None) };
                let text = scalar(&value).ok_or_else(|| {
                    error(field, "expected a size such as 10GiB or 1073741824".into())
                })?;
                parse_size(&text).map(Some).ok_or_else(|| {
                    error(
                        field,
                        format!("{text:?}: expected a size such as 10GiB or 1073741824"),
                    )
                })
            };
        let pagestore_size = size("spec.worker.pagestore.size", raw.worker.pagestore.size)?;
        if pagestore_size == Some(0) {
            return Err(error(
                "spec.worker.pagestore.size",
                "0: expected a page store of at least one page".into(),
            ));
        }
        let pagestore_reserved = size(
            "spec.worker.pagestore.reservedSize",
            raw.worker.pagestore.reserved_size,
        )?;

        let etcd_endpoints = match raw.etcd {
            Some(etcd) if etcd.endpoints.is_empty() => {
                return Err(error(
                    "spec.etcd.endpoints",
                    "empty: expected at least one etcd endpoint, e.g. http://127.0.0.1:2379".into(),
                ));
            }
            Some(etcd) => etcd.endpoints,
            None => Vec::new(),
        };

        let mut site = String::new();
        for (key, value) in &raw.properties {
            let field = format!("spec.properties[{key:?}]");
            if let Some((_, owner)) = MANAGED.iter().find(|(k, _)| k == key) {
                return Err(error(
                    &field,
                    format!("set by {owner}: remove it from properties"),
                ));
            }
            let text = scalar(value).ok_or_else(|| {
                error(
                    &field,
                    "expected a single value (text, number or true/false), not a list or map"
                        .into(),
                )
            })?;
            if text.contains('\n') {
                return Err(error(&field, "expected a value on one line".into()));
            }
            site.push_str(&format!("{key}={text}\n"));
        }
        // Every property, with the spec's own settings beside them, must
        // make a configuration each daemon would start with.
        let mut overrides = vec![format!("{}={name}", keys::CLUSTER_NAME.name())];
        if let Some(size) = pagestore_size {
            overrides.push(format!("{}={size}", keys::WORKER_PAGESTORE_SIZE.name()));
        }
        if let Some(reserved) = pagestore_reserved {
            overrides.push(format!(
                "{}={reserved}",
                keys::WORKER_PAGESTORE_RESERVED_SIZE.name()
            ));
        }
        if !etcd_endpoints.is_empty() {
            overrides.push(format!(
                "{}={}",
                keys::ETCD_ENDPOINTS.name(),
                etcd_endpoints.join(",")
            ));
        }
        SiteConfig::parse(&site, "spec.properties", &overrides).map_err(|e| {
            let text = e.to_string();
            let field = raw
                .properties
                .keys()
                .find(|k| text.contains(k.as_str()))
                .map_or_else(
                    || "spec.properties".to_string(),
                    |k| format!("spec.properties[{k:?}]"),
                );
            error(&field, text)
        })?;
        let max_unavailable = match raw.worker.rolling_update.max_unavailable {
            None => MaxUnavailable::default(),
            Some(value) => {
                let field = "spec.worker.rollingUpdate.maxUnavailable";
                let text = scalar(&value).ok_or_else(|| {
                    error(
                        field,
                        "expected a number (e.g. 1) or a percentage (e.g. 10%)".into(),
                    )
                })?;
                MaxUnavailable::parse(&text).map_err(|reason| error(field, reason))?
            }
        };

        Ok(Spec {
            name,
            version,
            releases: raw.releases.map(absolute),
            site_properties: site,
            coordinator_port,
            metastore_dir: raw.coordinator.metastore.dir.map(absolute),
            workers,
            worker_port,
            pagestore_dir: raw.worker.pagestore.host_path.map(absolute),
            pagestore_size,
            pagestore_reserved,
            max_unavailable,
            etcd_endpoints,
        })
    }

    /// What the coordinator is told was applied.
    pub fn desired(&self) -> DesiredState {
        DesiredState {
            version: self.version.clone(),
            workers: self.workers,
            max_unavailable: self.max_unavailable,
        }
    }

    pub fn coordinator_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.coordinator_port)
    }

    /// Worker `ordinal`'s HTTP and S3 ports.
    pub fn worker_ports(&self, ordinal: u32) -> (u16, u16) {
        let http = u32::from(self.worker_port) + 2 * ordinal;
        // Checked in parse: every worker's ports fit in a u16.
        (http as u16, (http + 1) as u16)
    }
}

fn port(field: &str, value: Option<u32>, default: u16) -> Result<u16, String> {
    match value {
        None => Ok(default),
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p >= 1024)
            .ok_or_else(|| format!("{p}: expected a port from 1024 to 65535 ({field})")),
    }
}

/// A YAML scalar as property text.
fn scalar(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
apiVersion: ringside.io/v1
kind: RingsideCluster
metadata:
  name: demo
spec:
  version: 0.1.0
  properties:
    ringside.ufs.root: file:///data
    ringside.worker.failure.detection.timeout: 5s
  worker:
    count: 3
    pagestore:
      hostPath: pages
      size: 64MiB
    rollingUpdate:
      maxUnavailable: 1
";

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, "cluster.yaml", Path::new("/specs"))
    }

    fn field_of(text: &str) -> (String, String) {
        let e = parse(text).expect_err("spec must be rejected");
        (e.field, e.reason)
    }

    #[test]
    fn a_good_spec_gets_its_defaults() {
        let spec = parse(GOOD).unwrap();
        assert_eq!(spec.name, "demo");
        assert_eq!(spec.workers, 3);
        assert_eq!(spec.coordinator_port, 19999);
        assert_eq!(spec.worker_ports(2), (30003, 30004));
        assert_eq!(spec.pagestore_dir, Some(PathBuf::from("/specs/pages")));
        assert_eq!(spec.pagestore_size, Some(64 << 20));
        assert_eq!(spec.max_unavailable, MaxUnavailable::Count(1));
        assert!(
            spec.site_properties
                .contains("ringside.ufs.root=file:///data\n")
        );
        let defaults =
            parse(&GOOD.replace("      maxUnavailable: 1\n", "      maxUnavailable: 25%\n"))
                .unwrap();
        assert_eq!(defaults.max_unavailable, MaxUnavailable::Percent(25));
    }

    #[test]
    fn bad_specs_name_the_field_and_the_reason() {
        let long_name = format!("name: {}", "a".repeat(64));
        let cases: &[(&str, &str, &str)] = &[
            ("count: 3", "count: -1", "spec.worker.count"),
            ("count: 3", "count: 100000", "spec.worker.count"),
            ("count: 3", "cont: 3", "spec.worker"),
            ("name: demo", "name: Demo_1", "metadata.name"),
            ("name: demo", "name: demo-", "metadata.name"),
            ("name: demo", &long_name, "metadata.name"),
            ("version: 0.1.0", "version: \"a b\"", "spec.version"),
            ("kind: RingsideCluster", "kind: AlluxioCluster", "kind"),
            ("size: 64MiB", "size: lots", "spec.worker.pagestore.size"),
            (
                "maxUnavailable: 1",
                "maxUnavailable: 0",
                "spec.worker.rollingUpdate.maxUnavailable",
            ),
            (
                "maxUnavailable: 1",
                "maxUnavailable: 150%",
                "spec.worker.rollingUpdate.maxUnavailable",
            ),
            (
                "ringside.worker.failure.detection.timeout: 5s",
                "ringside.worker.failure.detection.timeout: soon",
                "spec.properties[\"ringside.worker.failure.detection.timeout\"]",
            ),
            (
                "ringside.worker.failure.detection.timeout: 5s",
                "ringside.worker.prot: 1",
                "spec.properties[\"ringside.worker.prot\"]",
            ),
            (
                "ringside.worker.failure.detection.timeout: 5s",
                "ringside.worker.port: 1234",
                "spec.properties[\"ringside.worker.port\"]",
            ),
        ];
        for (from, to, field) in cases {
            assert!(GOOD.contains(from), "{from}");
            let (got, reason) = field_of(&GOOD.replace(from, to));
            assert!(
                got.starts_with(field),
                "{to}: field {got} ({reason}), expected {field}"
            );
            assert!(!reason.is_empty());
        }
        let (_, reason) = field_of(&GOOD.replace(
            "ringside.worker.failure.detection.timeout: 5s",
            "ringside.worker.prot: 1",
        ));
        assert!(
            reason.contains("ringside.worker.port"),
            "a suggestion: {reason}"
        );
        let (field, reason) = field_of(&GOOD.replace(
            "  worker:\n",
            "  coordinator:\n    port: 30000\n  worker:\n",
        ));
        assert_eq!(field, "spec.coordinator.port");
        assert!(reason.contains("workers' ports"), "{reason}");
        let (field, _) = field_of("spec: [");
        assert!(!field.is_empty());
    }
}
