//! Patent step E: a requestor re-pointed to another DS server ends with
//! exactly that server's directory, not a merge of the two.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::dirsync::{gal_view, start_requestor, start_server, upsert};
use integration_tests::{test_dir, wait_until};
use wire_format::{Message, Name, Repoint};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn a_repointed_requestor_ends_with_exactly_the_new_servers_directory() {
    let root = test_dir("dirsync-repoint");
    let h = start_server(root.path(), "H", &["POA", "POB"]);
    let h2 = start_server(root.path(), "H2", &["POB", "POC"]);
    let poa = start_requestor(root.path(), "POA", &[("H", h.endpoint())], 600_000);
    let pob = start_requestor(
        root.path(),
        "POB",
        &[("H", h.endpoint()), ("H2", h2.endpoint())],
        600_000,
    );
    let poc = start_requestor(root.path(), "POC", &[("H2", h2.endpoint())], 600_000);
    for n in 0..20 {
        upsert(
            &mut poa.operator(),
            "POA",
            &format!("A{n}"),
            &format!("A {n}"),
        );
        upsert(
            &mut pob.operator(),
            "POB",
            &format!("B{n}"),
            &format!("B {n}"),
        );
        upsert(
            &mut poc.operator(),
            "POC",
            &format!("C{n}"),
            &format!("C {n}"),
        );
    }
    // Before: POB sees POA's users and its own, not POC's.
    assert!(wait_until(CONVERGE, POLL, || gal_view(&pob).len() == 40
        && gal_view(&h).len() == 40));
    assert!(gal_view(&pob).iter().all(|l| !l.contains("/POC/")));

    let reply = pob.operator().request(Repoint {
        server: Name::new("H2").unwrap(),
        endpoint: h2.endpoint().to_string(),
    });
    assert!(matches!(reply, Ok(Message::AdminOk(_))), "{reply:?}");

    // After: POB's GAL is exactly H2's directory (POC's users and POB's own,
    // which H2 now has from POB's upload), and POC sees POB's users.
    let converged = wait_until(CONVERGE, POLL, || {
        let h2_view = gal_view(&h2);
        h2_view.len() == 40 && gal_view(&pob) == h2_view && gal_view(&poc) == h2_view
    });
    assert!(
        converged,
        "POB {:?}\nH2 {:?}\nlog:\n{}",
        gal_view(&pob),
        gal_view(&h2),
        pob.log_text()
    );
    assert!(gal_view(&pob).iter().all(|l| !l.contains("/POA/")));

    // The choice survives a restart: it keeps syncing with H2.
    let mut pob = pob;
    pob.restart();
    upsert(&mut poc.operator(), "POC", "LATE", "Late");
    assert!(wait_until(CONVERGE, POLL, || gal_view(&pob)
        .iter()
        .any(|l| l.contains("/POC/LATE|"))));
    let status = BTreeMap::from_iter(pob.operator().status().unwrap());
    assert_eq!(
        status.get("server"),
        Some(&wire_format::StatusValue::Text("H2".into()))
    );
}
