//! The store's directory and the file operations on it. Everything is
//! addressed relative to one open directory handle with names built on the
//! stack ([`RelPath`]), so a read costs an `openat`, two or three `pread`s
//! and a `close`, and allocates only the page buffer.

use std::fs::{self, File, TryLockError};
use std::io::{self, IoSliceMut, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::ReadWriteFlags;

use crate::error::PageStoreError;
use crate::format::{
    self, DecodeError, FORMAT_VERSION, HEADER_LEN, LOCK_FILE, MARKER_FILE, META_DIR, PAGES_DIR,
    PageHeader, RelPath, TMP_DIR,
};
use crate::store::PageSource;

/// What reading a page found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// The payload is in the buffer and its checksum holds.
    Hit(PageSource),
    /// No file under the page's name.
    Missing,
    /// The file is damaged; `inode` identifies the file that was read, so it
    /// is not mistaken for a fresh copy written since.
    Corrupt {
        inode: FileIdentity,
        reason: &'static str,
    },
    /// Only from [`Wait::No`]: the read would have waited for the disk, or
    /// found the file missing or damaged (which the caller sorts out with a
    /// read that may wait). `on_disk`: the header or the payload would have
    /// waited for the disk, which that read may no longer tell, since asking
    /// for it (even with `RWF_NOWAIT`) may have set the kernel reading it.
    WouldWait { on_disk: bool },
}

/// Whether a page read may wait for the disk. One that may not is done
/// where a thread must not block (an async runtime's): it opens the file
/// only if the kernel's name cache resolves it (`RESOLVE_CACHED`) and reads
/// only what the OS page cache holds (`RWF_NOWAIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    Yes,
    No,
}

/// Reads a page file's header only if the OS page cache holds it
/// (`RWF_NOWAIT`): `Some(OsCache)` with `raw` filled, `Some(Disk)` when the
/// read would have waited for the disk, `None` when the kernel cannot tell
/// (the caller then reads the header as usual and assumes memory).
fn header_source(file: &File, raw: &mut [u8; HEADER_LEN]) -> Option<PageSource> {
    match rustix::io::preadv2(file, &mut [IoSliceMut::new(raw)], 0, ReadWriteFlags::NOWAIT) {
        Ok(HEADER_LEN) => Some(PageSource::OsCache),
        Err(rustix::io::Errno::AGAIN) => Some(PageSource::Disk),
        Ok(_) | Err(_) => None,
    }
}

/// Tells one file from another under the same name: the inode number, and
/// the modification time in case the file system hands a freed inode number
/// straight to the next new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    ino: u64,
    mtime: (i64, u64),
}

impl FileIdentity {
    // The field types differ between targets (and are already 64-bit on
    // some), hence the casts.
    #[allow(clippy::unnecessary_cast)]
    fn of(stat: &rustix::fs::Stat) -> FileIdentity {
        FileIdentity {
            ino: stat.st_ino as u64,
            mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as u64),
        }
    }
}

pub(crate) struct Disk {
    dir: PathBuf,
    root: OwnedFd,
    /// Held (with its flock) for as long as the store is open.
    _lock: File,
    next_temp: AtomicU64,
    sync: bool,
    /// Whether page files are opened with `O_NOATIME`, until the kernel
    /// refuses it.
    noatime: AtomicBool,
    /// Test seam: this many coming temp-file writes fail with ENOSPC.
    #[cfg(test)]
    pub fail_writes: std::sync::atomic::AtomicU32,
}

