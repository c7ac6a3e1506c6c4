//! `netctl history` against a real network started by `netctl up` (POC on
//! H, POD on H2; every role its own process on 127.0.0.1), issue #18's run
//! history:
//!
//! * a user added at POC shows as POC's requestor cycle that sent it (one
//!   change, added 1), H's upload applied, and the cycles that imported it
//!   elsewhere (the bridge H3 from H, H2's site replicator from H3, POD from
//!   H2), newest first;
//! * `--since` (an RFC 3339 time, RFC 3339 section 5.6, and a duration)
//!   leaves out what ended before; `NODE` keeps that node's processes only;
//! * a requestor killed with SIGKILL and restarted still has its earlier
//!   events (the log is synced before an event counts);
//! * a process that is down is reported as unreachable, and the command
//!   still succeeds;
//! * a migration's steps (netctl's record) show among the processes'
//!   events, and the moved post office's requestor then syncs with H2.

use std::path::Path;
use std::time::Duration;

use integration_tests::netctl_run::{netctl, succeeded, up_network};
use integration_tests::wait_until;
use netctl::state::NetworkState;
use netctl::topology::RoleKind;
use serde_json::Value;

const SMALL: &str = r#"
network = "ACME"
[old_hub]
name = "H"
[new_hub]
name = "H2"
[bridge]
name = "H3"
[[post_offices]]
name = "POC"
hub = "H"
users = [{ mailbox = "BBROWN", display_name = "Bob Brown", password = "bbrown-pop3-password" }]
[[post_offices]]
name = "POD"
hub = "H2"
users = [{ mailbox = "AJONES", display_name = "Alice Jones", password = "ajones-pop3-password" }]
"#;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `ms` as an RFC 3339 time with milliseconds, written by date(1), not by
/// the parser under test.
fn rfc3339(ms: u64) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}.{:03}", ms / 1000, ms % 1000),
            "+%Y-%m-%dT%H:%M:%S.%3NZ",
        ])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `netctl history ARGS --json`, which must succeed.
fn history(data: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json", "history"];
    all.extend(args);
    let out = netctl(data, &all);
    let text = succeeded("netctl history", &out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn events(report: &Value) -> Vec<Value> {
    report["events"].as_array().cloned().unwrap_or_default()
}

fn num(event: &Value, key: &str) -> u64 {
    event[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {event}"))
}

/// The first (newest) event of `source` of `kind` that received or sent
/// something.
fn moved<'a>(events: &'a [Value], source: &str, kind: &str) -> Option<&'a Value> {
    events.iter().find(|e| {
        e["source"] == source
            && e["kind"] == kind
            && e["status"] == "ok"
            && num(e, "sent") + num(e, "received") > 0
    })
}

fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            !netctl::supervisor::alive(pid)
        }),
        "pid {pid} did not die"
    );
}

/// Starts process `id` again (same config, data and ports), as `netctl`
/// does for a dead process, and records its new pid.
fn restart(data: &Path, id: &str, binary: &str) {
    let mut state = NetworkState::load(data).unwrap();
    let p = state
        .processes
        .iter_mut()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("{id} in network.toml"));
    let started = netctl::supervisor::start(
        &p.id,
        &integration_tests::binary(binary),
        &p.config,
        &p.stdout,
        &p.stderr,
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("restart {id}: {e}"));
    p.pid = started.pid;
    p.endpoints = started.endpoints;
    state.save(data).unwrap();
}

