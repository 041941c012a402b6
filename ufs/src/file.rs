//! A UFS file opened once for a run of range reads, such as the pages of one
//! client request.
//!
//! For a local root this is the fast path of a cache miss: object_store's
//! `LocalFileSystem` opens and `fstat`s the file again for every range,
//! zero-fills a fresh buffer before reading into it and hops to the blocking
//! pool twice. Here the file stays open and each range is one `pread`
//! straight into a recycled, uninitialised buffer. The answers (bytes and errors) are
//! those of [`Ufs::read_range`], which the conformance tests hold for both.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::buffers::BufferPool;
use crate::error::UfsError;
use crate::local;
use crate::path::UfsPath;
use crate::ufs::Ufs;

/// A file of a [`Ufs`], open for reading ranges; see [`Ufs::open_file`].
///
/// Cheap to clone. A local file is read from the same open file for as long
/// as the handle lives, so a file replaced meanwhile (a new inode under the
/// name) keeps reading as the one that was opened; a file changed in place
/// reads as it is now. An S3 file is read with one ranged GET per range.
#[derive(Clone, Debug)]
pub struct UfsFile {
    path: UfsPath,
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    Local {
        file: Arc<File>,
        buffers: Arc<BufferPool>,
    },
    Remote(Ufs),
}

impl UfsFile {
    pub(crate) async fn open_local(
        path: UfsPath,
        file: PathBuf,
        buffers: Arc<BufferPool>,
    ) -> Result<UfsFile, UfsError> {
        let error_path = path.clone();
        let file = blocking(&path, move || open(&file, &error_path)).await??;
        Ok(UfsFile {
            path,
            source: Source::Local {
                file: Arc::new(file),
                buffers,
            },
        })
    }

    pub(crate) fn remote(ufs: Ufs, path: UfsPath) -> UfsFile {
        UfsFile {
            path,
            source: Source::Remote(ufs),
        }
    }

    /// The path it was opened as.
    pub fn path(&self) -> &UfsPath {
        &self.path
    }

    /// The bytes `range` of the file, with the contract of
    /// [`Ufs::read_range`]: the range must lie within the file, else
    /// [`UfsError::InvalidRange`] gives its size.
    pub async fn read_range(&self, range: Range<u64>) -> Result<Bytes, UfsError> {
        match &self.source {
            Source::Remote(ufs) => ufs.read_range_from_store(&self.path, range).await,
            Source::Local { file, buffers } => {
                tracing::debug!(path = %self.path, start = range.start, end = range.end, "ufs read");
                let (file, buffers, path) = (file.clone(), buffers.clone(), self.path.clone());
                blocking(&self.path, move || {
                    pread_range(&file, &buffers, &path, range)
                })
                .await?
            }
        }
    }
}

/// Runs blocking file work on Tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    path: &UfsPath,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, UfsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| UfsError::Other {
            message: format!("reading {path} was interrupted: {e}"),
        })
}

/// Opens a regular file; a directory is "not found", as object stores have
/// none.
fn open(file: &std::path::Path, path: &UfsPath) -> Result<File, UfsError> {
    let opened = File::open(file).map_err(|e| open_error(e, path))?;
    if opened.metadata().map_err(|e| open_error(e, path))?.is_dir() {
        return Err(UfsError::NotFound { path: path.clone() });
    }
    Ok(opened)
}

fn open_error(e: io::Error, path: &UfsPath) -> UfsError {
    match e.kind() {
        // "/a.txt/b" when a.txt is a file: nothing there either.
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            UfsError::NotFound { path: path.clone() }
        }
        _ => local::io_error(e, path),
    }
}

fn current_size(file: &File, path: &UfsPath) -> Result<u64, UfsError> {
    Ok(file.metadata().map_err(|e| local::io_error(e, path))?.len())
}

fn pread_range(
    file: &File,
    buffers: &Arc<BufferPool>,
    path: &UfsPath,
    range: Range<u64>,
) -> Result<Bytes, UfsError> {
    let out_of_range = |size: u64| UfsError::InvalidRange {
        path: path.clone(),
        start: range.start,
        end: range.end,
        size,
    };
    // Checked before allocating, since a range past the end may be absurdly
    // long; the size is looked up afresh because the file may have grown.
    let size = current_size(file, path)?;
    if range.start > range.end || range.end > size {
        return Err(out_of_range(size));
    }
    let want = usize::try_from(range.end - range.start).map_err(|_| UfsError::Other {
        message: format!("a range of {path} too long to hold in memory: {range:?}"),
    })?;
    // Over what a pooled buffer holds: no zero-filling first.
    let mut buf = buffers.take(want);
    let mut filled = 0;
    while filled < want {
        let offset = range.start + filled as u64;
        match rustix::io::pread(file, &mut buf[filled..], offset) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(local::io_error(e.into(), path)),
        }
    }
    buf.truncate(filled);
    if buf.len() < want {
        // Cut short since the size check: truncated while being read.
        let size = current_size(file, path)?;
        if range.end > size {
            return Err(out_of_range(size));
        }
        return Err(UfsError::Other {
            message: format!(
                "short read of {path}: got {} of {want} bytes; the file changed while being \
                 read, retry",
                buf.len()
            ),
        });
    }
    Ok(buffers.share(buf))
}