impl Disk {
    /// Opens (creating when needed) the store directory, checks its format
    /// marker and takes its lock.
    pub fn open(dir: &Path, sync: bool) -> Result<Disk, PageStoreError> {
        fs::create_dir_all(dir)
            .map_err(|e| PageStoreError::io("create the page store directory", dir, e))?;
        let marker_path = dir.join(MARKER_FILE);
        let has_marker = match fs::read(&marker_path) {
            Ok(text) => match format::parse_marker(&text) {
                Ok(version) if version == u32::from(FORMAT_VERSION) => true,
                Ok(found) => {
                    return Err(PageStoreError::UnsupportedFormat {
                        path: marker_path,
                        found,
                        supported: u32::from(FORMAT_VERSION),
                    });
                }
                Err(_) => {
                    return Err(PageStoreError::NotAPageStore {
                        dir: dir.to_path_buf(),
                        found: format!("a {MARKER_FILE} file that is not a page store marker"),
                    });
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(PageStoreError::io("read", marker_path, e)),
        };
        if !has_marker {
            // Our own subdirectories without a marker mean someone else's
            // data, or a store whose marker was lost: either way not ours to
            // delete from.
            for sub in [PAGES_DIR, META_DIR] {
                if dir.join(sub).exists() {
                    return Err(PageStoreError::NotAPageStore {
                        dir: dir.to_path_buf(),
                        found: format!("a {sub} directory"),
                    });
                }
            }
        }

        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| PageStoreError::io("open the lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(PageStoreError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(PageStoreError::io("lock", lock_path, e));
            }
        }

        let root = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| PageStoreError::io("open", dir, e.into()))?;
        let disk = Disk {
            dir: dir.to_path_buf(),
            root,
            _lock: lock,
            next_temp: AtomicU64::new(0),
            sync,
            noatime: AtomicBool::new(true),
            #[cfg(test)]
            fail_writes: std::sync::atomic::AtomicU32::new(0),
        };

        let tmp = dir.join(TMP_DIR);
        fs::create_dir_all(&tmp).map_err(|e| PageStoreError::io("create directory", tmp, e))?;
        if !has_marker {
            // Before the page and meta directories, so that a crash in
            // between leaves a directory the next open completes rather than
            // one it refuses as foreign.
            disk.write_marker()
                .map_err(|e| PageStoreError::io("write", &marker_path, e))?;
        }
        for shard in 0..format::SHARDS {
            for sub in [PAGES_DIR, META_DIR] {
                let path = dir.join(sub).join(format::shard_name(shard));
                fs::create_dir_all(&path)
                    .map_err(|e| PageStoreError::io("create directory", path, e))?;
            }
        }
        Ok(disk)
    }

