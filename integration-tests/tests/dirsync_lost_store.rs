//! A post office's directory store lost or replaced (the natural fix for a
//! "DB corrupted" error): the hub H still holds the requestor's old upload
//! mark, while the new store numbers its changes from 1 again. Nothing may
//! be split silently: every GAL ends equal, the change made in the new
//! store arrives everywhere, and the post office's old users are neither
//! lost nor orphaned: they are its own users again (it can delete them).

use std::path::Path;
use std::time::Duration;

use integration_tests::bridge::{Bridge, Proc};
use integration_tests::dirsync::{
    Role, delete, gal_view, start_requestor, start_requestor_with, start_server, upsert,
};
use integration_tests::{test_dir, wait_until};

const CONVERGE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
/// Cycles on a short schedule as well as on notifications.
const INTERVAL_MS: u64 = 300;
const STORE_FILE: &str = "ds-requestor.redb";

/// Waits until every role's GAL is `expected` (sorted `address|name`
/// lines); on a timeout, shows each GAL and the log tails.
fn wait_all_equal(roles: &[&Role], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    let ok = wait_until(CONVERGE, POLL, || {
        roles.iter().all(|r| gal_view(r) == expected)
    });
    if !ok {
        for r in roles {
            eprintln!(
                "{}: {:?}\nlog tail:\n{}",
                r.process.label,
                gal_view(r),
                r.log_text()
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        panic!("the GALs did not all become {expected:?}");
    }
}

fn store_of(root: &Path, po: &str) -> std::path::PathBuf {
    root.join(po).join("data").join(STORE_FILE)
}

/// The hub and its three post offices, with users everywhere; POA's
/// requestor has `poa_extra` config lines.
fn network(root: &Path, poa_extra: &str) -> (Role, Role, Role, Role) {
    let server = start_server(root, "H", &["POA", "POB", "POC"]);
    let h = [("H", server.endpoint())];
    let poa = start_requestor_with(root, "POA", &h, INTERVAL_MS, poa_extra);
    let pob = start_requestor(root, "POB", &h, INTERVAL_MS);
    let poc = start_requestor(root, "POC", &h, INTERVAL_MS);
    upsert(&mut poa.operator(), "POA", "ALICE", "Alice");
    upsert(&mut poa.operator(), "POA", "ANN", "Ann");
    // A user renamed once: the server's copy is its second version.
    upsert(&mut poa.operator(), "POA", "ANN", "Ann Renamed");
    upsert(&mut pob.operator(), "POB", "BOB", "Bob");
    upsert(&mut poc.operator(), "POC", "CAROL", "Carol");
    (server, poa, pob, poc)
}

fn status_count(role: &Role, key: &str) -> u64 {
    role.operator()
        .count(key)
        .unwrap_or_else(|e| panic!("{}: status {key}: {e}", role.process.label))
}

/// After the new store is in place and has a user of its own: every GAL
/// equal, nothing lost, nothing orphaned, and both sides say so.
fn check_healed(server: &Role, poa: &Role, pob: &Role, poc: &Role, lines: &[&str]) {
    let all = [server, poa, pob, poc];
    wait_all_equal(&all, lines);

    // POA's old users are its own again: it counts them as local and can
    // delete one, and the delete reaches every GAL.
    let own = lines.iter().filter(|l| l.starts_with("ACME/POA/")).count() as u64;
    assert_eq!(status_count(poa, "entries.local"), own);
    assert!(status_count(poa, "restored_users") >= 2);
    delete(&mut poa.operator(), "POA", "ALICE");
    let rest: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("ACME/POA/ALICE|"))
        .collect();
    wait_all_equal(&all, &rest);

    // Both sides say it happened: status and a warning in each log.
    assert_eq!(status_count(server, "requestor.POA.store_epoch_changes"), 1);
    assert_eq!(status_count(server, "requestor.POB.store_epoch_changes"), 0);
    assert_eq!(
        status_count(server, "requestor.POA.store_epoch"),
        status_count(poa, "store_epoch")
    );
    assert!(
        server.log_text().contains("directory store is new"),
        "no warning in H's log"
    );
    assert!(
        poa.log_text().contains("directory store is new"),
        "no warning in POA's log"
    );
}

#[test]
fn a_deleted_requestor_store_heals_without_losing_or_orphaning_a_user() {
    let root = test_dir("dirsync-lost-store");
    let (server, mut poa, pob, poc) = network(root.path(), "");
    wait_all_equal(
        &[&server, &poa, &pob, &poc],
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POA/ANN|Ann Renamed",
            "ACME/POB/BOB|Bob",
            "ACME/POC/CAROL|Carol",
        ],
    );

    // The store is lost: SIGKILL, the file deleted, a restart.
    poa.kill();
    let store = store_of(root.path(), "POA");
    std::fs::remove_file(&store).expect("remove POA's store");
    poa.restart();
    upsert(&mut poa.operator(), "POA", "AMY", "Amy");

    check_healed(
        &server,
        &poa,
        &pob,
        &poc,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POA/AMY|Amy",
            "ACME/POA/ANN|Ann Renamed",
            "ACME/POB/BOB|Bob",
            "ACME/POC/CAROL|Carol",
        ],
    );
}

