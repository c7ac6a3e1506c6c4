//! Site replication between real site-replicator processes over TCP.

use std::time::Duration;

use integration_tests::operator::{Operator, dump};
use integration_tests::site::{SiteNode, user, write};
use integration_tests::{test_dir, wait_until};
use wire_format::{Message, StatusValue};

const CONVERGE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

fn mesh(nodes: &[&SiteNode]) {
    for a in nodes {
        for b in nodes {
            if a.name != b.name {
                a.point_at(b);
            }
        }
    }
}

fn entries(node: &SiteNode) -> String {
    dump(&node.operator().list_gal(None).expect("gal"))
}

fn folder_count(op: &mut Operator, folder: &str) -> u64 {
    op.count(&format!("folder.{folder}.entries")).unwrap_or(0)
}

#[test]
fn a_change_made_at_each_of_three_servers_reaches_the_others_exactly_once() {
    let dir = test_dir("site3");
    let h1 = SiteNode::start(dir.path(), "H1", &["H2", "H3"], "127.0.0.1:0");
    let h2 = SiteNode::start(dir.path(), "H2", &["H1", "H3"], "127.0.0.1:0");
    let h3 = SiteNode::start(dir.path(), "H3", &["H1", "H2"], "127.0.0.1:0");
    mesh(&[&h1, &h2, &h3]);
    for (i, node) in [&h1, &h2, &h3].iter().enumerate() {
        write(
            &mut node.client(),
            vec![user("F1", "POA", &format!("USER{i}"), "x")],
        );
    }
    for node in [&h1, &h2, &h3] {
        let mut op = node.operator();
        assert!(
            wait_until(CONVERGE, POLL, || folder_count(&mut op, "F1") == 3),
            "{} never held all three entries",
            node.name
        );
    }
    // Several more pull intervals with no change: nothing loops or repeats.
    std::thread::sleep(Duration::from_millis(1500));
    for node in [&h1, &h2, &h3] {
        let mut op = node.operator();
        assert_eq!(
            op.count("changes.applied").unwrap(),
            2,
            "{} applied a change twice",
            node.name
        );
        assert_eq!(folder_count(&mut op, "F1"), 3);
    }
    assert_eq!(entries(&h1), entries(&h2));
    assert_eq!(entries(&h2), entries(&h3));
}

