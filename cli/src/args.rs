//! The command line, as the reference guide's commands are written.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ringside_api::job::{JobState, JobType};

#[derive(Parser, Debug)]
#[command(
    name = "ringside",
    version,
    about = "Operate Ringside read-cache clusters"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Given before the command (`ringside --conf DIR --set k=v fs cat P`), so
/// there is one place they are read from.
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Directory holding ringside-site.properties.
    #[arg(long, env = "RINGSIDE_CONF_DIR")]
    pub conf: Option<PathBuf>,
    /// Override one property, e.g. --set ringside.coordinator.port=19998 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Coordinator to talk to; else ringside.coordinator.address.
    #[arg(long, env = "RINGSIDE_COORDINATOR")]
    pub coordinator: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read files through the cache.
    #[command(subcommand)]
    Fs(FsCommand),
    /// Start and manage Ringside processes.
    #[command(subcommand)]
    Process(ProcessCommand),
    /// Show information about this build and the cluster.
    #[command(subcommand)]
    Info(InfoCommand),
    /// Load, free and rebalance cached files with jobs the coordinator runs.
    #[command(subcommand)]
    Job(JobCommand),
    /// Make vendor keys, issue and inspect licenses, and apply them to a cluster.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Show the coordinator's properties and change its dynamic ones live.
    #[command(subcommand)]
    Conf(ConfCommand),
    /// Run a cluster on this machine from a spec: apply, status, restart, delete.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Tenants' cache policies (quota, TTL, eviction order): list, set, remove.
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// The cluster's tenants, their policies and the bytes each holds.
    Ls(FormatArg),
    /// Create or replace a tenant's policy; the coordinator pushes it to
    /// every worker at once.
    Set {
        /// The tenant's name (a DNS label).
        name: String,
        /// The group that owns it.
        #[arg(long)]
        group: String,
        /// A UFS path prefix it owns; repeat for several.
        #[arg(long = "prefix", required = true, value_name = "PATH")]
        prefixes: Vec<String>,
        /// Most bytes of its files each worker caches, such as 10GiB.
        #[arg(long, value_name = "SIZE")]
        quota: Option<String>,
        /// How long a cached page is kept, such as 1h or 7d.
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Which of its pages go first: LRU, LFU or FIFO.
        #[arg(long, default_value = "LRU")]
        evictor: String,
    },
    /// Remove a tenant: its files fall back to the store's own eviction.
    Rm { name: String },
}

