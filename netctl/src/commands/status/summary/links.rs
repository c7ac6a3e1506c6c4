//! The link rows: each dirsync requestor and its server, each replication
//! partner, each mail next hop in use. A link is reported by the process
//! at its `from` end (a dirsync link also by its server, from which it is
//! known when the requestor is down); the process at its `to` end being
//! down makes it down as well.

use super::{LinkHealth, LinkKind, LinkRow, keys};
use crate::commands::status::Reports;
use crate::commands::status::keys::Keys;
use crate::state::NetworkState;
use crate::topology::RoleKind;

/// The link rows, worst first (within a state: dirsync, replication, mail,
/// in the network's order).
pub fn links(state: &NetworkState, reports: &Reports, now_ms: u64) -> Vec<LinkRow> {
    let net = Net { state, reports };
    let mut rows = dirsync(&net, now_ms);
    rows.extend(replication(&net));
    rows.extend(mail(&net));
    rows.sort_by_key(|r| r.health);
    rows
}

struct Net<'a> {
    state: &'a NetworkState,
    reports: &'a Reports,
}

impl<'a> Net<'a> {
    fn keys(&self, node: &str, role: RoleKind) -> Option<Keys<'a>> {
        keys(self.reports, &self.state.process(node, role)?.id)
    }

    /// Why the process of `node` in `role` is down; `None` when it answered
    /// or is not part of the network.
    fn down(&self, node: &str, role: RoleKind) -> Option<String> {
        let id = &self.state.process(node, role)?.id;
        match self.reports.get(id) {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(format!("{id}: {e}")),
            None => Some(format!("{id}: not asked")),
        }
    }

    fn of_role(&self, role: RoleKind) -> impl Iterator<Item = &'a str> + use<'a> {
        self.state
            .processes
            .iter()
            .filter(move |p| p.role == role)
            .map(|p| p.node.as_str())
    }
}

fn health(down: bool, failures: Option<u64>, error: bool, behind: bool) -> LinkHealth {
    if down {
        LinkHealth::Down
    } else if failures.is_some_and(|n| n > 0) || error {
        LinkHealth::Failing
    } else if behind {
        LinkHealth::Lagging
    } else {
        LinkHealth::Ok
    }
}

/// The server of requestor `node`: its own word, or (when it cannot say)
/// the server it pulled from last.
fn server_of(net: &Net, node: &str, requestor: Option<&Keys>) -> String {
    if let Some(server) = requestor.and_then(|r| r.text("server")) {
        return server.to_owned();
    }
    let pulled = |s: &str| {
        let k = net.keys(s, RoleKind::DsServer)?;
        let key = |f: &str| format!("requestor.{node}.{f}");
        (k.flag(&key("removed")) != Some(true))
            .then(|| k.count(&key("last_pull_ms")))
            .flatten()
            .filter(|t| *t > 0)
    };
    net.of_role(RoleKind::DsServer)
        .filter_map(|s| Some((pulled(s)?, s)))
        .max()
        .map_or_else(|| "?".to_owned(), |(_, s)| s.to_owned())
}

fn dirsync(net: &Net, now_ms: u64) -> Vec<LinkRow> {
    net.of_role(RoleKind::DsRequestor)
        .map(|node| {
            let r = net.keys(node, RoleKind::DsRequestor);
            let server = server_of(net, node, r.as_ref());
            let s = net.keys(&server, RoleKind::DsServer);
            let on_server = |f: &str| format!("requestor.{node}.{f}");
            let pending = r.as_ref().and_then(|r| r.count("pending"));
            let served = s.as_ref().and_then(|s| s.flag(&on_server("in_sync")));
            let lag = s.as_ref().and_then(|s| s.count(&on_server("lag_updates")));
            let in_sync = served.zip(pending).map(|(s, p)| s && p == 0);
            // A requestor that cannot say: when its server last served it.
            let last_success_ms = match &r {
                Some(r) => r.count("last_success_ms"),
                None => s.as_ref().and_then(|s| s.count(&on_server("last_pull_ms"))),
            };
            let failures = r.as_ref().and_then(|r| r.count("consecutive_failures"));
            let last_error = r.as_ref().and_then(|r| r.error("last_error"));
            let down = net
                .down(node, RoleKind::DsRequestor)
                .or_else(|| net.down(&server, RoleKind::DsServer));
            LinkRow {
                kind: LinkKind::Dirsync,
                from: node.to_owned(),
                to: server,
                health: health(
                    down.is_some(),
                    failures,
                    last_error.is_some(),
                    in_sync == Some(false),
                ),
                down,
                in_sync,
                lag_changes: lag.map(|l| l + pending.unwrap_or(0)),
                lag_seconds: behind_for(in_sync, last_success_ms, now_ms),
                queued: None,
                oldest_age_ms: None,
                connected: r.as_ref().and_then(|r| r.flag("connected")),
                last_attempt_ms: r.as_ref().and_then(|r| r.count("last_cycle_ms")),
                last_success_ms,
                consecutive_failures: failures,
                last_error,
            }
        })
        .collect()
}

