//! Site replication throughput between two real site-replicator processes:
//! N entries written at H3 (as the bridge's DS requestor would write F1)
//! until all are committed at H2, with each process's peak memory.
//!
//! `cargo bench -p integration-tests --bench site_replication [-- ENTRIES]`
//! (default 100,000). Runs the release binaries.

use std::time::{Duration, Instant};

use integration_tests::site::{SiteNode, user, write};
use integration_tests::{peak_rss_kib, test_dir, wait_until};

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = test_dir("bench-site");
    let h2 = SiteNode::start(dir.path(), "H2", &["H3"], "127.0.0.1:0");
    let h3 = SiteNode::start(dir.path(), "H3", &["H2"], "127.0.0.1:0");
    h2.point_at(&h3);
    h3.point_at(&h2);

    let start = Instant::now();
    let mut client = h3.client();
    for batch in 0..total.div_ceil(1000) {
        let changes = (batch * 1000..((batch + 1) * 1000).min(total))
            .map(|i| user("F1", "POA", &format!("U{i:07}"), "Old Network User"))
            .collect();
        write(&mut client, changes);
    }
    let written = start.elapsed();
    let mut op = h2.operator();
    let converged = wait_until(Duration::from_secs(600), Duration::from_millis(20), || {
        op.count("folder.F1.entries").unwrap_or(0) == total as u64
    });
    let elapsed = start.elapsed();
    assert!(converged, "H2 did not receive all {total} entries");
    println!(
        "site replication, {total} entries written at H3 (batches of 1,000, each committed durably):"
    );
    println!(
        "  all written at H3 after  {:>8.3} s",
        written.as_secs_f64()
    );
    println!(
        "  all committed at H2 after {:>8.3} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  end to end: {:.0} entries/s",
        total as f64 / elapsed.as_secs_f64()
    );
    for node in [&h2, &h3] {
        let rss = node.process.pid().and_then(peak_rss_kib).unwrap_or(0);
        println!(
            "  peak memory of {}: {:.1} MiB",
            node.name,
            rss as f64 / 1024.0
        );
    }
}
