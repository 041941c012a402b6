//! Caching the pages that misses read from the UFS, behind the reads.
//!
//! A miss must cost its reader no more than the UFS read: the page goes into
//! a bounded queue and a small fixed set of threads writes it into the page
//! store (a new file, and with synced writes an `fdatasync`). When the queue
//! is full the page is served but not cached, and
//! `ringside_worker_cache_puts_rejected_total` grows; a later read caches
//! it. This is Alluxio's asynchronous cache put, whose rejections it counts
//! the same way: a cache that falls behind sheds writes, never reads.
//!
//! Jobs write through the same threads but wait for their pages to be
//! stored ([`WriteBehind::write`]) and are never turned away. A writer takes
//! every page queued, up to [`GROUP_PAGES`], and stores them with one flush
//! to disk ([`PageStore::put_pages`]): with synced writes, a group commit.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use prometheus::IntCounter;
use ringside_pagestore::{FileKey, PageStore};
use tokio::sync::oneshot;

/// Most pages one writer stores with one flush.
pub const GROUP_PAGES: usize = 64;

/// The queue and its writer threads; they stop when this is dropped, after
/// writing what is queued.
pub struct WriteBehind {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<PageStore>,
    /// Most payload bytes queued at once; a page is always taken into an
    /// empty queue, so a limit below the page size still caches.
    limit: u64,
    state: Mutex<State>,
    work: Condvar,
    rejected: IntCounter,
    failures: IntCounter,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Put>,
    queued_bytes: u64,
    /// Queued or being written: concurrent misses of one page (many clients
    /// reading one cold file) are written, and counted in the limit, once.
    pending: HashSet<(FileKey, u64)>,
    closed: bool,
}

struct Put {
    key: FileKey,
    index: u64,
    data: Bytes,
    /// Told the outcome once the page is stored; only for [`WriteBehind::write`].
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// What [`WriteBehind::submit`] did with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    Queued,
    /// Already queued or being written.
    AlreadyPending,
    /// The queue was full; the page is not cached.
    Rejected,
}

impl WriteBehind {
    /// Starts `threads` writers; `rejected` counts pages turned away,
    /// `failures` pages the store refused.
    pub fn start(
        store: Arc<PageStore>,
        threads: usize,
        limit: u64,
        rejected: IntCounter,
        failures: IntCounter,
    ) -> std::io::Result<WriteBehind> {
        let writer = WriteBehind::idle(store, limit, rejected, failures);
        for n in 0..threads.max(1) {
            writer.spawn_writer(n)?;
        }
        Ok(writer)
    }

    /// The queue without writers.
    fn idle(
        store: Arc<PageStore>,
        limit: u64,
        rejected: IntCounter,
        failures: IntCounter,
    ) -> WriteBehind {
        WriteBehind {
            shared: Arc::new(Shared {
                store,
                limit,
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                rejected,
                failures,
            }),
        }
    }

    fn spawn_writer(&self, n: usize) -> std::io::Result<()> {
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name(format!("page-writer-{n}"))
            .spawn(move || shared.run())?;
        Ok(())
    }

    /// Queues page `index` of `key` for caching, unless the queue is full.
    pub fn submit(&self, key: FileKey, index: u64, data: Bytes) -> Submitted {
        let shared = &self.shared;
        let len = data.len() as u64;
        let mut state = shared.lock();
        let pending = (key, index);
        if state.pending.contains(&pending) {
            return Submitted::AlreadyPending;
        }
        if !state.queue.is_empty() && state.queued_bytes + len > shared.limit {
            drop(state);
            shared.rejected.inc();
            tracing::debug!(
                path = pending.0.path(),
                index,
                "write-behind queue full; page not cached"
            );
            return Submitted::Rejected;
        }
        let (key, index) = pending;
        state.pending.insert((key.clone(), index));
        state.queued_bytes += len;
        state.queue.push_back(Put {
            key,
            index,
            data,
            done: None,
        });
        drop(state);
        shared.work.notify_one();
        Submitted::Queued
    }

