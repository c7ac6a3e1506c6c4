//! netctl's process supervision against a real role process: start in the
//! background, read the `listening`/`ready` contract, query status as the
//! operator, stop.

use std::time::Duration;

use integration_tests::{binary, test_dir};
use netctl::client::Operator;
use netctl::supervisor;
use wire_format::StatusValue;

/// A key the roles accept: 32 hex digits.
const OPERATOR_KEY: &str = "0c0ffee0c0ffee0c0ffee0c0ffee0c0f";

#[test]
fn a_role_process_is_started_queried_and_stopped() {
    let site_replicator = binary("site-replicator");
    let dir = test_dir("netctl-supervisor");
    let config = dir.path().join("site.toml");
    std::fs::write(
        &config,
        format!(
            "node = \"H2\"\nnetwork = \"ACME\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"{}\"\n",
            dir.path().join("data").display(),
            OPERATOR_KEY
        ),
    )
    .unwrap();
    let (out, err) = (dir.path().join("out.log"), dir.path().join("err.log"));
    let started = supervisor::start(
        "H2.site-replicator",
        &site_replicator,
        &config,
        &out,
        &err,
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(supervisor::alive(started.pid));
    let wire = started
        .endpoints
        .get("wire")
        .expect("a wire listener")
        .clone();

    let mut op = Operator::connect(&wire, OPERATOR_KEY).unwrap();
    let status = op.status().unwrap();
    assert!(
        status
            .iter()
            .any(|(k, v)| k == "usn" && *v == StatusValue::Count(0)),
        "{status:?}"
    );
    assert!(Operator::connect(&wire, "not the secret").is_err());

    assert!(
        supervisor::stop(started.pid, Duration::from_secs(10)),
        "no graceful exit on SIGTERM"
    );
    assert!(!supervisor::alive(started.pid));
}

#[test]
fn a_process_that_cannot_start_is_reported_with_its_log() {
    let site_replicator = binary("site-replicator");
    let dir = test_dir("netctl-bad");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "node = \"not a valid name!\"\n").unwrap();
    let (out, err) = (dir.path().join("out.log"), dir.path().join("err.log"));
    let e = supervisor::start(
        "X.site-replicator",
        &site_replicator,
        &config,
        &out,
        &err,
        Duration::from_secs(10),
    )
    .err()
    .expect("a bad config must fail");
    assert!(e.to_string().contains("exited"), "{e}");
    assert!(std::fs::read_to_string(&err).unwrap().contains("not valid"));
}
