//! The metrics and health endpoints of every process of the example network
//! (examples/patent.toml: 16 real processes started by `netctl up`), issue
//! #18:
//!
//! * each process's `metrics` listener (from `netctl status --json`)
//!   answers `/health/live` 200, and `/health/ready` 200 once the network
//!   is caught up;
//! * `/metrics` is Prometheus text format 0.0.4, parsed by a parser nobody
//!   here wrote (Python's `prometheus_client.parser`, Debian's
//!   python3-prometheus-client): every family has HELP, counters are
//!   counters (`_total`) and gauges gauges, and the values are those of the
//!   process's own status report (directory entries, F1, queue depths, the
//!   dirsync lag of each requestor);
//! * a mail refused with 550 (RFC 5321 4.2.2: a recipient outside the
//!   network, no relaying) adds one to `mhub_smtp_rejected_total{code="550"}`;
//! * with H's DS server killed, POA's requestor answers `/health/ready`
//!   503 with the reason (and `/health/live` still 200).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::mail::smtp_send;
use integration_tests::netctl_run::{netctl, succeeded, up_network};
use integration_tests::wait_until;
use netctl::state::NetworkState;
use netctl::topology::RoleKind;
use serde_json::Value;

fn status_json(data: &Path) -> Value {
    let out = succeeded("netctl status --json", &netctl(data, &["status", "--json"]));
    serde_json::from_str(&out).expect("status --json is JSON")
}

/// `GET path` over HTTP/1.1 (RFC 9112) on a fresh connection: the status
/// code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let code = answer
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_owned())
}

/// A Python that has Debian's python3-prometheus-client (the system one:
/// a python3 of pyenv or a venv earlier on PATH does not see it).
fn python_with_parser() -> &'static str {
    for python in ["/usr/bin/python3", "python3"] {
        let found = Command::new(python)
            .args(["-c", "import prometheus_client.parser"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return python;
        }
    }
    panic!("no python3 with prometheus_client: apt-get install python3-prometheus-client");
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    out.append({
        "name": family.name,
        "type": family.type,
        "help": family.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    })
print(json.dumps(out))
"#;

/// One parsed scrape: family name (as the parser names it: a counter's
/// without `_total`) to (type, help, samples as (name, labels, value)).
type Families = BTreeMap<String, (String, String, Vec<(String, BTreeMap<String, String>, f64)>)>;

fn parse(text: &str, dir: &Path) -> Families {
    let file = dir.join("scrape.txt");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(python_with_parser())
        .args(["-c", PARSE])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    let mut families = Families::new();
    for f in parsed.as_array().unwrap() {
        let samples = (f["samples"].as_array().unwrap().iter())
            .map(|s| {
                let labels = (s["labels"].as_object().unwrap().iter())
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                let name = s["name"].as_str().unwrap().to_owned();
                (name, labels, s["value"].as_f64().unwrap())
            })
            .collect();
        let name = f["name"].as_str().unwrap().to_owned();
        let kind = f["type"].as_str().unwrap().to_owned();
        let help = f["help"].as_str().unwrap().to_owned();
        families.insert(name, (kind, help, samples));
    }
    families
}

/// The value of `name` with the one label `label` (None: no label), or
/// None if the scrape has no such sample.
fn value(families: &Families, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let family = name.strip_suffix("_total").unwrap_or(name);
    let (_, _, samples) = families.get(family)?;
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name
                && match label {
                    None => labels.is_empty(),
                    Some((k, v)) => labels.len() == 1 && labels.get(k).is_some_and(|l| l == v),
                }
        })
        .map(|(_, _, v)| *v)
}

/// A status value as a sample would give it: a count, or a flag as 0/1.
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_bool().map(|b| f64::from(u8::from(b))))
}

fn addr(p: &Value, service: &str) -> SocketAddr {
    p[service]
        .as_str()
        .unwrap_or_else(|| panic!("no {service} endpoint: {p:#}"))
        .parse()
        .unwrap()
}

/// Every key of `status` matching `PREFIX*SUFFIX` (one name, no dot), as
/// (name, value).
fn keyed<'s>(status: &'s Value, prefix: &str, suffix: &str) -> Vec<(&'s str, f64)> {
    (status.as_object().unwrap().iter())
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(prefix)?.strip_suffix(suffix)?;
            (!name.contains('.')).then_some((name, number(v)?))
        })
        .collect()
}

