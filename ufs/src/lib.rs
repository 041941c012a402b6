//! The under file system (UFS) that Ringside workers cache from: the files of a
//! local directory or an S3 bucket, named by Ringside paths such as
//! `/data/train/part-0001.parquet`, read through the `object_store` crate. It
//! answers the three questions a read cache asks of its source: what is this
//! file now (`stat`, whose `version` tells when cached pages went stale), give
//! me these bytes of it (`read_range`), and what is under this directory
//! (`list`, streamed so that a load job can walk millions of files).
//! `open_file` keeps a file open for a run of range reads: locally that is
//! one `pread` per range, into a recycled buffer, instead of object_store's
//! open, `fstat` and fresh zero-filled buffer each time: what a cache miss
//! pays.
//!
//! Paths are checked once, by [`UfsPath::parse`], so that no backend ever sees
//! one that could leave the root. Errors carry a [`UfsError::code`] for metrics
//! and API error bodies. Operations need a Tokio runtime (the S3 client and the
//! local store both run on it).
//!
//! Testing: `cargo test -p ringside-ufs` runs the same conformance suite against
//! a local directory and against a real S3 server, `moto_server`, which the
//! tests start themselves; install it with `pip install "moto[server]"`. The S3
//! test fails, rather than skips, when it is missing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ringside_ufs::UfsError> {
//! use futures::TryStreamExt;
//! use ringside_ufs::{Ufs, UfsOptions, UfsPath};
//!
//! let ufs = Ufs::open("s3://datasets/imagenet", UfsOptions::default())?;
//! let path = UfsPath::parse("/train/part-0001.parquet")?;
//! let status = ufs.stat(&path).await?;
//! let first_page = ufs.read_range(&path, 0..status.size.min(1 << 20)).await?;
//! let mut files = ufs.list(&UfsPath::root(), true);
//! while let Some(entry) = files.try_next().await? {
//!     println!("{}", entry.path());
//! }
//! # Ok(()) }
//! ```

mod buffers;
mod error;
mod file;
mod local;
mod path;
mod s3;
mod ufs;

pub use buffers::BufferPool;
pub use error::UfsError;
pub use file::UfsFile;
pub use path::{MAX_PATH_LEN, UfsPath};
pub use ufs::{Entry, FileStatus, Ufs, UfsOptions};
