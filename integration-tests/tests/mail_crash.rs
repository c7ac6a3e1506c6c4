//! 10,000 messages POA -> H -> POB while the hub H is SIGKILLed and
//! restarted twice: every message reaches the recipient's mailbox exactly
//! once (counted per marker over POP3), nothing lost, nothing doubled.

use std::time::{Duration, Instant};

use integration_tests::mail::{
    INJECTOR, Net, Spec, address, exactly_once, inject, pop3_fetch, test_mail,
};
use integration_tests::{test_dir, wait_until};

const MESSAGES: usize = 10_000;

#[test]
fn ten_thousand_messages_through_a_hub_killed_twice_arrive_exactly_once() {
    let root = test_dir("mail-crash");
    let mut net = Net::start(
        root.path(),
        vec![
            Spec::post_office("POA", "H", &["H", INJECTOR], &["JSMITH"]),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    );
    let markers: Vec<String> = (0..MESSAGES).map(|i| format!("crash-{i:05}")).collect();
    let messages = markers
        .iter()
        .map(|m| test_mail(m, address("POA", "JSMITH"), address("POB", "KLEE"), 300))
        .collect();
    let poa = net.get("POA").wire();
    let started = Instant::now();
    // Mail keeps coming in at POA while the hub dies.
    let injector =
        std::thread::spawn(move || inject(poa, "POA", messages, 200, Duration::from_secs(60)));

    let mut kills = 0;
    for threshold in [1_500, 5_000] {
        let pob = net.get("POB");
        assert!(
            wait_until(Duration::from_secs(40), Duration::from_millis(20), || pob
                .count("delivered")
                >= threshold),
            "POB did not reach {threshold} deliveries"
        );
        let delivered = pob.count("delivered");
        assert!(
            (delivered as usize) < MESSAGES,
            "everything was delivered before the kill: the test proves nothing"
        );
        net.get_mut("H").kill();
        kills += 1;
        std::thread::sleep(Duration::from_millis(300));
        net.get_mut("H").restart();
    }
    assert_eq!(kills, 2);
    assert_eq!(injector.join().unwrap(), MESSAGES, "POA took every message");

    let pob = net.get("POB");
    let all_in = wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
        pob.count("delivered") >= MESSAGES as u64
    });
    assert!(all_in, "only {} delivered", pob.count("delivered"));
    eprintln!(
        "{MESSAGES} messages in {:?}; duplicates refused at H: {}, at POB: {}",
        started.elapsed(),
        net.get("H").count("duplicates"),
        pob.count("duplicates")
    );
    // Nothing is left anywhere, and nothing more arrives.
    for r in ["POA", "H"] {
        assert!(
            wait_until(Duration::from_secs(10), Duration::from_millis(50), || net
                .get(r)
                .count("queue.total")
                == 0),
            "{r} still has mail queued"
        );
    }
    assert_eq!(pob.count("delivered"), MESSAGES as u64);
    let texts = pop3_fetch(pob.pop3(), "KLEE", false);
    exactly_once(&texts, &markers).unwrap();
}
