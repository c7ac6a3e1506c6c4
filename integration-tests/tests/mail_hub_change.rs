//! A post office changes hub at run time (the migration moves POC from H to
//! H2): `SetRoute{POC, H2}` sent to POC's own router. Mail POC had queued
//! for its dead old hub follows to the new one, exactly once; a hub that is
//! not a configured peer is refused. Meanwhile the status reports the
//! queue per next hop, the deferred attempts and the oldest message's age,
//! and the attempts on the dead hub back off.

use std::time::Duration;

use integration_tests::mail::{
    Net, address, exactly_once, inject, name, patent_network, pop3_fetch, test_mail,
};
use integration_tests::{test_dir, wait_until};
use peer_link::LinkError;
use wire_format::{ErrorCode, SetRoute};

const MESSAGES: usize = 300;
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn mail_queued_for_the_old_hub_follows_the_post_office_to_its_new_hub() {
    let root = test_dir("mail-hub-change");
    let mut specs = patent_network();
    // A test injector may hand mail to POC.
    for s in specs.iter_mut().filter(|s| s.name == "POC") {
        s.peers.push("GEN".into());
    }
    let mut net = Net::start(root.path(), specs);
    net.get_mut("H").kill();

    let markers: Vec<String> = (0..MESSAGES).map(|i| format!("hub-{i:03}")).collect();
    let messages = markers
        .iter()
        .map(|m| test_mail(m, address("POC", "BBROWN"), address("POD", "AJONES"), 400))
        .collect();
    let poc = net.get("POC");
    assert_eq!(inject(poc.wire(), "POC", messages, 50, WAIT), MESSAGES);
    assert!(wait_until(WAIT, POLL, || poc.count("queue.H.depth") == MESSAGES as u64));
    assert_eq!(poc.text("hub").as_deref(), Some("H"));
    // The status says how it stands: attempts on the dead hub are counted
    // as deferred, and the oldest queued message ages with the clock.
    assert!(
        wait_until(WAIT, POLL, || poc.count("deferred") > 0),
        "no deferred attempt counted"
    );
    let age = poc.count("queue.oldest_age_ms");
    std::thread::sleep(Duration::from_millis(300));
    let later = poc.count("queue.oldest_age_ms");
    assert!(
        later >= age + 300,
        "oldest age {age} ms, 300 ms later {later} ms"
    );
    // Attempts on the dead hub back off: their spacing doubles from 100 ms
    // up to 2 s, so 5 s see a handful of them, not one every 100 ms. Each
    // failed attempt defers every queued message once.
    let before = poc.count("deferred");
    std::thread::sleep(Duration::from_secs(5));
    let attempts = (poc.count("deferred") - before) / MESSAGES as u64;
    assert!(
        (1..=6).contains(&attempts),
        "{attempts} attempts on the dead hub in 5 s"
    );

    // Only a peer can be the hub.
    match poc.operator().request(SetRoute {
        post_office: name("POC"),
        next_hop: name("H3"),
    }) {
        Err(LinkError::Remote {
            code: ErrorCode::NotFound,
            ..
        }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    poc.set_route("POC", "H2");
    assert_eq!(poc.text("hub").as_deref(), Some("H2"));

    let pod = net.get("POD");
    assert!(
        wait_until(WAIT, POLL, || pod.count("delivered") == MESSAGES as u64),
        "POD has {}",
        pod.count("delivered")
    );
    // H2 forgets each message once POD's ack is in: a moment later.
    let h2 = net.get("H2");
    assert!(wait_until(WAIT, POLL, || h2.count("queue.total") == 0));
    assert_eq!(h2.count("forwarded"), MESSAGES as u64);
    assert_eq!(poc.count("queue.total"), 0);
    assert_eq!(net.get("H3").count("received"), 0, "H2 delivers POD itself");
    let texts = pop3_fetch(pod.pop3(), "AJONES", false);
    exactly_once(&texts, &markers).unwrap();
}
