//! Errors. Every bad input is reported as one of these, never as a panic:
//! the same code runs inside daemons and in the browser.

use thiserror::Error;

use crate::config::Policy;

/// A property value that is not one of the accepted names.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown {what} {input:?}: expected one of {expected} (case-insensitive)")]
pub struct ParseError {
    pub what: &'static str,
    pub input: String,
    pub expected: String,
}

/// Why a ring could not be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RingError {
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error(
        "maglev_table_size must be a prime number, got {size} (the nearest prime above is {suggestion}; the default is 65537)"
    )]
    MaglevTableNotPrime { size: u32, suggestion: u32 },
    #[error(
        "maglev_table_size {size} is smaller than the {members} workers it must hold; use a prime at least 100 times the worker count"
    )]
    MaglevTableTooSmall { size: u32, members: usize },
    #[error(
        "policy {policy} does not support capacity weighting; use CONSISTENT, KETAMA or MAGLEV with weighting CAPACITY, or the CAPACITY policy"
    )]
    WeightingUnsupported { policy: Policy },
    #[error("capacity weighting needs at least one worker with a capacity above 0 bytes")]
    NoCapacity,
    #[error("worker id must not be empty")]
    EmptyWorkerId,
    #[error("worker {0:?} is listed more than once")]
    DuplicateWorker(String),
    #[error("too many workers: {count} (at most {max})")]
    TooManyWorkers { count: usize, max: usize },
    #[error(
        "the ring would have {points} points, more than the {max} allowed; lower the points per worker"
    )]
    TooManyPoints { points: u64, max: u64 },
    #[error("invalid JUMP slot layout: {0}")]
    InvalidJumpSlots(String),
    /// A ring preview that asks something that cannot be previewed.
    #[error("{0}")]
    Preview(String),
}
