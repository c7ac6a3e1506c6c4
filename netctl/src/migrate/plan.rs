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

/// What must hold before a step counts as done, beyond the acknowledgement
/// of its actions (each process commits before it answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The directory served by `at` holds no live entry of `post_office`.
    DirectoryHoldsNone { at: Target, post_office: Name },
    /// The directory served by `at` holds every live user the post office
    /// owns (as its own requestor lists them), and no other of its entries.
    DirectoryHoldsAll { at: Target, post_office: Name },
    /// The site directory `at` holds none of the post office's users in
    /// `folder`.
    FolderHoldsNone {
        at: Target,
        folder: Name,
        post_office: Name,
    },
}

/// How a migration moves a post office's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Steps A-G exactly as the patent describes them: the old network loses
    /// sight of the users between steps C and G.
    Patent,
    /// Step B hands the users to the bridge instead of steps C and D deleting
    /// them; the bridge replaces its F1 copies once the post office's own
    /// folder holds them. No post office ever loses sight of a user.
    Handover,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Patent => f.write_str("patent"),
            Method::Handover => f.write_str("handover"),
        }
    }
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

/// The steps a wave of `method` runs, in order (as [`move_post_office`] and
/// [`handover`] build them).
pub fn step_ids(method: Method) -> Vec<StepId> {
    use StepId::*;
    match method {
        Method::Patent => vec![A, B, C, D, E, F, G],
        Method::Handover => vec![A, B, E, F, G],
    }
}

