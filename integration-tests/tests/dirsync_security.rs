//! Dirsync security and hostile input against real processes: a requestor
//! cannot write another post office's users, a wrong key gets nothing, and a
//! malformed frame costs only its own connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use integration_tests::dirsync::{
    self, gal_view, requestor_secret, start_requestor, start_server, upsert,
};
use integration_tests::mail::name;
use integration_tests::operator::Operator;
use integration_tests::{test_dir, wait_until};
use peer_link::LinkError;
use wire_format::{DirPull, DirUpload, Entry, EntryVersion, ErrorCode, Message, Name, Role};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn entry(po: &str, mailbox: &str, display: &str, owner: &str, seq: u64) -> Entry {
    Entry {
        address: dirsync::address(po, mailbox),
        display_name: display.into(),
        attributes: Vec::new(),
        owner: Name::new(owner).unwrap(),
        folder: None,
        origin: Name::new(owner).unwrap(),
        version: EntryVersion {
            version: 99,
            changed_at_ms: 1,
            origin_seq: seq,
        },
        tombstone: false,
    }
}

#[test]
fn a_requestor_cannot_write_another_post_offices_user_and_a_wrong_key_gets_nothing() {
    let root = test_dir("dirsync-security");
    let server = start_server(root.path(), "H", &["POA", "POB"]);
    let h = ("H", server.endpoint());
    let poa = start_requestor(root.path(), "POA", &[h], 600_000);
    let pob = start_requestor(root.path(), "POB", &[h], 600_000);
    upsert(&mut pob.operator(), "POB", "BOSS", "The real boss");
    upsert(&mut poa.operator(), "POA", "ALICE", "Alice");
    let expected = vec![
        "ACME/POA/ALICE|Alice".to_owned(),
        "ACME/POB/BOSS|The real boss".to_owned(),
    ];
    assert!(wait_until(CONVERGE, POLL, || [&poa, &pob, &server]
        .iter()
        .all(|r| gal_view(r) == expected)));

    // POA, properly authenticated, tries to overwrite and to add POB users.
    let mut as_poa = Operator::connect_as(
        server.endpoint(),
        &name("POA"),
        Role::Requestor,
        &requestor_secret("POA"),
    )
    .unwrap();
    let hostile = DirUpload {
        store_epoch: 0,
        changes: vec![
            entry("POA", "FINE", "Fine", "POA", 1_000),
            entry("POB", "BOSS", "Hijacked", "POA", 1_001),
        ],
    };
    match as_poa.request(hostile) {
        Err(LinkError::Remote {
            code: ErrorCode::Forbidden,
            ..
        }) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
    // Refused whole: neither entry was applied; the refusal is logged.
    assert!(server.log_text().contains("refused an upload"));
    // The same connection still works for legitimate requests.
    match as_poa.request(DirUpload {
        store_epoch: 0,
        changes: Vec::new(),
    }) {
        Ok(Message::DirUploadAck(_)) => {}
        other => panic!("expected an ack, got {other:?}"),
    }
    // The operator of POA cannot add a POB user either.
    let reply = poa.operator().request(wire_format::UserUpsert {
        address: dirsync::address("POB", "EVE"),
        display_name: "Eve".into(),
        attributes: Vec::new(),
        password: None,
    });
    assert!(
        matches!(
            reply,
            Err(LinkError::Remote {
                code: ErrorCode::Forbidden,
                ..
            })
        ),
        "{reply:?}"
    );

    // Sync everyone; the directory is unchanged everywhere.
    for r in [&poa, &pob] {
        assert!(matches!(
            r.operator().request(wire_format::SyncNow),
            Ok(Message::AdminOk(_))
        ));
    }
    for r in [&poa, &pob, &server] {
        assert_eq!(gal_view(r), expected, "{}", r.process.label);
    }

    // Wrong keys: the requestor's name with another key, an unknown peer,
    // the operator with a wrong secret, a requestor key used as operator.
    for (name, role, secret) in [
        ("POA", Role::Requestor, "not-the-key"),
        ("POZ", Role::Requestor, "whatever"),
        ("OPERATOR", Role::Operator, "wrong"),
        ("POA", Role::Operator, requestor_secret("POA").as_str()),
    ] {
        let refused = Operator::connect_as(
            server.endpoint(),
            &wire_format::Name::new(name).unwrap(),
            role,
            secret,
        );
        assert!(
            refused.is_err(),
            "{name} as {role:?} with a wrong key was let in"
        );
    }
}

#[test]
fn a_malformed_frame_closes_only_its_connection() {
    let root = test_dir("dirsync-malformed");
    let server = start_server(root.path(), "H", &["POA", "POB"]);
    let h = ("H", server.endpoint());
    let poa = start_requestor(root.path(), "POA", &[h], 600_000);
    let pob = start_requestor(root.path(), "POB", &[h], 600_000);
    upsert(&mut poa.operator(), "POA", "FIRST", "First");
    assert!(wait_until(CONVERGE, POLL, || gal_view(&pob).len() == 1));

    // An authenticated requestor connection held open across the garbage.
    let mut held = Operator::connect_as(
        server.endpoint(),
        &name("POB"),
        Role::Requestor,
        &requestor_secret("POB"),
    )
    .unwrap();

    // Garbage instead of a handshake: the server answers and closes.
    let mut raw = TcpStream::connect(server.endpoint()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(&[0xFF; 64]).unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    // Either an error frame then EOF, or EOF: never a hang, never data.
    assert!(buf.len() < 4096, "got {} bytes back", buf.len());

    // The server keeps serving: the held connection and new changes work.
    match held.request(DirPull {
        epoch: 0,
        after: 0,
        force_full: false,
        restore: false,
    }) {
        Ok(Message::DirPullStart(s)) => assert!(s.full),
        other => panic!("expected DirPullStart, got {other:?}"),
    }
    upsert(&mut poa.operator(), "POA", "SECOND", "Second");
    assert!(wait_until(CONVERGE, POLL, || gal_view(&pob).len() == 2));
}