/// What in one process's scrape differs from its status report; empty when
/// all agrees.
fn mismatches(p: &Value, families: &Families) -> Vec<String> {
    let status = &p["status"];
    let mut wrong = Vec::new();
    let mut extra = None;
    let mut same = |what: String, scraped: Option<f64>, reported: Option<f64>| {
        if scraped != reported {
            wrong.push(format!(
                "{what}: scraped {scraped:?}, reported {reported:?}"
            ));
        }
    };
    let id = p["id"].as_str().unwrap();
    let of = |key: &str| number(&status[key]);
    match p["role"].as_str().unwrap() {
        "ds-server" => {
            let entries = value(families, "mhub_dirsync_server_entries", None);
            same(format!("{id} entries"), entries, of("entries"));
            for (r, lag) in keyed(status, "requestor.", ".lag_updates") {
                let scraped = value(families, "mhub_dirsync_lag_changes", Some(("requestor", r)));
                same(format!("{id} requestor {r} lag"), scraped, Some(lag));
            }
        }
        "ds-requestor" => {
            let connected = value(families, "mhub_dirsync_connected", None);
            same(format!("{id} connected"), connected, of("connected"));
            let imported = value(families, "mhub_dirsync_imported_entries", None);
            same(format!("{id} imported"), imported, of("entries.imported"));
            if status.get("entries").is_some() {
                let gal = value(families, "mhub_gal_entries", None);
                same(format!("{id} GAL"), gal, of("entries"));
            }
        }
        "site-replicator" => {
            let folders = keyed(status, "folder.", ".entries");
            if !folders.iter().any(|(f, n)| *f == "F1" && *n > 0.0) {
                extra = Some(format!("{id}: no F1 entries in {status}"));
            }
            for (folder, n) in folders {
                let scraped = value(families, "mhub_directory_entries", Some(("folder", folder)));
                same(format!("{id} folder {folder}"), scraped, Some(n));
            }
            for (peer, lag) in keyed(status, "peer.", ".lag_changes") {
                let scraped = value(
                    families,
                    "mhub_replication_lag_changes",
                    Some(("peer", peer)),
                );
                same(format!("{id} peer {peer} lag"), scraped, Some(lag));
            }
        }
        "mail-router" => {
            let total = value(families, "mhub_mail_queue_messages", None);
            same(format!("{id} queue"), total, of("queue.total"));
            for (hop, depth) in keyed(status, "queue.", ".depth") {
                let scraped = value(families, "mhub_mail_queue_depth", Some(("next_hop", hop)));
                same(format!("{id} queue to {hop}"), scraped, Some(depth));
            }
            if status.get("smtp.connections").is_some() {
                let smtp = value(families, "mhub_smtp_connections_total", None);
                same(
                    format!("{id} SMTP connections"),
                    smtp,
                    of("smtp.connections"),
                );
            }
        }
        other => extra = Some(format!("{id}: a role {other}?")),
    }
    wrong.extend(extra);
    wrong
}

/// The format's own rules, whatever the values: HELP everywhere, `_total`
/// on counters only, the process named in `mhub_build_info`.
fn check_form(p: &Value, families: &Families) {
    let id = p["id"].as_str().unwrap();
    for (name, (kind, help, samples)) in families {
        assert!(name.starts_with("mhub_"), "{id}: {name}");
        assert!(!help.is_empty(), "{id}: {name} has no HELP");
        assert!(!samples.is_empty(), "{id}: {name} has no sample");
        for (sample, _, _) in samples {
            assert_eq!(
                sample.ends_with("_total"),
                kind == "counter",
                "{id}: {sample} is a {kind}"
            );
        }
    }
    assert_eq!(value(families, "mhub_up", None), Some(1.0), "{id}");
    assert_eq!(value(families, "mhub_degraded", None), Some(0.0), "{id}");
    assert_eq!(value(families, "mhub_ready", None), Some(1.0), "{id}");
    assert_eq!(
        value(families, "mhub_store_errors_total", None),
        Some(0.0),
        "{id}"
    );
    let (_, _, info) = &families["mhub_build_info"];
    let labels = &info[0].1;
    assert_eq!(labels["role"], p["role"].as_str().unwrap(), "{id}");
    assert_eq!(labels["node"], p["node"].as_str().unwrap(), "{id}");
}

fn scrape(p: &Value, dir: &Path) -> Families {
    let (code, text) = get(addr(p, "metrics"), "/metrics");
    assert_eq!(code, 200, "{}: {text}", p["id"]);
    parse(&text, dir)
}

