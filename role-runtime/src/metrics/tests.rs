//! The table, the text it gives, the ready rule, and the listener over real
//! TCP on 127.0.0.1 (HTTP/1.1, RFC 9112, spoken by hand).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use peer_link::{Connection, LinkError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wire_format::{Frame, Health, Name, Role, StatusItem, StatusReport, StatusValue};

use super::table::{Kind, Source, TABLE, matches};
use super::{Facts, MetricsSettings, Snapshot, readiness, render, serve_with};
use crate::server::{RequestHandler, Shutdown};

const NOW_MS: u64 = 1_800_000_000_000;

fn report(role: Role, health: Health, items: &[(&str, StatusValue)]) -> StatusReport {
    StatusReport {
        node: Name::new("POA").unwrap(),
        role,
        items: (items.iter())
            .map(|(key, value)| StatusItem {
                key: (*key).to_owned(),
                value: value.clone(),
            })
            .collect(),
        health,
    }
}

use StatusValue::{Count, Flag, Text};

fn mail_report() -> StatusReport {
    report(
        Role::MailRouter,
        Health::Ok,
        &[
            ("mode", Text("PostOffice".into())),
            ("queue.total", Count(3)),
            ("queue.H.depth", Count(3)),
            ("queue.H.oldest_age_ms", Count(1500)),
            ("queue.oldest_age_ms", Count(1500)),
            ("delivered", Count(7)),
            ("smtp.connections", Count(4)),
            ("smtp.rejected.550", Count(2)),
            ("peer.H.connected", Flag(true)),
            ("peer.H.last_error", Text(String::new())),
        ],
    )
}

fn text_of(report: &StatusReport) -> String {
    let facts = Facts {
        report: Some(report),
        degraded: false,
        ready: true,
        store_errors: 0,
        binary: "mail-router",
        version: "0.1.0",
        node: "POA",
    };
    render(Snapshot::take(&facts)).unwrap()
}

#[test]
fn the_table_follows_the_prometheus_naming_rules() {
    let mut names = HashSet::new();
    for m in TABLE {
        assert!(names.insert(m.name), "{} twice", m.name);
        assert!(m.name.starts_with("mhub_"), "{}", m.name);
        assert!(!m.help.is_empty(), "{} has no help", m.name);
        // https://prometheus.io/docs/practices/naming/: `_total` is a
        // counter's, and only a counter's.
        assert_eq!(
            m.name.ends_with("_total"),
            m.kind == Kind::Counter,
            "{}",
            m.name
        );
        assert!(!m.name.ends_with("_ms"), "{}: base units", m.name);
        if let Source::Key { key, label, .. } = m.source {
            assert_eq!(key.contains('*'), label.is_some(), "{}: {key}", m.name);
        }
    }
}

