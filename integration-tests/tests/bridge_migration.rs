//! Patent steps B to G for post office POC through the real bridge, then the
//! rollback: the bridge owns POC on H exactly while POC's requestor is
//! removed there, without any restart.

use std::time::Duration;

use integration_tests::bridge::{Bridge, Proc};
use integration_tests::dirsync::{self, upsert};
use integration_tests::{test_dir, wait_until};
use wire_format::{Message, Name, PurgePostOffice, RemoveRequestor, Repoint, RestoreRequestor};

const PROMPT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const BOB: &str = "ACME/POC/BBROWN|Bob Brown";

fn has(p: &Proc) -> bool {
    p.gal().iter().any(|l| l == BOB)
}

fn admin(p: &Proc, message: impl Into<Message>) {
    match p.operator().request(message) {
        Ok(Message::AdminOk(_)) => {}
        other => panic!("admin request failed: {other:?}"),
    }
}

fn po(name: &str) -> Name {
    Name::new(name).unwrap()
}

#[test]
fn poc_migrates_through_the_bridge_and_rolls_back() {
    let dir = test_dir("bridge-migration");
    let b = Bridge::start(dir.path(), 60_000);
    let servers = [("H", b.h.endpoint()), ("H2", b.h2.endpoint())];
    let poc = dirsync::start_requestor(dir.path(), "POC", &servers, 1_000);
    upsert(&mut poc.operator(), "POC", "BBROWN", "Bob Brown");
    assert!(
        wait_until(PROMPT, POLL, || has(&b.pod) && has(&b.poa)),
        "POC's user did not reach D through F1\n{}",
        b.logs()
    );

    // B, C: H drops POC's requestor and users; D: they leave F1.
    admin(
        &b.h,
        RemoveRequestor {
            post_office: po("POC"),
        },
    );
    admin(
        &b.h,
        PurgePostOffice {
            post_office: po("POC"),
        },
    );
    assert!(
        wait_until(PROMPT, POLL, || !has(&b.pod) && !has(&b.poa)),
        "POC's users did not leave F1 and the old network\n{}",
        b.logs()
    );
    // E, F: POC now syncs with H2; its users land in FS-POC.
    let repoint = |server: &str, at: std::net::SocketAddr| Repoint {
        server: po(server),
        endpoint: at.to_string(),
    };
    match poc.operator().request(repoint("H2", b.h2.endpoint())) {
        Ok(Message::AdminOk(_)) => {}
        other => panic!("repoint failed: {other:?}"),
    }
    // G: FS-POC replicates to H3, which uploads it to H, which now lets the
    // bridge write POC: the whole network sees Bob again.
    assert!(
        wait_until(PROMPT, POLL, || has(&b.pod)
            && has(&b.poa)
            && has(&b.pob)
            && b.h2_site.count("folder.FS-POC.entries") == 1),
        "step G did not bring POC's users back\n{}",
        b.logs()
    );
    assert_eq!(b.h2_site.count("folder.F1.entries"), 0);

    // Rollback: H2 lets POC go, H takes its requestor back.
    admin(
        &b.h2,
        RemoveRequestor {
            post_office: po("POC"),
        },
    );
    admin(
        &b.h2,
        PurgePostOffice {
            post_office: po("POC"),
        },
    );
    assert!(
        wait_until(PROMPT, POLL, || !has(&b.poa) && !has(&b.pod)),
        "the purge on H2 did not reach the old network through the bridge\n{}",
        b.logs()
    );
    admin(
        &b.h,
        RestoreRequestor {
            post_office: po("POC"),
        },
    );
    match poc.operator().request(repoint("H", b.h.endpoint())) {
        Ok(Message::AdminOk(_)) => {}
        other => panic!("repoint back failed: {other:?}"),
    }
    assert!(
        wait_until(PROMPT, POLL, || has(&b.poa)
            && has(&b.pod)
            && b.h2_site.count("folder.F1.entries") == 1
            && b.h2_site.count("folder.FS-POC.entries") == 0),
        "POC's users did not come back through F1 after the rollback\n{}",
        b.logs()
    );
    // POC is its own again on H: one entry, nothing left behind by the bridge.
    assert_eq!(b.h.count("entries"), 1);
    assert_eq!(b.h3.count("entries.exported"), 0);
}
