//! The authorization matrix of the shipped policy: every role against every
//! action, shared by the tests of each backend so both are held to one table.

use crate::{Action, Input, Resource};

/// Who asks, in the authorization matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    SuperAdmin,
    AdminOwnGroup,
    AdminOtherGroup,
    Viewer,
    NoRole,
}

pub(crate) const EVERYONE: [Who; 5] = [
    Who::SuperAdmin,
    Who::AdminOwnGroup,
    Who::AdminOtherGroup,
    Who::Viewer,
    Who::NoRole,
];

/// The user is always in `team-a`; what differs is the role and whether
/// the resource belongs to `team-a`.
pub(crate) fn request(who: Who, action: Action) -> Input {
    let (roles, owner): (&[&str], &str) = match who {
        Who::SuperAdmin => (&["super-admin"], "team-b"),
        Who::AdminOwnGroup => (&["admin"], "team-a"),
        Who::AdminOtherGroup => (&["admin"], "team-b"),
        Who::Viewer => (&["viewer"], "team-a"),
        Who::NoRole => (&[], "team-a"),
    };
    Input::new(
        "u",
        vec!["team-a".into(), "ops".into()],
        roles.iter().map(|role| (*role).to_owned()).collect(),
        action,
        Resource::new(action.kind())
            .on_cluster("c1")
            .in_group(owner),
    )
}

/// Columns in the order of `EVERYONE`. The match has no wildcard, so a
/// new action does not compile until it has a row here.
pub(crate) fn expected(action: Action) -> [bool; 5] {
    const READ: [bool; 5] = [true, true, true, true, false];
    const CHANGE: [bool; 5] = [true, true, false, false, false];
    match action {
        Action::FleetRead => READ,
        Action::ClusterRead => READ,
        Action::ClusterCreate => CHANGE,
        Action::ClusterUpdate => CHANGE,
        Action::ClusterDelete => CHANGE,
        Action::OperationRead => READ,
        Action::OperationRun => CHANGE,
        Action::LicenseRead => READ,
        Action::LicenseManage => CHANGE,
        Action::TenantRead => READ,
        Action::TenantCreate => CHANGE,
        Action::TenantUpdate => CHANGE,
        Action::TenantDelete => CHANGE,
        Action::AuditRead => READ,
        Action::PolicyRead => READ,
        Action::PolicySimulate => READ,
        Action::TokenRead => READ,
        // Each manages their own tokens; see the shipped policy.
        Action::TokenManage => READ,
    }
}

/// Every cell of the matrix: who, what, the request, and whether the shipped
/// policy must allow it.
pub(crate) fn cells() -> Vec<(Who, Action, Input, bool)> {
    Action::ALL
        .iter()
        .flat_map(|&action| {
            EVERYONE
                .iter()
                .zip(expected(action))
                .map(move |(&who, allowed)| (who, action, request(who, action), allowed))
        })
        .collect()
}
