//! Progress on long work (issue #18), every role a real process: `netctl
//! watch` follows a migration that another `netctl` runs, step by step (the
//! patent's steps A-G, then the verification) with each post office's users
//! moved, to its end; `netctl migrate` into a pipe prints its progress as
//! lines; the wave stays in the migration history once its journal is gone;
//! a `netctl migrate` killed midway is told as interrupted, with the command
//! that resumes it, and a resume is followed to its end.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use integration_tests::netctl_run::{NetworkGuard, netctl, spawn_netctl, succeeded, up_network};
use integration_tests::wait_until;
use netctl::migrate::{history, journal};
use serde_json::Value;

fn up(label: &str) -> (tempfile::TempDir, NetworkGuard) {
    let net = up_network(label, netctl::demo::PATENT_TOPOLOGY);
    (net.dir, net.guard)
}

/// `netctl --json watch ...` running, its events read as they come.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<Value>,
}

impl Watcher {
    fn start(data: &Path, args: &[&str]) -> Watcher {
        let mut child = spawn_netctl(data, args);
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most a minute) until the watcher has told `kind`.
    fn until(&mut self, kind: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.iter().any(|e| e["event"] == kind) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(parse(&line)),
                Err(e) => panic!("no {kind} event ({e}); seen: {:#?}", self.seen),
            }
        }
    }

    /// Every event until the watcher exits, which must be with success.
    fn finish(mut self) -> Vec<Value> {
        // The sender goes when netctl closes its stdout, on exit.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(240)) {
            self.seen.push(parse(&line));
        }
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "watch failed ({status}): {stderr}\n{:#?}",
            self.seen
        );
        self.seen
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("watch printed {line:?}: {e}"))
}

const WATCH: [&str; 7] = [
    "--json",
    "watch",
    "--wait",
    "--timeout",
    "180",
    "--interval",
    "100",
];

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

fn steps_started(events: &[Value]) -> Vec<String> {
    of_kind(events, "step_started")
        .iter()
        .map(|e| e["step"].as_str().unwrap().to_owned())
        .collect()
}

const PATENT_STEPS: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "verify"];

#[test]
fn watch_follows_a_migration_run_elsewhere_step_by_step_to_its_end() {
    let (_dir, guard) = up("netctl-watch");
    let data = guard.0.clone();

    // Nothing running: said at once, exit 0.
    let began = Instant::now();
    let out = netctl(&data, &["watch"]);
    let text = succeeded("watch with no migration", &out);
    assert!(text.contains("no migration is running"), "{text}");
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "it did not wait for one"
    );

    // The follower first (it waits for the wave), then the wave itself in
    // another process, its stdout a pipe.
    let mut watcher = Watcher::start(&data, &WATCH);
    watcher.until("waiting");
    let migrate = spawn_netctl(
        &data,
        &["migrate", "POC", "--to", "H2", "--method", "patent"],
    );
    let migrated = migrate.wait_with_output().unwrap();
    let printed = succeeded("migrate POC --to H2", &migrated);
    let watched = watcher.finish();

    // Every step, in the plan's order, each started then done.
    assert_eq!(steps_started(&watched), PATENT_STEPS, "{watched:#?}");
    let done: Vec<&str> = of_kind(&watched, "step_done")
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(done, PATENT_STEPS);
    assert!(
        of_kind(&watched, "step_done")
            .iter()
            .all(|e| e["elapsed_ms"].is_u64()),
        "every step has its duration: {watched:#?}"
    );
    // POC's users, moved to H2 until all of them are there.
    let users = of_kind(&watched, "users");
    let total = users
        .iter()
        .find_map(|e| e["users_total"].as_u64())
        .expect("POC's users counted");
    assert!(total > 0);
    for e in &users {
        let before_f = ["A", "B", "C", "D", "E"].contains(&e["step"].as_str().unwrap());
        assert!(
            !before_f || e["users_moved"] == 0,
            "none moved before step F: {users:#?}"
        );
        assert!(e["users_moved"].as_u64().is_some_and(|n| n <= total));
    }
    let last = users.last().unwrap();
    assert_eq!(last["users_moved"].as_u64(), Some(total), "{users:#?}");
    let end = watched.last().unwrap();
    assert_eq!(end["event"], "ended", "{watched:#?}");
    assert_eq!(end["outcome"], "migrated");
    assert_eq!(end["wave"], "POC -> H2");
    assert!(of_kind(&watched, "interrupted").is_empty(), "{watched:#?}");

    // The migration's own stdout, a pipe: plain progress lines.
    let lines: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("progress POC: step "))
        .collect();
    assert!(!lines.is_empty(), "{printed}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{total}/{total} users moved"))),
        "{printed}"
    );
    assert!(printed.contains("migrated POC to H2"), "{printed}");

    // The journal is gone; the history keeps the wave.
    assert!(journal::load(&data).unwrap().is_none());
    let recorded: Vec<_> = history::steps(&data)
        .unwrap()
        .into_iter()
        .filter(|e| e.wave == "POC -> H2")
        .collect();
    let mut order: Vec<&str> = recorded.iter().map(|e| e.step.as_str()).collect();
    order.reverse();
    assert_eq!(order, PATENT_STEPS, "newest first: {recorded:#?}");
    assert!(recorded.iter().all(|e| e.finished_ms.is_some()));
    assert!(
        recorded
            .iter()
            .all(|e| e.method == "patent" && e.to == "H2")
    );

    // Killed midway: the journal stays, its netctl is gone.
    let mut rollback = spawn_netctl(&data, &["rollback", "POC"]);
    let journaled = wait_until(Duration::from_secs(60), Duration::from_millis(2), || {
        journal::load(&data).ok().flatten().is_some()
    });
    rollback.kill().unwrap();
    let _ = rollback.wait();
    assert!(journaled, "the rollback never journaled its wave");
    let out = netctl(&data, &["watch"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an interrupted wave has not ended");
    assert!(
        said.contains("interrupted; resume with `netctl migrate POC --to H`"),
        "{said}"
    );

    // Resumed by the operator, followed by a watch to its end.
    let mut watcher = Watcher::start(&data, &WATCH);
    watcher.until("interrupted");
    let out = netctl(&data, &["rollback", "POC"]);
    succeeded("rollback POC, run again", &out);
    let watched = watcher.finish();
    assert!(!of_kind(&watched, "interrupted").is_empty(), "{watched:#?}");
    assert!(!of_kind(&watched, "resumed").is_empty(), "{watched:#?}");
    assert_eq!(steps_started(&watched), PATENT_STEPS, "{watched:#?}");
    let end = watched.last().unwrap();
    assert_eq!(end["outcome"], "rolled-back", "{watched:#?}");
    assert_eq!(history::waves(&data).unwrap().len(), 2);
}
