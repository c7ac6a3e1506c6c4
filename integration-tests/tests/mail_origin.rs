//! Issue #15: with POA's key alone, a post office's router could hand its hub
//! a `MailTransfer` "from" any user of the network, and the hub delivered
//! it. A post office may now originate mail only from its own users; hubs
//! and the gateway relay anyone's. Over real router processes and the real
//! wire protocol: the forged transfer is refused (`Forbidden`) and never
//! delivered, POA's own user's mail and a relay's mail are taken, and a
//! router whose transfer is refused returns the message to its sender
//! instead of retrying it until it expires.

use std::time::Duration;

use integration_tests::mail::{
    INJECTOR, Net, Spec, address, exactly_once, inject, name, pair_secret, pop3_fetch, test_mail,
};
use integration_tests::{test_dir, wait_until};
use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{ErrorCode, MailTransfer, Message, Role};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// POA and POD on hub H. `GEN` (the tests' injector, a relay to every
/// router that lists it) may hand mail to `relay_for`.
fn network(root: &std::path::Path, relay_for: &str) -> Net {
    let with_gen = |spec: Spec| {
        if spec.name == relay_for {
            spec.with_peer(INJECTOR)
        } else {
            spec
        }
    };
    Net::start(
        root,
        [
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
            Spec::post_office("POD", "H", &["H"], &["AJONES"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POD", "POD")]),
        ]
        .into_iter()
        .map(with_gen)
        .collect(),
    )
}

/// Hands `mail` to the router at `endpoint` as `me`, with the key `me`
/// shares with `receiver`, and returns the answer (an error frame as
/// `LinkError::Remote`).
fn hand_over(
    endpoint: &str,
    me: &str,
    receiver: &str,
    mail: MailTransfer,
) -> Result<Message, LinkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let key = pair_secret(me, receiver);
        let mut conn = Connection::connect(
            endpoint,
            &name(me),
            Role::MailRouter,
            key.as_bytes(),
            Timeouts::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{me} connects to {receiver}: {e}"));
        let id = conn.send_request(mail).await.expect("send the transfer");
        conn.recv_reply(id).await
    })
}

#[test]
fn a_post_offices_key_cannot_hand_over_another_post_offices_users_mail() {
    let root = test_dir("mail-origin");
    let net = network(root.path(), "H");
    let hub = net.get("H").wire().to_string();
    let ajones = address("POD", "AJONES");

    // POA's key, claiming to carry AJONES's own mail: refused.
    let forged = test_mail("forged", ajones.clone(), ajones.clone(), 100);
    match hand_over(&hub, "POA", "H", forged) {
        Err(LinkError::Remote { code, text }) => {
            assert_eq!(code, ErrorCode::Forbidden, "{text}");
            assert!(text.contains("POA is a post office"), "{text}");
            assert!(text.contains("ACME/POD/AJONES"), "{text}");
        }
        other => panic!("the hub took mail POA forged from AJONES: {other:?}"),
    }
    // POA's key with mail of POA's own user: taken.
    let honest = test_mail("honest", address("POA", "JSMITH"), ajones.clone(), 100);
    assert!(
        matches!(hand_over(&hub, "POA", "H", honest), Ok(Message::MailAck(_))),
        "the hub refused POA's own user's mail"
    );
    // A relay (not a post office of H's table) hands over anyone's mail.
    let relayed = test_mail("relayed", address("POX", "SOMEONE"), ajones, 100);
    assert!(
        matches!(
            hand_over(&hub, INJECTOR, "H", relayed),
            Ok(Message::MailAck(_))
        ),
        "the hub refused a relay's mail"
    );

    let pod = net.get("POD");
    assert!(
        wait_until(WAIT, POLL, || pod.count("delivered") >= 2),
        "POD delivered {}\nH log:\n{}",
        pod.count("delivered"),
        net.get("H").log_text()
    );
    let mailbox = pop3_fetch(pod.pop3(), "AJONES", false);
    let expected = ["honest".to_owned(), "relayed".to_owned()];
    exactly_once(&mailbox, &expected).unwrap_or_else(|e| panic!("AJONES at POD: {e}"));
    assert!(
        net.get("H")
            .log_text()
            .contains("refused mail a post office handed over"),
        "the hub did not log the refusal"
    );
}

#[test]
fn a_refused_transfer_goes_back_to_its_sender_instead_of_being_retried() {
    let root = test_dir("mail-origin-return");
    let net = network(root.path(), "POA");
    // POA takes from GEN a message "from" AJONES at POD; when it hands it to
    // H, H refuses it, as it came from POA.
    let ajones = address("POD", "AJONES");
    let forged = test_mail("forged-via-poa", ajones.clone(), ajones, 100);
    assert_eq!(
        inject(net.get("POA").wire(), "POA", vec![forged], 1, WAIT),
        1,
        "POA did not take the message"
    );

    let (poa, pod) = (net.get("POA"), net.get("POD"));
    assert!(
        wait_until(WAIT, POLL, || poa.count("returned") == 1
            && poa.count("queue.total") == 0),
        "POA did not return the refused message: returned {}, queued {}\nPOA log:\n{}",
        poa.count("returned"),
        poa.count("queue.total"),
        poa.log_text()
    );
    // The report reaches the message's sender; the message itself never does.
    assert!(
        wait_until(WAIT, POLL, || pod.count("delivered") >= 1),
        "no report reached POD"
    );
    let mailbox: Vec<String> = pop3_fetch(pod.pop3(), "AJONES", false)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(mailbox.len(), 1, "{mailbox:?}");
    assert!(mailbox[0].contains("Undeliverable"), "{}", mailbox[0]);
    assert!(
        mailbox[0].contains("from its own users only"),
        "the report does not give H's reason: {}",
        mailbox[0]
    );
    assert!(
        !mailbox[0].contains("marker forged-via-poa"),
        "{}",
        mailbox[0]
    );
}
