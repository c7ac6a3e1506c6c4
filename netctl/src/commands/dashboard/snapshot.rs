//! What the dashboard page shows: `netctl status`'s summary (process and
//! link health, worst first) arranged as a picture of the topology, plus the
//! folders, the queues, the wave in progress and the latest events. A pure
//! function of its inputs, so the picture is tested without a browser.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::commands::status::keys::Keys;
use crate::commands::status::summary::{LinkHealth, LinkKind, LinkRow, ProcessHealth, Summary};
use crate::commands::status::{Reports, ago};
use crate::migrate::progress::Progress;
use crate::topology::{NodeKind, RoleKind, Topology};

/// The whole page's data, served as `/api/state`.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub network: String,
    pub updated_ms: u64,
    /// `netctl status`'s first line.
    pub headline: String,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// The new hub's folders; the import folder (F1) is the migration gauge.
    pub folders: Vec<FolderView>,
    pub queues: Vec<QueueView>,
    /// The wave in progress (see `migrate::progress`).
    pub migration: Option<Progress>,
    /// The last ended wave in a line, when none is running.
    pub last_migration: Option<String>,
    pub history: Vec<EventView>,
    /// Processes down or degraded, and links down or failing.
    pub problems: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub kind: NodeKind,
    /// A post office's hub now (it changes when a migration repoints it).
    pub hub: Option<String>,
    /// The worst of its processes.
    pub state: ProcessHealth,
    /// One short line under the name: users, queue.
    pub caption: String,
    /// Each process and its state, for the tooltip.
    pub detail: String,
}

/// Every link between two nodes (dirsync, replication, mail) as one line.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeView {
    pub from: String,
    pub to: String,
    /// The worst of its links.
    pub state: LinkHealth,
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
pub struct EventView {
    pub at_ms: u64,
    pub source: String,
    pub text: String,
}

/// Everything the snapshot is computed from.
pub struct Inputs<'a> {
    pub topology: &'a Topology,
    /// Post office to the hub it is on now, where it moved.
    pub placement: &'a BTreeMap<String, String>,
    pub reports: &'a Reports,
    pub summary: &'a Summary,
    pub migration: Option<Progress>,
    pub last_migration: Option<String>,
    pub history: Vec<EventView>,
}

fn keys<'r>(reports: &'r Reports, node: &str, role: RoleKind) -> Option<Keys<'r>> {
    match reports.get(&format!("{node}.{role}")) {
        Some(Ok(report)) => Some(Keys(&report.items)),
        _ => None,
    }
}

