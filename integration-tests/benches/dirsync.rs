//! Dirsync benchmarks on real release processes over TCP on 127.0.0.1.
//!
//! * `resync [ENTRIES]` (default 1,000,000): a DS server is loaded with
//!   ENTRIES entries (uploaded by a test client acting as requestor POX,
//!   10,000 per committed upload); then a fresh DS requestor starts and does
//!   its full resync. Timed from the requestor's process start until its
//!   status says the resync is committed with every entry imported. Prints
//!   entries/s and the peak RSS of both processes.
//! * `propagation [POST_OFFICES] [CHANGES]` (default 50, 200): one server,
//!   POST_OFFICES requestors; CHANGES user upserts at the first, each timed
//!   from just before the UserUpsert request until every other post office
//!   reports the change committed (its high water reaches the server's).
//!   Prints p50, p99 and max, and the polling resolution.
//!
//! `cargo bench -p integration-tests --bench dirsync -- resync 1000000`
//! `cargo bench -p integration-tests --bench dirsync -- propagation 50 200`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use integration_tests::dirsync::{self, Role, requestor_secret, start_requestor, start_server};
use integration_tests::mail::name;
use integration_tests::operator::Operator;
use integration_tests::{peak_rss_kib, test_dir, wait_until};
use wire_format::{DirUpload, Entry, EntryVersion, Message, Name, Role as WireRole, StatusValue};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("resync") => resync(num(1, 1_000_000)),
        Some("propagation") => propagation(num(1, 50), num(2, 200)),
        _ => {
            resync(num(1, 1_000_000));
            propagation(50, 200);
        }
    }
}

fn bulk_entry(i: usize) -> Entry {
    Entry {
        address: dirsync::address("POX", &format!("U{i:07}")),
        display_name: "Old Network User".into(),
        attributes: Vec::new(),
        owner: Name::new("POX").unwrap(),
        folder: None,
        origin: Name::new("POX").unwrap(),
        version: EntryVersion {
            version: 1,
            changed_at_ms: 1,
            origin_seq: i as u64 + 1,
        },
        tombstone: false,
    }
}

fn rss(role: &Role) -> String {
    let kib = role.process.pid().and_then(peak_rss_kib).unwrap_or(0);
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn resync(total: usize) {
    let dir = test_dir("bench-dirsync-resync");
    let server = start_server(dir.path(), "H", &["POX", "POD"]);
    let load = Instant::now();
    let mut client = Operator::connect_as(
        server.endpoint(),
        &name("POX"),
        WireRole::Requestor,
        &requestor_secret("POX"),
    )
    .unwrap();
    for start in (0..total).step_by(10_000) {
        let changes = (start..(start + 10_000).min(total))
            .map(bulk_entry)
            .collect();
        match client.request(DirUpload {
            store_epoch: 0,
            changes,
        }) {
            Ok(Message::DirUploadAck(_)) => {}
            other => panic!("load failed: {other:?}"),
        }
    }
    println!("dirsync full resync, {total} entries:");
    println!(
        "  server loaded (uploads committed) in {:.3} s",
        load.elapsed().as_secs_f64()
    );

    // Built now, not inside the timed window: a fresh build of the
    // requestor once took 15 s of a measured "resync".
    integration_tests::binary("ds-requestor");
    let started = Instant::now();
    let pod = start_requestor(dir.path(), "POD", &[("H", server.endpoint())], 600_000);
    let mut op = pod.operator();
    let done = wait_until(Duration::from_secs(1200), Duration::from_millis(10), || {
        let Ok(s) = op.status().map(BTreeMap::from_iter) else {
            return false;
        };
        let imported =
            matches!(s.get("entries.imported"), Some(StatusValue::Count(n)) if *n == total as u64);
        let finished = matches!(s.get("resync_active"), Some(StatusValue::Flag(false)));
        let marked =
            matches!(s.get("high_water"), Some(StatusValue::Count(n)) if *n == total as u64);
        imported && finished && marked
    });
    let took = started.elapsed();
    assert!(done, "the resync did not finish");
    println!(
        "  requestor start -> resync committed: {:.3} s",
        took.as_secs_f64()
    );
    println!(
        "  end to end: {:.0} entries/s",
        total as f64 / took.as_secs_f64()
    );
    println!(
        "  peak RSS: ds-server {}, ds-requestor {}",
        rss(&server),
        rss(&pod)
    );
    if std::env::var_os("DIRSYNC_BENCH_LOGS").is_some() {
        eprintln!("{}\n{}", server.log_text(), pod.log_text());
    }
}

fn propagation(post_offices: usize, changes: usize) {
    let dir = test_dir("bench-dirsync-latency");
    let names: Vec<String> = (0..post_offices).map(|i| format!("PO{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let server = start_server(dir.path(), "H", &refs);
    let h = ("H", server.endpoint());
    let roles: Vec<Role> = names
        .iter()
        .map(|po| start_requestor(dir.path(), po, &[h], 600_000))
        .collect();
    let mut writer = roles[0].operator();
    let mut watchers: Vec<Operator> = roles[1..].iter().map(Role::operator).collect();
    // Everyone connected and in step before timing.
    assert!(wait_until(
        Duration::from_secs(60),
        Duration::from_millis(20),
        || {
            watchers.iter_mut().all(|w| {
                w.status()
                    .map(BTreeMap::from_iter)
                    .map(|s| matches!(s.get("connected"), Some(StatusValue::Flag(true))))
                    .unwrap_or(false)
            })
        }
    ));
    let mut server_op = server.operator();
    let mut samples = Vec::with_capacity(changes);
    let mut rounds = 0u64;
    let mut round_time = Duration::ZERO;
    for n in 0..changes {
        let target = server_op.count("high_water").unwrap() + 1;
        let t0 = Instant::now();
        dirsync::upsert(&mut writer, &names[0], &format!("U{n}"), "Latency probe");
        let mut waiting: Vec<usize> = (0..watchers.len()).collect();
        while !waiting.is_empty() {
            let r0 = Instant::now();
            waiting.retain(|&i| watchers[i].count("high_water").unwrap_or(0) < target);
            rounds += 1;
            round_time += r0.elapsed();
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "change {n} did not propagate"
            );
        }
        samples.push(t0.elapsed());
    }
    samples.sort();
    let pct =
        |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "dirsync propagation, {changes} changes at one of {post_offices} post offices, until all {} others committed it:",
        post_offices - 1
    );
    println!(
        "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*samples.last().unwrap())
    );
    println!(
        "  (polling the {} status reports took {:.1} ms per round on average: the resolution)",
        post_offices - 1,
        ms(round_time / rounds.max(1) as u32)
    );
    println!(
        "  peak RSS: ds-server {}, one ds-requestor {}",
        rss(&server),
        rss(&roles[1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
