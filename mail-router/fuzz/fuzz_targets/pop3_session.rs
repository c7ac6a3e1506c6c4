//! Feeds arbitrary lines to a POP3 session logged in to a small mailbox, as
//! the shell would after taking off each CRLF; the line after a RETR or TOP
//! is the message text the shell "fetched". Besides never panicking:
//! single-line replies are one line starting +OK or -ERR (or the "+ " of an
//! AUTH PLAIN continuation), QUIT deletes only messages
//! that exist, and a multi-line answer ends at its last line only (a client
//! reading up to the line "." gets the whole message).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_router::pop3::{Action, Pop3Session, Security, multiline};
use mail_router::store::Stored;

fn mailbox() -> Vec<Stored> {
    ["a1", "b2", "c3"]
        .iter()
        .enumerate()
        .map(|(i, uid)| Stored {
            key: uid.as_bytes().to_vec(),
            uid: (*uid).into(),
            size: 100 * (i + 1),
        })
        .collect()
}

fn check_line(line: &str) {
    assert!(
        line.starts_with("+OK") || line.starts_with("-ERR"),
        "not a status line: {line:?}"
    );
    assert!(!line.contains(['\r', '\n']), "a bare CR or LF: {line:?}");
}

/// The "." that ends a multi-line answer is its last line, and only there.
fn check_multiline(wire: &[u8]) {
    assert!(wire.ends_with(b"\r\n.\r\n"), "unterminated");
    let lines: Vec<&[u8]> = wire[..wire.len() - 2]
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    let ends = lines.iter().position(|l| *l == b".");
    assert_eq!(ends, Some(lines.len() - 1), "an early end in {wire:?}");
}

fuzz_target!(|data: &[u8]| {
    // STLS offered and passwords taken in clear: every verb has a path.
    let security = Security {
        stls: true,
        tls_active: false,
        allow_plaintext: true,
    };
    let (mut session, greeting) = Pop3Session::with_security("poa.acme", security);
    check_line(&greeting);
    let mut lines = data.split(|b| *b == b'\n');
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match session.line(line) {
            Action::Reply(r) if r == "+ " => {}
            Action::Reply(r) => check_line(&r),
            Action::Lines(first, rest) => {
                check_line(&first);
                for l in &rest {
                    assert!(!l.contains(['\r', '\n']), "{l:?}");
                }
            }
            Action::Login { password, .. } => {
                let messages = (password == "secret").then(mailbox);
                match session.logged_in(messages) {
                    Action::Reply(r) => check_line(&r),
                    other => panic!("a login answered {other:?}"),
                }
            }
            Action::Retrieve { key } => {
                assert!(mailbox().iter().any(|m| m.key == key));
                match lines.next() {
                    Some(body) => check_multiline(&session.retrieved(Some(body.to_vec()))),
                    None => assert!(session.retrieved(None).starts_with(b"-ERR")),
                }
            }
            Action::Top { key, lines: n } => {
                assert!(mailbox().iter().any(|m| m.key == key));
                match lines.next() {
                    Some(body) => check_multiline(&session.top(Some(body.to_vec()), n)),
                    None => assert!(session.top(None, n).starts_with(b"-ERR")),
                }
            }
            Action::Quit { delete } => {
                let known = mailbox();
                assert!(delete.iter().all(|k| known.iter().any(|m| m.key == *k)));
                return;
            }
            Action::StartTls(r) => {
                assert!(r.starts_with("+OK"), "{r:?}");
                session.tls_started();
            }
            Action::Close(r) => {
                check_line(&r);
                return;
            }
        }
    }
    // The dot-stuffing on its own, for any text.
    check_multiline(&multiline("+OK", data));
});
