//! ETCD membership against a real etcd server (Debian's `etcd-server`), which
//! each test starts on loopback ports with a data directory of its own.

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ringside_api::{WorkerHeartbeat, WorkerState, WorkerView};
use ringside_cluster::membership::etcd::{EtcdError, EtcdMembers, EtcdRegistrar, lease_ttl_secs};

/// The failure detection timeout of these tests: a 1 s lease, which etcd
/// raises to its minimum (2 s with default election settings).
const FAILURE_TIMEOUT: Duration = Duration::from_secs(1);

/// One etcd server, killed on drop.
struct Etcd {
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    async fn start() -> Etcd {
        match Command::new("etcd").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`etcd --version` failed ({}): reinstall it with `apt-get install etcd-server`",
                out.status
            ),
            Err(e) => panic!(
                "these tests need the etcd binary ({e}): install it with `apt-get install etcd-server`"
            ),
        }
        let (client_port, peer_port) = {
            let a = TcpListener::bind("127.0.0.1:0").expect("a free port");
            let b = TcpListener::bind("127.0.0.1:0").expect("a free port");
            (
                a.local_addr().unwrap().port(),
                b.local_addr().unwrap().port(),
            )
        };
        let mut etcd = Etcd {
            dir: tempfile::tempdir().expect("a temporary directory"),
            client_port,
            peer_port,
            child: None,
        };
        etcd.spawn().await;
        etcd
    }

    fn endpoints(&self) -> Vec<String> {
        vec![format!("http://127.0.0.1:{}", self.client_port)]
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Starts etcd on this data directory and these ports, and waits until
    /// a client is answered.
    async fn spawn(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("etcd log file");
        let child = Command::new("etcd")
            .arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(&client)
            .arg("--advertise-client-urls")
            .arg(&client)
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(format!("default={peer}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .expect("etcd starts (apt-get install etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match EtcdMembers::connect(&self.endpoints(), "probe").await {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!(
                    "etcd did not answer on {client} within 30 s: {e}\n{}",
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn heartbeat(id: &str, port: u16) -> WorkerHeartbeat {
    WorkerHeartbeat {
        id: id.to_string(),
        address: format!("http://127.0.0.1:{port}"),
        s3_address: format!("http://127.0.0.1:{}", port - 1),
        capacity_bytes: 1 << 30,
        used_bytes: 4096,
        pages: 1,
        version: "0.1.0".to_string(),
        cache_read_bytes: 0,
        ufs_read_bytes: 0,
    }
}

fn find<'a>(list: &'a [WorkerView], id: &str) -> &'a WorkerView {
    list.iter()
        .find(|w| w.heartbeat.id == id)
        .unwrap_or_else(|| panic!("worker {id} is not listed: {list:?}"))
}

/// Waits until worker `id` is in `state`.
async fn wait_for(members: &EtcdMembers, id: &str, state: WorkerState) -> WorkerView {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = members.list().await.expect("list");
        let view = find(&list, id).clone();
        if view.state == state {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "worker {id} is still {:?} after 20 s",
            view.state
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_worker_goes_offline_without_beats_comes_back_and_is_removed() {
    let etcd = Etcd::start().await;
    let members = EtcdMembers::connect(&etcd.endpoints(), "lifecycle")
        .await
        .expect("coordinator connects");
    assert_eq!(members.prefix(), "/ringside/lifecycle/");
    assert!(members.list().await.unwrap().is_empty());

    let mut worker = EtcdRegistrar::connect(&etcd.endpoints(), "lifecycle", FAILURE_TIMEOUT)
        .await
        .expect("worker connects");
    assert_eq!(worker.lease_ttl_secs(), 1);
    let hb = heartbeat("w-1", 29999);
    worker.beat(&hb).await.expect("first beat");
    let list = members.list().await.unwrap();
    assert_eq!(list.len(), 1);
    let first = &list[0];
    assert_eq!(first.heartbeat, hb);
    assert_eq!(first.state, WorkerState::Online);
    let registered_at = first.registered_at;
    assert!(first.last_heartbeat >= registered_at);

    // Beating keeps it ONLINE well past the lease TTL: the lease is kept
    // alive, not only re-attached.
    let mut hb = hb;
    for i in 0..12 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        hb.used_bytes = 4096 * (i + 2);
        worker.beat(&hb).await.expect("beat");
        let list = members.list().await.unwrap();
        assert_eq!(find(&list, "w-1").state, WorkerState::Online, "beat {i}");
    }
    let list = members.list().await.unwrap();
    let view = find(&list, "w-1");
    assert_eq!(view.heartbeat.used_bytes, hb.used_bytes);
    assert_eq!(view.registered_at, registered_at);
    let last = view.last_heartbeat;

    // Silence: OFFLINE after the TTL, still listed with its last record.
    let offline = wait_for(&members, "w-1", WorkerState::Offline).await;
    assert_eq!(offline.heartbeat, hb);
    assert_eq!(offline.last_heartbeat, last);
    assert_eq!(offline.registered_at, registered_at);

    // Beats again: ONLINE, same registration time, newer last heartbeat.
    worker
        .beat(&hb)
        .await
        .expect("beat after the lease expired");
    let list = members.list().await.unwrap();
    let back = find(&list, "w-1");
    assert_eq!(back.state, WorkerState::Online);
    assert_eq!(back.registered_at, registered_at);
    assert!(back.last_heartbeat > last);

    // Removed: both keys gone; a second removal finds nothing.
    assert!(members.remove("w-1").await.unwrap());
    assert!(members.list().await.unwrap().is_empty());
    assert!(!members.remove("w-1").await.unwrap());

    // A worker removed while still beating registers again, afresh.
    worker.beat(&hb).await.expect("beat after removal");
    let list = members.list().await.unwrap();
    let again = find(&list, "w-1");
    assert_eq!(again.state, WorkerState::Online);
    assert!(again.registered_at > registered_at);
}

#[tokio::test]
async fn workers_are_listed_sorted_and_a_restarted_worker_keeps_its_registration() {
    let etcd = Etcd::start().await;
    let members = EtcdMembers::connect(&etcd.endpoints(), "sorted")
        .await
        .unwrap();
    let mut b = EtcdRegistrar::connect(&etcd.endpoints(), "sorted", FAILURE_TIMEOUT)
        .await
        .unwrap();
    let mut a = EtcdRegistrar::connect(&etcd.endpoints(), "sorted", FAILURE_TIMEOUT)
        .await
        .unwrap();
    b.beat(&heartbeat("bbbb", 29999)).await.unwrap();
    a.beat(&heartbeat("aaaa", 29989)).await.unwrap();
    // Another cluster on the same etcd is not listed.
    let mut other = EtcdRegistrar::connect(&etcd.endpoints(), "elsewhere", FAILURE_TIMEOUT)
        .await
        .unwrap();
    other.beat(&heartbeat("0000", 29979)).await.unwrap();

    let list = members.list().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|w| w.heartbeat.id.as_str()).collect();
    assert_eq!(ids, ["aaaa", "bbbb"]);
    assert!(list.iter().all(|w| w.state == WorkerState::Online));
    let registered_at = find(&list, "aaaa").registered_at;

    // A graceful stop gives the lease back: OFFLINE at once.
    a.leave().await.unwrap();
    let list = members.list().await.unwrap();
    assert_eq!(find(&list, "aaaa").state, WorkerState::Offline);
    assert_eq!(find(&list, "bbbb").state, WorkerState::Online);

    // The worker process restarts with the same identity.
    drop(a);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut a = EtcdRegistrar::connect(&etcd.endpoints(), "sorted", FAILURE_TIMEOUT)
        .await
        .unwrap();
    a.beat(&heartbeat("aaaa", 29989)).await.unwrap();
    let list = members.list().await.unwrap();
    let view = find(&list, "aaaa");
    assert_eq!(view.state, WorkerState::Online);
    assert_eq!(view.registered_at, registered_at);
    assert!(view.last_heartbeat > registered_at);
}

#[tokio::test]
async fn beats_succeed_again_after_etcd_restarts() {
    let mut etcd = Etcd::start().await;
    let members = EtcdMembers::connect(&etcd.endpoints(), "restart")
        .await
        .unwrap();
    let mut worker = EtcdRegistrar::connect(&etcd.endpoints(), "restart", FAILURE_TIMEOUT)
        .await
        .unwrap();
    let hb = heartbeat("w-1", 29999);
    worker.beat(&hb).await.unwrap();
    let registered_at = find(&members.list().await.unwrap(), "w-1").registered_at;

    etcd.kill();
    let started = Instant::now();
    let err = worker
        .beat(&hb)
        .await
        .expect_err("a beat fails while etcd is down");
    let message = err.to_string();
    eprintln!(
        "beat while etcd is down: {message} (after {:?})",
        started.elapsed()
    );
    assert!(
        message.contains(&format!("127.0.0.1:{}", etcd.client_port)),
        "the error names the endpoint: {message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a beat against a dead etcd gives up in time: {:?}",
        started.elapsed()
    );
    let err = members
        .list()
        .await
        .expect_err("listing fails while etcd is down");
    eprintln!("list while etcd is down: {err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");

    etcd.spawn().await;
    worker
        .beat(&hb)
        .await
        .expect("the first beat after the restart");
    worker.beat(&hb).await.expect("the next beat");
    // The coordinator's client recovers by itself too.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempts = 0;
    let list = loop {
        attempts += 1;
        match members.list().await {
            Ok(list) => break list,
            Err(e) if Instant::now() > deadline => panic!("list after the restart: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    eprintln!("the coordinator listed again after {attempts} attempt(s)");
    let view = find(&list, "w-1");
    assert_eq!(view.state, WorkerState::Online);
    assert_eq!(view.registered_at, registered_at);

    // A restart between two beats: the worker's keep-alive stream is stale,
    // and the next beat still succeeds.
    etcd.kill();
    etcd.spawn().await;
    worker
        .beat(&hb)
        .await
        .expect("the first beat after a restart between beats");
    let list = members.list().await.expect("list");
    let view = find(&list, "w-1");
    assert_eq!(view.state, WorkerState::Online);
    assert_eq!(view.registered_at, registered_at);
}

#[tokio::test]
async fn bad_settings_and_unreachable_etcd_are_reported() {
    let no_endpoints = EtcdMembers::connect(&[], "c").await.unwrap_err();
    assert!(matches!(no_endpoints, EtcdError::NoEndpoints));
    assert!(no_endpoints.to_string().contains("ringside.etcd.endpoints"));

    let https = EtcdMembers::connect(&["https://127.0.0.1:2379".to_string()], "c")
        .await
        .unwrap_err();
    assert!(
        https.to_string().contains("https://127.0.0.1:2379"),
        "{https}"
    );

    let dead_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = vec![format!("127.0.0.1:{dead_port}/")];
    let started = Instant::now();
    let err = EtcdRegistrar::connect(&dead, "c", FAILURE_TIMEOUT)
        .await
        .unwrap_err();
    eprintln!(
        "connect to a dead port: {err} (after {:?})",
        started.elapsed()
    );
    assert!(
        err.to_string()
            .contains(&format!("http://127.0.0.1:{dead_port}")),
        "the error names the endpoint: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let etcd = Etcd::start().await;
    let slash = EtcdMembers::connect(&etcd.endpoints(), "a/b")
        .await
        .unwrap_err();
    assert!(matches!(slash, EtcdError::InvalidName { .. }), "{slash}");
    let members = EtcdMembers::connect(&etcd.endpoints(), "c").await.unwrap();
    assert!(matches!(
        members.remove("").await,
        Err(EtcdError::InvalidName { .. })
    ));
    let mut worker = EtcdRegistrar::connect(&etcd.endpoints(), "c", FAILURE_TIMEOUT)
        .await
        .unwrap();
    let err = worker.beat(&heartbeat("../x", 29999)).await.unwrap_err();
    assert!(err.to_string().contains("worker id"), "{err}");
}

#[test]
fn the_lease_ttl_is_the_failure_timeout_in_whole_seconds() {
    assert_eq!(lease_ttl_secs(Duration::from_secs(15)), 15);
    assert_eq!(lease_ttl_secs(Duration::from_millis(15_001)), 16);
    assert_eq!(lease_ttl_secs(Duration::from_millis(500)), 1);
    assert_eq!(lease_ttl_secs(Duration::ZERO), 1);
    assert_eq!(lease_ttl_secs(Duration::MAX), i64::MAX);
}

#[test]
fn the_handles_are_small_enough_to_keep_inline() {
    assert!(std::mem::size_of::<EtcdRegistrar>() <= 256);
    assert!(std::mem::size_of::<EtcdMembers>() <= 256);
}

/// The handles go into spawned tasks and shared state.
fn _futures_are_send_and_handles_sync(
    registrar: &mut EtcdRegistrar,
    members: &EtcdMembers,
    hb: &WorkerHeartbeat,
) {
    fn send<T: Send>(_: T) {}
    fn send_sync<T: Send + Sync>() {}
    send(registrar.beat(hb));
    send(registrar.leave());
    send(members.list());
    send(members.remove("w"));
    send_sync::<EtcdRegistrar>();
    send_sync::<EtcdMembers>();
}
