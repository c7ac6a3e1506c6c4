//! A requestor that was away while the server collected the tombstones it
//! had not seen yet is detected as too far behind and resynced in full, so
//! the delete it missed is not lost (389-ds #6280 in our own words).

use std::time::Duration;

use integration_tests::dirsync::{self, gal_view, start_requestor, start_server_with, upsert};
use integration_tests::{test_dir, wait_until};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn a_requestor_behind_the_collected_log_resyncs_in_full() {
    let root = test_dir("dirsync-trimmed");
    let server = start_server_with(
        root.path(),
        "H",
        &["POA", "POB"],
        "tombstone_lifetime_ms = 300",
    );
    let h = ("H", server.endpoint());
    let poa = start_requestor(root.path(), "POA", &[h], 600_000);
    let mut pob = start_requestor(root.path(), "POB", &[h], 600_000);
    let mut op = poa.operator();
    for n in 0..5 {
        upsert(&mut op, "POA", &format!("U{n}"), "User");
    }
    assert!(wait_until(CONVERGE, POLL, || gal_view(&pob).len() == 5));

    pob.kill();
    dirsync::delete(&mut op, "POA", "U0");
    upsert(&mut op, "POA", "U5", "User");
    // Wait until the delete's tombstone is collected on the server.
    let mut server_op = server.operator();
    assert!(wait_until(CONVERGE, POLL, || server_op
        .count("log_floor")
        .unwrap_or(0)
        > 0));

    pob.restart();
    let expected = gal_view(&poa);
    assert_eq!(expected.len(), 5);
    let ok = wait_until(CONVERGE, POLL, || gal_view(&pob) == expected);
    assert!(
        ok,
        "POB {:?} != {expected:?}\n{}",
        gal_view(&pob),
        pob.log_text()
    );
    assert!(pob.log_text().contains("full resync finished"));
}
