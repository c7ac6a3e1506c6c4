//! What a post office refuses or returns, seen from real clients: an unknown
//! mailbox or post office comes back to the sender as a non-delivery report
//! in its POP3 mailbox; a sender of another post office or a recipient
//! outside the network cannot use the SMTP listener as a relay; the SIZE
//! limit holds whether the client announces the size or not; RSET drops
//! an envelope; mail for postmaster (RFC 5321 4.5.1) is taken at every post
//! office, whose postmaster mailbox cannot be deleted; and a malformed frame
//! on the wire port gets an error frame while the router keeps serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use integration_tests::mail::{
    Net, OPERATOR_SECRET, Spec, address, exactly_once, password, pop3_fetch, python, smtp_send,
};
use integration_tests::{test_dir, wait_until};
use peer_link::LinkError;
use wire_format::{
    ErrorCode, Frame, Message, Name, Role, UserDelete, UserUpsert, auth, decode_frame,
    frame_to_bytes,
};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const MAX: usize = 4 * 1024 * 1024;

fn network(root: &std::path::Path) -> Net {
    Net::start(
        root,
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"])
                .with_extra("max_message_bytes = 65536"),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    )
}

#[test]
fn unknown_mailboxes_and_post_offices_come_back_to_the_sender() {
    let root = test_dir("mail-ndr");
    let net = network(root.path());
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: lost\r\n\r\nmarker lost-1\r\n").unwrap();
    let poa = net.get("POA");
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["nobody@pob.acme"], &file),
        "OK 0"
    );
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["someone@poz.acme"], &file),
        "OK 0"
    );
    assert!(
        wait_until(WAIT, POLL, || poa.count("delivered") == 2),
        "the reports did not come back"
    );
    let reports = pop3_fetch(poa.pop3(), "JSMITH", false);
    assert_eq!(reports.len(), 2);
    let text: Vec<String> = reports
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert!(
        text.iter().any(|t| t.contains("nobody@pob.acme")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("someone@poz.acme")),
        "{text:?}"
    );
    assert!(text.iter().all(|t| t.contains("Undeliverable")));
    assert_eq!(net.get("POB").count("returned"), 1);
    assert_eq!(net.get("H").count("returned"), 1);
    assert_eq!(net.get("POB").count("delivered"), 0);
}

#[test]
fn every_post_office_takes_mail_for_postmaster_and_keeps_that_mailbox() {
    let root = test_dir("mail-postmaster");
    let net = network(root.path());
    let (poa, pob) = (net.get("POA"), net.get("POB"));
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: hello\r\n\r\nmarker to-postmaster\r\n").unwrap();
    // RFC 5321 4.5.1: `<postmaster>` without a domain, and postmaster at
    // any post office, in any case.
    assert_eq!(
        smtp_send(
            poa.smtp(),
            "jsmith@poa.acme",
            &["postmaster", "Postmaster@pob.acme"],
            &file
        ),
        "OK 0"
    );
    assert!(
        wait_until(WAIT, POLL, || poa.count("delivered") == 1
            && pob.count("delivered") == 1),
        "postmaster mail was not delivered at both post offices"
    );
    let expected = ["to-postmaster".to_owned()];
    for (name, router) in [("POA", poa), ("POB", pob)] {
        // The mailbox exists from the start; a password opens it to POP3.
        let upsert = router.operator().request(UserUpsert {
            address: address(name, "POSTMASTER"),
            display_name: "Postmaster".into(),
            attributes: Vec::new(),
            password: Some(password("POSTMASTER")),
        });
        assert!(
            matches!(upsert, Ok(Message::AdminOk(_))),
            "{name}: {upsert:?}"
        );
        let got = pop3_fetch(router.pop3(), "POSTMASTER", false);
        assert_eq!(exactly_once(&got, &expected), Ok(()), "{name}");
        assert_eq!(router.count("returned"), 0, "{name}");
    }
    assert!(pop3_fetch(poa.pop3(), "JSMITH", false).is_empty());
    // The postmaster mailbox cannot be deleted, nor another post office's
    // user through this one.
    for (po, mailbox) in [("POA", "POSTMASTER"), ("POB", "KLEE")] {
        let reply = poa.operator().request(UserDelete {
            address: address(po, mailbox),
        });
        assert!(
            matches!(
                reply,
                Err(LinkError::Remote {
                    code: ErrorCode::Forbidden,
                    ..
                })
            ),
            "{po}/{mailbox}: {reply:?}"
        );
    }
}