#[test]
fn history_shows_each_cycle_that_moved_a_new_user_newest_first_and_survives_a_kill() {
    let net = up_network("netctl-history", SMALL);
    let data = net.data.clone();

    // Everything `up` seeded has gone round first.
    let seeded = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        let all = events(&history(&data, &["--limit", "1000"]));
        moved(&all, "POD.ds-requestor", "dirsync").is_some_and(|e| num(&e.clone(), "received") > 0)
            && moved(&all, "POC.ds-requestor", "dirsync").is_some()
    });
    assert!(seeded, "the seed users' cycles never showed");
    std::thread::sleep(Duration::from_millis(1500));

    let t0 = now_ms();
    succeeded(
        "user add",
        &netctl(&data, &["user", "add", "POC", "HISTUSER", "History User"]),
    );
    let since = rfc3339(t0);
    let mut report = Value::Null;
    let arrived = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        report = history(&data, &["--since", &since, "--limit", "1000"]);
        moved(&events(&report), "POD.ds-requestor", "dirsync").is_some()
    });
    let all = events(&report);
    assert!(arrived, "POD never imported the user:\n{report:#}");

    // Only what ended since t0, newest first.
    let times: Vec<u64> = all.iter().map(|e| num(e, "at_ms")).collect();
    assert!(times.iter().all(|t| *t >= t0), "{times:?} since {t0}");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // POC's cycle sent the one new user up.
    let upload = moved(&all, "POC.ds-requestor", "dirsync").expect("POC's cycle");
    assert_eq!(
        (
            num(upload, "sent"),
            num(upload, "added"),
            upload["peer"].as_str()
        ),
        (1, 1, Some("H")),
        "{upload}"
    );
    // H applied it, and every other directory took it in.
    let applied = moved(&all, "H.ds-server", "upload").expect("H's upload");
    assert_eq!(
        (
            num(applied, "received"),
            num(applied, "applied"),
            num(applied, "added")
        ),
        (1, 1, 1),
        "{applied}"
    );
    let mut imports = Vec::new();
    for (source, kind) in [
        ("H3.ds-requestor", "dirsync"),
        ("H2.site-replicator", "replication"),
        ("POD.ds-requestor", "dirsync"),
    ] {
        let e = moved(&all, source, kind).unwrap_or_else(|| panic!("{source}:\n{report:#}"));
        assert!(
            num(e, "received") >= 1 && num(e, "added") >= 1 && num(e, "applied") >= 1,
            "{source}: {e}"
        );
        imports.push(e);
    }
    let pod = imports[2];
    assert_eq!(pod["peer"], "H2", "{pod}");
    assert!(num(pod, "at_ms") >= num(upload, "at_ms"));
    let position = |e: &Value| all.iter().position(|x| x == e).unwrap();
    assert!(
        position(pod) < position(upload),
        "the import is newer, so listed first"
    );

    // Without --since, the seed cycles of `up` are there too; a duration
    // reaching back before `up` shows them as well.
    let older = |r: &Value| events(r).iter().any(|e| num(e, "at_ms") < t0);
    assert!(older(&history(&data, &["--limit", "1000"])));
    assert!(older(&history(
        &data,
        &["--since", "1h", "--limit", "1000"]
    )));
    assert!(!older(&history(
        &data,
        &["--since", "1ms", "--limit", "1000"]
    )));

    // NODE keeps that node's processes only.
    let pod_only = history(&data, &["POD", "--limit", "1000"]);
    assert!(
        events(&pod_only)
            .iter()
            .all(|e| e["source"].as_str().unwrap().starts_with("POD.")),
        "{pod_only:#}"
    );

    // POD's requestor killed: reported, not fatal.
    let requestor = NetworkState::load(&data)
        .unwrap()
        .process("POD", RoleKind::DsRequestor)
        .unwrap()
        .clone();
    kill(requestor.pid);
    let down = history(&data, &["--limit", "1000"]);
    let unreachable = down["unreachable"].as_array().unwrap();
    assert!(
        unreachable
            .iter()
            .any(|u| u["process"] == "POD.ds-requestor" && u["error"] == "not running"),
        "{down:#}"
    );
    assert!(moved(&events(&down), "POC.ds-requestor", "dirsync").is_some());

    // Restarted (same config and data), it still has the import it synced.
    restart(&data, "POD.ds-requestor", "ds-requestor");
    let after = history(&data, &["POD", "--limit", "1000"]);
    let kept = events(&after);
    assert!(
        kept.iter().any(|e| e["seq"] == pod["seq"]
            && e["started_ms"] == pod["started_ms"]
            && e["added"] == pod["added"]),
        "the import before the kill:\n{after:#}"
    );

    // A migration's steps join the processes' events, newest first; the
    // migrated post office's requestor now syncs with H2, in full first.
    let t1 = now_ms();
    succeeded("migrate", &netctl(&data, &["migrate", "POC", "--to", "H2"]));
    let moved_poc = history(&data, &["POC", "--since", &rfc3339(t1), "--limit", "1000"]);
    let all = events(&moved_poc);
    let steps: Vec<&str> = all
        .iter()
        .filter(|e| e["kind"] == "migration-step")
        .map(|e| {
            assert_eq!(e["source"], "netctl");
            assert_eq!(e["wave"], "POC -> H2", "{e}");
            e["step"].as_str().unwrap()
        })
        .collect();
    assert_eq!(steps, ["verify", "G", "F", "E", "B", "A"], "{moved_poc:#}");
    let resync = all
        .iter()
        .find(|e| e["source"] == "POC.ds-requestor" && e["peer"] == "H2")
        .unwrap_or_else(|| panic!("POC's cycle with H2:\n{moved_poc:#}"));
    assert_eq!(resync["full"], true, "{resync}");
    let times: Vec<u64> = all.iter().map(|e| num(e, "at_ms")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    drop(net);
}
