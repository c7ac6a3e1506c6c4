//! `netctl status` on the example network (examples/patent.toml: 16 real
//! processes started by `netctl up`), as an operator reads it (issue #18):
//!
//! * healthy, the summary fits one screen (under 40 lines) and lists every
//!   process and every link in use once, healthy; `--errors-only` says all
//!   is well; `--verbose` still has every status key; `--json` has each
//!   process's `metrics` and the `summary`;
//! * a closed pipe (POSIX `write`: EPIPE and SIGPIPE once no reader is
//!   left) ends `netctl gal POA | head -1` and `netctl status --verbose |
//!   head -1` quietly: no panic, nothing on stderr;
//! * a DS requestor killed with SIGKILL is DOWN and sorts first, its link
//!   too, and `--errors-only` shows both;
//! * with POB's mail router stopped, a mail POA sends to POB waits on H's
//!   next hop POB, which shows the queued mail and the failure.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use integration_tests::mail::address;
use integration_tests::netctl_run::{netctl, netctl_binary, succeeded, up_network};
use integration_tests::wait_until;
use netctl::state::NetworkState;
use netctl::topology::RoleKind;
use serde_json::Value;

fn status(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    succeeded(&format!("netctl {}", all.join(" ")), &netctl(data, &all))
}

fn status_json(data: &Path) -> Value {
    serde_json::from_str(&status(data, &["--json"])).expect("status --json is JSON")
}

/// The summary's line for `id` (a process id, or `KIND FROM -> TO`): the
/// only line starting with it.
fn row<'a>(lines: &[&'a str], id: &str) -> &'a str {
    let found: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with(&format!("{id} ")))
        .collect();
    assert_eq!(found.len(), 1, "one line for {id} in {lines:#?}");
    found[0]
}

/// The second column (the state) of a summary line.
fn state_of(line: &str) -> &str {
    let rest = line
        .split_once("  ")
        .map_or("", |(_, rest)| rest.trim_start());
    rest.split("  ").next().unwrap_or("")
}

fn link_id(link: &Value) -> String {
    format!(
        "{} {} -> {}",
        link["kind"].as_str().unwrap(),
        link["from"].as_str().unwrap(),
        link["to"].as_str().unwrap()
    )
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            !netctl::supervisor::alive(pid)
        }),
        "pid {pid} did not die"
    );
}

fn pid(data: &Path, node: &str, role: RoleKind) -> u32 {
    NetworkState::load(data)
        .unwrap()
        .process(node, role)
        .unwrap_or_else(|| panic!("{node}.{role} in network.toml"))
        .pid
}

/// Checks a command whose reader went away said nothing and did not panic.
fn quiet(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    assert!(stderr.is_empty(), "{what} wrote to stderr: {stderr}");
}

/// `netctl ARGS | head -1` through `sh -c` (no pipefail: the pipeline's
/// status is head's), then netctl writing into a pipe whose reader is
/// already gone, so its first write meets the closed pipe.
fn closed_pipe(data: &Path, args: &str) {
    let netctl = netctl_binary();
    let line = format!(
        "'{}' --data-dir '{}' {args} | head -1",
        netctl.display(),
        data.display()
    );
    let out = Command::new("sh")
        .args(["-c", &line])
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    quiet(&line, &out);
    assert!(out.status.success(), "{line}: {}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(&netctl)
        .arg("--data-dir")
        .arg(data)
        .args(args.split(' '))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run netctl");
    let what = format!("netctl {args} > closed pipe");
    quiet(&what, &out);
    // Ended by SIGPIPE as any Unix filter, or having stopped writing: not
    // a panic's exit 101, not an error.
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.signal() == Some(SIGPIPE) || out.status.success(),
        "{what}: {}",
        out.status
    );
}

/// SIGPIPE's number (13 on every Linux architecture).
const SIGPIPE: i32 = 13;

