//! Patent steps B and C on a DS server: removing a post office's requestor
//! and deleting all of its users, as administration operations; and a
//! graceful shutdown on SIGTERM.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::dirsync::{
    gal_view, requestor_secret, start_requestor, start_server, upsert,
};
use integration_tests::mail::name;
use integration_tests::operator::Operator;
use integration_tests::{test_dir, wait_until};
use wire_format::{Message, Name, PurgePostOffice, RemoveRequestor, Role, StatusValue};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn remove_requestor_then_purge_its_post_office() {
    let root = test_dir("dirsync-steps");
    let mut server = start_server(root.path(), "H", &["POA", "POB", "POC"]);
    let h = ("H", server.endpoint());
    let mut pos: Vec<_> = ["POA", "POB", "POC"]
        .iter()
        .map(|po| start_requestor(root.path(), po, &[h], 600_000))
        .collect();
    for (po, role) in ["POA", "POB", "POC"].iter().zip(&pos) {
        let mut op = role.operator();
        for n in 0..3 {
            upsert(&mut op, po, &format!("U{n}"), "User");
        }
    }
    assert!(wait_until(CONVERGE, POLL, || pos.iter().all(|r| gal_view(
        r
    )
    .len()
        == 9)));

    // Step B: POC may no longer sync with H, even with its right key.
    let mut op = server.operator();
    let reply = op.request(RemoveRequestor {
        post_office: Name::new("POC").unwrap(),
    });
    assert!(matches!(reply, Ok(Message::AdminOk(_))), "{reply:?}");
    let mut as_poc = Operator::connect_as(
        server.endpoint(),
        &name("POC"),
        Role::Requestor,
        &requestor_secret("POC"),
    );
    let refused = match as_poc.as_mut() {
        Err(_) => true,
        Ok(c) => c
            .request(wire_format::DirUpload {
                store_epoch: 0,
                changes: Vec::new(),
            })
            .is_err(),
    };
    assert!(refused, "a removed requestor still syncs");
    // A change at POC no longer reaches the others.
    upsert(&mut pos[2].operator(), "POC", "AFTER", "After removal");

    // Step C: POC's users leave H's directory and every other GAL.
    let reply = op.request(PurgePostOffice {
        post_office: Name::new("POC").unwrap(),
    });
    assert!(matches!(reply, Ok(Message::AdminOk(_))), "{reply:?}");
    assert!(wait_until(CONVERGE, POLL, || {
        [&pos[0], &pos[1], &server].iter().all(|r| {
            let v = gal_view(r);
            v.len() == 6 && v.iter().all(|l| !l.contains("/POC/"))
        })
    }));
    let status = BTreeMap::from_iter(op.status().unwrap());
    assert_eq!(
        status.get("requestor.POC.removed"),
        Some(&StatusValue::Flag(true))
    );
    assert_eq!(status.get("entries"), Some(&StatusValue::Count(6)));

    // The removal is durable: still refused after a restart.
    server.restart();
    let again = Operator::connect_as(
        server.endpoint(),
        &name("POC"),
        Role::Requestor,
        &requestor_secret("POC"),
    )
    .and_then(|mut c| {
        c.request(wire_format::DirUpload {
            store_epoch: 0,
            changes: Vec::new(),
        })
    });
    assert!(again.is_err());

    // SIGTERM: every process shuts down by itself.
    for r in pos.iter_mut() {
        assert!(
            r.process.terminate(Duration::from_secs(10)),
            "{} ignored SIGTERM",
            r.process.label
        );
    }
    assert!(server.process.terminate(Duration::from_secs(10)));
}
