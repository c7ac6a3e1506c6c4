use wire_format::Health;

use super::*;
use crate::commands::status::fixtures::{C, F, NOW, healthy, kill, set, state, t};

fn link<'a>(s: &'a Summary, kind: LinkKind, from: &str, to: &str) -> &'a LinkRow {
    s.links
        .iter()
        .find(|l| l.kind == kind && l.from == from && l.to == to)
        .unwrap_or_else(|| panic!("no link {kind:?} {from} -> {to} in {:?}", names(s)))
}

fn names(s: &Summary) -> Vec<String> {
    s.links
        .iter()
        .map(|l| format!("{:?} {} -> {}", l.kind, l.from, l.to))
        .collect()
}

#[test]
fn a_healthy_network_lists_every_process_up_and_the_links_in_use_ok() {
    let s = summarize(&state(), &healthy(), NOW);
    assert_eq!(s.totals.processes, 12);
    assert_eq!((s.totals.up, s.totals.down, s.totals.degraded), (12, 0, 0));
    assert!(s.links.iter().all(|l| l.health == LinkHealth::Ok), "{s:#?}");
    // A hub's route to a post office on the other hub (H -> POD, H2 -> POA)
    // and a post office's to the hub it is not on are idle: not listed.
    assert_eq!(
        names(&s),
        [
            "Dirsync H3 -> H",
            "Dirsync POA -> H",
            "Dirsync POD -> H2",
            "Replication H2 -> H3",
            "Replication H3 -> H2",
            "Mail H -> POA",
            "Mail H -> H3",
            "Mail H2 -> POD",
            "Mail H2 -> H3",
            "Mail H3 -> H",
            "Mail H3 -> H2",
            "Mail POA -> H",
            "Mail POD -> H2",
        ]
    );
    assert_eq!(
        (s.totals.links, s.totals.failing, s.totals.lagging),
        (13, 0, 0)
    );
    let d = link(&s, LinkKind::Dirsync, "POA", "H");
    assert_eq!(
        (d.in_sync, d.lag_changes, d.lag_seconds, d.last_success_ms),
        (Some(true), Some(0), Some(0), Some(NOW - 2000))
    );
    assert!(s.all_well());
}

#[test]
fn the_figures_of_each_role_with_f1_as_the_migration_gauge() {
    let s = summarize(&state(), &healthy(), NOW);
    let figures = |id: &str| -> Vec<(String, FigureValue)> {
        let row = s.processes.iter().find(|p| p.id == id).unwrap();
        row.figures
            .iter()
            .map(|f| (f.key.clone(), f.value.clone()))
            .collect()
    };
    use FigureValue::{Count, Text};
    assert_eq!(
        figures("H2.site-replicator"),
        [
            ("folder.F1.entries".into(), Count(5)),
            ("usn".into(), Count(8))
        ]
    );
    assert_eq!(
        figures("H3.ds-requestor"),
        [
            ("entries.imported".into(), Count(7)),
            ("entries.exported".into(), Count(3))
        ]
    );
    assert_eq!(
        figures("POA.mail-router"),
        [
            ("queue.total".into(), Count(0)),
            ("hub".into(), Text("H".into()))
        ]
    );
}

#[test]
fn a_killed_requestor_and_its_link_are_down_and_sort_first() {
    let mut r = healthy();
    kill(&mut r, "POA.ds-requestor");
    // Its server no longer sees it connected.
    set(&mut r, "H.ds-server", "requestor.POA.connected", F(false));
    let s = summarize(&state(), &r, NOW);
    let first = &s.processes[0];
    assert_eq!(
        (first.id.as_str(), first.health),
        ("POA.ds-requestor", ProcessHealth::Down)
    );
    assert_eq!(first.reason.as_deref(), Some("not running"));
    // Its server is known from the server it pulled from last.
    let l = &s.links[0];
    assert_eq!(
        (l.kind, l.from.as_str(), l.to.as_str()),
        (LinkKind::Dirsync, "POA", "H")
    );
    assert_eq!(l.health, LinkHealth::Down);
    assert_eq!(l.down.as_deref(), Some("POA.ds-requestor: not running"));
    // What its server knows: when it last pulled, what it has not.
    assert_eq!(
        (l.last_success_ms, l.lag_changes, l.in_sync),
        (Some(NOW - 1000), Some(0), None)
    );
    assert_eq!((s.totals.up, s.totals.down, s.totals.failing), (11, 1, 1));
    assert!(!s.all_well());
}