#[test]
fn status_is_a_one_screen_summary_worst_first() {
    let net = up_network("netctl-status", netctl::demo::PATENT_TOPOLOGY);
    let data = net.data.clone();
    let state = NetworkState::load(&data).unwrap();

    // Healthy once synced: nothing down, failing or lagging.
    let mut json = Value::Null;
    let synced = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        json = status_json(&data);
        let t = &json["summary"]["totals"];
        [&t["down"], &t["degraded"], &t["failing"], &t["lagging"]]
            .iter()
            .all(|n| n.as_u64() == Some(0))
    });
    assert!(synced, "the network never settled: {json:#}");
    let summary = &json["summary"];

    // --json: each process's metrics listener (null until it has one) and
    // the summary's rows.
    for p in json["processes"].as_array().unwrap() {
        let metrics = p.get("metrics").expect("every process has \"metrics\"");
        assert_eq!(metrics, &p["endpoints"]["metrics"], "{p:#}");
    }
    assert_eq!(summary["processes"].as_array().unwrap().len(), 16);
    let links: Vec<String> = summary["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(link_id)
        .collect();
    for link in [
        "dirsync H3 -> H",
        "dirsync POA -> H",
        "dirsync POB -> H",
        "dirsync POC -> H",
        "dirsync POD -> H2",
        "replication H2 -> H3",
        "replication H3 -> H2",
        "mail POA -> H",
        "mail POD -> H2",
        "mail H -> POC",
        "mail H2 -> POD",
        "mail H3 -> H",
        "mail H3 -> H2",
    ] {
        assert!(links.contains(&link.to_owned()), "{link} in {links:?}");
    }
    // A hub's route to a post office on the other hub is idle: not listed.
    assert!(!links.contains(&"mail H -> POD".to_owned()), "{links:?}");

    // The summary: under 40 lines, every process and link once, healthy.
    let text = status(&data, &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() < 40, "{} lines:\n{text}", lines.len());
    assert!(
        lines[0].starts_with("network ACME: 16 processes up, 0 down;"),
        "{text}"
    );
    for p in &state.processes {
        assert_eq!(state_of(row(&lines, &p.id)), "up", "{text}");
    }
    for link in &links {
        let state = state_of(row(&lines, link));
        assert!(
            state == "in sync" || state == "ok",
            "{link}: {state}\n{text}"
        );
    }
    assert_eq!(lines.len(), 1 + 1 + 16 + 1 + links.len(), "{text}");

    let errors = status(&data, &["--errors-only"]);
    assert!(
        errors
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("all is well")),
        "{errors}"
    );
    assert_eq!(errors.lines().count(), 2, "{errors}");

    // --verbose: the summary, then every key as before, times human too.
    let verbose = status(&data, &["--verbose"]);
    for key in [
        "requestor.POA.lag_updates",
        "peer.H3.lag_changes",
        "folder.F1.entries",
        "queue.total",
        "last_success_ms",
    ] {
        assert!(verbose.contains(&format!(" {key} ")), "{key} in --verbose");
    }
    assert!(
        verbose
            .lines()
            .any(|l| l.contains("last_success_ms") && l.ends_with(" ago)"))
    );

    closed_pipe(&data, "gal POA");
    closed_pipe(&data, "status --verbose");

    // A DS requestor killed: DOWN, first, with its link; --errors-only too.
    kill(pid(&data, "POA", RoleKind::DsRequestor));
    let text = status(&data, &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("15 processes up, 1 down"), "{text}");
    assert!(lines[2].starts_with("POA.ds-requestor "), "{text}");
    assert_eq!(state_of(lines[2]), "DOWN", "{text}");
    let first_link = lines[1 + 1 + 16 + 1];
    assert!(first_link.starts_with("dirsync POA -> H "), "{text}");
    assert_eq!(state_of(first_link), "DOWN", "{text}");
    let errors = status(&data, &["--errors-only"]);
    assert!(!errors.contains("all is well"), "{errors}");
    let error_lines: Vec<&str> = errors.lines().collect();
    assert_eq!(state_of(row(&error_lines, "POA.ds-requestor")), "DOWN");
    assert_eq!(state_of(row(&error_lines, "dirsync POA -> H")), "DOWN");
    assert_eq!(error_lines.len(), 1 + 2 + 2, "{errors}");

    // POB's mail router stopped, then a mail from POA to POB: it waits at H
    // for the next hop POB, which shows it queued and failing.
    kill(pid(&data, "POB", RoleKind::MailRouter));
    let json = status_json(&data);
    let poa = json["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "POA.mail-router")
        .unwrap();
    let ca = data.join("tls").join("ca.pem");
    netctl::mailclient::send(
        poa["smtp"].as_str().unwrap(),
        Some(netctl::mailclient::SmtpLogin {
            trust: &ca,
            password: "jsmith-pw",
        }),
        &address("POA", "JSMITH"),
        &address("POB", "KLEE"),
        &[("Subject", "status test")],
        "queued until POB is back",
    )
    .expect("POA takes the mail");
    let mut hop = Value::Null;
    let failing = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        let json = status_json(&data);
        hop = json["summary"]["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| link_id(l) == "mail H -> POB")
            .cloned()
            .unwrap_or(Value::Null);
        hop["queued"] == 1
            && (hop["last_error"].is_string() || hop["consecutive_failures"].as_u64() > Some(0))
    });
    assert!(failing, "H's hop to POB: {hop:#}");
    assert_eq!(hop["health"], "down");
    let text = status(&data, &[]);
    let lines: Vec<&str> = text.lines().collect();
    let line = row(&lines, "mail H -> POB");
    assert_eq!(state_of(line), "DOWN", "{text}");
    assert!(line.contains("1 queued"), "{line}");
    assert!(line.contains("POB.mail-router: not running; "), "{line}");
    assert!(lines[0].ends_with("mail queued 1"), "{text}");
    let errors = status(&data, &["--errors-only"]);
    assert!(errors.contains("mail H -> POB "), "{errors}");
}