/// The spec file and where the cluster's processes keep their state.
#[derive(Args, Debug)]
pub struct SpecArgs {
    /// The cluster spec (YAML, kind RingsideCluster).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Where clusters keep their state (pids, logs, identities, metastore
    /// and page stores unless the spec puts them elsewhere).
    #[arg(
        long,
        env = "RINGSIDE_STATE_DIR",
        default_value = "/var/lib/ringside/clusters"
    )]
    pub state_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start what is missing, stop what is extra, roll a new version through
    /// the workers (the coordinator first) and push changed dynamic
    /// properties; applying the same spec twice changes nothing.
    Apply(SpecArgs),
    /// The phase (Ready, Updating, Degraded) and every process.
    Status {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Restart processes so edited properties apply: the coordinator, then
    /// the workers in batches of rollingUpdate.maxUnavailable.
    Restart {
        #[command(flatten)]
        spec: SpecArgs,
        /// Only this component; both when not given.
        #[arg(long, value_enum, ignore_case = true)]
        component: Option<ComponentArg>,
    },
    /// Stop every process of the cluster; data stays unless --remove-data.
    Delete {
        #[command(flatten)]
        spec: SpecArgs,
        /// Also remove the metastore, page stores, identities and logs.
        #[arg(long)]
        remove_data: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentArg {
    Coordinator,
    Worker,
}

#[derive(Subcommand, Debug)]
pub enum ConfCommand {
    /// List the coordinator's properties: value and where it came from.
    Get {
        /// Only these keys; every property when none is given.
        keys: Vec<String>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Push dynamic properties to the running coordinator, all or nothing;
    /// they apply at once and survive restarts until unset.
    Set {
        /// KEY=VALUE, written as in ringside-site.properties.
        #[arg(required = true, value_name = "KEY=VALUE")]
        properties: Vec<String>,
    },
    /// Clear pushed properties: the site file's value (or the default) applies again.
    Unset {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LicenseCommand {
    /// Make a vendor key: the secret key file (mode 0600) and, beside it,
    /// the public key (.pub) for ringside.license.verification.key.
    Keygen {
        /// Secret key file to write; the public key goes to the same name
        /// with the extension .pub.
        #[arg(long, default_value = "vendor.key")]
        out: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a license with a vendor key (for tests and demos) and print it,
    /// or write it to --out.
    Issue(IssueArgs),
    /// Show a license file: its fields, days left and state, and whether its
    /// signature holds under --public-key (else ringside.license.verification.key).
    ///
    /// Exits non-zero when the file is not a license or its signature does
    /// not hold.
    Inspect {
        /// The license file.
        file: PathBuf,
        /// The vendor's public key file (.pub) to verify the signature with.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Show the cluster's license as its coordinator reports it: state,
    /// days left, workers and capacity against the limits.
    Show(FormatArg),
    /// Apply a license file to the cluster: the coordinator verifies it,
    /// stores it and enforces it at once.
    Apply {
        /// The license file.
        file: PathBuf,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Args, Debug)]
pub struct IssueArgs {
    /// The vendor key file, as `license keygen` writes it.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Who the license is for.
    #[arg(long)]
    pub customer: String,
    /// A cluster license covers one cluster; a deployment license every
    /// cluster it names.
    #[arg(long, value_enum, ignore_case = true)]
    pub kind: LicenseKindArg,
    /// A cluster it covers (its ringside.cluster.name); repeatable.
    #[arg(long = "cluster", value_name = "NAME", required = true)]
    pub clusters: Vec<String>,
    /// Expiry date, YYYY-MM-DD (at 00:00 UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_time, required_unless_present = "days", conflicts_with = "days")]
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
    /// Days from the issue date to the expiry.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub days: Option<u32>,
    /// Issue date, YYYY-MM-DD or an RFC 3339 time; now if not given.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    pub issued: Option<chrono::DateTime<chrono::Utc>>,
    /// Most workers ONLINE at once; unlimited if not given.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_workers: Option<u32>,
    /// Most page store capacity of the ONLINE workers together, e.g. 10TiB;
    /// unlimited if not given.
    #[arg(long, value_name = "SIZE", value_parser = parse_capacity)]
    pub max_capacity: Option<u64>,
    /// A feature it enables; repeatable.
    #[arg(long = "feature", value_name = "NAME")]
    pub features: Vec<String>,
    /// The license's id; else L-<issue date>-<random>.
    #[arg(long)]
    pub id: Option<String>,
    /// Write the license to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseKindArg {
    Cluster,
    Deployment,
}

/// `2031-01-01` (00:00 UTC that day) or `2031-01-01T12:00:00Z`.
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            "expected a date YYYY-MM-DD or an RFC 3339 time such as 2031-01-01T00:00:00Z".into()
        })
}

/// A capacity limit, written as a size (`10TiB`, `512GiB`).
fn parse_capacity(text: &str) -> Result<u64, String> {
    ringside_config::units::parse_size(text)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| "expected a positive size such as 512GiB or 10TiB".into())
}

const JOB_EXIT_STATUS: &str = "\
Exit status: 0 on success, also when --submit finds the job still running or
--stop finds it already finished (the coordinator's message is printed);
non-zero when the coordinator refuses or cannot be reached, when there is no
such job, and when --progress --watch sees the job end FAILED.";

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Read the files under a UFS path into the cache of their owning workers.
    #[command(after_help = JOB_EXIT_STATUS)]
    Load {
        /// UFS path of a file or directory.
        #[arg(long)]
        path: String,
        #[command(flatten)]
        action: JobAction,
        #[command(flatten)]
        options: LoadOptions,
        #[command(flatten)]
        progress: ProgressArgs,
    },
    /// Drop the cached pages of the files under a UFS path, on every worker.
    #[command(after_help = JOB_EXIT_STATUS)]
    Free {
        /// UFS path of a file or directory.
        #[arg(long)]
        path: String,
        #[command(flatten)]
        action: JobAction,
        #[command(flatten)]
        progress: ProgressArgs,
    },
    /// Copy files to the workers that own them now and prune the copies left
    /// on the workers that no longer do.
    #[command(after_help = JOB_EXIT_STATUS)]
    Rebalance {
        /// ALL, or the id of the worker to move files to.
        #[arg(long, value_name = "ALL|WORKER_ID")]
        target: String,
        #[command(flatten)]
        action: JobAction,
        #[command(flatten)]
        options: RebalanceOptions,
        #[command(flatten)]
        progress: ProgressArgs,
    },
    /// List jobs, one line each: id, type, state, path, files, progress.
    ///
    /// Prints nothing at all, not even a header, when no job matches, so
    /// scripts can test for empty output.
    List {
        /// LOAD, FREE or REBALANCE; every type if not given.
        #[arg(long, value_name = "TYPE", value_parser = str::parse::<JobType>)]
        job_type: Option<JobType>,
        /// WAITING, RUNNING, VERIFYING, SUCCEEDED, FAILED, STOPPED or ALL.
        #[arg(long, value_name = "STATE", default_value = "ALL", value_parser = parse_state_filter)]
        job_state: StateFilter,
    },
}

/// What to do with the job of a path or target: exactly one.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct JobAction {
    /// Submit the job. A STOPPED job for the same path (or target) resumes;
    /// one still running is left as it is.
    #[arg(long)]
    submit: bool,
    /// Show the progress of the latest job for the path (or target); exits 0
    /// whatever its state unless --watch is given.
    #[arg(long)]
    progress: bool,
    /// Stop the running job; one that already finished is left as it is
    /// (exit 0).
    #[arg(long)]
    stop: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Submit,
    Progress,
    Stop,
}

impl JobAction {
    /// The group makes exactly one flag true.
    pub fn get(&self) -> Action {
        if self.submit {
            Action::Submit
        } else if self.progress {
            Action::Progress
        } else {
            Action::Stop
        }
    }
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Submit options")]
pub struct LoadOptions {
    /// Leave files that are already fully cached alone.
    #[arg(long, conflicts_with_all = ["progress", "stop"])]
    pub skip_if_exists: bool,
    /// After loading, check every file on its owner and load again what is
    /// missing; files still short fail the job.
    #[arg(long, conflicts_with_all = ["progress", "stop"])]
    pub verify: bool,
    /// Only files whose path matches this regular expression.
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["progress", "stop"])]
    pub file_filter_regex: Option<String>,
    /// Bytes per second read from the UFS across all workers, e.g. 200MiB;
    /// unlimited if not given.
    #[arg(long, value_name = "SIZE", value_parser = parse_bandwidth, conflicts_with_all = ["progress", "stop"])]
    pub bandwidth: Option<u64>,
    /// Files per task; else ringside.job.batch.size.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with_all = ["progress", "stop"])]
    pub batch_size: Option<u32>,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Submit options")]
pub struct RebalanceOptions {
    /// Bytes per second copied to the new owners, e.g. 200MiB; unlimited if
    /// not given.
    #[arg(long, value_name = "SIZE", value_parser = parse_bandwidth, conflicts_with_all = ["progress", "stop"])]
    pub load_bandwidth: Option<u64>,
    /// Bytes per second freed on the old owners; unlimited if not given.
    #[arg(long, value_name = "SIZE", value_parser = parse_bandwidth, conflicts_with_all = ["progress", "stop"])]
    pub prune_bandwidth: Option<u64>,
    /// Keep the old copies; eviction drops them in time.
    #[arg(long, conflicts_with_all = ["progress", "stop"])]
    pub skip_prune: bool,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Progress options")]
pub struct ProgressArgs {
    /// Output format.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        default_value = "text",
        conflicts_with_all = ["submit", "stop"]
    )]
    pub format: Format,
    /// Show a progress bar until the job ends, then its final progress; exit
    /// non-zero if it ended FAILED.
    #[arg(long, conflicts_with_all = ["submit", "stop"])]
    pub watch: bool,
}

/// `--job-state`: one state, or none for ALL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateFilter(pub Option<JobState>);

fn parse_state_filter(text: &str) -> Result<StateFilter, String> {
    if text.trim().eq_ignore_ascii_case("ALL") {
        return Ok(StateFilter(None));
    }
    text.parse()
        .map(|state| StateFilter(Some(state)))
        .map_err(|e: ringside_api::job::UnknownName| format!("{e}, ALL"))
}

/// A rate in bytes per second, written as a size (`200MiB`, `1.5GB`).
fn parse_bandwidth(text: &str) -> Result<u64, String> {
    ringside_config::units::parse_size(text)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| "expected a positive size such as 200MiB or 1GB (bytes per second)".into())
}