#[test]
fn garbage_on_the_wire_closes_that_connection_only() {
    use std::io::{Read, Write};
    let dir = test_dir("site-garbage");
    let h2 = SiteNode::start(dir.path(), "H2", &[], "127.0.0.1:0");
    let mut raw = std::net::TcpStream::connect(h2.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(&[0xff; 64]).unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    let (frame, _) = wire_format::decode_frame(&answer, 1 << 20)
        .unwrap()
        .unwrap();
    assert!(matches!(frame.message, Message::ErrorReply(_)));
    // A wrong key gets nothing either.
    assert!(Operator::connect(h2.addr(), "wrong").is_err());
    // And the server still serves everyone else.
    assert!(h2.operator().status().is_ok());
}

#[test]
fn sigkill_of_either_server_during_replication_loses_and_duplicates_nothing() {
    const TOTAL: usize = 20_000;
    let dir = test_dir("site-kill");
    let mut h2 = SiteNode::start(dir.path(), "H2", &["H3"], "127.0.0.1:0");
    let mut h3 = SiteNode::start(dir.path(), "H3", &["H2"], "127.0.0.1:0");
    mesh(&[&h2, &h3]);

    // H3 (the bridge side) receives the old network's users; H2 pulls them.
    let mut client = h3.client();
    for batch in 0..(TOTAL / 1000) {
        let changes = (0..1000)
            .map(|i| {
                user(
                    "F1",
                    "POA",
                    &format!("U{:06}", batch * 1000 + i),
                    "old network user",
                )
            })
            .collect();
        write(&mut client, changes);
    }
    drop(client);
    let mut op = h2.operator();
    assert!(wait_until(CONVERGE, Duration::from_millis(1), || {
        let n = folder_count(&mut op, "F1");
        n > 0 && n < TOTAL as u64
    }));
    drop(op);
    h2.kill_and_restart();
    h3.point_at(&h2);
    let mut op = h2.operator();
    assert!(
        wait_until(CONVERGE, POLL, || folder_count(&mut op, "F1")
            == TOTAL as u64),
        "H2 did not converge after its restart"
    );
    assert_eq!(
        op.count("changes.applied").unwrap(),
        TOTAL as u64,
        "H2 applied some change twice"
    );

    // Now the other way: H2 (a migrated post office's folder) writes, H3 is
    // killed while pulling.
    let mut client = h2.client();
    for batch in 0..(TOTAL / 1000) {
        let changes = (0..1000)
            .map(|i| {
                user(
                    "FS1",
                    "POC",
                    &format!("C{:06}", batch * 1000 + i),
                    "migrated user",
                )
            })
            .collect();
        write(&mut client, changes);
    }
    let mut op = h3.operator();
    assert!(wait_until(CONVERGE, Duration::from_millis(1), || {
        let n = folder_count(&mut op, "FS1");
        n > 0 && n < TOTAL as u64
    }));
    drop(op);
    h3.kill_and_restart();
    h2.point_at(&h3);
    let mut op = h3.operator();
    assert!(
        wait_until(CONVERGE, POLL, || folder_count(&mut op, "FS1")
            == TOTAL as u64),
        "H3 did not converge after its restart"
    );
    assert_eq!(
        op.count("changes.applied").unwrap(),
        TOTAL as u64,
        "H3 applied some change twice"
    );
    assert_eq!(entries(&h2), entries(&h3));
    let mut op = h2.operator();
    assert_eq!(
        op.count("changes.applied").unwrap(),
        TOTAL as u64,
        "H2 got its own changes back"
    );
}

#[test]
fn concurrent_conflicting_changes_converge_to_the_same_value_on_both() {
    let dir = test_dir("site-conflict");
    let h2 = SiteNode::start(dir.path(), "H2", &["H3"], "127.0.0.1:0");
    let h3 = SiteNode::start(dir.path(), "H3", &["H2"], "127.0.0.1:0");
    mesh(&[&h2, &h3]);
    write(
        &mut h2.client(),
        vec![
            user("FS1", "POC", "BROWN", "Bob Brown"),
            user("FS1", "POC", "GREEN", "Gail Green"),
        ],
    );
    let mut op3 = h3.operator();
    assert!(wait_until(CONVERGE, POLL, || folder_count(&mut op3, "FS1") == 2));

    // Break replication: each server is told its peer is somewhere nobody listens.
    h2.point_at_endpoint("H3", "127.0.0.1:1");
    h3.point_at_endpoint("H2", "127.0.0.1:1");
    // Conflicting pairs: modify/modify on BROWN, delete/modify on GREEN, and
    // the same new address created on both.
    let mut deleted = user("FS1", "POC", "GREEN", "Gail Green");
    deleted.tombstone = true;
    write(
        &mut h2.client(),
        vec![
            user("FS1", "POC", "BROWN", "Robert Brown (H2)"),
            deleted,
            user("FS1", "POC", "NEW", "made at H2"),
        ],
    );
    write(
        &mut h3.client(),
        vec![
            user("FS1", "POC", "BROWN", "Bob Brown (H3)"),
            user("FS1", "POC", "GREEN", "Gail Green (H3)"),
            user("FS1", "POC", "NEW", "made at H3"),
        ],
    );

    // Repair, and compare.
    mesh(&[&h2, &h3]);
    assert!(
        wait_until(CONVERGE, POLL, || entries(&h2) == entries(&h3)),
        "H2 and H3 did not converge:\nH2:\n{}\nH3:\n{}",
        entries(&h2),
        entries(&h3)
    );
    // Status tells the operator the repaired link is healthy again.
    for node in [&h2, &h3] {
        let key = format!("peer.{}.in_sync", node.peers[0]);
        let mut op = node.operator();
        assert!(
            wait_until(CONVERGE, POLL, || matches!(
                op.status()
                    .unwrap()
                    .into_iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v),
                Some(StatusValue::Flag(true))
            )),
            "{} never reported {key} = true",
            node.name
        );
    }
}
