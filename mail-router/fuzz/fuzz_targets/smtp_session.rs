//! Feeds arbitrary input to an SMTP session cut after each LF, as the shell
//! does (the line ends stay: the session refuses bare ones), and answers
//! its submissions. Besides never panicking, the
//! session must keep its bounds (message size, recipients) and every reply
//! line must be one well-formed SMTP reply line: text from the client never
//! breaks a reply into extra lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_router::smtp::{Action, AuthOutcome, MAX_RECIPIENTS, SmtpConfig, SmtpSession};
use wire_format::Name;

fn name(s: &str) -> Name {
    Name::new(s).unwrap_or_else(|_| unreachable!("a valid constant name"))
}

fn check_reply(reply: &str) {
    for line in reply.split("\r\n") {
        let b = line.as_bytes();
        assert!(
            b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b' ' | b'-'),
            "not an SMTP reply line: {line:?}"
        );
        assert!(!line.contains(['\r', '\n']), "a bare CR or LF: {line:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a size limit, small enough to be reached.
    let Some((&size, input)) = data.split_first() else {
        return;
    };
    let Some((&flags, input)) = input.split_first() else {
        return;
    };
    let max_size = 16 + usize::from(size) * 8;
    // The second byte picks the listener: STARTTLS offered, TLS from the
    // start, submission, a trusted client.
    let (mut session, greeting) = SmtpSession::new(SmtpConfig {
        hostname: "poa.acme".into(),
        post_office: name("POA"),
        network: name("ACME"),
        max_size,
        starttls: flags & 1 != 0,
        tls: flags & 2 != 0,
        submission: flags & 4 != 0,
        trusted: flags & 8 != 0,
    });
    check_reply(&greeting);
    // A lookup the store cannot answer now, too, so that path is taken.
    let local = |m: &Name| match m.as_str() {
        "JSMITH" | "POSTMASTER" => Some(true),
        "UNREADABLE" => None,
        _ => Some(false),
    };
    for (n, line) in input.split_inclusive(|b| *b == b'\n').enumerate() {
        match session.line(line, local) {
            Action::Reply(r) => check_reply(&r),
            Action::Close(r) => return check_reply(&r),
            Action::Submit {
                data,
                recipients,
                from,
            } => {
                assert!(data.len() <= max_size, "{} > {max_size}", data.len());
                assert!(!recipients.is_empty() && recipients.len() <= MAX_RECIPIENTS);
                assert_eq!(from.post_office, name("POA"));
                // An authenticated client sends only as itself.
                if let Some(user) = session.user() {
                    assert_eq!(&from.mailbox, user);
                }
                // Alternate the store's outcome so both paths are taken.
                let stored = (n % 2 == 0).then(|| "1".into());
                check_reply(&session.submitted(stored));
            }
            Action::None => assert!(session.in_data()),
            Action::StartTls(r) => {
                check_reply(&r);
                // The shell's handshake succeeded; the session starts over.
                session.tls_started();
            }
            Action::Auth { login, password } => {
                // Accept one password so the authenticated paths are taken.
                let outcome = match login.mailbox {
                    Some(mailbox) if password.expose() == "right" => AuthOutcome::Accepted(mailbox),
                    _ if n % 3 == 0 => AuthOutcome::Unavailable,
                    _ => AuthOutcome::Refused,
                };
                check_reply(&session.authenticated(outcome));
            }
        }
    }
});
