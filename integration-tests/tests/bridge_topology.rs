//! The patent's FIG. 2 on localhost: H with POA and POB, H2 with POD, H3
//! bridging through the site directory. Users, changes and deletes travel
//! both ways promptly (requestors' schedules are a minute: only
//! notifications move them), nothing echoes, and quiet cycles change
//! nothing; SIGKILLs of the bridge requestor and H2's DS server lose and
//! duplicate nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::bridge::{Bridge, Proc};
use integration_tests::dirsync::{delete, upsert};
use integration_tests::{test_dir, wait_until};
use wire_format::{Message, SyncNow};

const PROMPT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn line(po: &str, mailbox: &str, display: &str) -> String {
    format!("ACME/{po}/{mailbox}|{display}")
}

fn has(p: &Proc, l: &str) -> bool {
    p.gal().iter().any(|x| x == l)
}

fn converged(b: &Bridge, expected: &[String]) -> bool {
    [&b.poa, &b.pob, &b.pod].iter().all(|p| p.gal() == expected)
}

/// Every count that would grow if anything echoed or looped.
fn counts(b: &Bridge) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (label, p) in [("POA", &b.poa), ("POB", &b.pob), ("POD", &b.pod)] {
        out.insert(format!("{label}.gal"), p.gal().len() as u64);
        out.insert(format!("{label}.high_water"), p.count("high_water"));
    }
    out.insert("H.entries".into(), b.h.count("entries"));
    out.insert("H.high_water".into(), b.h.count("high_water"));
    for (label, p) in [("H2", &b.h2_site), ("H3", &b.h3_site)] {
        for key in ["usn", "folder.F1.entries", "folder.FS-POD.entries"] {
            out.insert(format!("{label}.{key}"), p.count(key));
        }
    }
    for key in [
        "entries.imported",
        "entries.exported",
        "out_seq",
        "high_water",
    ] {
        out.insert(format!("H3.bridge.{key}"), b.h3.count(key));
    }
    out
}

fn sync_now(p: &Proc) {
    match p.operator().request(SyncNow) {
        Ok(Message::AdminOk(_)) => {}
        other => panic!("SyncNow failed: {other:?}"),
    }
}

#[test]
fn users_changes_and_deletes_cross_the_bridge_both_ways_and_quiet_cycles_change_nothing() {
    let dir = test_dir("bridge-topology");
    let b = Bridge::start(dir.path(), 60_000);
    let (mut poa, mut pod) = (b.poa.operator(), b.pod.operator());

    upsert(&mut poa, "POA", "JSMITH", "John Smith");
    let js = line("POA", "JSMITH", "John Smith");
    assert!(
        wait_until(PROMPT, POLL, || has(&b.pod, &js)),
        "A's user never reached D\n{}",
        b.logs()
    );
    upsert(&mut pod, "POD", "AJONES", "Alice Jones");
    let aj = line("POD", "AJONES", "Alice Jones");
    assert!(
        wait_until(PROMPT, POLL, || has(&b.poa, &aj) && has(&b.pob, &aj)),
        "D's user never reached A and B\n{}",
        b.logs()
    );

    // Changes.
    upsert(&mut poa, "POA", "JSMITH", "John Q Smith");
    upsert(&mut pod, "POD", "AJONES", "Alice Q Jones");
    let (js2, aj2) = (
        line("POA", "JSMITH", "John Q Smith"),
        line("POD", "AJONES", "Alice Q Jones"),
    );
    assert!(
        wait_until(PROMPT, POLL, || has(&b.pod, &js2)
            && has(&b.poa, &aj2)
            && has(&b.pob, &aj2)),
        "changes did not cross\n{}",
        b.logs()
    );

    // Deletes.
    delete(&mut poa, "POA", "JSMITH");
    delete(&mut pod, "POD", "AJONES");
    assert!(
        wait_until(PROMPT, POLL, || {
            let (a, d) = (b.poa.gal(), b.pod.gal());
            !d.iter().any(|l| l.starts_with("ACME/POA/JSMITH|"))
                && !a.iter().any(|l| l.starts_with("ACME/POD/AJONES|"))
                && !b
                    .pob
                    .gal()
                    .iter()
                    .any(|l| l.starts_with("ACME/POD/AJONES|"))
        }),
        "deletes did not cross\n{}",
        b.logs()
    );

    // A settled directory on both sides.
    let mut pob = b.pob.operator();
    let mut expected = Vec::new();
    for i in 1..=3 {
        upsert(&mut poa, "POA", &format!("U{i}"), &format!("A user {i}"));
        expected.push(line("POA", &format!("U{i}"), &format!("A user {i}")));
    }
    upsert(&mut pob, "POB", "U1", "B user 1");
    expected.push(line("POB", "U1", "B user 1"));
    for i in 1..=2 {
        upsert(&mut pod, "POD", &format!("U{i}"), &format!("D user {i}"));
        expected.push(line("POD", &format!("U{i}"), &format!("D user {i}")));
    }
    expected.sort();
    assert!(
        wait_until(PROMPT, POLL, || converged(&b, &expected)),
        "no convergence: A {:?} B {:?} D {:?}\n{}",
        b.poa.gal(),
        b.pob.gal(),
        b.pod.gal(),
        b.logs()
    );
    // Let trailing notifications settle, then take the counts.
    let mut before = counts(&b);
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(500),
        || {
            let now = counts(&b);
            let same = now == before;
            before = now;
            same
        }
    ));
    assert_eq!(before["H2.folder.F1.entries"], 4, "{before:?}");
    assert_eq!(before["H2.folder.FS-POD.entries"], 2, "{before:?}");
    assert_eq!(before["H.entries"], 6, "{before:?}");

    for _ in 0..50 {
        for p in [&b.poa, &b.pob, &b.pod, &b.h3, &b.h2_site, &b.h3_site] {
            sync_now(p);
        }
    }
    let after = counts(&b);
    assert_eq!(before, after, "50 quiet cycles changed something");
    assert!(converged(&b, &expected));
}

