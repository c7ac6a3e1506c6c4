//! The migration plan as data: which step does what to which process, and
//! what must be observed before the next step may start. No I/O here: the
//! executor ([`super::run`]) performs the actions and polls the checks.

use serde::{Deserialize, Serialize};
use wire_format::Name;

use crate::topology::RoleKind;

/// A process of the network, by node and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub node: Name,
    pub role: RoleKind,
}

impl Target {
    pub fn new(node: Name, role: RoleKind) -> Target {
        Target { node, role }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.node, self.role)
    }
}

/// One administration request. Every action is idempotent, so a resumed
/// migration may repeat the step it was interrupted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Mail for `post_office` leaves `at` towards `next_hop` (on the post
    /// office's own router: its hub becomes `next_hop`).
    SetRoute {
        at: Target,
        post_office: Name,
        next_hop: Name,
    },
    /// Patent step B: the server forgets the requestor.
    RemoveRequestor { at: Target, post_office: Name },
    /// Patent step C: every entry of the post office leaves the server.
    PurgePostOffice { at: Target, post_office: Name },
    /// Undoes an earlier step B at this server (a post office coming back):
    /// its requestor is accepted and owns its users there again.
    RestoreRequestor { at: Target, post_office: Name },
    /// Patent step E: the requestor syncs with `server` from now on.
    Repoint { at: Target, server: Target },
    /// Run a sync cycle now (answered when it has finished).
    SyncNow { at: Target },
}

/// What must hold before a step counts as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The action's acknowledgement is the proof (it is committed before the
    /// process answers).
    Acknowledged,
    /// The directory served by `at` holds no live entry of `post_office`.
    DirectoryHoldsNone { at: Target, post_office: Name },
    /// The directory served by `at` holds every live user the post office
    /// owns (as its own requestor lists them), and no other of its entries.
    DirectoryHoldsAll { at: Target, post_office: Name },
}

/// The patent's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StepId {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: StepId,
    pub what: String,
    pub actions: Vec<Action>,
    /// Actions repeated while waiting for the check (a sync cycle that ran
    /// before the change it should carry is simply run again).
    pub nudges: Vec<Action>,
    pub check: Check,
}

/// Moves `post_office` from hub `from` to hub `to` (either way between the
/// old and the new hub) through steps A-G of the patent.
pub fn move_post_office(bridge: Name, post_office: Name, from: Name, to: Name) -> Vec<Step> {
    let router = |n: Name| Target::new(n, RoleKind::MailRouter);
    let server = |n: Name| Target::new(n, RoleKind::DsServer);
    let requestor = |n: Name| Target::new(n, RoleKind::DsRequestor);
    let bridge_requestor = requestor(bridge);
    let po = post_office;
    let sync_bridge = vec![Action::SyncNow {
        at: bridge_requestor,
    }];
    vec![
        Step {
            id: StepId::A,
            what: format!(
                "mail for {po} goes to {to}; {from} reaches {po} through {}",
                bridge
            ),
            // Receiving side first, so every hop already knows the way when
            // the previous one starts sending: no mail bounces in between.
            actions: vec![
                Action::SetRoute {
                    at: router(to),
                    post_office: po,
                    next_hop: po,
                },
                Action::SetRoute {
                    at: router(bridge),
                    post_office: po,
                    next_hop: to,
                },
                Action::SetRoute {
                    at: router(from),
                    post_office: po,
                    next_hop: bridge,
                },
                Action::SetRoute {
                    at: router(po),
                    post_office: po,
                    next_hop: to,
                },
            ],
            nudges: vec![],
            check: Check::Acknowledged,
        },
        Step {
            id: StepId::B,
            what: format!("{from} removes {po}'s requestor"),
            actions: vec![Action::RemoveRequestor {
                at: server(from),
                post_office: po,
            }],
            nudges: vec![],
            check: Check::Acknowledged,
        },
        Step {
            id: StepId::C,
            what: format!("{from} deletes {po}'s users from its directory"),
            actions: vec![Action::PurgePostOffice {
                at: server(from),
                post_office: po,
            }],
            nudges: vec![],
            check: Check::DirectoryHoldsNone {
                at: server(from),
                post_office: po,
            },
        },
        Step {
            id: StepId::D,
            what: format!(
                "the deletes cross the bridge {}: {to} holds none of {po}'s users",
                bridge
            ),
            actions: sync_bridge.clone(),
            nudges: sync_bridge.clone(),
            check: Check::DirectoryHoldsNone {
                at: server(to),
                post_office: po,
            },
        },
        Step {
            id: StepId::E,
            what: format!("{po}'s requestor points at {to}"),
            actions: vec![
                Action::RestoreRequestor {
                    at: server(to),
                    post_office: po,
                },
                Action::Repoint {
                    at: requestor(po),
                    server: server(to),
                },
            ],
            nudges: vec![],
            check: Check::Acknowledged,
        },
        Step {
            id: StepId::F,
            what: format!("{po} uploads its users to {to}"),
            actions: vec![Action::SyncNow { at: requestor(po) }],
            nudges: vec![Action::SyncNow { at: requestor(po) }],
            check: Check::DirectoryHoldsAll {
                at: server(to),
                post_office: po,
            },
        },
        Step {
            id: StepId::G,
            what: format!("{po}'s users cross the bridge {} back to {from}", bridge),
            actions: sync_bridge.clone(),
            nudges: sync_bridge,
            check: Check::DirectoryHoldsAll {
                at: server(from),
                post_office: po,
            },
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn the_patent_order_of_steps() {
        let steps = move_post_office(n("H3"), n("POC"), n("H"), n("H2"));
        let ids: Vec<StepId> = steps.iter().map(|s| s.id).collect();
        use StepId::*;
        assert_eq!(ids, [A, B, C, D, E, F, G]);
    }

    #[test]
    fn routes_change_from_the_receiving_end() {
        let steps = move_post_office(n("H3"), n("POC"), n("H"), n("H2"));
        let hops: Vec<(String, String)> = steps[0]
            .actions
            .iter()
            .map(|a| match a {
                Action::SetRoute { at, next_hop, .. } => {
                    (at.node.to_string(), next_hop.to_string())
                }
                other => panic!("step A does {other:?}"),
            })
            .collect();
        let expect = [("H2", "POC"), ("H3", "H2"), ("H", "H3"), ("POC", "H2")];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(hops, expect);
    }

    #[test]
    fn a_rollback_is_the_same_steps_the_other_way() {
        let steps = move_post_office(n("H3"), n("POC"), n("H2"), n("H"));
        assert_eq!(
            steps[1].actions,
            [Action::RemoveRequestor {
                at: Target::new(n("H2"), RoleKind::DsServer),
                post_office: n("POC")
            }]
        );
        assert_eq!(
            steps[4].actions,
            [
                Action::RestoreRequestor {
                    at: Target::new(n("H"), RoleKind::DsServer),
                    post_office: n("POC")
                },
                Action::Repoint {
                    at: Target::new(n("POC"), RoleKind::DsRequestor),
                    server: Target::new(n("H"), RoleKind::DsServer)
                }
            ]
        );
        assert_eq!(
            steps[6].check,
            Check::DirectoryHoldsAll {
                at: Target::new(n("H2"), RoleKind::DsServer),
                post_office: n("POC")
            }
        );
    }
}