#[test]
fn the_smtp_listener_is_no_open_relay_and_keeps_its_size_limit() {
    let root = test_dir("mail-relay");
    let net = network(root.path());
    let poa = net.get("POA");
    let small = root.path().join("small.eml");
    std::fs::write(&small, b"Subject: hi\r\n\r\nmarker relay-ok\r\n").unwrap();

    // A sender of another post office, a sender unknown here, a recipient
    // outside the network: refused with 550.
    let refused = smtp_send(poa.smtp(), "klee@pob.acme", &["klee@pob.acme"], &small);
    assert!(refused.starts_with("SENDER 550"), "{refused}");
    let refused = smtp_send(poa.smtp(), "ghost@poa.acme", &["klee@pob.acme"], &small);
    assert!(refused.starts_with("SENDER 550"), "{refused}");
    let refused = smtp_send(poa.smtp(), "jsmith@poa.acme", &["x@example.com"], &small);
    assert_eq!(refused, "RECIPIENTS 550");

    // SIZE announced (smtplib does when the server offers SIZE): 552 at MAIL.
    let big = root.path().join("big.eml");
    let mut text = b"Subject: big\r\n\r\n".to_vec();
    text.extend(std::iter::repeat_n(b"y".repeat(70).into_iter().chain(*b"\r\n"), 1_000).flatten());
    std::fs::write(&big, &text).unwrap();
    let refused = smtp_send(poa.smtp(), "jsmith@poa.acme", &["klee@pob.acme"], &big);
    assert!(refused.starts_with("SENDER 552"), "{refused}");
    // SIZE not announced: refused after the data, 552.
    let script = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo()
s.mail('jsmith@poa.acme')
s.rcpt('klee@pob.acme')
code, _ = s.data(open(sys.argv[3], 'rb').read())
print(code)
print(s.noop()[0])
# RSET drops an envelope: DATA after it has no sender.
s.mail('jsmith@poa.acme')
s.rcpt('klee@pob.acme')
print(s.rset()[0])
print(s.docmd('DATA')[0])
s.quit()
"#;
    let (ok, out, err) = python(
        script,
        &[
            poa.smtp().ip().to_string(),
            poa.smtp().port().to_string(),
            big.display().to_string(),
        ],
        Duration::from_secs(60),
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["552", "250", "250", "503"]
    );

    // Nothing of that was queued; the legitimate message goes through.
    assert_eq!(poa.count("received"), 0);
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["klee@pob.acme"], &small),
        "OK 0"
    );
    let pob = net.get("POB");
    assert!(wait_until(WAIT, POLL, || pob.count("delivered") == 1));
    let got = pop3_fetch(pob.pop3(), "KLEE", false);
    exactly_once(&got, &["relay-ok".to_owned()]).unwrap();
    // A wrong POP3 password gets nothing.
    let script = r#"
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=30)
p.user('klee')
try:
    p.pass_(sys.argv[3]); print('IN')
except poplib.error_proto as e:
    print('REFUSED')
"#;
    for (pw, expected) in [("wrong", "REFUSED"), (password("KLEE").as_str(), "IN")] {
        let (ok, out, err) = python(
            script,
            &[
                pob.pop3().ip().to_string(),
                pob.pop3().port().to_string(),
                pw.to_owned(),
            ],
            Duration::from_secs(30),
        );
        assert!(ok, "{err}");
        assert_eq!(out.trim(), expected);
    }
}

/// Reads one frame (waiting at most 10 s); None on EOF.
fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Frame> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        if let Some((frame, used)) = decode_frame(buf, MAX).expect("the router sends valid frames")
        {
            buf.drain(..used);
            return Some(frame);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn send(stream: &mut TcpStream, frame: Frame) {
    stream
        .write_all(&frame_to_bytes(&frame, MAX).unwrap())
        .unwrap();
}

/// The operator's handshake by hand, on a plain socket.
fn authenticated(endpoint: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(endpoint).unwrap();
    let mut buf = Vec::new();
    let hello = auth::client_hello(Role::Operator, Name::new("OPERATOR").unwrap(), [7; 32]);
    send(&mut stream, Frame::new(1, hello.clone()));
    let Some(Frame {
        message: Message::Challenge(challenge),
        ..
    }) = read_frame(&mut stream, &mut buf)
    else {
        panic!("no challenge");
    };
    let proof = auth::client_authenticate(&hello, &challenge, OPERATOR_SECRET.as_bytes()).unwrap();
    send(&mut stream, Frame::new(2, proof));
    assert!(matches!(
        read_frame(&mut stream, &mut buf),
        Some(Frame {
            message: Message::Welcome(_),
            ..
        })
    ));
    (stream, buf)
}

fn expect_error(stream: &mut TcpStream, buf: &mut Vec<u8>) -> ErrorCode {
    match read_frame(stream, buf) {
        Some(Frame {
            message: Message::ErrorReply(e),
            ..
        }) => {
            // Then the router closes the connection.
            assert!(read_frame(stream, buf).is_none());
            e.code
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[test]
fn a_malformed_frame_gets_an_error_frame_and_the_router_keeps_serving() {
    let root = test_dir("mail-malformed");
    let net = network(root.path());
    let poa = net.get("POA");
    let mut held = poa.operator();

    // Garbage instead of a handshake.
    let mut raw = TcpStream::connect(poa.wire()).unwrap();
    raw.write_all(&[0xFF; 64]).unwrap();
    let mut buf = Vec::new();
    assert_eq!(expect_error(&mut raw, &mut buf), ErrorCode::Malformed);

    // After a proper handshake: a MailTransfer header over a body of junk,
    // then a header announcing more than the frame limit.
    for junk in [
        [
            &b"MHUB\x01\x30\x00\x00\x00\x00\x00\x05\x00\x00\x00\x04"[..],
            b"\x00\x01\x02\x03",
        ]
        .concat(),
        b"MHUB\x01\x30\x00\x00\x00\x00\x00\x06\x7f\xff\xff\xff".to_vec(),
    ] {
        let (mut stream, mut buf) = authenticated(poa.wire());
        stream.write_all(&junk).unwrap();
        let code = expect_error(&mut stream, &mut buf);
        assert!(
            matches!(code, ErrorCode::Malformed | ErrorCode::FrameTooLarge),
            "{code:?}"
        );
    }

    // The router still serves: the held connection, new ones, and mail.
    assert!(held.status().is_ok());
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: still\r\n\r\nmarker still-1\r\n").unwrap();
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["klee@pob.acme"], &file),
        "OK 0"
    );
    let pob = net.get("POB");
    assert!(wait_until(WAIT, POLL, || pob.count("delivered") == 1));
}
