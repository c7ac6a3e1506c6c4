//! The summary of `netctl status`: one row per process and one per link,
//! worst first, computed from the reports alone (no I/O, the time given),
//! so the human form, `--json`'s `"summary"` and the dashboard share it.
//!
//! Use: [`summarize`] (everything), [`processes`] or [`links`] (one list),
//! [`Summary::errors_only`] (what is wrong). A status key a process does
//! not report (an older build, a store it cannot read) is unknown: `None`
//! here, `-` in the human form, `null` in JSON.

use serde::Serialize;
use wire_format::Health;

use super::keys::Keys;
use super::{Report, Reports};
use crate::state::NetworkState;
use crate::topology::RoleKind;

mod links;

pub use links::links;

/// A process's state, worst first (the order rows sort in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessHealth {
    /// Not running, or its status could not be read.
    Down,
    /// Running and answering, but part of its work fails (see `reason`).
    Degraded,
    Up,
}

/// A link's state, worst first (the order rows sort in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkHealth {
    /// A process at either end is down: nothing crosses the link.
    Down,
    /// Its last attempts failed (consecutive failures, or a last error).
    Failing,
    /// It works but is behind: changes not yet across, or mail queued.
    Lagging,
    Ok,
}

/// What a link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A DS requestor (`from`) and its DS server (`to`).
    Dirsync,
    /// A site replicator (`from`) pulling from its partner (`to`).
    Replication,
    /// A mail router (`from`) and a next hop it forwards to (`to`).
    Mail,
}

/// One figure that matters for a process's role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The status key it comes from (`entries`, `queue.total`,
    /// `folder.F1.entries`, ...).
    pub key: String,
    pub value: FigureValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FigureValue {
    Count(u64),
    /// A duration in milliseconds (an age).
    Millis(u64),
    Text(String),
    /// The process did not report the key.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessRow {
    /// `NODE.role`.
    pub id: String,
    pub node: String,
    pub role: RoleKind,
    pub pid: u32,
    pub health: ProcessHealth,
    pub figures: Vec<Figure>,
    /// Why it is down or degraded; `None` when up.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkRow {
    pub kind: LinkKind,
    /// The node whose process reports the link.
    pub from: String,
    /// The node at the other end.
    pub to: String,
    pub health: LinkHealth,
    /// Why it is down (which end, and why); `None` otherwise.
    pub down: Option<String>,
    /// Dirsync and replication: nothing left to carry either way.
    pub in_sync: Option<bool>,
    /// Dirsync: the server's updates not yet pulled plus the requestor's
    /// changes not yet acknowledged (the server's part alone while the
    /// requestor cannot say); replication: the partner's log positions not
    /// yet pulled.
    pub lag_changes: Option<u64>,
    /// How long it has been behind (0 when in sync).
    pub lag_seconds: Option<u64>,
    /// Mail: messages queued for this next hop.
    pub queued: Option<u64>,
    /// Mail: the age of the oldest of them.
    pub oldest_age_ms: Option<u64>,
    pub connected: Option<bool>,
    /// Dirsync and replication: the last attempt (epoch milliseconds;
    /// `Some(0)`: never).
    pub last_attempt_ms: Option<u64>,
    /// Epoch milliseconds; `Some(0)`: never. Dirsync: the requestor's
    /// last successful cycle, or while it cannot say, its server's last
    /// pull by it.
    pub last_success_ms: Option<u64>,
    pub consecutive_failures: Option<u64>,
    /// `None`: no error (or not reported).
    pub last_error: Option<String>,
}

/// The counts of the first line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub processes: usize,
    pub up: usize,
    pub degraded: usize,
    pub down: usize,
    pub links: usize,
    /// Links down or failing.
    pub failing: usize,
    pub lagging: usize,
    /// Every mail router's queue together (of those that answered).
    pub mail_queued: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub network: String,
    /// When it was computed (epoch milliseconds): the reference of every age.
    pub now_ms: u64,
    pub totals: Totals,
    /// Worst first: down, degraded, up.
    pub processes: Vec<ProcessRow>,
    /// Worst first: down, failing, lagging, ok.
    pub links: Vec<LinkRow>,
}