/// The store replaced by another, newer one: a fresh store made by a
/// reinstalled POA from its config (with its seed user, which the
/// operator had renamed since). The seed yields to the server's copy; the
/// change made in the replacement (a rename of ANN) is newer and wins.
#[test]
fn a_replaced_requestor_store_heals_and_its_own_changes_win() {
    let root = test_dir("dirsync-replaced-store");
    let seeds = "\n[[seed_users]]\nmailbox = \"SEED\"\ndisplay_name = \"Seed From Config\"\n";
    let (server, mut poa, pob, poc) = network(root.path(), seeds);
    upsert(&mut poa.operator(), "POA", "SEED", "Seed Renamed");
    wait_all_equal(
        &[&server, &poa, &pob, &poc],
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POA/ANN|Ann Renamed",
            "ACME/POA/SEED|Seed Renamed",
            "ACME/POB/BOB|Bob",
            "ACME/POC/CAROL|Carol",
        ],
    );

    // A replacement store: what a reinstalled POA creates from the same
    // config, made here by a POA requestor that cannot reach any server.
    let spare_root = root.path().join("spare");
    let nowhere = "127.0.0.1:9".parse().expect("an address");
    let mut spare = start_requestor_with(&spare_root, "POA", &[("H", nowhere)], 600_000, seeds);
    spare.kill();
    poa.kill();
    std::fs::copy(store_of(&spare_root, "POA"), store_of(root.path(), "POA"))
        .expect("replace POA's store");
    poa.restart();
    upsert(&mut poa.operator(), "POA", "ANN", "Ann Changed After");
    upsert(&mut poa.operator(), "POA", "AMY", "Amy");

    check_healed(
        &server,
        &poa,
        &pob,
        &poc,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POA/AMY|Amy",
            "ACME/POA/ANN|Ann Changed After",
            "ACME/POA/SEED|Seed Renamed",
            "ACME/POB/BOB|Bob",
            "ACME/POC/CAROL|Carol",
        ],
    );
}

/// An old copy of POA's store put back (a backup): its epoch is the one H
/// knows, but H's mark counts changes made after the copy, so the copy's
/// next change would be skipped as a replay. The copy notices (H
/// acknowledges more than it ever numbered), draws a new epoch, takes back
/// the users added after the copy and sends its change again.
#[test]
fn an_old_copy_of_the_requestor_store_put_back_heals_too() {
    let root = test_dir("dirsync-old-copy-store");
    let (server, mut poa, pob, poc) = network(root.path(), "");
    let mut lines = vec![
        "ACME/POA/ALICE|Alice",
        "ACME/POA/ANN|Ann Renamed",
        "ACME/POB/BOB|Bob",
        "ACME/POC/CAROL|Carol",
    ];
    wait_all_equal(&[&server, &poa, &pob, &poc], &lines);
    poa.kill();
    let copy = root.path().join("poa-store-copy.redb");
    std::fs::copy(store_of(root.path(), "POA"), &copy).expect("copy POA's store");
    poa.restart();
    upsert(&mut poa.operator(), "POA", "ABE", "Abe");
    upsert(&mut poa.operator(), "POA", "ADA", "Ada");
    lines.extend(["ACME/POA/ABE|Abe", "ACME/POA/ADA|Ada"]);
    lines.sort();
    wait_all_equal(&[&server, &poa, &pob, &poc], &lines);

    poa.kill();
    std::fs::copy(&copy, store_of(root.path(), "POA")).expect("put the copy back");
    poa.restart();
    upsert(&mut poa.operator(), "POA", "AMY", "Amy");
    lines.push("ACME/POA/AMY|Amy");
    lines.sort();
    wait_all_equal(&[&server, &poa, &pob, &poc], &lines);
    assert_eq!(status_count(&poa, "store_renewals"), 1);
    assert_eq!(status_count(&poa, "entries.local"), 5);
    assert_eq!(
        status_count(&server, "requestor.POA.store_epoch_changes"),
        1
    );
    assert!(
        poa.log_text().contains("never made"),
        "no warning in POA's log"
    );
}

