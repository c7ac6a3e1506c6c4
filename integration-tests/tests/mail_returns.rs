//! Mail that cannot arrive goes back to its sender, seen from real clients
//! (smtplib in, poplib out) over real router processes: a routing loop ends
//! at the hop limit, and mail queued for a hub that never answers is
//! returned once it passes the expiry.

use std::time::Duration;

use integration_tests::mail::{Net, Router, Spec, pop3_fetch, smtp_send};
use integration_tests::{test_dir, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// The reports in JSMITH's mailbox at POA, as text.
fn reports(net: &Net) -> Vec<String> {
    pop3_fetch(net.get("POA").pop3(), "JSMITH", false)
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

/// A router's counters, for a failure's message.
fn counters(r: &Router) -> String {
    [
        "received",
        "forwarded",
        "duplicates",
        "returned",
        "queued",
        "deferred",
    ]
    .iter()
    .map(|k| format!("{k}={}", r.count(k)))
    .collect::<Vec<_>>()
    .join(" ")
}

#[test]
fn a_routing_loop_ends_at_the_hop_limit_and_the_sender_is_told() {
    let root = test_dir("mail-loop");
    // A routing mistake: H sends POX's mail to H2, and H2 sends it back.
    let net = Net::start(
        root.path(),
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POX", "H2")]).with_extra("max_hops = 6"),
            Spec::relay("H2", "hub", &[("POA", "H"), ("POX", "H")]).with_extra("max_hops = 6"),
        ],
    );
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: round and round\r\n\r\nmarker loop-1\r\n").unwrap();
    assert_eq!(
        smtp_send(
            net.get("POA").smtp(),
            "jsmith@poa.acme",
            &["someone@pox.acme"],
            &file
        ),
        "OK 0"
    );
    let poa = net.get("POA");
    assert!(
        wait_until(WAIT, POLL, || poa.count("delivered") == 1),
        "no report came back; H: {}; H2: {}\nH log:\n{}\nH2 log:\n{}",
        counters(net.get("H")),
        counters(net.get("H2")),
        net.get("H").log_text(),
        net.get("H2").log_text()
    );
    let text = reports(&net);
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(text[0].contains("Undeliverable"), "{}", text[0]);
    assert!(text[0].contains("someone@pox.acme"), "{}", text[0]);
    assert!(text[0].contains("passed 6 routers"), "{}", text[0]);
    // It went round (each hub took it more than once), then stopped: one
    // hub returned it and nothing is left queued anywhere.
    let (h, h2) = (net.get("H"), net.get("H2"));
    assert!(
        h.count("received") >= 2,
        "H took it {}",
        h.count("received")
    );
    assert!(
        h2.count("received") >= 2,
        "H2 took it {}",
        h2.count("received")
    );
    assert_eq!(h.count("returned") + h2.count("returned"), 1);
    assert!(
        wait_until(WAIT, POLL, || {
            ["POA", "H", "H2"]
                .iter()
                .all(|r| net.get(r).count("queued") == 0)
        }),
        "mail still queued after the report"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(poa.count("delivered"), 1, "a second report arrived");
}

#[test]
fn mail_queued_past_its_expiry_comes_back_to_the_sender() {
    let root = test_dir("mail-expiry");
    // POA's hub H is never started: its mail for POB can only wait.
    let net = Net::start(
        root.path(),
        vec![Spec::post_office("POA", "H", &["H"], &["JSMITH"]).with_extra("expiry_secs = 1")],
    );
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: stuck\r\n\r\nmarker stuck-1\r\n").unwrap();
    let poa = net.get("POA");
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["klee@pob.acme"], &file),
        "OK 0"
    );
    assert!(
        wait_until(WAIT, POLL, || poa.count("delivered") == 1),
        "no report came back; POA: {}\nPOA log:\n{}",
        counters(poa),
        poa.log_text()
    );
    let text = reports(&net);
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(text[0].contains("klee@pob.acme"), "{}", text[0]);
    assert!(text[0].contains("not delivered within 1s"), "{}", text[0]);
    assert_eq!(poa.count("returned"), 1);
    assert_eq!(poa.count("queued"), 0);
}