/// A step's title for an operator following a wave (`netctl watch`, the
/// dashboard, the history): short, naming the post offices and hubs, without
/// the network's other nodes. `step` is "A".."G" or "verify"; `from` are the
/// hubs the post offices leave.
pub fn title(
    step: &str,
    method: Method,
    post_offices: &[String],
    from: &[String],
    to: &str,
) -> String {
    let pos = post_offices.join(" ");
    let mut hubs: Vec<&str> = from.iter().map(String::as_str).collect();
    hubs.sort_unstable();
    hubs.dedup();
    let from = hubs.join("/");
    match (step, method) {
        ("A", _) => format!("mail for {pos} goes to {to}"),
        ("B", Method::Patent) => format!("{from} removes {pos}'s requestor"),
        ("B", Method::Handover) => format!("{from} hands {pos}'s users to the bridge"),
        ("C", _) => format!("{from} deletes {pos}'s users"),
        ("D", _) => format!("the deletes cross the bridge: {to} holds none of {pos}'s users"),
        ("E", _) => format!("{pos}'s requestor points at {to}"),
        ("F", _) if post_offices.len() == 1 => format!("{pos} uploads its users to {to}"),
        ("F", _) => format!("{pos} upload their users to {to}"),
        ("G", Method::Patent) => format!("{pos}'s users cross the bridge back to {from}"),
        ("G", Method::Handover) => {
            format!("the bridge replaces its copies of {pos}'s users and carries them to {from}")
        }
        ("verify", _) => "every GAL complete; a test mail each way".to_owned(),
        (other, _) => format!("step {other}"),
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
    /// All must hold.
    pub checks: Vec<Check>,
}

/// Moves `post_office` from hub `from` to hub `to` (either way between the
/// old and the new hub) through steps A-G of the patent.
pub fn move_post_office(bridge: Name, post_office: Name, from: Name, to: Name) -> Vec<Step> {
    patent(bridge, post_office, from, to)
}

/// The handover method from the old hub `from` to the new hub `to`: the
/// patent's steps A, E and F; B hands ownership to the bridge (its rule: it
/// writes every post office that no live requestor owns), C and D are not
/// needed, and G waits until the bridge's import folder holds no copy of
/// the users and `from` holds them as the post office has them.
pub fn handover(
    bridge: Name,
    import_folder: Name,
    post_office: Name,
    from: Name,
    to: Name,
) -> Vec<Step> {
    let po = post_office;
    let mut steps = patent(bridge, po, from, to);
    steps.retain(|s| !matches!(s.id, StepId::C | StepId::D));
    for step in &mut steps {
        match step.id {
            StepId::B => {
                step.what = format!(
                    "{from} hands {po}'s users to the bridge {bridge}: it removes {po}'s requestor and keeps the entries"
                );
            }
            StepId::G => {
                step.what = format!(
                    "{bridge} replaces its {import_folder} copies of {po}'s users and carries them to {from}"
                );
                step.checks.push(Check::FolderHoldsNone {
                    at: Target::new(bridge, RoleKind::SiteReplicator),
                    folder: import_folder,
                    post_office: po,
                });
            }
            _ => {}
        }
    }
    steps
}

fn patent(bridge: Name, post_office: Name, from: Name, to: Name) -> Vec<Step> {
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
            checks: vec![],
        },
        Step {
            id: StepId::B,
            what: format!("{from} removes {po}'s requestor"),
            actions: vec![Action::RemoveRequestor {
                at: server(from),
                post_office: po,
            }],
            nudges: vec![],
            checks: vec![],
        },
        Step {
            id: StepId::C,
            what: format!("{from} deletes {po}'s users from its directory"),
            actions: vec![Action::PurgePostOffice {
                at: server(from),
                post_office: po,
            }],
            nudges: vec![],
            checks: vec![Check::DirectoryHoldsNone {
                at: server(from),
                post_office: po,
            }],
        },
        Step {
            id: StepId::D,
            what: format!(
                "the deletes cross the bridge {}: {to} holds none of {po}'s users",
                bridge
            ),
            actions: sync_bridge.clone(),
            nudges: sync_bridge.clone(),
            checks: vec![Check::DirectoryHoldsNone {
                at: server(to),
                post_office: po,
            }],
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
            checks: vec![],
        },
        Step {
            id: StepId::F,
            what: format!("{po} uploads its users to {to}"),
            actions: vec![Action::SyncNow { at: requestor(po) }],
            nudges: vec![Action::SyncNow { at: requestor(po) }],
            checks: vec![Check::DirectoryHoldsAll {
                at: server(to),
                post_office: po,
            }],
        },
        Step {
            id: StepId::G,
            what: format!("{po}'s users cross the bridge {} back to {from}", bridge),
            actions: sync_bridge.clone(),
            nudges: sync_bridge,
            checks: vec![Check::DirectoryHoldsAll {
                at: server(from),
                post_office: po,
            }],
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
            steps[6].checks,
            [Check::DirectoryHoldsAll {
                at: Target::new(n("H2"), RoleKind::DsServer),
                post_office: n("POC")
            }]
        );
    }

    #[test]
    fn step_ids_are_the_plans_own() {
        for method in [Method::Patent, Method::Handover] {
            let steps = match method {
                Method::Patent => move_post_office(n("H3"), n("POC"), n("H"), n("H2")),
                Method::Handover => handover(n("H3"), n("F1"), n("POC"), n("H"), n("H2")),
            };
            let ids: Vec<StepId> = steps.iter().map(|s| s.id).collect();
            assert_eq!(step_ids(method), ids);
        }
    }

    #[test]
    fn a_handover_deletes_nothing_and_waits_for_the_bridge_copies_to_go() {
        let steps = handover(n("H3"), n("F1"), n("POC"), n("H"), n("H2"));
        let ids: Vec<StepId> = steps.iter().map(|s| s.id).collect();
        use StepId::*;
        assert_eq!(ids, [A, B, E, F, G]);
        assert!(
            steps
                .iter()
                .flat_map(|s| &s.actions)
                .all(|a| !matches!(a, Action::PurgePostOffice { .. }))
        );
        assert!(steps[4].checks.contains(&Check::FolderHoldsNone {
            at: Target::new(n("H3"), RoleKind::SiteReplicator),
            folder: n("F1"),
            post_office: n("POC")
        }));
    }
}
