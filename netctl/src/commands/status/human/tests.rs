use super::*;
use crate::commands::status::fixtures::{C, NOW, healthy, kill, set, state, t};
use crate::commands::status::summary::summarize;

#[test]
fn times_are_shown_as_people_say_them() {
    assert_eq!(ago(NOW, 0), "never");
    assert_eq!(ago(NOW, NOW), "0 s ago");
    assert_eq!(ago(NOW, NOW - 3_400), "3 s ago");
    assert_eq!(ago(NOW, NOW - 150_000), "2 min ago");
    assert_eq!(ago(NOW, NOW - 5 * 3_600_000), "5 h ago");
    assert_eq!(ago(NOW, NOW - 3 * 86_400_000), "3 d ago");
    // Another machine's clock ahead of ours: now, not a wrapped number.
    assert_eq!(ago(NOW, NOW + 5_000), "0 s ago");
    assert_eq!(duration(59_999), "59 s");
    assert_eq!(duration(60_000), "1 min");
}

#[test]
fn the_summary_is_a_line_of_counts_then_processes_then_links() {
    let lines = summary_lines(&summarize(&state(), &healthy(), NOW), false);
    assert_eq!(
        lines[0],
        "network ACME: 12 processes up, 0 down; 13 links, 0 failing; mail queued 0"
    );
    // The count line, a header and 12 processes, a header and 13 links.
    assert_eq!(lines.len(), 1 + 1 + 12 + 1 + 13, "{lines:#?}");
    assert!(lines[1].starts_with("PROCESS"));
    assert!(
        lines.contains(&"H2.site-replicator  up     1000  F1 5, usn 8".to_owned()),
        "{lines:#?}"
    );
    let dirsync = lines
        .iter()
        .find(|l| l.starts_with("dirsync POA -> H "))
        .unwrap();
    let cells: Vec<&str> = dirsync
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    // Consecutive failures not reported by this build: unknown.
    assert_eq!(
        cells,
        [
            "dirsync POA -> H",
            "in sync",
            "0 changes",
            "2 s ago",
            "-",
            "-"
        ]
    );
}

#[test]
fn a_failing_link_shows_its_queue_failures_and_error() {
    let mut r = healthy();
    kill(&mut r, "H.mail-router");
    set(&mut r, "POA.mail-router", "queue.H.depth", C(3));
    set(&mut r, "POA.mail-router", "queue.total", C(3));
    set(
        &mut r,
        "POA.mail-router",
        "queue.H.oldest_age_ms",
        C(125_000),
    );
    set(
        &mut r,
        "POA.mail-router",
        "peer.H.consecutive_failures",
        C(4),
    );
    set(&mut r, "POA.mail-router", "peer.H.last_success_ms", C(0));
    set(
        &mut r,
        "POA.mail-router",
        "peer.H.last_error",
        t("connection refused"),
    );
    let lines = summary_lines(&summarize(&state(), &r, NOW), false);
    assert!(lines[0].contains("11 processes up, 1 down"), "{}", lines[0]);
    assert!(lines[0].ends_with("mail queued 3"), "{}", lines[0]);
    assert!(lines[2].starts_with("H.mail-router"), "{lines:#?}");
    assert!(lines[2].contains("DOWN"), "{}", lines[2]);
    let poa = lines
        .iter()
        .find(|l| l.starts_with("mail POA -> H "))
        .unwrap();
    for part in [
        "DOWN",
        "3 queued, oldest 2 min",
        "never",
        "  4  ",
        "H.mail-router: not running; connection refused",
    ] {
        assert!(poa.contains(part), "{part:?} in {poa:?}");
    }
}

#[test]
fn errors_only_says_all_is_well_or_shows_only_what_is_wrong() {
    let mut r = healthy();
    let lines = summary_lines(&summarize(&state(), &r, NOW), true);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[1].starts_with("all is well"), "{}", lines[1]);
    kill(&mut r, "POD.ds-requestor");
    let lines = summary_lines(&summarize(&state(), &r, NOW), true);
    assert_eq!(lines.len(), 1 + 2 + 2, "{lines:#?}");
    assert!(lines[2].starts_with("POD.ds-requestor") && lines[2].contains("DOWN"));
    assert!(lines[4].starts_with("dirsync POD -> H2") && lines[4].contains("DOWN"));
}

#[test]
fn verbose_shows_every_key_and_its_times_human_as_well() {
    let mut r = healthy();
    set(&mut r, "POA.mail-router", "queue.oldest_age_ms", C(3_000));
    set(&mut r, "POA.ds-requestor", "last_duration_ms", C(14));
    let lines = detail_lines(&state(), &r, NOW);
    let line = |key: &str, id: &str| {
        let start = lines.iter().position(|l| l.contains(id)).unwrap();
        lines[start..]
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("last_success_ms", "POA.ds-requestor"),
        format!("{} (2 s ago)", NOW - 2000)
    );
    assert_eq!(line("last_duration_ms", "POA.ds-requestor"), "14 (14 ms)");
    assert_eq!(line("queue.oldest_age_ms", "POA.mail-router"), "3000 (3 s)");
    assert_eq!(
        line("requestor.POA.last_pull_ms", "H2.ds-server"),
        "0 (never)"
    );
    assert_eq!(line("last_error", "POA.ds-requestor"), "-");
    assert_eq!(line("pending", "POA.ds-requestor"), "0");
}

#[test]
fn a_degraded_process_shows_its_figures_and_its_reason_below() {
    let mut r = healthy();
    if let Some(Ok(report)) = r.get_mut("POA.mail-router") {
        report.health = wire_format::Health::Degraded(
            "mail store /d/mail.redb: I/O error: No space left on device".into(),
        );
    }
    let lines = summary_lines(&summarize(&state(), &r, NOW), false);
    assert!(lines[2].starts_with("POA.mail-router"), "{lines:#?}");
    assert!(lines[2].contains("DEGRADED") && lines[2].ends_with("queued 0, hub H"));
    assert_eq!(
        lines[3],
        "      degraded: mail store /d/mail.redb: I/O error: No space left on device"
    );
    assert!(
        lines[0].contains("11 processes up, 1 degraded, 0 down"),
        "{}",
        lines[0]
    );
}
