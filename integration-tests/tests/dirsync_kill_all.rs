//! Every process writes, everything is SIGKILLed, everything restarts, and
//! again, for several rounds (OpenLDAP test050's shape in our own words):
//! every acknowledged change survives, and all GALs end equal to the union
//! of what each post office owns.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::dirsync::{self, Role, gal_view, start_requestor, start_server, upsert};
use integration_tests::{test_dir, wait_until};

const CONVERGE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
const POS: [&str; 3] = ["POA", "POB", "POC"];

#[test]
fn rounds_of_add_modify_delete_with_everything_killed_in_between() {
    let root = test_dir("dirsync-kill-all");
    let mut server = start_server(root.path(), "H", &POS);
    let h = ("H", server.endpoint());
    let mut pos: Vec<Role> = POS
        .iter()
        .map(|po| start_requestor(root.path(), po, &[h], 600_000))
        .collect();
    // What each post office owns, as the test knows it: address line -> display.
    let mut owned: BTreeMap<String, String> = BTreeMap::new();
    for round in 0..6 {
        for (i, po) in POS.iter().enumerate() {
            let mut op = pos[i].operator();
            // Add two, modify one from the last round, delete another.
            for k in 0..2 {
                let mailbox = format!("R{round}K{k}");
                upsert(&mut op, po, &mailbox, &format!("Round {round}"));
                owned.insert(
                    dirsync::address(po, &mailbox).to_string(),
                    format!("Round {round}"),
                );
            }
            if round > 0 {
                let prev = round - 1;
                upsert(&mut op, po, &format!("R{prev}K0"), "Modified");
                owned.insert(
                    dirsync::address(po, &format!("R{prev}K0")).to_string(),
                    "Modified".into(),
                );
                dirsync::delete(&mut op, po, &format!("R{prev}K1"));
                owned.remove(&dirsync::address(po, &format!("R{prev}K1")).to_string());
            }
        }
        // Kill everything at once, whatever it was doing, and restart.
        server.kill();
        for r in pos.iter_mut() {
            r.kill();
        }
        server.restart();
        for r in pos.iter_mut() {
            r.restart();
        }
    }
    let expected: Vec<String> = owned.iter().map(|(a, d)| format!("{a}|{d}")).collect();
    let ok = wait_until(CONVERGE, POLL, || {
        gal_view(&server) == expected && pos.iter().all(|r| gal_view(r) == expected)
    });
    if !ok {
        for r in pos.iter().chain([&server]) {
            eprintln!("{}: {:?}", r.process.label, gal_view(r));
        }
        panic!("expected {expected:?}");
    }
}