    fn write_marker(&self) -> io::Result<()> {
        let temp = self.write_temp(&[format::marker_text().as_bytes()])?;
        rustix::fs::renameat(&self.root, temp.as_cstr(), &self.root, MARKER_FILE)?;
        rustix::fs::fsync(&self.root)?;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The absolute path of `rel`, for messages.
    pub fn path_of(&self, rel: &RelPath) -> PathBuf {
        self.dir.join(rel.as_str())
    }

    /// Opens a page file for reading, `Wait::No` only if the kernel's name
    /// cache resolves it. Without updating its access time where the store's
    /// user owns its files (`O_NOATIME`): that would dirty the inode on the
    /// first read of every page, and on ext4 can wait for the journal.
    fn open_page(&self, rel: &RelPath, wait: Wait) -> rustix::io::Result<OwnedFd> {
        loop {
            let noatime = self.noatime.load(Ordering::Relaxed);
            let mut flags = OFlags::RDONLY | OFlags::CLOEXEC;
            if noatime {
                flags |= OFlags::NOATIME;
            }
            let (path, mode) = (rel.as_cstr(), Mode::empty());
            let opened = match wait {
                Wait::Yes => rustix::fs::openat(&self.root, path, flags, mode),
                Wait::No => {
                    rustix::fs::openat2(&self.root, path, flags, mode, ResolveFlags::CACHED)
                }
            };
            match opened {
                // Files of another owner: read them as they come.
                Err(rustix::io::Errno::PERM) if noatime => {
                    self.noatime.store(false, Ordering::Relaxed);
                }
                opened => return opened,
            }
        }
    }

    /// Reads the page stored under `rel` into `buf` and checks that it is
    /// page `index` of file `id`, `len` bytes long, with a valid checksum.
    /// On a hit `buf` holds exactly the payload; otherwise its contents are
    /// unspecified.
    pub fn read_page(
        &self,
        rel: &RelPath,
        id: u128,
        index: u32,
        len: u32,
        buf: &mut Vec<u8>,
        wait: Wait,
    ) -> io::Result<ReadOutcome> {
        let fd = match self.open_page(rel, wait) {
            Ok(fd) => fd,
            Err(_) if wait == Wait::No => {
                return Ok(ReadOutcome::WouldWait { on_disk: false });
            }
            Err(rustix::io::Errno::NOENT) => return Ok(ReadOutcome::Missing),
            Err(e) => return Err(e.into()),
        };
        let file = File::from(fd);
        let corrupt = |file: &File, reason| -> io::Result<ReadOutcome> {
            if wait == Wait::No {
                return Ok(ReadOutcome::WouldWait { on_disk: false });
            }
            let inode = FileIdentity::of(&rustix::fs::fstat(file)?);
            Ok(ReadOutcome::Corrupt { inode, reason })
        };
        let mut raw = [0u8; HEADER_LEN];
        let source = header_source(&file, &mut raw);
        if wait == Wait::No && source != Some(PageSource::OsCache) {
            return Ok(ReadOutcome::WouldWait {
                on_disk: source == Some(PageSource::Disk),
            });
        }
        if source != Some(PageSource::OsCache) {
            match file.read_exact_at(&mut raw, 0) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return corrupt(&file, "page is shorter than its header");
                }
                Err(e) => return Err(e),
            }
        }
        let header = match PageHeader::decode(&raw) {
            Ok(header) => header,
            Err(DecodeError::Invalid(reason)) => return corrupt(&file, reason),
            Err(DecodeError::UnknownVersion(_)) => {
                return corrupt(&file, "page header has an unknown format version");
            }
        };
        if header.file_id != id
            || header.index != u64::from(index)
            || header.payload_len != u64::from(len)
        {
            return corrupt(&file, "page header does not match the page it is stored as");
        }
        match wait {
            Wait::Yes => {
                buf.clear();
                buf.reserve_exact(len as usize);
                // Straight into the spare capacity: no zeroing first, and one
                // syscall for the whole page where std's read_to_end would
                // probe with growing chunks.
                // A valid page ends at the payload, so filling more than `len`
                // (a reused buffer may have room) only happens to a damaged
                // page, which the length check below then rejects.
                while buf.len() < len as usize {
                    let at = (HEADER_LEN + buf.len()) as u64;
                    match rustix::io::pread(&file, rustix::buffer::spare_capacity(buf), at) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Wait::No => {
                // `RWF_NOWAIT` reads need initialized memory: the bytes a
                // pooled buffer already holds, so nothing is zeroed here
                // either. Exactly `len` of them, so bytes past the payload go
                // unseen; the checksum still vouches for what is served, and
                // a read that may wait reports such a file.
                buf.resize(len as usize, 0);
                let mut filled = 0;
                while filled < buf.len() {
                    let at = (HEADER_LEN + filled) as u64;
                    let rest = &mut [IoSliceMut::new(&mut buf[filled..])];
                    match rustix::io::preadv2(&file, rest, at, ReadWriteFlags::NOWAIT) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(rustix::io::Errno::INTR) => {}
                        Err(e) => {
                            return Ok(ReadOutcome::WouldWait {
                                on_disk: e == rustix::io::Errno::AGAIN,
                            });
                        }
                    }
                }
                buf.truncate(filled);
            }
        }
        if !header.matches(buf) {
            buf.clear();
            return corrupt(&file, "page checksum mismatch");
        }
        Ok(ReadOutcome::Hit(source.unwrap_or(PageSource::OsCache)))
    }

    /// Writes `chunks` to a new temporary file and flushes it to disk.
    /// Returns the temporary file's name, for [`Disk::install`].
    pub fn write_temp(&self, chunks: &[&[u8]]) -> io::Result<RelPath> {
        self.create_temp(chunks, self.sync)
    }

    /// Like [`Disk::write_temp`], without the flush: the caller flushes a
    /// whole batch with [`Disk::sync_filesystem`] before installing any.
    pub fn write_temp_unsynced(&self, chunks: &[&[u8]]) -> io::Result<RelPath> {
        self.create_temp(chunks, false)
    }

    /// Flushes everything written to the store's filesystem: one flush for
    /// a batch of temporary files, where flushing each costs one apiece.
    pub fn sync_filesystem(&self) -> io::Result<()> {
        if self.sync {
            rustix::fs::syncfs(&self.root)?;
        }
        Ok(())
    }

    fn create_temp(&self, chunks: &[&[u8]], sync: bool) -> io::Result<RelPath> {
        let (temp, fd) = loop {
            let temp = RelPath::temp(self.next_temp.fetch_add(1, Ordering::Relaxed));
            match rustix::fs::openat(
                &self.root,
                temp.as_cstr(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            ) {
                Ok(fd) => break (temp, fd),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut file = File::from(fd);
        let written = (|| {
            #[cfg(test)]
            if self
                .fail_writes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(io::Error::from_raw_os_error(28));
            }
            for chunk in chunks {
                file.write_all(chunk)?;
            }
            // The data must be on disk before the rename makes it visible
            // under its final name, or a crash could leave a page whose
            // name promises content that never reached the disk.
            if sync { file.sync_data() } else { Ok(()) }
        })();
        drop(file);
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                let _ = self.remove(&temp);
                Err(e)
            }
        }
    }

