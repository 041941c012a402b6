//! Test harness for Ringside's integration tests: finds the built binaries,
//! starts them as real processes on free loopback ports, waits until they
//! answer, and stops them when the test is done (even when it fails).

pub mod cluster;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// Directory of the built binaries: `RINGSIDE_BIN_DIR`, else the profile
/// directory this test executable was built into (`target/debug`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RINGSIDE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (make build)",
        path.display()
    );
    path
}

/// The stdout of a command that must have succeeded; `what` names it in
/// the failure, which shows both of its outputs.
pub fn stdout_of(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nothing listens on right now, below the kernel's ephemeral range.
pub fn free_port() -> u16 {
    free_port_run(1)
}

/// The first of `count` consecutive ports nothing listens on right now.
///
/// A port the kernel picked for `bind(0)` is back in its ephemeral pool the
/// moment the probe closes, and any outgoing connection of the test's own
/// daemons may take it before the daemon meant for it binds ("address
/// already in use"). Ports below that pool are never handed out that way;
/// tests of one binary run as threads of one process, so a shared cursor
/// keeps them apart, and the start offset, from the clock and the pid,
/// spreads processes apart.
pub fn free_port_run(count: u16) -> u16 {
    use std::sync::{
        LazyLock,
        atomic::{AtomicU32, Ordering},
    };
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 22_000; // up to 32000, below the default 32768
    static CURSOR: LazyLock<AtomicU32> = LazyLock::new(|| {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        AtomicU32::new((clock ^ std::process::id().wrapping_mul(2_654_435_761)) % SPAN)
    });
    let count = u32::from(count);
    for _ in 0..SPAN {
        let offset = CURSOR.fetch_add(count, Ordering::Relaxed) % SPAN;
        if offset + count > SPAN {
            continue;
        }
        let base = FIRST + offset;
        let free = (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p as u16)).is_ok());
        if free {
            return base as u16;
        }
    }
    panic!(
        "no run of {count} free loopback ports below {}",
        FIRST + SPAN
    );
}

