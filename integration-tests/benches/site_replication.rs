//! Site replication throughput between two real site-replicator processes:
//! N entries written at H3 (as the bridge's DS requestor would write F1)
//! until all are committed at H2, with each process's peak memory.
//!
//! Then the latency of single changes: 200 writes at H3, each timed from the
//! write's acknowledgement until a client reading H2's log is notified and
//! has read it (p50, p99, max).
//!
//! `cargo bench -p integration-tests --bench site_replication [-- ENTRIES]`
//! (default 100,000). Runs the release binaries.

use std::time::{Duration, Instant};

use integration_tests::site::{CLIENT, CLIENT_SECRET, SiteNode, user, write};
use integration_tests::{peak_rss_kib, test_dir, wait_until};
use peer_link::Timeouts;
use site_client::{ReadCursor, SiteClient};
use wire_format::{Name, Role};

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
    single_change_latency(&h2, &h3);
}

fn single_change_latency(h2: &SiteNode, h3: &SiteNode) {
    const SAMPLES: usize = 200;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let me = Name::new(CLIENT).expect("client name");
    let mut latencies = runtime.block_on(async {
        let (h3_wire, h2_wire) = (h3.addr().to_string(), h2.addr().to_string());
        let key = CLIENT_SECRET.as_bytes();
        let mut writer =
            SiteClient::connect(&h3_wire, &me, Role::DsServer, key, Timeouts::default())
                .await
                .expect("writer");
        let mut reader =
            SiteClient::connect(&h2_wire, &me, Role::DsServer, key, Timeouts::default())
                .await
                .expect("reader");
        // Catch up with everything so far; this also subscribes to notifications.
        let mut cursor = ReadCursor::default();
        loop {
            let read = reader.read(cursor, 5000).await.expect("read");
            cursor = read.next;
            if !read.more {
                break;
            }
        }
        let mut out = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES {
            let probe = format!("L{i:04}");
            writer
                .write(vec![user("F1", "POB", &probe, "latency probe")])
                .await
                .expect("write");
            let acked = Instant::now();
            loop {
                reader
                    .wait_for_change(Duration::from_secs(10))
                    .await
                    .expect("notify")
                    .expect("a notification");
                let read = reader.read(cursor, 5000).await.expect("read");
                cursor = read.next;
                if read
                    .changes
                    .iter()
                    .any(|c| c.entry.address.mailbox.as_str() == probe)
                {
                    break;
                }
            }
            out.push(acked.elapsed());
        }
        out
    });
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!("single change H3 -> H2, {SAMPLES} samples (write acked at H3 -> read at H2):");
    println!(
        "  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
}