    /// Stores page `index` of `key` and returns once it is in the store (or
    /// why not). It waits its turn rather than being turned away, and its
    /// bytes do not count against the queue's limit: the job that writes
    /// bounds how much it has in flight.
    pub async fn write(&self, key: FileKey, index: u64, data: Bytes) -> Result<(), String> {
        let (done, outcome) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if state.closed {
                return Err("the worker is shutting down".into());
            }
            state.queue.push_back(Put {
                key,
                index,
                data,
                done: Some(done),
            });
        }
        self.shared.work.notify_one();
        outcome
            .await
            .unwrap_or_else(|_| Err("the page writer stopped".into()))
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

impl std::fmt::Debug for WriteBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("WriteBehind")
            .field("queued", &state.queue.len())
            .field("queued_bytes", &state.queued_bytes)
            .field("limit", &self.shared.limit)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (no step leaves it
        // half-changed), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        loop {
            let group: Vec<Put> = {
                let mut state = self.lock();
                loop {
                    if !state.queue.is_empty() {
                        let n = state.queue.len().min(GROUP_PAGES);
                        let group: Vec<Put> = state.queue.drain(..n).collect();
                        let queued: u64 = group
                            .iter()
                            .filter(|p| p.done.is_none())
                            .map(|p| p.data.len() as u64)
                            .sum();
                        state.queued_bytes -= queued;
                        break group;
                    }
                    if state.closed {
                        return;
                    }
                    state = self
                        .work
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let pages: Vec<(&FileKey, u64, &[u8])> = group
                .iter()
                .map(|p| (&p.key, p.index, p.data.as_ref()))
                .collect();
            let results = self.store.put_pages(&pages);
            let mut state = self.lock();
            for (put, result) in group.into_iter().zip(results) {
                if let Err(error) = &result {
                    self.failures.inc();
                    tracing::debug!(%error, path = put.key.path(), index = put.index, "page not cached");
                }
                match put.done {
                    Some(done) => {
                        let _ = done.send(result.map_err(|e| e.to_string()));
                    }
                    None => {
                        state.pending.remove(&(put.key, put.index));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use ringside_pagestore::Options;

    use super::*;

    const PAGE: u64 = 4096;

    fn store(dir: &std::path::Path) -> Arc<PageStore> {
        let options = Options {
            size: 64 * PAGE,
            reserved_size: 64 * PAGE,
            page_size: PAGE,
            sync_writes: false,
            ..Options::new(dir)
        };
        Arc::new(PageStore::open(options).unwrap())
    }

    fn counter(name: &str) -> IntCounter {
        IntCounter::new(name, name).unwrap()
    }

    fn wait_for(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn queued_pages_are_cached_and_duplicates_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let (rejected, failures) = (counter("r"), counter("f"));
        let writer = WriteBehind::start(
            store.clone(),
            2,
            16 * PAGE,
            rejected.clone(),
            failures.clone(),
        )
        .unwrap();
        let key = FileKey::new("/a", "v1", 4 * PAGE);
        let page = |i: u8| Bytes::from(vec![i; PAGE as usize]);
        for i in 0..4 {
            assert_ne!(
                writer.submit(key.clone(), i, page(i as u8)),
                Submitted::Rejected
            );
        }
        wait_for("four pages", || (0..4).all(|i| store.has_page(&key, i)));
        assert_eq!(store.get_page(&key, 2).unwrap().unwrap(), page(2));
        // Written and no longer pending: a later miss may queue it again,
        // and the store keeps the copy it has.
        wait_for("nothing pending", || {
            writer.shared.lock().pending.is_empty()
        });
        assert_eq!(writer.submit(key.clone(), 0, page(0)), Submitted::Queued);
        assert_eq!((rejected.get(), failures.get()), (0, 0));

        // A page the store refuses (wrong length) counts as a failure.
        writer.submit(key.clone(), 3, Bytes::from_static(b"short"));
        wait_for("the failure", || failures.get() == 1);
    }

    #[test]
    fn a_full_queue_rejects_and_counts_until_the_writers_catch_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let rejected = counter("r");
        let writer = WriteBehind::idle(store.clone(), 2 * PAGE, rejected.clone(), counter("f"));
        let key = FileKey::new("/a", "v1", 8 * PAGE);
        let page = || Bytes::from(vec![7; PAGE as usize]);
        assert_eq!(writer.submit(key.clone(), 0, page()), Submitted::Queued);
        assert_eq!(writer.submit(key.clone(), 1, page()), Submitted::Queued);
        assert_eq!(writer.submit(key.clone(), 2, page()), Submitted::Rejected);
        assert_eq!(
            writer.submit(key.clone(), 0, page()),
            Submitted::AlreadyPending
        );
        assert_eq!(rejected.get(), 1);

        writer.spawn_writer(0).unwrap();
        wait_for("the queued pages", || {
            store.has_page(&key, 0) && store.has_page(&key, 1)
        });
        assert!(!store.has_page(&key, 2));
        wait_for("nothing pending", || {
            writer.shared.lock().pending.is_empty()
        });
        assert_eq!(writer.submit(key.clone(), 2, page()), Submitted::Queued);
        wait_for("the page turned away before", || store.has_page(&key, 2));
        assert_eq!(rejected.get(), 1);
    }

    #[test]
    fn a_page_larger_than_the_limit_is_taken_into_an_empty_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let writer = WriteBehind::start(store.clone(), 1, 0, counter("r"), counter("f")).unwrap();
        let key = FileKey::new("/a", "v1", PAGE);
        assert_eq!(
            writer.submit(key.clone(), 0, Bytes::from(vec![1; PAGE as usize])),
            Submitted::Queued
        );
        wait_for("the page", || store.has_page(&key, 0));
    }

    #[tokio::test]
    async fn acknowledged_writes_are_stored_when_they_return_and_never_turned_away() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let rejected = counter("r");
        // A zero limit turns away every submitted page but the first.
        let writer = Arc::new(
            WriteBehind::start(store.clone(), 2, 0, rejected.clone(), counter("f")).unwrap(),
        );
        let key = FileKey::new("/a", "v1", 8 * PAGE);
        let writes = (0..8).map(|i| {
            let (writer, key) = (writer.clone(), key.clone());
            async move {
                writer
                    .write(key, i, Bytes::from(vec![i as u8; PAGE as usize]))
                    .await
            }
        });
        for result in futures::future::join_all(writes).await {
            result.unwrap();
        }
        assert!((0..8).all(|i| store.has_page(&key, i)));
        assert_eq!(rejected.get(), 0);
        let refused = writer
            .write(key.clone(), 9, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(refused.contains("page 9"), "{refused}");
    }

    #[test]
    fn dropping_writes_what_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let writer =
            WriteBehind::start(store.clone(), 1, 64 * PAGE, counter("r"), counter("f")).unwrap();
        let key = FileKey::new("/a", "v1", 8 * PAGE);
        for i in 0..8 {
            writer.submit(key.clone(), i, Bytes::from(vec![i as u8; PAGE as usize]));
        }
        drop(writer);
        wait_for("every page", || (0..8).all(|i| store.has_page(&key, i)));
    }
}