#[test]
fn sigkill_of_the_bridge_requestor_and_h2_ds_server_loses_and_duplicates_nothing() {
    let dir = test_dir("bridge-kill");
    let mut b = Bridge::start(dir.path(), 1_000);
    let (mut poa, mut pod) = (b.poa.operator(), b.pod.operator());
    let mut expected = Vec::new();
    for round in 0..2 {
        for i in 0..150 {
            let (m, d) = (format!("R{round}A{i}"), format!("A {round} {i}"));
            upsert(&mut poa, "POA", &m, &d);
            expected.push(line("POA", &m, &d));
            if i % 3 == 0 {
                let (m, d) = (format!("R{round}D{i}"), format!("D {round} {i}"));
                upsert(&mut pod, "POD", &m, &d);
                expected.push(line("POD", &m, &d));
            }
            // Kill each in the middle of the traffic, while cycles run.
            if i == 60 {
                b.h3.kill();
            }
            if i == 90 {
                b.h3.restart();
                b.h2.kill();
            }
            if i == 120 {
                b.h2.restart();
            }
        }
    }
    expected.sort();
    let (a_users, d_users) = (
        expected.iter().filter(|l| l.contains("/POA/")).count() as u64,
        expected.iter().filter(|l| l.contains("/POD/")).count() as u64,
    );
    assert!(
        wait_until(Duration::from_secs(90), Duration::from_millis(200), || {
            converged(&b, &expected)
        }),
        "no convergence after the kills: A has {} of {}, D has {}\n{}",
        b.poa.gal().len(),
        expected.len(),
        b.pod.gal().len(),
        b.logs()
    );
    // Nothing duplicated anywhere along the way.
    let settle = |key: &str, p: &Proc, want: u64| {
        wait_until(Duration::from_secs(20), POLL, || p.count(key) == want)
    };
    assert!(
        settle("entries", &b.h, a_users + d_users),
        "H: {}",
        b.h.count("entries")
    );
    for site in [&b.h2_site, &b.h3_site] {
        assert!(settle("folder.F1.entries", site, a_users));
        assert!(settle("folder.FS-POD.entries", site, d_users));
    }
    assert_eq!(b.h3.count("entries.imported"), a_users);
    assert_eq!(b.h3.count("entries.exported"), d_users);
}
