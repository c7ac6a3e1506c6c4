//! What the dashboard page shows, computed from what `netctl status` reads:
//! a pure function of the topology, the placement, the processes' reports
//! and the migration, so the picture can be tested without a browser.

use serde::Serialize;
use wire_format::StatusValue;

use crate::commands::status::{Report, Reports};
use crate::topology::{NodeKind, RoleKind, Topology};

/// The whole page's data, served as `/api/state`.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub network: String,
    pub updated_ms: u64,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// The new hub's folders; the import folder (F1) is the migration gauge.
    pub folders: Vec<FolderView>,
    pub queues: Vec<QueueView>,
    pub migration: Option<MigrationView>,
    /// The last finished wave, in a line, when none is running.
    pub last_migration: Option<String>,
    pub history: Vec<EventView>,
    /// Nodes and edges that are not `ok`.
    pub problems: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Unknown,
    Lagging,
    Degraded,
    Failing,
    Down,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub kind: NodeKind,
    /// A post office's hub now (it changes when a migration repoints it).
    pub hub: Option<String>,
    pub state: State,
    /// One short line under the name: users, queue.
    pub caption: String,
    /// Each process and its state, for the tooltip.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
    /// The worst of the directory, replication and mail facts on this pair.
    pub state: State,
    pub label: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FolderView {
    pub folder: String,
    pub entries: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub node: String,
    pub total: u64,
    pub oldest_age_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationView {
    pub summary: String,
    pub steps: Vec<StepView>,
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub step: String,
    pub title: String,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
    pub ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at_ms: u64,
    pub source: String,
    pub text: String,
}

/// Everything the snapshot is computed from.
pub struct Inputs<'a> {
    pub topology: &'a Topology,
    /// Post office to the hub it is on now, where it moved.
    pub placement: &'a std::collections::BTreeMap<String, String>,
    pub reports: &'a Reports,
    pub migration: Option<MigrationView>,
    pub last_migration: Option<String>,
    pub history: Vec<EventView>,
}

fn process_id(node: &str, role: RoleKind) -> String {
    format!("{node}.{role}")
}

fn value<'r>(report: &'r Report, key: &str) -> Option<&'r StatusValue> {
    report.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn count(report: &Report, key: &str) -> Option<u64> {
    match value(report, key)? {
        StatusValue::Count(n) => Some(*n),
        _ => None,
    }
}

fn text<'r>(report: &'r Report, key: &str) -> Option<&'r str> {
    match value(report, key)? {
        StatusValue::Text(t) if !t.is_empty() => Some(t),
        _ => None,
    }
}

fn flag(report: &Report, key: &str) -> Option<bool> {
    match value(report, key)? {
        StatusValue::Flag(b) => Some(*b),
        _ => None,
    }
}

fn process_state(report: Option<&Result<Report, String>>) -> State {
    match report {
        Some(Ok(r)) if r.health == wire_format::Health::Ok => State::Ok,
        Some(Ok(_)) => State::Degraded,
        Some(Err(_)) => State::Down,
        None => State::Unknown,
    }
}

/// One thing known about the link between two nodes.
struct Fact {
    pair: (String, String),
    state: State,
    label: String,
    detail: String,
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// A requestor's link to its DS server, seen from both ends.
fn dirsync_fact(node: &str, requestor: &Report, reports: &Reports) -> Option<Fact> {
    let server = text(requestor, "server")?;
    let failing = count(requestor, "consecutive_failures").unwrap_or(0) > 0
        || text(requestor, "last_error").is_some();
    let server_report = reports.get(&process_id(server, RoleKind::DsServer));
    let lag = match server_report {
        Some(Ok(s)) => count(s, &format!("requestor.{node}.lag_updates")),
        _ => None,
    };
    let state = match (process_state(server_report), failing, lag) {
        (State::Down, _, _) => State::Down,
        (_, true, _) => State::Failing,
        (_, _, Some(n)) if n > 0 => State::Lagging,
        (_, _, Some(_)) => State::Ok,
        _ => State::Unknown,
    };
    let lag_text = lag.map_or("-".to_owned(), |n| n.to_string());
    let error = text(requestor, "last_error").unwrap_or("");
    Some(Fact {
        pair: ordered(node, server),
        state,
        label: format!("lag {lag_text}"),
        detail: format!("dirsync {node} -> {server}: lag {lag_text} updates {error}"),
    })
}

/// A site replicator's pull from one partner.
fn replication_facts(node: &str, replicator: &Report) -> Vec<Fact> {
    let peers: Vec<&str> = replicator
        .items
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("peer.")?.strip_suffix(".lag_changes"))
        .collect();
    peers
        .into_iter()
        .map(|peer| {
            let key = |f: &str| format!("peer.{peer}.{f}");
            let lag = count(replicator, &key("lag_changes")).unwrap_or(0);
            let error = text(replicator, &key("last_error"));
            let state = if error.is_some() {
                State::Failing
            } else if lag > 0 {
                State::Lagging
            } else {
                State::Ok
            };
            Fact {
                pair: ordered(node, peer),
                state,
                label: String::new(),
                detail: format!(
                    "replication {node} <- {peer}: lag {lag} changes {}",
                    error.unwrap_or("")
                ),
            }
        })
        .collect()
}