#[test]
fn every_metric_of_the_table_is_documented() {
    let docs = include_str!("../../../docs/METRICS.md");
    let documented: HashSet<&str> = (docs
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
    .filter(|w| w.starts_with("mhub_"))
    .collect();
    let missing: Vec<&str> = (TABLE.iter())
        .map(|m| m.name)
        .filter(|n| !documented.contains(n))
        .collect();
    assert!(missing.is_empty(), "not in docs/METRICS.md: {missing:?}");
    let unknown: Vec<&&str> = (documented.iter())
        .filter(|n| !TABLE.iter().any(|m| m.name == **n))
        .collect();
    assert!(
        unknown.is_empty(),
        "documented, not in the table: {unknown:?}"
    );
}

#[test]
fn a_pattern_takes_one_name_without_a_dot() {
    assert_eq!(matches("queue.*.depth", "queue.H2.depth"), Some("H2"));
    assert_eq!(matches("queue.*.depth", "queue.oldest_age_ms"), None);
    assert_eq!(
        matches("queue.*.oldest_age_ms", "queue.oldest_age_ms"),
        None
    );
    assert_eq!(matches("smtp.rejected.*", "smtp.rejected.550"), Some("550"));
    assert_eq!(matches("peer.*.connected", "peer.a.b.connected"), None);
    assert_eq!(matches("entries", "entries"), Some(""));
    assert_eq!(matches("entries", "entries.local"), None);
}

#[test]
fn a_report_becomes_typed_samples_with_help_in_base_units() {
    let text = text_of(&mail_report());
    for line in [
        "# HELP mhub_mail_queue_depth Queued messages",
        "# TYPE mhub_mail_queue_depth gauge",
        "mhub_mail_queue_depth{next_hop=\"H\"} 3",
        "mhub_mail_queue_oldest_age_seconds 1.5",
        "mhub_mail_queue_next_hop_oldest_age_seconds{next_hop=\"H\"} 1.5",
        "# TYPE mhub_mail_delivered_total counter",
        "mhub_mail_delivered_total 7",
        "# TYPE mhub_smtp_rejected_total counter",
        "mhub_smtp_rejected_total{code=\"550\"} 2",
        "mhub_smtp_connections_total 4",
        "mhub_mail_peer_connected{peer=\"H\"} 1",
        "mhub_up 1",
        "mhub_degraded 0",
        "mhub_ready 1",
        "mhub_store_errors_total 0",
        "mhub_build_info{role=\"mail-router\",version=\"0.1.0\",node=\"POA\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no {line:?} in\n{text}"
        );
    }
    // Another role's metrics and text values are not there.
    assert!(!text.contains("mhub_replication_"), "{text}");
    assert!(!text.contains("mhub_dirsync_"), "{text}");
    assert!(!text.contains("last_error"), "{text}");
}

#[test]
fn a_site_replicator_report_gives_folders_and_peers() {
    let site = report(
        Role::SiteReplicator,
        Health::Ok,
        &[
            ("folder.F1.entries", Count(12)),
            ("folder.FS-POC.entries", Count(3)),
            ("peer.H3.lag_changes", Count(5)),
            ("peer.H3.lag_seconds", Count(9)),
            ("peer.H3.last_success_ms", Count(NOW_MS)),
        ],
    );
    let text = text_of(&site);
    for line in [
        "mhub_directory_entries{folder=\"F1\"} 12",
        "mhub_directory_entries{folder=\"FS-POC\"} 3",
        "mhub_replication_lag_changes{peer=\"H3\"} 5",
        "mhub_replication_lag_seconds{peer=\"H3\"} 9",
        "mhub_replication_last_success_timestamp_seconds{peer=\"H3\"} 1800000000",
    ] {
        assert!(
            text.lines()
                .any(|l| l == line || l.starts_with(&format!("{line}."))),
            "no {line:?} in\n{text}"
        );
    }
}

#[test]
fn ready_means_caught_up_within_the_bound() {
    let requestor = |connected: bool, last: u64| {
        report(
            Role::Requestor,
            Health::Ok,
            &[
                ("connected", Flag(connected)),
                ("last_success_ms", Count(last)),
            ],
        )
    };
    assert_eq!(
        readiness(&requestor(true, NOW_MS - 10_000), 60, NOW_MS),
        Ok(())
    );
    let stale = readiness(&requestor(true, NOW_MS - 61_000), 60, NOW_MS).unwrap_err();
    assert!(stale.contains("61 s ago (bound 60 s)"), "{stale}");
    assert!(readiness(&requestor(true, 0), 60, NOW_MS).is_err());
    assert!(readiness(&requestor(false, NOW_MS), 60, NOW_MS).is_err());

    let site = |lag: u64, last: u64| {
        report(
            Role::SiteReplicator,
            Health::Ok,
            &[
                ("peer.H3.lag_seconds", Count(lag)),
                ("peer.H3.last_success_ms", Count(last)),
            ],
        )
    };
    assert_eq!(readiness(&site(60, NOW_MS), 60, NOW_MS), Ok(()));
    let behind = readiness(&site(61, NOW_MS), 60, NOW_MS).unwrap_err();
    assert!(behind.contains("peer H3"), "{behind}");
    assert!(readiness(&site(0, 0), 60, NOW_MS).is_err());

    let mail = |age: u64| {
        report(
            Role::MailRouter,
            Health::Ok,
            &[("queue.oldest_age_ms", Count(age))],
        )
    };
    assert_eq!(readiness(&mail(60_000), 60, NOW_MS), Ok(()));
    assert!(readiness(&mail(60_001), 60, NOW_MS).is_err());

    let server = report(Role::DsServer, Health::Ok, &[]);
    assert_eq!(readiness(&server, 60, NOW_MS), Ok(()));
    let full = report(Role::DsServer, Health::Degraded("disk\nfull".into()), &[]);
    assert_eq!(
        readiness(&full, 60, NOW_MS),
        Err("degraded: disk full".into())
    );
}