/// A running process, killed when dropped.
pub struct Daemon {
    pub name: String,
    pub url: String,
    /// An API token for the console's REST API (see [`start_console`]).
    pub token: Option<String>,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command`, logging to `log`, and waits until `url` + `/healthz`
    /// answers 200.
    pub fn start(name: &str, mut command: Command, url: String, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut daemon = Daemon {
            name: name.to_string(),
            url,
            token: None,
            child,
            log,
        };
        daemon.wait_healthy(Duration::from_secs(30));
        daemon
    }

    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let health = format!("{}/healthz", self.url);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before it was ready:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if reqwest::blocking::get(&health).is_ok_and(|r| r.status().is_success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} not ready after {timeout:?}:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// An HTTP client that sends this daemon's API token, when it has one.
    pub fn client(&self) -> reqwest::blocking::Client {
        match &self.token {
            Some(token) => bearer_client(token),
            None => reqwest::blocking::Client::new(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process this daemon started still runs (a daemon that
    /// restarts in place keeps its process).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process with SIGTERM and waits for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate()
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("wait for killed process")
    }

    fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait for killed process")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// Starts a coordinator for cluster `name` with its metastore under `dir`.
pub fn start_coordinator(name: &str, dir: &Path) -> Daemon {
    start_coordinator_with(name, dir, free_port(), &[])
}

/// A `ringside` command with `--set` for each property.
pub fn ringside(properties: &[String]) -> Command {
    let mut command = Command::new(bin("ringside"));
    command.env_remove("RINGSIDE_CONF_DIR");
    command.env_remove("RINGSIDE_COORDINATOR");
    for property in properties {
        command.args(["--set", property]);
    }
    command
}

/// The token file a test's processes share (`dir/cluster.token`, which the
/// coordinator writes), unless `properties` name their own.
pub fn default_token_file(dir: &Path, properties: &[String]) -> Vec<String> {
    let key = "ringside.security.cluster.token.file=";
    if properties.iter().any(|p| p.starts_with(key)) {
        return Vec::new();
    }
    vec![format!("{key}{}", dir.join("cluster.token").display())]
}

/// The cluster token the coordinator wrote under `dir`, for a console's
/// `access_token` or a test's own control calls.
pub fn cluster_token(dir: &Path) -> String {
    let path = dir.join("cluster.token");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no cluster token at {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A client that sends `token` as a bearer with every request.
pub fn bearer_client(token: &str) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::blocking::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Starts a coordinator on `port` with extra properties.
pub fn start_coordinator_with(name: &str, dir: &Path, port: u16, extra: &[String]) -> Daemon {
    let mut properties = vec![
        format!("ringside.cluster.name={name}"),
        "ringside.coordinator.bind.host=127.0.0.1".to_string(),
        format!("ringside.coordinator.port={port}"),
        format!(
            "ringside.coordinator.metastore.dir={}",
            dir.join(name).join("metastore").display()
        ),
    ];
    properties.extend(default_token_file(dir, extra));
    properties.extend_from_slice(extra);
    let mut command = ringside(&properties);
    command.args(["process", "start", "coordinator"]);
    Daemon::start(
        &format!("coordinator {name}"),
        command,
        format!("http://127.0.0.1:{port}"),
        dir.join(format!("coordinator-{name}.log")),
    )
}

/// Starts a worker whose state (page store, identity file) lives under
/// `dir/name`, with the cluster's shared properties and its own ports.
pub fn start_worker(name: &str, dir: &Path, cluster: &[String]) -> Daemon {
    start_worker_on(name, dir, cluster, free_port())
}

/// Like `start_worker`, on a given HTTP port.
pub fn start_worker_on(name: &str, dir: &Path, cluster: &[String], port: u16) -> Daemon {
    Daemon::start(
        &format!("worker {name}"),
        worker_command(name, dir, cluster, port),
        format!("http://127.0.0.1:{port}"),
        dir.join(format!("worker-{name}.log")),
    )
}

/// The command `start_worker_on` runs, for a test that expects the worker
/// to stop on its own (its log goes where the caller sends it).
pub fn worker_command(name: &str, dir: &Path, cluster: &[String], port: u16) -> Command {
    let mut properties = default_token_file(dir, cluster);
    properties.extend_from_slice(cluster);
    properties.extend([
        "ringside.worker.bind.host=127.0.0.1".to_string(),
        format!("ringside.worker.port={port}"),
        format!("ringside.worker.s3.port={}", free_port()),
        format!(
            "ringside.worker.pagestore.dir={}",
            dir.join(name).join("pages").display()
        ),
        format!(
            "ringside.worker.identity.uuid.file.path={}",
            dir.join(name).join("identity").display()
        ),
    ]);
    let mut command = ringside(&properties);
    command.args(["process", "start", "worker"]);
    command
}

/// Starts the console with its data under `dir`, polling every `poll`,
/// logs in as the bootstrap admin and keeps a write token for the tests'
/// REST calls ([`Daemon::client`]).
pub fn start_console(dir: &Path, poll: &str, database_url: Option<&str>) -> Daemon {
    start_console_with(dir, poll, database_url, free_port(), &[])
}

/// [`start_console`] on `port`, with more command-line arguments.
pub fn start_console_with(
    dir: &Path,
    poll: &str,
    database_url: Option<&str>,
    port: u16,
    extra: &[&str],
) -> Daemon {
    let password_file = dir.join("console").join("bootstrap-password");
    let mut command = Command::new(bin("ringside-console"));
    command.args(extra);
    command.arg("--bootstrap-password-file").arg(&password_file);
    command.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        &dir.join("console").display().to_string(),
        "--poll-interval",
        poll,
        "--poll-timeout",
        "1s",
    ]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut console = Daemon::start(
        "console",
        command,
        format!("http://127.0.0.1:{port}"),
        dir.join("console.log"),
    );
    // A restart on the same data keeps the admin, and its password file.
    if let Ok(password) = std::fs::read_to_string(&password_file) {
        let session = ConsoleSession::log_in(&console.url, "admin", password.trim());
        console.token = Some(session.issue_token("integration-tests", &["read", "write"]));
    }
    console
}

/// A browser-like session with the console: the cookie, and the CSRF
/// token changes made with it must carry.
pub struct ConsoleSession {
    pub url: String,
    pub client: reqwest::blocking::Client,
    pub csrf_token: String,
}

impl ConsoleSession {
    /// Logs in with a password (the bootstrap admin's).
    pub fn log_in(url: &str, user: &str, password: &str) -> ConsoleSession {
        let client = reqwest::blocking::Client::builder()
            .cookie_store(true)
            .build()
            .expect("an http client");
        let response = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .expect("log in");
        assert_eq!(
            response.status(),
            200,
            "log in as {user}: {:?}",
            response.text()
        );
        let me: serde_json::Value = response.json().expect("who am i");
        ConsoleSession {
            url: url.to_string(),
            client,
            csrf_token: me["csrf_token"].as_str().expect("a csrf token").to_string(),
        }
    }

    /// Issues an API token with `scopes`.
    pub fn issue_token(&self, name: &str, scopes: &[&str]) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/tokens", self.url))
            .header("x-csrf-token", &self.csrf_token)
            .json(&serde_json::json!({"name": name, "scopes": scopes}))
            .send()
            .expect("issue a token");
        assert_eq!(
            response.status(),
            201,
            "issue a token: {:?}",
            response.text()
        );
        let issued: serde_json::Value = response.json().expect("the issued token");
        issued["token"].as_str().expect("a token").to_string()
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A single-member etcd on free loopback ports, killed when dropped.
pub struct Etcd {
    pub url: String,
    child: Child,
}

impl Etcd {
    pub fn start(dir: &Path) -> Etcd {
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.join("etcd.log")).expect("etcd log");
        let child = Command::new("etcd")
            .args([
                "--name",
                "default",
                "--data-dir",
                &dir.join("etcd").display().to_string(),
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster",
                &format!("default={peer_url}"),
            ])
            .stdout(log.try_clone().expect("etcd log"))
            .stderr(log)
            .spawn()
            .expect("etcd (apt-get install etcd-server)");
        let etcd = Etcd { url, child };
        assert!(
            eventually(Duration::from_secs(20), || {
                reqwest::blocking::get(format!("{}/health", etcd.url))
                    .is_ok_and(|r| r.status().is_success())
            }),
            "etcd did not become healthy"
        );
        etcd
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the unlabelled metric `name` at `base`/metrics, if present.
pub fn metric(base: &str, name: &str) -> Option<u64> {
    let text = reqwest::blocking::get(format!("{base}/metrics"))
        .ok()?
        .text()
        .ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse::<f64>().ok().map(|v| v as u64)
    })
}

/// The fleet simulator (`ringside process start fleet-simulator`): many
/// real coordinators in one process, killed when dropped.
pub struct Simulator {
    /// `(name, url)` of each simulated cluster.
    pub clusters: Vec<(String, String)>,
    /// The cluster token every simulated cluster shares.
    pub token: String,
    child: Child,
}

impl Simulator {
    /// `count` clusters with their state under `dir` and a UFS at
    /// `dir/ufs`, each answering `latency_ms` late.
    pub fn start(dir: &Path, count: u32, latency_ms: u64) -> Simulator {
        use std::io::BufRead;
        // The clusters take `count` ports from a base up. Bases are drawn
        // below the ephemeral range (32768 and up), where the free ports
        // other tests pick and every outgoing connection's port come from;
        // two simulators may still meet, so a few bases are tried.
        for attempt in 0..8u64 {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as u64)
                ^ (u64::from(std::process::id()) << 16)
                ^ attempt.wrapping_mul(7919);
            let span = 32_000u64.saturating_sub(10_000 + u64::from(count)).max(1);
            let base = (10_000 + seed % span) as u16;
            let mut child = Command::new(bin("ringside"))
                .args([
                    "process",
                    "start",
                    "fleet-simulator",
                    "--clusters",
                    &count.to_string(),
                    "--base-port",
                    &base.to_string(),
                    "--dir",
                    &dir.display().to_string(),
                    "--latency-ms",
                    &latency_ms.to_string(),
                ])
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(dir.join("simulator.log")).expect("simulator log"))
                .spawn()
                .expect("start the fleet simulator");
            let stdout = child.stdout.take().expect("simulator stdout");
            let clusters: Vec<(String, String)> = std::io::BufReader::new(stdout)
                .lines()
                .take(count as usize)
                .map_while(Result::ok)
                .filter_map(|line| {
                    let (name, url) = line.split_once(' ')?;
                    Some((name.to_string(), url.to_string()))
                })
                .collect();
            if clusters.len() == count as usize {
                let token = cluster_token(dir);
                return Simulator {
                    clusters,
                    token,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "the fleet simulator did not start:\n{}",
            std::fs::read_to_string(dir.join("simulator.log")).unwrap_or_default()
        );
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of metric `name` with the labels `labels` (as written in the
/// exposition, e.g. `outcome="executed"`) at `base`/metrics; 0 when absent.
pub fn labelled_metric(base: &str, name: &str, labels: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default();
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust
/// auth), named after `name` and this process, dropped when this goes out
/// of scope, even when the test fails.
pub struct PgDatabase {
    name: String,
    pub url: String,
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl PgDatabase {
    pub fn create(name: &str) -> PgDatabase {
        let name = format!("ringside_{name}_{}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            assert_eq!(psql(PG_ADMIN, &sql), None, "{sql}");
        }
        PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }

    /// Runs `sql` in this database; answers psql's error text, if any.
    pub fn sql(&self, sql: &str) -> Option<String> {
        psql(&self.url, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql(
            PG_ADMIN,
            &format!("DROP DATABASE {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement with psql at `url`; answers its error text, if any.
fn psql(url: &str, sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql (apt-get install postgresql-client)");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Asserts that `text` passes `promtool check metrics` (Debian's
/// `prometheus`): the exposition format and the naming conventions.
pub fn promtool_check(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool output");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real OpenID provider (npm `oidc-provider`, `end2end/oidc/provider.mjs`)
/// on a free loopback port, with the shipped test accounts and clients and
/// the console's redirect URI set to `redirect_uri`.
pub struct Idp {
    pub issuer: String,
    child: Child,
}

impl Idp {
    pub fn start(dir: &Path, redirect_uri: &str) -> Idp {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("end2end/node_modules/oidc-provider").is_dir(),
            "end2end/node_modules/oidc-provider is missing: run make setup"
        );
        let shipped = std::fs::read_to_string(root.join("end2end/oidc/config.json")).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&shipped).unwrap();
        for client in config["clients"].as_array_mut().unwrap() {
            if client["client_id"] == "ringside-console" {
                client["redirect_uris"] = serde_json::json!([redirect_uri]);
            }
        }
        let file = dir.join("idp.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let mut child = Command::new("node")
            .arg(root.join("end2end/oidc/provider.mjs"))
            .arg("--config")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting node");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let issuer = line
            .split(" issuer ")
            .nth(1)
            .unwrap_or_else(|| panic!("not the ready line: {line:?}"))
            .trim()
            .to_string();
        Idp { issuer, child }
    }

    /// An access token for the console's API from a client-credentials
    /// client of the shipped configuration.
    pub fn client_token(&self, client: &str, secret: &str) -> String {
        let discovery: serde_json::Value =
            reqwest::blocking::get(format!("{}/.well-known/openid-configuration", self.issuer))
                .unwrap()
                .json()
                .unwrap();
        let response: serde_json::Value = reqwest::blocking::Client::new()
            .post(discovery["token_endpoint"].as_str().unwrap())
            .basic_auth(client, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", "urn:ringside:console"),
                ("scope", "read write"),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        response["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {response}"))
            .to_string()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
