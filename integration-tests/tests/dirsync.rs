//! Directory synchronization end to end: one DS server and several DS
//! requestors as real processes over TCP on 127.0.0.1.

use std::time::Duration;

use integration_tests::dirsync::{self, Role, gal_view, start_requestor, start_server, upsert};
use integration_tests::{test_dir, wait_until};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// Waits until every GAL reads `expected`; on timeout shows what each holds.
fn converge(roles: &[&Role], expected: &[String]) {
    let ok = wait_until(CONVERGE, POLL, || {
        roles.iter().all(|r| gal_view(r) == expected)
    });
    if !ok {
        for r in roles {
            eprintln!(
                "{}: {:?}\nlog:\n{}",
                r.process.label,
                gal_view(r),
                r.log_text()
            );
        }
        panic!("GALs did not converge to {expected:?}");
    }
}

fn line(po: &str, mailbox: &str, display: &str) -> String {
    format!("{}|{display}", dirsync::address(po, mailbox))
}

#[test]
fn three_post_offices_share_adds_changes_and_deletes() {
    let root = test_dir("dirsync-three");
    let server = start_server(root.path(), "H", &["POA", "POB", "POC"]);
    let h = ("H", server.endpoint());
    // A long schedule: propagation must come from notifications, not polling.
    let pos: Vec<Role> = ["POA", "POB", "POC"]
        .iter()
        .map(|po| start_requestor(root.path(), po, &[h], 600_000))
        .collect();
    let mut ops: Vec<_> = pos.iter().map(Role::operator).collect();

    let mut expected = Vec::new();
    for (i, po) in ["POA", "POB", "POC"].iter().enumerate() {
        for n in 0..5 {
            let mailbox = format!("USER{n}");
            upsert(&mut ops[i], po, &mailbox, &format!("User {n} of {po}"));
            expected.push(line(po, &mailbox, &format!("User {n} of {po}")));
        }
    }
    expected.sort();
    let all: Vec<&Role> = pos.iter().collect();
    converge(&all, &expected);
    // The server's master list is the union of the owned entries too.
    assert_eq!(gal_view(&server), expected);

    // A change and a delete propagate.
    upsert(&mut ops[1], "POB", "USER2", "Renamed");
    dirsync::delete(&mut ops[2], "POC", "USER4");
    expected.retain(|l| !l.starts_with("ACME/POB/USER2|") && !l.starts_with("ACME/POC/USER4|"));
    expected.push(line("POB", "USER2", "Renamed"));
    expected.sort();
    converge(&all, &expected);
    assert_eq!(gal_view(&server), expected);

    // Delete then re-add of the same address ends live everywhere.
    dirsync::delete(&mut ops[0], "POA", "USER0");
    upsert(&mut ops[0], "POA", "USER0", "Back again");
    expected.retain(|l| !l.starts_with("ACME/POA/USER0|"));
    expected.push(line("POA", "USER0", "Back again"));
    expected.sort();
    converge(&all, &expected);

    // The password given to UserUpsert never reaches a log.
    for r in &all {
        let log = r.log_text();
        assert!(!log.contains("never-in-the-directory"));
        assert!(!log.contains('\x1b'), "colour codes in a log file: {log}");
    }
}