/// A role whose report the test sets.
struct Reporting(Arc<Mutex<StatusReport>>);

impl RequestHandler for Reporting {
    type Session = ();

    async fn status(&self) -> Result<StatusReport, String> {
        Ok(self.0.lock().unwrap().clone())
    }

    async fn handle(&self, _: &mut Connection, _: &mut (), _: Frame) -> Result<(), LinkError> {
        Ok(())
    }
}

/// One HTTP/1.1 request on a new connection; the status code and body.
async fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .unwrap()
        .unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[tokio::test]
async fn the_listener_serves_metrics_liveness_and_readiness() {
    let now = crate::now_ms();
    let state = Arc::new(Mutex::new(report(
        Role::Requestor,
        Health::Ok,
        &[
            ("connected", Flag(true)),
            ("last_success_ms", Count(now)),
            ("entries", Count(42)),
        ],
    )));
    let settings = MetricsSettings {
        listen: "127.0.0.1:0".into(),
        ready_lag_seconds: 60,
        binary: "ds-requestor",
        version: "9.9.9",
    };
    let shutdown = Shutdown::new();
    let addr = serve_with(settings, Reporting(Arc::clone(&state)), &shutdown)
        .await
        .unwrap();

    let (status, body) = get(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("\nmhub_gal_entries 42\n"), "{body}");
    assert!(
        body.contains("mhub_build_info{role=\"ds-requestor\",version=\"9.9.9\",node=\"POA\"} 1")
    );
    assert_eq!(
        get(addr, "GET", "/health/live").await,
        (200, "live\n".into())
    );
    assert_eq!(
        get(addr, "GET", "/health/ready").await,
        (200, "ready\n".into())
    );

    // The report changes: the next request sees it.
    *state.lock().unwrap() = report(
        Role::Requestor,
        Health::Ok,
        &[("connected", Flag(false)), ("last_success_ms", Count(now))],
    );
    let (status, body) = get(addr, "GET", "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body, "not ready: not connected to its DS server\n");
    assert_eq!(get(addr, "GET", "/health/live").await.0, 200);
    let (_, body) = get(addr, "GET", "/metrics").await;
    assert!(body.contains("\nmhub_ready 0\n"), "{body}");

    // Degraded: never ready, whatever else the report says.
    *state.lock().unwrap() = report(
        Role::Requestor,
        Health::Degraded("store /x: I/O error: no space left".into()),
        &[("connected", Flag(true)), ("last_success_ms", Count(now))],
    );
    let (status, body) = get(addr, "GET", "/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        "not ready: degraded: store /x: I/O error: no space left\n"
    );
    let (_, body) = get(addr, "GET", "/metrics").await;
    assert!(body.contains("\nmhub_degraded 1\n"), "{body}");

    // HEAD has the headers only (RFC 9110 9.3.2).
    assert_eq!(get(addr, "HEAD", "/metrics").await, (200, String::new()));
    assert_eq!(get(addr, "GET", "/nothing").await.0, 404);
    assert_eq!(get(addr, "POST", "/metrics").await.0, 405);

    // At the drain the listener closes.
    shutdown.begin();
    tokio::time::timeout(std::time::Duration::from_secs(5), shutdown.finished())
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(closed, "still accepting after the drain");
}