impl Summary {
    /// Only what is wrong: processes not up, links down or failing (a
    /// lagging link is on its way, not broken). The totals stay whole.
    pub fn errors_only(&self) -> Summary {
        Summary {
            processes: self
                .processes
                .iter()
                .filter(|p| p.health != ProcessHealth::Up)
                .cloned()
                .collect(),
            links: self
                .links
                .iter()
                .filter(|l| l.health <= LinkHealth::Failing)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }

    /// Nothing down, degraded or failing.
    pub fn all_well(&self) -> bool {
        self.totals.degraded == 0 && self.totals.down == 0 && self.totals.failing == 0
    }
}

/// The whole summary of the network at `now_ms`.
pub fn summarize(state: &NetworkState, reports: &Reports, now_ms: u64) -> Summary {
    let processes = processes(state, reports);
    let links = links(state, reports, now_ms);
    let count_p = |h| processes.iter().filter(|p| p.health == h).count();
    let count_l = |h| links.iter().filter(|l| l.health == h).count();
    let mail_queued = state
        .processes
        .iter()
        .filter(|p| p.role == RoleKind::MailRouter)
        .filter_map(|p| keys(reports, &p.id).and_then(|k| k.count("queue.total")))
        .sum();
    Summary {
        network: state.network.clone(),
        now_ms,
        totals: Totals {
            processes: processes.len(),
            up: count_p(ProcessHealth::Up),
            degraded: count_p(ProcessHealth::Degraded),
            down: count_p(ProcessHealth::Down),
            links: links.len(),
            failing: count_l(LinkHealth::Down) + count_l(LinkHealth::Failing),
            lagging: count_l(LinkHealth::Lagging),
            mail_queued,
        },
        processes,
        links,
    }
}

/// The report of process `id`, if it answered.
fn keys<'a>(reports: &'a Reports, id: &str) -> Option<Keys<'a>> {
    match reports.get(id) {
        Some(Ok(report)) => Some(Keys(&report.items)),
        _ => None,
    }
}

/// One row per process, worst first (the network's order within a state).
pub fn processes(state: &NetworkState, reports: &Reports) -> Vec<ProcessRow> {
    let mut rows: Vec<ProcessRow> = state
        .processes
        .iter()
        .map(|p| {
            let (health, reason, figures) = match reports.get(&p.id) {
                Some(Ok(report)) => {
                    let (health, reason) = match &report.health {
                        Health::Ok => (ProcessHealth::Up, None),
                        Health::Degraded(why) => (ProcessHealth::Degraded, Some(why.clone())),
                    };
                    (health, reason, figures(p.role, report))
                }
                Some(Err(e)) => (ProcessHealth::Down, Some(e.clone()), Vec::new()),
                None => (ProcessHealth::Down, Some("not asked".into()), Vec::new()),
            };
            ProcessRow {
                id: p.id.clone(),
                node: p.node.clone(),
                role: p.role,
                pid: p.pid,
                health,
                figures,
                reason,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.health);
    rows
}

/// The one or two figures that matter for the role: the directory's size,
/// the migration gauge (the import folder, every folder but the post
/// offices' own `FS-*` ones), the mail queue.
fn figures(role: RoleKind, report: &Report) -> Vec<Figure> {
    let k = Keys(&report.items);
    let count = |key: &str| Figure {
        key: key.to_owned(),
        value: k
            .count(key)
            .map_or(FigureValue::Unknown, FigureValue::Count),
    };
    let text = |key: &str| Figure {
        key: key.to_owned(),
        value: k
            .text(key)
            .map_or(FigureValue::Unknown, |t| FigureValue::Text(t.to_owned())),
    };
    match role {
        RoleKind::DsServer => vec![count("entries"), count("high_water")],
        RoleKind::DsRequestor if k.text("mode") == Some("site") => {
            vec![count("entries.imported"), count("entries.exported")]
        }
        RoleKind::DsRequestor => vec![count("entries"), count("pending")],
        RoleKind::SiteReplicator => {
            let mut gauge: Vec<Figure> =
                k.0.iter()
                    .filter(|(key, _)| {
                        key.strip_prefix("folder.")
                            .and_then(|f| f.strip_suffix(".entries"))
                            .is_some_and(|f| !f.starts_with("FS-"))
                    })
                    .map(|(key, _)| count(key))
                    .collect();
            gauge.push(count("usn"));
            gauge
        }
        RoleKind::MailRouter => {
            let mut f = vec![count("queue.total")];
            if let Some(age) = k.count("queue.oldest_age_ms").filter(|a| *a > 0) {
                f.push(Figure {
                    key: "queue.oldest_age_ms".into(),
                    value: FigureValue::Millis(age),
                });
            }
            if k.text("hub").is_some() {
                f.push(text("hub"));
            }
            f
        }
    }
}

#[cfg(test)]
mod tests;