#[test]
fn links_sort_down_then_failing_then_lagging_then_ok() {
    let mut r = healthy();
    // Lagging: H2 has not pulled H3's latest changes for 40 s.
    set(&mut r, "H2.site-replicator", "peer.H3.in_sync", F(false));
    set(&mut r, "H2.site-replicator", "peer.H3.lag_changes", C(4));
    set(&mut r, "H2.site-replicator", "peer.H3.lag_seconds", C(40));
    // Failing: POD's requestor cannot reach its server (a key some builds
    // lack, and the error every build has).
    set(&mut r, "POD.ds-requestor", "consecutive_failures", C(3));
    set(
        &mut r,
        "POD.ds-requestor",
        "last_error",
        t("connection refused"),
    );
    // Down: the far end of H3 -> H (mail) is gone, with mail queued for it.
    kill(&mut r, "H.mail-router");
    set(&mut r, "H3.mail-router", "queue.H.depth", C(2));
    set(&mut r, "H3.mail-router", "queue.total", C(2));
    let s = summarize(&state(), &r, NOW);
    let healths: Vec<LinkHealth> = s.links.iter().map(|l| l.health).collect();
    let mut sorted = healths.clone();
    sorted.sort();
    assert_eq!(healths, sorted);
    // Every route to H is down, POD's idle one too (listed: it is wrong).
    assert_eq!(
        names(&s)[..5],
        [
            "Mail H3 -> H",
            "Mail POA -> H",
            "Mail POD -> H",
            "Dirsync POD -> H2",
            "Replication H2 -> H3"
        ]
    );
    assert_eq!(s.links[0].queued, Some(2));
    assert_eq!(s.links[3].health, LinkHealth::Failing);
    assert_eq!(s.links[3].consecutive_failures, Some(3));
    assert_eq!(s.links[3].last_error.as_deref(), Some("connection refused"));
    assert_eq!(s.links[4].health, LinkHealth::Lagging);
    assert_eq!(s.links[4].lag_seconds, Some(40));
    assert_eq!(s.totals.failing, 4);
    assert_eq!(s.totals.lagging, 1);
    assert_eq!(s.totals.mail_queued, 2);
}

#[test]
fn a_missing_key_is_unknown_and_a_present_one_is_read() {
    let mut r = healthy();
    let s = summarize(&state(), &r, NOW);
    let m = link(&s, LinkKind::Mail, "POA", "H");
    assert_eq!(
        (m.consecutive_failures, m.last_success_ms, m.oldest_age_ms),
        (None, None, None)
    );
    set(
        &mut r,
        "POA.mail-router",
        "peer.H.consecutive_failures",
        C(0),
    );
    set(
        &mut r,
        "POA.mail-router",
        "peer.H.last_success_ms",
        C(NOW - 3000),
    );
    set(&mut r, "POA.mail-router", "queue.H.oldest_age_ms", C(0));
    let s = summarize(&state(), &r, NOW);
    let m = link(&s, LinkKind::Mail, "POA", "H");
    assert_eq!(
        (m.consecutive_failures, m.last_success_ms, m.oldest_age_ms),
        (Some(0), Some(NOW - 3000), Some(0))
    );
    assert_eq!(m.health, LinkHealth::Ok);
}

#[test]
fn an_idle_route_is_listed_once_mail_waits_on_it() {
    let mut r = healthy();
    set(&mut r, "H.mail-router", "queue.POD.depth", C(1));
    let s = summarize(&state(), &r, NOW);
    assert_eq!(
        link(&s, LinkKind::Mail, "H", "POD").health,
        LinkHealth::Lagging
    );
}

#[test]
fn errors_only_keeps_what_is_down_degraded_or_failing() {
    let mut r = healthy();
    assert!(summarize(&state(), &r, NOW).errors_only().links.is_empty());
    set(&mut r, "H2.site-replicator", "peer.H3.in_sync", F(false));
    set(&mut r, "POD.ds-requestor", "last_error", t("timed out"));
    kill(&mut r, "POA.mail-router");
    if let Some(Ok(report)) = r.get_mut("H.mail-router") {
        report.health = Health::Degraded("disk full".into());
    }
    let s = summarize(&state(), &r, NOW);
    let e = s.errors_only();
    let ids: Vec<&str> = e.processes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["POA.mail-router", "H.mail-router"]);
    assert_eq!(e.processes[1].reason.as_deref(), Some("disk full"));
    // The lagging replication is on its way, not broken: left out.
    assert_eq!(
        names(&e),
        ["Mail H -> POA", "Mail H2 -> POA", "Dirsync POD -> H2"]
    );
    assert_eq!(e.totals, s.totals);
}