    /// Renames a temporary file to its final name, atomically replacing any
    /// file there. The temporary file is removed if that fails.
    pub fn install(&self, temp: &RelPath, dest: &RelPath) -> io::Result<()> {
        let renamed = rustix::fs::renameat(&self.root, temp.as_cstr(), &self.root, dest.as_cstr());
        if let Err(e) = renamed {
            let _ = self.remove(temp);
            return Err(e.into());
        }
        Ok(())
    }

    /// Deletes a file; one already gone is fine.
    pub fn remove(&self, rel: &RelPath) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.root, rel.as_cstr(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Which file is under `rel` now, or `None` when there is none.
    pub fn inode(&self, rel: &RelPath) -> io::Result<Option<FileIdentity>> {
        match rustix::fs::statat(&self.root, rel.as_cstr(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileIdentity::of(&stat))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Flushes a directory, making renames into it durable.
    pub fn sync_dir(&self, rel: &RelPath) -> io::Result<()> {
        if !self.sync {
            return Ok(());
        }
        let fd = rustix::fs::openat(
            &self.root,
            rel.as_cstr(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::fsync(&fd)?;
        Ok(())
    }

    /// Bytes an unprivileged process can still allocate on the store's disk.
    pub fn free_bytes(&self) -> io::Result<u64> {
        let stat = rustix::fs::fstatvfs(&self.root)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_and_future_directories() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("pages")).unwrap();
        let error = Disk::open(dir.path(), true).err().unwrap();
        assert!(
            matches!(error, PageStoreError::NotAPageStore { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("it has a pages directory but no ringside-pagestore marker")
        );

        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(MARKER_FILE),
            "ringside page store\nformat 2\n",
        )
        .unwrap();
        let error = Disk::open(dir.path(), true).err().unwrap();
        assert!(
            matches!(
                error,
                PageStoreError::UnsupportedFormat {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{error}"
        );
        assert!(dir.path().join(MARKER_FILE).exists());
    }

    #[test]
    fn second_open_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let first = Disk::open(dir.path(), true).unwrap();
        let error = Disk::open(dir.path(), true).err().unwrap();
        assert!(matches!(error, PageStoreError::Locked { .. }), "{error}");
        drop(first);
        assert!(Disk::open(dir.path(), true).is_ok());
    }

    #[test]
    fn pages_round_trip_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path(), true).unwrap();
        let rel = RelPath::page(42, 3);
        let header = PageHeader::for_payload(42, 3, b"payload");
        let temp = disk.write_temp(&[&header.encode(), b"payload"]).unwrap();
        disk.install(&temp, &rel).unwrap();
        let mut buf = Vec::new();
        assert_eq!(
            disk.read_page(&rel, 42, 3, 7, &mut buf, Wait::Yes).unwrap(),
            ReadOutcome::Hit(PageSource::OsCache)
        );
        assert_eq!(buf, b"payload");
        assert!(matches!(
            disk.read_page(&rel, 42, 4, 7, &mut buf, Wait::Yes).unwrap(),
            ReadOutcome::Corrupt { .. }
        ));
        assert_eq!(
            disk.read_page(&RelPath::page(42, 4), 42, 4, 7, &mut buf, Wait::Yes)
                .unwrap(),
            ReadOutcome::Missing
        );
        let path = disk.path_of(&rel);
        let mut bytes = fs::read(&path).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        fs::write(&path, &bytes).unwrap();
        let inode = disk.inode(&rel).unwrap().unwrap();
        assert_eq!(
            disk.read_page(&rel, 42, 3, 7, &mut buf, Wait::Yes).unwrap(),
            ReadOutcome::Corrupt {
                inode,
                reason: "page checksum mismatch"
            }
        );
        assert!(buf.is_empty());
        fs::write(&path, &bytes[..10]).unwrap();
        assert!(matches!(
            disk.read_page(&rel, 42, 3, 7, &mut buf, Wait::Yes).unwrap(),
            ReadOutcome::Corrupt {
                reason: "page is shorter than its header",
                ..
            }
        ));
        disk.remove(&rel).unwrap();
        disk.remove(&rel).unwrap();
        assert_eq!(disk.inode(&rel).unwrap(), None);
        assert!(disk.free_bytes().unwrap() > 0);
        disk.sync_dir(&RelPath::meta_dir(0)).unwrap();
    }
}
