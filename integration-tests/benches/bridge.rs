//! Bridge benchmark on real release processes over TCP on 127.0.0.1: the
//! time for ENTRIES (default 100,000) new entries of a post office on the
//! old hub H to reach the GAL of POD on the new hub H2, through H, the
//! bridge H3 (its requestor and site replicator) and H2 (its site replicator
//! and its site-mode DS server).
//!
//! The entries are uploaded to H by a wire client acting as POC's requestor
//! (registered on H, no process of its own), 10,000 per committed upload,
//! as the dirsync bench loads a server. Timed from just before the first
//! upload until POD's status says every entry is imported and committed.
//! Prints the time, entries/s, and the peak RSS of every process.
//!
//! `cargo bench -p integration-tests --bench bridge -- 100000`

use std::time::{Duration, Instant};

use integration_tests::bridge::{Bridge, Proc};
use integration_tests::dirsync::{self, requestor_secret};
use integration_tests::mail::name;
use integration_tests::operator::Operator;
use integration_tests::{peak_rss_kib, test_dir, wait_until};
use wire_format::{DirUpload, Entry, EntryVersion, Message, Name, Role};

fn entry(i: usize) -> Entry {
    Entry {
        address: dirsync::address("POC", &format!("U{i:07}")),
        display_name: format!("Old Network User {i}"),
        attributes: Vec::new(),
        owner: Name::new("POC").unwrap(),
        folder: None,
        origin: Name::new("POC").unwrap(),
        version: EntryVersion {
            version: 1,
            changed_at_ms: 1,
            origin_seq: i as u64 + 1,
        },
        tombstone: false,
    }
}

fn rss(p: &Proc) -> String {
    let kib = p.process.pid().and_then(peak_rss_kib).unwrap_or(0);
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = test_dir("bench-bridge");
    let b = Bridge::start(dir.path(), 60_000);
    let mut poc = Operator::connect_as(
        b.h.endpoint(),
        &name("POC"),
        Role::Requestor,
        &requestor_secret("POC"),
    )
    .unwrap();
    let started = Instant::now();
    for start in (0..total).step_by(10_000) {
        let changes = (start..(start + 10_000).min(total)).map(entry).collect();
        match poc.request(DirUpload {
            store_epoch: 0,
            changes,
        }) {
            Ok(Message::DirUploadAck(_)) => {}
            other => panic!("upload failed: {other:?}"),
        }
    }
    let uploaded = started.elapsed();
    let mut pod = b.pod.operator();
    let done = wait_until(Duration::from_secs(600), Duration::from_millis(10), || {
        pod.count("entries.imported")
            .is_ok_and(|n| n == total as u64)
    });
    let took = started.elapsed();
    assert!(done, "POD never had every entry\n{}", b.logs());
    println!("bridge propagation, {total} new entries on H -> POD's GAL via H3 and H2:");
    println!(
        "  uploaded to H (committed): {:.3} s",
        uploaded.as_secs_f64()
    );
    println!("  in POD's GAL (committed):  {:.3} s", took.as_secs_f64());
    println!(
        "  end to end: {:.0} entries/s",
        total as f64 / took.as_secs_f64()
    );
    println!("  peak RSS:");
    for (label, p) in [
        ("ds-server H", &b.h),
        ("ds-requestor H3 (bridge)", &b.h3),
        ("site-replicator H3", &b.h3_site),
        ("site-replicator H2", &b.h2_site),
        ("ds-server H2 (site mode)", &b.h2),
        ("ds-requestor POD", &b.pod),
    ] {
        println!("    {label:<26} {}", rss(p));
    }
}