/// Seconds behind: 0 in sync, else since the last success (unknown if never).
fn behind_for(in_sync: Option<bool>, last_success_ms: Option<u64>, now_ms: u64) -> Option<u64> {
    match in_sync? {
        true => Some(0),
        false => last_success_ms
            .filter(|t| *t > 0)
            .map(|t| now_ms.saturating_sub(t) / 1000),
    }
}

fn replication(net: &Net) -> Vec<LinkRow> {
    let mut rows = Vec::new();
    for node in net.of_role(RoleKind::SiteReplicator) {
        let Some(k) = net.keys(node, RoleKind::SiteReplicator) else {
            continue;
        };
        for peer in k.names("peer", "connected") {
            let p = |f: &str| format!("peer.{peer}.{f}");
            let failures = k.count(&p("consecutive_failures"));
            let last_error = k.error(&p("last_error"));
            let in_sync = k.flag(&p("in_sync"));
            let down = net.down(peer, RoleKind::SiteReplicator);
            rows.push(LinkRow {
                kind: LinkKind::Replication,
                from: node.to_owned(),
                to: peer.to_owned(),
                health: health(
                    down.is_some(),
                    failures,
                    last_error.is_some(),
                    in_sync == Some(false),
                ),
                down,
                in_sync,
                lag_changes: k.count(&p("lag_changes")),
                lag_seconds: k.count(&p("lag_seconds")),
                queued: None,
                oldest_age_ms: None,
                connected: k.flag(&p("connected")),
                last_attempt_ms: k.count(&p("last_attempt_ms")),
                last_success_ms: k.count(&p("last_success_ms")),
                consecutive_failures: failures,
                last_error,
            });
        }
    }
    rows
}

/// The hop mail router `node` forwards to without a route: its queue.
const UNROUTABLE: &str = "unroutable";

fn mail(net: &Net) -> Vec<LinkRow> {
    let mut rows = Vec::new();
    for node in net.of_role(RoleKind::MailRouter) {
        let Some(k) = net.keys(node, RoleKind::MailRouter) else {
            continue;
        };
        let mut hops = k.names("peer", "connected");
        for hop in k.names("queue", "depth") {
            if !hops.contains(&hop) {
                hops.push(hop);
            }
        }
        for hop in hops {
            let p = |f: &str| format!("peer.{hop}.{f}");
            let q = |f: &str| format!("queue.{hop}.{f}");
            let queued = k.count(&q("depth"));
            let failures = k.count(&p("consecutive_failures"));
            let mut last_error = k.error(&p("last_error"));
            if hop == UNROUTABLE && queued.is_some_and(|n| n > 0) {
                last_error = Some("no route to these post offices".into());
            }
            let down = net.down(hop, RoleKind::MailRouter);
            let health = health(
                down.is_some(),
                failures,
                last_error.is_some(),
                queued.is_some_and(|n| n > 0),
            );
            if health == LinkHealth::Ok && !in_use(net, node, &k, hop) {
                continue;
            }
            rows.push(LinkRow {
                kind: LinkKind::Mail,
                from: node.to_owned(),
                to: hop.to_owned(),
                health,
                down,
                in_sync: None,
                lag_changes: None,
                lag_seconds: None,
                queued,
                oldest_age_ms: k.count(&q("oldest_age_ms")),
                connected: k.flag(&p("connected")),
                last_attempt_ms: None,
                last_success_ms: k.count(&p("last_success_ms")),
                consecutive_failures: failures,
                last_error,
            });
        }
    }
    rows
}

/// Whether mail router `node` forwards to `hop` today: a post office only
/// to its hub; a hub or the bridge to every hub and bridge, and to the post
/// offices on it. The others (a hub's route to a post office on the other
/// hub, kept for when it moves) are shown only when something is wrong.
fn in_use(net: &Net, node: &str, k: &Keys, hop: &str) -> bool {
    const POST_OFFICE: &str = "PostOffice";
    if hop == UNROUTABLE {
        return false;
    }
    if k.text("mode") == Some(POST_OFFICE) {
        return k.text("hub").is_none_or(|hub| hub == hop);
    }
    match net.keys(hop, RoleKind::MailRouter) {
        Some(h) if h.text("mode") == Some(POST_OFFICE) => {
            h.text("hub").is_none_or(|hub| hub == node)
        }
        _ => true,
    }
}
