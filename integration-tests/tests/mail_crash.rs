//! Crashes on the mail path, checked per marker over POP3:
//! * 10,000 messages POA -> H -> POB while the hub H is SIGKILLed and
//!   restarted twice, then the receiving post office POB once: every
//!   message reaches the recipient's mailbox exactly once, nothing lost,
//!   nothing doubled.
//! * SMTP clients (Python's smtplib) submitting to POA while POA itself is
//!   SIGKILLed and restarted: every message that got its `250` after DATA
//!   arrives exactly once; one whose client saw the connection die arrives
//!   at most once (the client was not told, so it may or may not be kept).

use std::time::{Duration, Instant};

use integration_tests::mail::{
    INJECTOR, Net, Spec, acknowledged_arrive_once, address, burst_under_way, exactly_once, inject,
    pop3_fetch, test_mail,
};
use integration_tests::{test_dir, wait_until};

const MESSAGES: usize = 10_000;

/// The two tests run one at a time: each kills a router in the middle of a
/// burst, and on a loaded machine (CI runs them beside each other) the other
/// test's load could let a whole burst finish before its kill lands.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn ten_thousand_messages_through_a_hub_killed_twice_and_their_post_office_once_arrive_once() {
    let _alone = one_at_a_time();
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
    for (threshold, victim) in [(1_500, "H"), (5_000, "H"), (7_500, "POB")] {
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
        net.get_mut(victim).kill();
        kills += 1;
        std::thread::sleep(Duration::from_millis(300));
        net.get_mut(victim).restart();
    }
    assert_eq!(kills, 3);
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
    queues_drain(&net);
    assert_eq!(pob.count("delivered"), MESSAGES as u64);
    let texts = pop3_fetch(pob.pop3(), "KLEE", false);
    exactly_once(&texts, &markers).unwrap();
}

/// Waits until POA and H hold no queued mail.
fn queues_drain(net: &Net) {
    for r in ["POA", "H"] {
        assert!(
            wait_until(Duration::from_secs(20), Duration::from_millis(50), || net
                .get(r)
                .count("queue.total")
                == 0),
            "{r} still has mail queued"
        );
    }
}

#[test]
fn smtp_mail_acknowledged_before_the_post_office_is_killed_arrives_once() {
    let _alone = one_at_a_time();
    // The kill lands once 300 are taken; the rest leave room for a slow
    // status poll on a loaded machine, so the kill still meets a burst.
    const COUNT: usize = 3_000;
    let root = test_dir("mail-crash-smtp");
    let mut net = Net::start(
        root.path(),
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    );
    let clients = burst_under_way(net.get("POA"), COUNT, 300);
    net.get_mut("POA").kill();
    std::thread::sleep(Duration::from_millis(300));
    net.get_mut("POA").restart();
    let outcome = clients.join().unwrap();
    assert_eq!(outcome.len(), COUNT, "every message has an outcome");
    let accepted = outcome.values().filter(|ok| **ok).count();
    assert!(
        accepted < COUNT,
        "all {COUNT} accepted: the kill hit no session, so the test proves nothing"
    );
    assert!(
        accepted > COUNT / 2,
        "only {accepted} of {COUNT} accepted: mail did not go on after the restart"
    );

    // Everything accepted arrives, and all that was kept leaves the queues.
    let arrived = acknowledged_arrive_once(net.get("POB"), &outcome);
    queues_drain(&net);
    eprintln!(
        "{accepted} of {COUNT} accepted; {} arrived ({} the clients were not told of)",
        arrived,
        arrived - accepted
    );
}