#[derive(Subcommand, Debug)]
pub enum ProcessCommand {
    /// Start a daemon in the foreground; it stops on Ctrl-C or SIGTERM.
    #[command(subcommand)]
    Start(Daemon),
    /// Remove a worker from the cluster's member list for good.
    RemoveWorker {
        /// The worker's id, as `ringside info nodes` lists it.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Daemon {
    /// The control plane of one cluster.
    Coordinator,
    /// A cache worker: page store, read APIs, heartbeats.
    Worker,
    /// Many coordinators in one process, each with its own metastore and
    /// port and no workers: a fleet for console tests and benchmarks.
    /// Prints `NAME URL` for each once all listen.
    FleetSimulator {
        /// How many clusters.
        #[arg(long, default_value_t = 100)]
        clusters: u32,
        /// Port of the first cluster; the others follow it.
        #[arg(long, default_value_t = 40000)]
        base_port: u16,
        /// Directory for the clusters' metastores.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// Milliseconds every answer is delayed by, as if the clusters were
        /// far away.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum FsCommand {
    /// List a directory of the UFS.
    Ls {
        path: String,
        /// List everything below the directory.
        #[arg(long, short = 'R')]
        recursive: bool,
        #[command(flatten)]
        format: FormatArg,
    },
    /// Print a file, read through its owning worker.
    Cat { path: String },
    /// Show a file's size and how much of it its owner caches.
    Stat {
        path: String,
        #[command(flatten)]
        format: FormatArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum InfoCommand {
    /// Print the version of this build.
    Version(FormatArg),
    /// List the cluster's workers: id, address, state, capacity, use, pages.
    Nodes(FormatArg),
    /// Show the hash ring: policy, epoch, and each worker's share of the key space.
    Ring(FormatArg),
}

#[derive(Args, Debug)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value = "text")]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    fn job(line: &str) -> JobCommand {
        match parse(line).unwrap().command {
            Command::Job(command) => command,
            other => panic!("not a job command: {other:?}"),
        }
    }

    #[test]
    fn load_takes_the_guides_flags() {
        let JobCommand::Load {
            path,
            action,
            options,
            ..
        } = job(
            "ringside job load --path /data --submit --skip-if-exists --verify \
             --bandwidth 1.5GB --batch-size 8 --file-filter-regex .*\\.parquet",
        )
        else {
            panic!("not load");
        };
        assert_eq!(path, "/data");
        assert_eq!(action.get(), Action::Submit);
        assert!(options.skip_if_exists && options.verify);
        assert_eq!(options.bandwidth, Some(3 << 29));
        assert_eq!(options.batch_size, Some(8));
        assert_eq!(options.file_filter_regex.as_deref(), Some(".*\\.parquet"));
    }

    #[test]
    fn exactly_one_action() {
        assert!(parse("ringside job load --path /d").is_err());
        assert!(parse("ringside job load --path /d --submit --stop").is_err());
        let JobCommand::Free { action, .. } = job("ringside job free --path /d --stop") else {
            panic!("not free");
        };
        assert_eq!(action.get(), Action::Stop);
    }

    #[test]
    fn options_belong_to_their_action() {
        assert!(parse("ringside job load --path /d --progress --verify").is_err());
        assert!(parse("ringside job load --path /d --submit --watch").is_err());
        assert!(parse("ringside job rebalance --target ALL --stop --skip-prune").is_err());
        let JobCommand::Rebalance {
            target, progress, ..
        } = job("ringside job rebalance --progress --target ALL --format JSON --watch")
        else {
            panic!("not rebalance");
        };
        assert_eq!(target, "ALL");
        assert_eq!(progress.format, Format::Json);
        assert!(progress.watch);
    }

    #[test]
    fn bad_sizes_and_counts_say_what_is_expected() {
        for bad in ["--bandwidth fast", "--bandwidth 0", "--batch-size 0"] {
            let error = parse(&format!("ringside job load --path /d --submit {bad}")).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad}"
            );
        }
        let error = parse("ringside job load --path /d --submit --bandwidth fast").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a positive size such as 200MiB")
        );
    }

    fn license(line: &str) -> LicenseCommand {
        match parse(line).unwrap().command {
            Command::License(command) => command,
            other => panic!("not a license command: {other:?}"),
        }
    }

    #[test]
    fn issue_takes_dates_sizes_and_repeated_clusters() {
        let LicenseCommand::Issue(args) = license(
            "ringside license issue --key v.key --customer ACME --kind Deployment \
             --cluster a --cluster b --expires 2031-01-01 --issued 2030-01-01T12:00:00Z \
             --max-workers 3 --max-capacity 10TiB --feature s3 --feature x",
        ) else {
            panic!("not issue");
        };
        assert_eq!(args.kind, LicenseKindArg::Deployment);
        assert_eq!(args.clusters, ["a", "b"]);
        assert_eq!(
            args.expires.unwrap().to_rfc3339(),
            "2031-01-01T00:00:00+00:00"
        );
        assert_eq!(
            args.issued.unwrap().to_rfc3339(),
            "2030-01-01T12:00:00+00:00"
        );
        assert_eq!(args.max_capacity, Some(10 << 40));
        assert_eq!(args.features, ["s3", "x"]);
    }

    #[test]
    fn issue_needs_one_expiry_and_sane_values() {
        let base = "ringside license issue --key k --customer C --kind cluster --cluster a";
        assert!(parse(base).is_err(), "no expiry");
        assert!(parse(&format!("{base} --days 3 --expires 2031-01-01")).is_err());
        assert!(parse(&format!("{base} --days 3")).is_ok());
        for bad in [
            "--days 0",
            "--expires tomorrow",
            "--days 3 --max-capacity lots",
            "--days 3 --max-workers 0",
            "--days 3 --kind site",
        ] {
            assert!(parse(&format!("{base} {bad}")).is_err(), "{bad}");
        }
        let error = parse(&format!("{base} --expires 31/01/2031")).unwrap_err();
        assert!(
            error.to_string().contains("expected a date YYYY-MM-DD"),
            "{error}"
        );
    }

    #[test]
    fn list_filters_parse_in_any_case_and_default_to_all() {
        let JobCommand::List {
            job_type,
            job_state,
        } = job("ringside job list")
        else {
            panic!("not list");
        };
        assert_eq!((job_type, job_state), (None, StateFilter(None)));
        let JobCommand::List {
            job_type,
            job_state,
        } = job("ringside job list --job-type load --job-state Running")
        else {
            panic!("not list");
        };
        assert_eq!(job_type, Some(JobType::Load));
        assert_eq!(job_state, StateFilter(Some(JobState::Running)));
        assert!(matches!(
            job("ringside job list --job-state all"),
            JobCommand::List {
                job_state: StateFilter(None),
                ..
            }
        ));
        let error = parse("ringside job list --job-state DONE").unwrap_err();
        assert!(error.to_string().contains("STOPPED, ALL"), "{error}");
    }
}
