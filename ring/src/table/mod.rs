//! The precomputed lookup structures, one per family of policies.

pub(crate) mod jump;
pub(crate) mod maglev;
pub(crate) mod points;