#[test]
fn every_process_serves_its_status_as_metrics_and_says_when_it_is_ready() {
    let net = up_network("metrics", netctl::demo::PATENT_TOPOLOGY);
    let data = net.data.clone();
    let dir = &net.dir;

    let json = status_json(&data);
    let processes = json["processes"].as_array().unwrap().clone();
    assert_eq!(processes.len(), 16);
    for p in &processes {
        let (code, body) = get(addr(p, "metrics"), "/health/live");
        assert_eq!((code, body.as_str()), (200, "live\n"), "{}", p["id"]);
        assert_eq!(get(addr(p, "metrics"), "/nothing").0, 404);
    }

    // Ready once every link has caught up: every requestor has synced, the
    // replicators have pulled from each other, no mail waits.
    let mut unready = Vec::new();
    let ready = wait_until(Duration::from_secs(120), Duration::from_millis(250), || {
        unready = (processes.iter())
            .filter_map(|p| {
                let (code, body) = get(addr(p, "metrics"), "/health/ready");
                (code != 200).then(|| format!("{} {code} {}", p["id"], body.trim()))
            })
            .collect();
        unready.is_empty()
    });
    assert!(ready, "not ready: {unready:#?}");
    for p in &processes {
        let (code, body) = get(addr(p, "metrics"), "/health/ready");
        assert_eq!((code, body.as_str()), (200, "ready\n"), "{}", p["id"]);
    }

    // Each scrape parses and agrees with the status report read after it
    // (a sync cycle between the two may move a figure: read again).
    let mut wrong = Vec::new();
    let agree = wait_until(Duration::from_secs(60), Duration::from_millis(250), || {
        let scrapes: Vec<Families> = processes.iter().map(|p| scrape(p, dir.path())).collect();
        let json = status_json(&data);
        let reports = json["processes"].as_array().unwrap();
        wrong.clear();
        for (families, p) in scrapes.iter().zip(&processes) {
            let report = (reports.iter())
                .find(|r| r["id"] == p["id"])
                .unwrap_or_else(|| panic!("{} left the status", p["id"]));
            check_form(report, families);
            wrong.extend(mismatches(report, families));
        }
        wrong.is_empty()
    });
    assert!(agree, "the metrics and the status disagree: {wrong:#?}");

    // A mail refused with 550 at POA counts in its SMTP rejections.
    let poa = (processes.iter())
        .find(|p| p["id"] == "POA.mail-router")
        .expect("POA's mail router");
    let rejected = |families: &Families| {
        value(families, "mhub_smtp_rejected_total", Some(("code", "550"))).unwrap_or(0.0)
    };
    let before = scrape(poa, dir.path());
    let message = dir.path().join("relay.eml");
    std::fs::write(&message, b"Subject: relay\r\n\r\nnot for here\r\n").unwrap();
    let refused = smtp_send(
        addr(poa, "smtp"),
        "jsmith@poa.acme",
        &["someone@example.com"],
        &message,
    );
    assert_eq!(refused, "RECIPIENTS 550");
    let after = scrape(poa, dir.path());
    assert_eq!(rejected(&after), rejected(&before) + 1.0);
    let (_, _, samples) = &after["mhub_smtp_rejected"];
    assert!(
        samples
            .iter()
            .all(|(n, _, _)| n == "mhub_smtp_rejected_total")
    );
    assert_eq!(after["mhub_smtp_rejected"].0, "counter");
    let connections = |f: &Families| value(f, "mhub_smtp_connections_total", None);
    assert_eq!(
        connections(&after),
        connections(&before).map(|n| n + 1.0),
        "one more SMTP connection"
    );
    let json = status_json(&data);
    let reported = (json["processes"].as_array().unwrap().iter())
        .find(|p| p["id"] == "POA.mail-router")
        .map(|p| number(&p["status"]["smtp.rejected.550"]));
    assert_eq!(reported, Some(Some(rejected(&after))));

    // H's DS server killed: POA's requestor loses it and is not ready, with
    // the reason, while it still lives.
    let h = NetworkState::load(&data)
        .unwrap()
        .process("H", RoleKind::DsServer)
        .expect("H.ds-server in network.toml")
        .pid;
    let killed = Command::new("kill")
        .args(["-KILL", &h.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    // A local change starts a cycle at once (else the next is up to a
    // minute away): it fails to reach H.
    succeeded(
        "netctl user add",
        &netctl(&data, &["user", "add", "POA", "NEWUSER", "New User"]),
    );
    let requestor = (processes.iter())
        .find(|p| p["id"] == "POA.ds-requestor")
        .expect("POA's requestor");
    let mut last = (0, String::new());
    let unready = wait_until(Duration::from_secs(120), Duration::from_millis(250), || {
        last = get(addr(requestor, "metrics"), "/health/ready");
        last.0 == 503
    });
    assert!(unready, "still ready without its server: {last:?}");
    assert_eq!(last.1, "not ready: not connected to its DS server\n");
    assert_eq!(get(addr(requestor, "metrics"), "/health/live").0, 200);
    let families = scrape(requestor, dir.path());
    assert_eq!(value(&families, "mhub_ready", None), Some(0.0));
    assert_eq!(value(&families, "mhub_dirsync_connected", None), Some(0.0));
}
