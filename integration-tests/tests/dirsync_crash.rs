//! Durability: SIGKILL the DS server in the middle of a large upload, and a
//! DS requestor in the middle of a full download; after restarts every GAL
//! converges with nothing lost and nothing applied twice.

use std::time::{Duration, Instant};

use integration_tests::dirsync::{
    self, Role, gal_view, requestor_secret, start_requestor, start_requestor_with, start_server,
    upsert,
};
use integration_tests::mail::name;
use integration_tests::operator::Operator;
use integration_tests::{test_dir, wait_until};
use wire_format::{DirUpload, Entry, EntryVersion, Message, Name, Role as WireRole, StatusValue};

const CONVERGE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

fn flag(client: &mut Operator, key: &str) -> bool {
    matches!(
        client
            .status()
            .ok()
            .and_then(|s| s.into_iter().find(|(k, _)| k == key))
            .map(|(_, v)| v),
        Some(StatusValue::Flag(true))
    )
}

fn bulk_entry(mailbox: &str, seq: u64, tombstone: bool) -> Entry {
    Entry {
        address: dirsync::address("POX", mailbox),
        display_name: format!("Bulk {mailbox}"),
        attributes: Vec::new(),
        owner: Name::new("POX").unwrap(),
        folder: None,
        origin: Name::new("POX").unwrap(),
        version: EntryVersion {
            version: 1,
            changed_at_ms: 1,
            origin_seq: seq,
        },
        tombstone,
    }
}

/// Uploads `changes` as requestor POX (a post office with no process of its
/// own), 500 per frame; returns the last acknowledgement.
fn upload_as_pox(server: &Role, changes: Vec<Entry>) -> u64 {
    let mut client = Operator::connect_as(
        server.endpoint(),
        &name("POX"),
        WireRole::Requestor,
        &requestor_secret("POX"),
    )
    .unwrap();
    let mut acked = 0;
    for chunk in changes.chunks(500) {
        match client.request(DirUpload {
            store_epoch: 0,
            changes: chunk.to_vec(),
        }) {
            Ok(Message::DirUploadAck(a)) => acked = a.applied_through,
            other => panic!("upload failed: {other:?}"),
        }
    }
    acked
}

fn wait_gals_equal(roles: &[&Role], expected_len: usize) -> Vec<String> {
    let mut last = Vec::new();
    let ok = wait_until(CONVERGE, Duration::from_millis(200), || {
        let views: Vec<_> = roles.iter().map(|r| gal_view(r)).collect();
        last = views[0].clone();
        views
            .iter()
            .all(|v| v.len() == expected_len && *v == views[0])
    });
    if !ok {
        for r in roles {
            eprintln!(
                "{}: {} entries; log tail:\n{}",
                r.process.label,
                gal_view(r).len(),
                r.log_text()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        panic!("GALs did not converge to {expected_len} equal entries");
    }
    last
}

#[test]
fn server_killed_mid_upload_and_requestor_killed_mid_download_lose_and_duplicate_nothing() {
    let root = test_dir("dirsync-crash");
    let mut server = start_server(root.path(), "H", &["POA", "POB", "POD", "POX"]);
    let h = ("H", server.endpoint());
    // Small upload frames, so the server dies between two of them.
    let poa = start_requestor_with(root.path(), "POA", &[h], 600_000, "upload_chunk = 100\n");
    let pob = start_requestor(root.path(), "POB", &[h], 600_000);
    upsert(&mut pob.operator(), "POB", "BOB", "Bob");
    assert!(wait_until(CONVERGE, POLL, || gal_view(&poa).len() == 1));

    // --- The server dies in the middle of POA's large upload. ---
    server.kill();
    const N: usize = 2000;
    let started = Instant::now();
    let mut op = poa.operator();
    for n in 0..N {
        upsert(&mut op, "POA", &format!("U{n}"), &format!("User {n}"));
    }
    eprintln!("{N} local upserts committed in {:?}", started.elapsed());
    server.restart();
    let mut watch = server.operator();
    let mut at_kill = 0;
    let seen = wait_until(Duration::from_secs(60), Duration::from_millis(1), || {
        at_kill = watch.count("high_water").unwrap_or(0);
        at_kill > 1
    });
    server.kill();
    assert!(seen, "the upload never started");
    eprintln!("server killed at high water {at_kill} of {}", N + 1);
    assert!(
        at_kill < (N + 1) as u64,
        "the kill came after the whole upload; the test proved nothing"
    );
    server.restart();
    wait_gals_equal(&[&poa, &pob, &server], N + 1);
    // Exactly one update number per change: no replayed change was applied twice.
    assert_eq!(
        server.operator().count("high_water").unwrap(),
        (N + 1) as u64
    );
    assert_eq!(poa.operator().count("pending").unwrap(), 0);

    // --- A requestor dies in the middle of its first, full download. ---
    const BULK: u64 = 20_000;
    let bulk: Vec<Entry> = (1..=BULK)
        .map(|i| bulk_entry(&format!("X{i}"), i, false))
        .collect();
    assert_eq!(upload_as_pox(&server, bulk), BULK);
    let total = N + 1 + BULK as usize;
    let mut pod = start_requestor(root.path(), "POD", &[("H", server.endpoint())], 600_000);
    let mut pod_op = pod.operator();
    assert!(wait_until(
        Duration::from_secs(60),
        Duration::from_millis(1),
        || flag(&mut pod_op, "resync_active")
    ));
    pod.kill();

    // While it is down (test018 style): deletes, a delete then re-add, new users.
    let mut op = poa.operator();
    for n in 0..10 {
        dirsync::delete(&mut op, "POA", &format!("U{n}"));
    }
    dirsync::delete(&mut op, "POA", "U10");
    upsert(&mut op, "POA", "U10", "User 10 again");
    upsert(&mut op, "POA", "NEWCOMER", "Newcomer");
    let tombs: Vec<Entry> = (1..=5)
        .map(|i| bulk_entry(&format!("X{i}"), BULK + i, true))
        .collect();
    assert_eq!(upload_as_pox(&server, tombs), BULK + 5);

    pod.restart();
    let expected_len = total - 10 + 1 - 5;
    let view = wait_gals_equal(&[&pod, &poa, &pob, &server], expected_len);
    assert!(view.contains(&"ACME/POA/U10|User 10 again".to_owned()));
    assert!(
        !view
            .iter()
            .any(|l| l.starts_with("ACME/POA/U0|") || l.starts_with("ACME/POX/X1|"))
    );
    let mut pod_op = pod.operator();
    assert!(!flag(&mut pod_op, "resync_active"));
    assert_eq!(
        pod_op.count("high_water").unwrap(),
        server.operator().count("high_water").unwrap()
    );
}