/// A mail router's queue towards each of its peers.
fn mail_facts(node: &str, router: &Report) -> Vec<Fact> {
    let peers: Vec<&str> = router
        .items
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("peer.")?.strip_suffix(".connected"))
        .collect();
    peers
        .into_iter()
        .filter_map(|peer| {
            let depth = count(router, &format!("queue.{peer}.depth")).unwrap_or(0);
            let error = text(router, &format!("peer.{peer}.last_error"));
            let connected = flag(router, &format!("peer.{peer}.connected")).unwrap_or(false);
            // A peer never used and with nothing for it is not a link.
            if !connected && depth == 0 && error.is_none() {
                return None;
            }
            let state = match (error, depth) {
                (Some(_), _) => State::Failing,
                (None, d) if d > 0 => State::Lagging,
                _ => State::Ok,
            };
            Some(Fact {
                pair: ordered(node, peer),
                state,
                label: if depth > 0 {
                    format!("q {depth}")
                } else {
                    String::new()
                },
                detail: format!(
                    "mail {node} -> {peer}: {depth} queued {}",
                    error.unwrap_or("")
                ),
            })
        })
        .collect()
}

fn node_view(
    topology: &Topology,
    node: &crate::topology::Node,
    hub: Option<String>,
    reports: &Reports,
) -> NodeView {
    let name = node.name.as_str();
    let mut state = State::Ok;
    let mut detail = Vec::new();
    for role in node.roles() {
        let id = process_id(name, *role);
        let r = reports.get(&id);
        let s = process_state(r);
        state = state.max(s);
        let why = match r {
            Some(Err(e)) => format!(": {e}"),
            Some(Ok(Report {
                health: wire_format::Health::Degraded(reason),
                ..
            })) => format!(": {reason}"),
            _ => String::new(),
        };
        detail.push(format!("{id} {s:?}{why}"));
    }
    let requestor = reports.get(&process_id(name, RoleKind::DsRequestor));
    let router = reports.get(&process_id(name, RoleKind::MailRouter));
    let users = match requestor {
        Some(Ok(r)) if node.kind == NodeKind::PostOffice => count(r, "entries.local"),
        _ => None,
    };
    let queued = match router {
        Some(Ok(r)) => count(r, "queue.total"),
        _ => None,
    };
    let caption = match (users, queued) {
        (Some(u), Some(q)) if q > 0 => format!("{u} users, {q} q"),
        (Some(u), _) => format!("{u} users"),
        (None, Some(q)) if q > 0 => format!("{q} queued"),
        _ => match node.kind {
            NodeKind::OldHub => "old hub".into(),
            NodeKind::NewHub => "new hub".into(),
            NodeKind::Bridge => format!("bridge ({})", topology.import_folder),
            NodeKind::PostOffice => "post office".into(),
        },
    };
    NodeView {
        name: name.to_owned(),
        kind: node.kind,
        hub,
        state,
        caption,
        detail: detail.join("\n"),
    }
}

/// Merges the facts about each pair of nodes into one edge.
fn edges(facts: Vec<Fact>) -> Vec<EdgeView> {
    let mut by_pair: std::collections::BTreeMap<(String, String), Vec<Fact>> = Default::default();
    for f in facts {
        by_pair.entry(f.pair.clone()).or_default().push(f);
    }
    by_pair
        .into_iter()
        .map(|((from, to), facts)| EdgeView {
            from,
            to,
            state: facts
                .iter()
                .map(|f| f.state)
                .max()
                .unwrap_or(State::Unknown),
            label: facts
                .iter()
                .map(|f| f.label.as_str())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            detail: facts
                .iter()
                .map(|f| f.detail.trim_end())
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect()
}

pub fn build(inputs: Inputs<'_>, now_ms: u64) -> Snapshot {
    let Inputs {
        topology,
        placement,
        reports,
        ..
    } = inputs;
    let ok = |id: String| match reports.get(&id) {
        Some(Ok(r)) => Some(r),
        _ => None,
    };
    let mut facts = Vec::new();
    let mut nodes = Vec::new();
    let mut queues = Vec::new();
    for node in &topology.nodes {
        let name = node.name.as_str();
        let router = ok(process_id(name, RoleKind::MailRouter));
        let hub = (node.kind == NodeKind::PostOffice).then(|| {
            router
                .and_then(|r| text(r, "hub"))
                .map(str::to_owned)
                .or_else(|| placement.get(name).cloned())
                .or_else(|| node.hub.map(|h| h.to_string()))
                .unwrap_or_default()
        });
        nodes.push(node_view(topology, node, hub, reports));
        if let Some(r) = ok(process_id(name, RoleKind::DsRequestor))
            && let Some(f) = dirsync_fact(name, r, reports)
        {
            facts.push(f);
        }
        if let Some(r) = ok(process_id(name, RoleKind::SiteReplicator)) {
            facts.extend(replication_facts(name, r));
        }
        if let Some(r) = router {
            facts.extend(mail_facts(name, r));
            queues.push(QueueView {
                node: name.to_owned(),
                total: count(r, "queue.total").unwrap_or(0),
                oldest_age_ms: count(r, "queue.oldest_age_ms").unwrap_or(0),
            });
        }
    }
    let folders = ok(process_id(
        topology.new_hub.as_str(),
        RoleKind::SiteReplicator,
    ))
    .map(|r| {
        r.items
            .iter()
            .filter_map(|(k, v)| match v {
                StatusValue::Count(n) => Some(FolderView {
                    folder: k
                        .strip_prefix("folder.")?
                        .strip_suffix(".entries")?
                        .to_owned(),
                    entries: *n,
                }),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default();
    let edges = edges(facts);
    let problems = nodes.iter().filter(|n| n.state != State::Ok).count()
        + edges.iter().filter(|e| e.state > State::Unknown).count();
    Snapshot {
        network: topology.network.to_string(),
        updated_ms: now_ms,
        nodes,
        edges,
        folders,
        queues,
        migration: inputs.migration,
        last_migration: inputs.last_migration,
        history: inputs.history,
        problems,
    }
}
