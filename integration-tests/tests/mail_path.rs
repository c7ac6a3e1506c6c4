//! A user on POA sends through SMTP to a user on POD; the mail goes
//! POA -> H -> H3 -> H2 -> POD (five router processes) and the recipient
//! collects it with POP3, byte for byte as sent below the trace fields.

use std::time::Duration;

use integration_tests::mail::{Net, patent_network, pop3_fetch, smtp_send};
use integration_tests::{test_dir, wait_until};

#[test]
fn smtp_on_poa_to_pop3_on_pod_through_both_hubs_and_the_bridge() {
    let root = test_dir("mail-path");
    let net = Net::start(root.path(), patent_network());
    let mut body =
        b"From: jsmith@poa.acme\r\nTo: ajones@pod.acme\r\nSubject: across the bridge\r\n\r\n"
            .to_vec();
    body.extend_from_slice(b"Hello Alice,\r\n.a line that starts with a dot\r\n\r\n");
    body.extend_from_slice("non-ASCII: h\u{e9}las, \u{2713}\r\n".as_bytes());
    for i in 0..200 {
        body.extend_from_slice(format!("line {i} {}\r\n", "x".repeat(i % 70)).as_bytes());
    }
    body.extend_from_slice(b"-- \r\nJohn\r\n");
    let file = root.path().join("message.eml");
    std::fs::write(&file, &body).unwrap();

    let outcome = smtp_send(
        net.get("POA").smtp(),
        "jsmith@poa.acme",
        &["ajones@pod.acme"],
        &file,
    );
    assert_eq!(outcome, "OK 0");

    let pod = net.get("POD");
    assert!(
        wait_until(Duration::from_secs(30), Duration::from_millis(50), || pod
            .count("delivered")
            == 1),
        "the mail did not reach POD"
    );
    // It went through every router of the path, once.
    // (A router counts a hand-over once the next hop's ack is in.)
    for hop in ["H", "H3", "H2"] {
        let r = net.get(hop);
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(20), || r
                .count("forwarded")
                == 1),
            "{hop}"
        );
        assert_eq!(r.count("queue.total"), 0, "{hop}");
    }
    assert_eq!(net.get("POB").count("received"), 0);

    let got = pop3_fetch(pod.pop3(), "AJONES", true);
    assert_eq!(got.len(), 1);
    // What was sent comes back byte for byte, below the fields the routers
    // add: Return-Path and Delivered-To at delivery, a Received per router
    // (RFC 5321 4.4), Date and Message-ID at submission (RFC 6409 8).
    let text = String::from_utf8_lossy(&got[0]);
    let added = text
        .strip_suffix(&*String::from_utf8_lossy(&body))
        .unwrap_or_else(|| panic!("the text sent is not at the end of:\n{text}"));
    assert!(got[0].ends_with(&body));
    let names: Vec<&str> = added
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(names[..2], ["Return-Path", "Delivered-To"], "{added}");
    assert_eq!(
        names.iter().filter(|n| **n == "Received").count(),
        5,
        "{added}"
    );
    assert!(
        names.iter().all(|n| [
            "Return-Path",
            "Delivered-To",
            "Received",
            "Date",
            "Message-ID"
        ]
        .contains(n)),
        "{added}"
    );
    // DELE + QUIT removed it.
    assert!(pop3_fetch(pod.pop3(), "AJONES", false).is_empty());

    // The logs went to files, not a terminal: plain text, no colour codes.
    for hop in ["POA", "H", "H3", "H2", "POD"] {
        let log = net.get(hop).log_text();
        assert!(log.contains("mail router serving"), "{hop}: {log}");
        assert!(!log.contains('\x1b'), "{hop}: colour codes in {log}");
    }
}
