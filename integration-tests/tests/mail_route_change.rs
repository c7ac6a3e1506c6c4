//! Patent step A for mail: 1,000 messages are queued at hub H for post
//! office C while C is down; the routes change (H2 delivers C directly, H3
//! sends C's mail to H2, H sends it to H3, and C's own hub becomes H2).
//! Every message then reaches C through H3 and H2, none twice, and C's new
//! hub survives a restart.

use std::time::Duration;

use integration_tests::mail::{
    Net, address, exactly_once, inject, patent_network, pop3_fetch, smtp_send, test_mail,
};
use integration_tests::{test_dir, wait_until};

const MESSAGES: usize = 1_000;
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn queued_mail_follows_a_route_change_to_the_new_hub_exactly_once() {
    let root = test_dir("mail-route");
    let mut net = Net::start(root.path(), patent_network());
    net.get_mut("POC").kill();

    let markers: Vec<String> = (0..MESSAGES).map(|i| format!("route-{i:04}")).collect();
    let messages = markers
        .iter()
        .map(|m| test_mail(m, address("POA", "JSMITH"), address("POC", "BBROWN"), 500))
        .collect();
    assert_eq!(
        inject(net.get("POA").wire(), "POA", messages, 100, WAIT),
        MESSAGES
    );
    let h = net.get("H");
    assert!(
        wait_until(WAIT, POLL, || h.count("queue.POC.depth") == MESSAGES as u64),
        "H holds {} for POC",
        h.count("queue.POC.depth")
    );
    assert_eq!(h.count("forwarded"), 0);

    // Downstream first, so no router ever sends C's mail back towards H.
    net.get("H2").set_route("POC", "POC");
    net.get("H3").set_route("POC", "H2");
    h.set_route("POC", "H3");
    assert!(
        wait_until(WAIT, POLL, || h.count("queue.total") == 0),
        "H still holds {} messages",
        h.count("queue.total")
    );
    assert_eq!(h.count("forwarded"), MESSAGES as u64);
    // They are now waiting at H2 for C.
    let h2 = net.get("H2");
    assert!(wait_until(WAIT, POLL, || h2.count("queue.POC.depth")
        == MESSAGES as u64));

    net.get_mut("POC").restart();
    let poc = net.get("POC");
    poc.set_route("POC", "H2");
    assert!(
        wait_until(WAIT, POLL, || poc.count("delivered") == MESSAGES as u64),
        "POC has {} of {MESSAGES}",
        poc.count("delivered")
    );
    // All through the bridge and the new hub; nothing else went anywhere.
    assert_eq!(net.get("H3").count("received"), MESSAGES as u64);
    // H2 forgets each message once POC's ack is in: a moment later.
    let h2 = net.get("H2");
    assert!(wait_until(WAIT, POLL, || h2.count("queue.total") == 0));
    assert_eq!(h2.count("forwarded"), MESSAGES as u64);
    assert_eq!(net.get("POB").count("received"), 0);
    let texts = pop3_fetch(poc.pop3(), "BBROWN", true);
    exactly_once(&texts, &markers).unwrap();

    // C's new hub is durable: after a SIGKILL its mail to POA goes via H2.
    net.get_mut("POC").restart();
    let poc = net.get("POC");
    assert_eq!(poc.text("hub").as_deref(), Some("H2"));
    let file = root.path().join("reply.eml");
    std::fs::write(&file, b"Subject: reply\r\n\r\nmarker reply-1\r\n").unwrap();
    assert_eq!(
        smtp_send(poc.smtp(), "bbrown@poc.acme", &["jsmith@poa.acme"], &file),
        "OK 0"
    );
    let poa = net.get("POA");
    assert!(wait_until(WAIT, POLL, || poa.count("delivered") == 1));
    let h2 = net.get("H2");
    assert!(
        wait_until(WAIT, POLL, || h2.count("forwarded") == MESSAGES as u64 + 1),
        "went via H2"
    );
    let got = pop3_fetch(poa.pop3(), "JSMITH", false);
    exactly_once(&got, &["reply-1".to_owned()]).unwrap();
}
