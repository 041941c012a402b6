//! Declarative Ringside clusters on one machine: `ringside cluster
//! apply|status|restart|delete -f cluster.yaml`. A spec shaped like the
//! reference's cluster resource ([`spec`]) is checked in full before
//! anything changes; the reconciler ([`reconcile`]) then starts, stops and
//! rolls the coordinator and worker processes ([`process`]) to match it,
//! keeping what it started in a state directory ([`state`]) so the next
//! command finds it again.

pub mod process;
pub mod reconcile;
pub mod spec;
pub mod state;

pub use reconcile::{Changes, Cluster, LifecycleError, Observer, ProcessStatus, StatusReport};
pub use spec::{Spec, SpecError};