fn node_view(inputs: &Inputs<'_>, node: &crate::topology::Node) -> NodeView {
    let name = node.name.as_str();
    let rows: Vec<_> = inputs
        .summary
        .processes
        .iter()
        .filter(|p| p.node == name)
        .collect();
    let state = rows
        .iter()
        .map(|p| p.health)
        .min()
        .unwrap_or(ProcessHealth::Down);
    let detail = rows
        .iter()
        .map(|p| match &p.reason {
            Some(why) => format!("{} {:?}: {why}", p.id, p.health),
            None => format!("{} {:?}", p.id, p.health),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let router = keys(inputs.reports, name, RoleKind::MailRouter);
    let users = keys(inputs.reports, name, RoleKind::DsRequestor)
        .filter(|_| node.kind == NodeKind::PostOffice)
        .and_then(|k| k.count("entries.local"));
    let queued = router.as_ref().and_then(|k| k.count("queue.total"));
    let caption = match (users, queued) {
        (Some(u), Some(q)) if q > 0 => format!("{u} users, {q} queued"),
        (Some(u), _) => format!("{u} users"),
        (None, Some(q)) if q > 0 => format!("{q} queued"),
        _ => match node.kind {
            NodeKind::OldHub => "old hub".into(),
            NodeKind::NewHub => "new hub".into(),
            NodeKind::Bridge => format!("bridge ({})", inputs.topology.import_folder),
            NodeKind::PostOffice => "post office".into(),
        },
    };
    let hub = (node.kind == NodeKind::PostOffice).then(|| {
        router
            .and_then(|k| k.text("hub"))
            .map(str::to_owned)
            .or_else(|| inputs.placement.get(name).cloned())
            .or_else(|| node.hub.map(|h| h.to_string()))
            .unwrap_or_default()
    });
    NodeView {
        name: name.to_owned(),
        kind: node.kind,
        hub,
        state,
        caption,
        detail,
    }
}

/// A link in a few words, for the edge's tooltip.
fn describe(link: &LinkRow, now_ms: u64) -> String {
    let kind = match link.kind {
        LinkKind::Dirsync => "dirsync",
        LinkKind::Replication => "replication",
        LinkKind::Mail => "mail",
    };
    let mut parts = vec![format!(
        "{kind} {} -> {}: {:?}",
        link.from, link.to, link.health
    )];
    if let Some(n) = link.lag_changes {
        parts.push(format!("lag {n}"));
    }
    if let Some(n) = link.queued {
        parts.push(format!("{n} queued"));
    }
    if let Some(t) = link.last_success_ms {
        parts.push(format!("last success {}", ago(now_ms, t)));
    }
    if let Some(e) = link.down.as_ref().or(link.last_error.as_ref()) {
        parts.push(e.clone());
    }
    parts.join(", ")
}

/// The links between each pair of nodes, merged into one edge.
fn edges(summary: &Summary) -> Vec<EdgeView> {
    let mut by_pair: BTreeMap<(&str, &str), Vec<&LinkRow>> = BTreeMap::new();
    for link in &summary.links {
        let (a, b) = (link.from.as_str(), link.to.as_str());
        by_pair.entry((a.min(b), a.max(b))).or_default().push(link);
    }
    by_pair
        .into_iter()
        .map(|((from, to), links)| {
            let lag: u64 = links
                .iter()
                .filter(|l| l.kind == LinkKind::Dirsync)
                .filter_map(|l| l.lag_changes)
                .sum();
            let queued: u64 = links.iter().filter_map(|l| l.queued).sum();
            let mut label = Vec::new();
            if links.iter().any(|l| l.kind == LinkKind::Dirsync) {
                label.push(format!("lag {lag}"));
            }
            if queued > 0 {
                label.push(format!("q {queued}"));
            }
            EdgeView {
                from: from.to_owned(),
                to: to.to_owned(),
                state: links
                    .iter()
                    .map(|l| l.health)
                    .min()
                    .unwrap_or(LinkHealth::Ok),
                label: label.join(" · "),
                detail: links
                    .iter()
                    .map(|l| describe(l, summary.now_ms))
                    .collect::<Vec<_>>()
                    .join("\n"),
            }
        })
        .collect()
}

pub fn build(inputs: Inputs<'_>) -> Snapshot {
    let summary = inputs.summary;
    let nodes = inputs
        .topology
        .nodes
        .iter()
        .map(|n| node_view(&inputs, n))
        .collect();
    let queues = inputs
        .topology
        .nodes
        .iter()
        .filter_map(|n| {
            let k = keys(inputs.reports, n.name.as_str(), RoleKind::MailRouter)?;
            Some(QueueView {
                node: n.name.to_string(),
                total: k.count("queue.total").unwrap_or(0),
                oldest_age_ms: k.count("queue.oldest_age_ms").unwrap_or(0),
            })
        })
        .collect();
    let new_hub = inputs.topology.new_hub.as_str();
    let folders = keys(inputs.reports, new_hub, RoleKind::SiteReplicator)
        .map(|k| {
            k.names("folder", "entries")
                .into_iter()
                .map(|f| FolderView {
                    folder: f.to_owned(),
                    entries: k.count(&format!("folder.{f}.entries")).unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    let t = &summary.totals;
    Snapshot {
        network: summary.network.clone(),
        updated_ms: summary.now_ms,
        headline: crate::commands::status::headline(summary),
        nodes,
        edges: edges(summary),
        folders,
        queues,
        migration: inputs.migration,
        last_migration: inputs.last_migration,
        history: inputs.history,
        problems: t.down + t.degraded + t.failing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::status::fixtures::{self, C, NOW, t};
    use crate::commands::status::summary::summarize;

    const SMALL: &str = r#"
network = "ACME"
[old_hub]
name = "H"
[new_hub]
name = "H2"
[bridge]
name = "H3"
import_folder = "F1"
[[post_offices]]
name = "POA"
hub = "H"
[[post_offices]]
name = "POD"
hub = "H2"
"#;

    fn snapshot(reports: &Reports, placement: &BTreeMap<String, String>) -> Snapshot {
        let topology = Topology::parse(SMALL, "small.toml").unwrap();
        let summary = summarize(&fixtures::state(), reports, NOW);
        build(Inputs {
            topology: &topology,
            placement,
            reports,
            summary: &summary,
            migration: None,
            last_migration: None,
            history: Vec::new(),
        })
    }

    fn edge<'s>(s: &'s Snapshot, a: &str, b: &str) -> &'s EdgeView {
        s.edges
            .iter()
            .find(|e| e.from == a && e.to == b)
            .unwrap_or_else(|| panic!("no edge {a}-{b} in {:?}", s.edges))
    }

    #[test]
    fn a_healthy_network_is_every_node_up_and_every_edge_ok() {
        let s = snapshot(&fixtures::healthy(), &BTreeMap::new());
        let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["H", "H2", "H3", "POA", "POD"]);
        assert!(s.nodes.iter().all(|n| n.state == ProcessHealth::Up));
        assert!(
            s.edges.iter().all(|e| e.state == LinkHealth::Ok),
            "{:?}",
            s.edges
        );
        assert_eq!(s.problems, 0);
        // Dirsync and mail between POA and H are one line, with its lag.
        let poa = edge(&s, "H", "POA");
        assert_eq!(poa.label, "lag 0");
        assert!(poa.detail.contains("dirsync POA -> H"), "{}", poa.detail);
        assert_eq!(s.nodes[3].hub.as_deref(), Some("H"));
        assert!(s.headline.starts_with("network ACME: "), "{}", s.headline);
    }

    #[test]
    fn a_dead_requestor_makes_its_node_and_its_edge_down() {
        let mut reports = fixtures::healthy();
        fixtures::kill(&mut reports, "POA.ds-requestor");
        let s = snapshot(&reports, &BTreeMap::new());
        let poa = s.nodes.iter().find(|n| n.name == "POA").unwrap();
        assert_eq!(poa.state, ProcessHealth::Down);
        assert!(poa.detail.contains("POA.ds-requestor Down: not running"));
        assert_eq!(edge(&s, "H", "POA").state, LinkHealth::Down);
        assert!(s.problems >= 2, "the node and its link: {}", s.problems);
    }

    #[test]
    fn a_moved_post_office_hangs_under_its_new_hub_and_queued_mail_shows() {
        let mut reports = fixtures::healthy();
        fixtures::set(&mut reports, "POA.mail-router", "hub", t("H2"));
        fixtures::set(&mut reports, "POA.mail-router", "queue.total", C(3));
        fixtures::set(&mut reports, "POA.mail-router", "queue.H2.depth", C(3));
        let s = snapshot(&reports, &BTreeMap::new());
        let poa = s.nodes.iter().find(|n| n.name == "POA").unwrap();
        assert_eq!(poa.hub.as_deref(), Some("H2"));
        assert!(poa.caption.contains("3 queued"), "{}", poa.caption);
        let q = s.queues.iter().find(|q| q.node == "POA").unwrap();
        assert_eq!(q.total, 3);
    }
}
