//! A small network's reports for the unit tests: hubs H and H2, the bridge
//! H3, POA on H and POD on H2, every process up and in sync at [`NOW`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use wire_format::{Health, StatusValue};

use super::{Report, Reports};
use crate::state::{NetworkState, ProcessState};
use crate::topology::RoleKind;

pub const NOW: u64 = 1_800_000_000_000;

pub use StatusValue::{Count as C, Flag as F};

pub fn t(text: &str) -> StatusValue {
    StatusValue::Text(text.into())
}

const PROCESSES: [(&str, RoleKind); 12] = [
    ("H2", RoleKind::SiteReplicator),
    ("H3", RoleKind::SiteReplicator),
    ("H", RoleKind::DsServer),
    ("H2", RoleKind::DsServer),
    ("H3", RoleKind::DsRequestor),
    ("POA", RoleKind::DsRequestor),
    ("POD", RoleKind::DsRequestor),
    ("H", RoleKind::MailRouter),
    ("H2", RoleKind::MailRouter),
    ("H3", RoleKind::MailRouter),
    ("POA", RoleKind::MailRouter),
    ("POD", RoleKind::MailRouter),
];

pub fn state() -> NetworkState {
    NetworkState {
        topology: PathBuf::from("small.toml"),
        network: "ACME".into(),
        processes: PROCESSES
            .iter()
            .enumerate()
            .map(|(i, (node, role))| ProcessState {
                id: format!("{node}.{role}"),
                node: (*node).into(),
                role: *role,
                pid: 1000 + i as u32,
                endpoints: BTreeMap::new(),
                config: PathBuf::new(),
                data_dir: PathBuf::new(),
                stdout: PathBuf::new(),
                stderr: PathBuf::new(),
            })
            .collect(),
    }
}

fn requestor_on_server(r: &str, synced: bool) -> Vec<(String, StatusValue)> {
    let k = |f: &str| format!("requestor.{r}.{f}");
    vec![
        (k("lag_updates"), C(if synced { 0 } else { 10 })),
        (k("in_sync"), F(synced)),
        (k("connected"), F(synced)),
        (k("removed"), F(false)),
        (k("last_pull_ms"), C(if synced { NOW - 1000 } else { 0 })),
    ]
}

fn requestor(server: &str, site: bool) -> Vec<(String, StatusValue)> {
    let mut items = vec![];
    if site {
        items.push(("mode".into(), t("site")));
    }
    items.extend([
        ("server".into(), t(server)),
        ("pending".into(), C(0)),
        ("entries".into(), C(10)),
        ("entries.imported".into(), C(7)),
        ("entries.exported".into(), C(3)),
        ("connected".into(), F(true)),
        ("last_cycle_ms".into(), C(NOW - 2000)),
        ("last_success_ms".into(), C(NOW - 2000)),
        ("last_error".into(), t("")),
    ]);
    items
}

fn replicator(peer: &str) -> Vec<(String, StatusValue)> {
    let p = |f: &str| format!("peer.{peer}.{f}");
    vec![
        ("usn".into(), C(8)),
        ("folder.F1.entries".into(), C(5)),
        ("folder.FS-POD.entries".into(), C(3)),
        (p("connected"), F(true)),
        (p("lag_changes"), C(0)),
        (p("lag_seconds"), C(0)),
        (p("in_sync"), F(true)),
        (p("last_success_ms"), C(NOW - 1000)),
        (p("last_error"), t("")),
    ]
}

fn router(mode: &str, hub: Option<&str>, peers: &[&str]) -> Vec<(String, StatusValue)> {
    let mut items = vec![("mode".into(), t(mode))];
    if let Some(hub) = hub {
        items.push(("hub".into(), t(hub)));
    }
    items.push(("queue.total".into(), C(0)));
    for p in peers {
        items.push((format!("queue.{p}.depth"), C(0)));
    }
    items.push(("queue.oldest_age_ms".into(), C(0)));
    for p in peers {
        items.push((format!("peer.{p}.connected"), F(false)));
        items.push((format!("peer.{p}.last_error"), t("")));
    }
    items
}

fn up(items: Vec<(String, StatusValue)>) -> Result<Report, String> {
    Ok(Report {
        items,
        health: Health::Ok,
    })
}

/// Every process of [`state`] up, every link in sync, no mail queued.
pub fn healthy() -> Reports {
    let mut h = requestor_on_server("POA", true);
    h.extend(requestor_on_server("H3", true));
    h.insert(0, ("entries".into(), C(10)));
    h.insert(1, ("high_water".into(), C(10)));
    let mut h2 = requestor_on_server("POA", false);
    h2.extend(requestor_on_server("POD", true));
    h2.insert(0, ("entries".into(), C(10)));
    h2.insert(1, ("high_water".into(), C(10)));
    let hub_peers = ["POA", "POD", "H3"];
    [
        ("H2.site-replicator", replicator("H3")),
        ("H3.site-replicator", replicator("H2")),
        ("H.ds-server", h),
        ("H2.ds-server", h2),
        ("H3.ds-requestor", requestor("H", true)),
        ("POA.ds-requestor", requestor("H", false)),
        ("POD.ds-requestor", requestor("H2", false)),
        ("H.mail-router", router("Hub", None, &hub_peers)),
        ("H2.mail-router", router("Hub", None, &hub_peers)),
        ("H3.mail-router", router("Gateway", None, &["H", "H2"])),
        (
            "POA.mail-router",
            router("PostOffice", Some("H"), &["H", "H2"]),
        ),
        (
            "POD.mail-router",
            router("PostOffice", Some("H2"), &["H", "H2"]),
        ),
    ]
    .into_iter()
    .map(|(id, items)| (id.to_owned(), up(items)))
    .collect()
}

/// Sets (or adds) status key `key` of process `id`.
pub fn set(reports: &mut Reports, id: &str, key: &str, value: StatusValue) {
    let Some(Ok(report)) = reports.get_mut(id) else {
        panic!("{id} has no report");
    };
    match report.items.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value,
        None => report.items.push((key.to_owned(), value)),
    }
}

/// Process `id` as `collect` sees a dead one.
pub fn kill(reports: &mut Reports, id: &str) {
    reports.insert(id.to_owned(), Err("not running".into()));
}