/// Waits until the GALs of the bridge topology's post offices are `expected`.
fn wait_site_equal(b: &Bridge, expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    let post_offices: [&Proc; 3] = [&b.poa, &b.pob, &b.pod];
    let ok = wait_until(CONVERGE, POLL, || {
        post_offices.iter().all(|p| p.gal() == expected)
    });
    assert!(
        ok,
        "the GALs did not all become {expected:?}: POA {:?} POB {:?} POD {:?}\n{}",
        b.poa.gal(),
        b.pob.gal(),
        b.pod.gal(),
        b.logs()
    );
}

/// The same in the patent's topology, where POD syncs with H2 and H2's
/// directory is the site (POD's users in folder FS-POD): POD's store lost,
/// then the bridge H3's own store lost. H3 uploads the new hub's users to H
/// as its own changes, numbered in its store: a new bridge store must not
/// have them taken for replays either.
#[test]
fn lost_requestor_stores_heal_in_the_site_topology_too() {
    let root = test_dir("dirsync-lost-store-site");
    let mut b = Bridge::start(root.path(), INTERVAL_MS);
    upsert(&mut b.poa.operator(), "POA", "ALICE", "Alice");
    upsert(&mut b.pod.operator(), "POD", "DAVE", "Dave");
    upsert(&mut b.pod.operator(), "POD", "DORA", "Dora");
    wait_site_equal(
        &b,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POD/DAVE|Dave",
            "ACME/POD/DORA|Dora",
        ],
    );

    // POD's store lost: its users come back from FS-POD.
    b.pod.kill();
    std::fs::remove_file(store_of(root.path(), "POD")).expect("remove POD's store");
    b.pod.restart();
    upsert(&mut b.pod.operator(), "POD", "DEAN", "Dean");
    wait_site_equal(
        &b,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POD/DAVE|Dave",
            "ACME/POD/DEAN|Dean",
            "ACME/POD/DORA|Dora",
        ],
    );
    assert_eq!(b.pod.count("entries.local"), 3);
    assert_eq!(b.pod.count("restored_users"), 2);
    assert_eq!(b.h2.count("requestor.POD.store_epoch_changes"), 1);
    delete(&mut b.pod.operator(), "POD", "DAVE");
    wait_site_equal(
        &b,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POD/DEAN|Dean",
            "ACME/POD/DORA|Dora",
        ],
    );

    // The bridge's store lost: its next changes still reach H. Renames
    // first, so that H's mark for H3 is well above the few changes a new
    // bridge store numbers when it reads the site log again.
    for i in 1..=6 {
        upsert(&mut b.pod.operator(), "POD", "DORA", &format!("Dora {i}"));
    }
    wait_site_equal(
        &b,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POD/DEAN|Dean",
            "ACME/POD/DORA|Dora 6",
        ],
    );
    b.h3.kill();
    let bridge_store = root.path().join("H3").join("data").join("ds-bridge.redb");
    std::fs::remove_file(bridge_store).expect("remove H3's store");
    b.h3.restart();
    upsert(&mut b.pod.operator(), "POD", "DREW", "Drew");
    wait_site_equal(
        &b,
        &[
            "ACME/POA/ALICE|Alice",
            "ACME/POD/DEAN|Dean",
            "ACME/POD/DORA|Dora 6",
            "ACME/POD/DREW|Drew",
        ],
    );
    assert_eq!(b.h.count("requestor.H3.store_epoch_changes"), 1);
}
