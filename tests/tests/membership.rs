//! Membership backends end to end: a cluster whose member list lives in a
//! real etcd, and one with a static worker list.

use std::time::Duration;

use reqwest::blocking::Client;
use ringside_api::{WorkerState, WorkerView};
use ringside_tests::{
    Etcd, default_token_file, eventually, free_port, ringside, start_coordinator_with,
    start_worker, start_worker_on,
};

/// The token file the coordinator writes and the workers and the CLI read.
fn token_file(dir: &std::path::Path) -> String {
    default_token_file(dir, &[]).remove(0)
}

fn workers(coordinator: &str) -> Vec<WorkerView> {
    Client::new()
        .get(format!("{coordinator}/api/v1/workers"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn online(coordinator: &str) -> usize {
    workers(coordinator)
        .iter()
        .filter(|w| w.state == WorkerState::Online)
        .count()
}

fn sample(dir: &std::path::Path) -> std::path::PathBuf {
    let ufs = dir.join("ufs");
    std::fs::create_dir_all(ufs.join("d")).unwrap();
    for i in 0..8 {
        std::fs::write(ufs.join(format!("d/f{i}")), vec![i as u8; 1000 + i * 77]).unwrap();
    }
    ufs
}

fn cat_all(properties: &[String], ufs: &std::path::Path) {
    for i in 0..8 {
        let out = ringside(properties)
            .args(["fs", "cat", &format!("/d/f{i}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            std::fs::read(ufs.join(format!("d/f{i}"))).unwrap()
        );
    }
}

#[test]
fn members_in_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::start(dir.path());
    let ufs = sample(dir.path());
    let port = free_port();
    let properties = vec![
        "ringside.cluster.name=etcdc".to_string(),
        token_file(dir.path()),
        format!("ringside.ufs.root={}", ufs.display()),
        format!("ringside.coordinator.address=http://127.0.0.1:{port}"),
        "ringside.worker.membership.manager.type=ETCD".to_string(),
        format!("ringside.etcd.endpoints={}", etcd.url),
        "ringside.worker.heartbeat.interval=300ms".to_string(),
        "ringside.worker.failure.detection.timeout=2s".to_string(),
        "ringside.worker.pagestore.size=16MiB".to_string(),
        "ringside.worker.pagestore.reserved.size=4MiB".to_string(),
    ];
    let coordinator = start_coordinator_with("etcdc", dir.path(), port, &properties);
    let w1 = start_worker("w1", dir.path(), &properties);
    let _w2 = start_worker("w2", dir.path(), &properties);
    assert!(eventually(Duration::from_secs(15), || online(
        &coordinator.url
    ) == 2));
    cat_all(&properties, &ufs);

    let id = workers(&coordinator.url)
        .into_iter()
        .find(|w| w.heartbeat.address == w1.url)
        .unwrap()
        .heartbeat
        .id;
    w1.stop();
    assert!(
        eventually(Duration::from_secs(15), || {
            workers(&coordinator.url)
                .iter()
                .any(|w| w.heartbeat.id == id && w.state == WorkerState::Offline)
        }),
        "a stopped worker's lease expires and it turns OFFLINE"
    );
    cat_all(&properties, &ufs);
    let removed = ringside(&properties)
        .args(["process", "remove-worker", "--name", &id])
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(workers(&coordinator.url).len(), 1);
}

#[test]
fn a_static_worker_list() {
    let dir = tempfile::tempdir().unwrap();
    let ufs = sample(dir.path());
    let port = free_port();
    let listed = [free_port(), free_port()];
    let list = dir.path().join("workers");
    std::fs::write(
        &list,
        format!(
            "# the cluster's workers\n127.0.0.1:{}\n127.0.0.1:{}\n",
            listed[0], listed[1]
        ),
    )
    .unwrap();
    let properties = vec![
        "ringside.cluster.name=staticc".to_string(),
        token_file(dir.path()),
        format!("ringside.ufs.root={}", ufs.display()),
        format!("ringside.coordinator.address=http://127.0.0.1:{port}"),
        "ringside.worker.membership.manager.type=STATIC".to_string(),
        format!(
            "ringside.worker.static.membership.manager.config.file={}",
            list.display()
        ),
        "ringside.worker.heartbeat.interval=300ms".to_string(),
        "ringside.worker.failure.detection.timeout=2s".to_string(),
        "ringside.worker.pagestore.size=16MiB".to_string(),
        "ringside.worker.pagestore.reserved.size=4MiB".to_string(),
    ];
    let coordinator = start_coordinator_with("staticc", dir.path(), port, &properties);
    let mut started = Vec::new();
    for (i, p) in listed.iter().enumerate() {
        started.push(start_worker_on(
            &format!("w{i}"),
            dir.path(),
            &properties,
            *p,
        ));
    }
    let _stranger = start_worker("stranger", dir.path(), &properties);
    assert!(eventually(Duration::from_secs(10), || online(
        &coordinator.url
    ) == 2));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        workers(&coordinator.url).len(),
        2,
        "an unlisted worker is refused"
    );
    let log = std::fs::read_to_string(dir.path().join("worker-stranger.log")).unwrap();
    assert!(log.contains("is not in the static worker list"), "{log}");
    cat_all(&properties, &ufs);

    // In static mode the ring keeps a worker that goes down.
    let ring = |c: &str| -> serde_json::Value {
        Client::new()
            .get(format!("{c}/api/v1/ring"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let before = ring(&coordinator.url);
    started.pop().unwrap().stop();
    assert!(eventually(Duration::from_secs(10), || online(
        &coordinator.url
    ) == 1));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ring(&coordinator.url)["epoch"], before["epoch"]);
    cat_all(&properties, &ufs);
}
