//! STARTTLS (RFC 3207), AUTH (RFC 4954) and the sending policy in the
//! session machine; the shell's side (handshake, password check, throttle)
//! is tested over TCP in integration-tests/tests/mail_smtp_auth_tls.rs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// A session of a listener with a certificate (STARTTLS offered), from an
/// untrusted client unless `trusted`.
fn session(tls: bool, submission: bool, trusted: bool) -> SmtpSession {
    SmtpSession::new(SmtpConfig {
        hostname: "poa.acme".into(),
        post_office: name("POA"),
        network: name("ACME"),
        max_size: 1000,
        starttls: true,
        tls,
        submission,
        trusted,
    })
    .0
}

fn local(m: &Name) -> Option<bool> {
    Some(matches!(m.as_str(), "JSMITH" | "CAROL" | "POSTMASTER"))
}

fn feed(s: &mut SmtpSession, text: &str) -> Action {
    s.line(format!("{text}\r\n").as_bytes(), local)
}

fn code(a: Action) -> String {
    match a {
        Action::Reply(r) | Action::Close(r) => r,
        other => format!("{other:?}"),
    }
}

fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// EHLO, then AUTH PLAIN as `user`; the shell's check says `outcome`.
fn log_in(s: &mut SmtpSession, user: &str, outcome: AuthOutcome) -> String {
    feed(s, "EHLO client");
    match feed(s, &format!("AUTH PLAIN {}", plain(user, "pw"))) {
        Action::Auth { login, password } => {
            assert_eq!(password.expose(), "pw");
            assert_eq!(login.mailbox, Some(name(&user.to_ascii_uppercase())));
            s.authenticated(outcome)
        }
        other => panic!("no credentials to check: {other:?}"),
    }
}

#[test]
fn ehlo_offers_starttls_in_clear_and_auth_only_under_tls() {
    // RFC 3207 4 / RFC 4954 4.
    let mut clear = session(false, false, false);
    let ehlo = code(feed(&mut clear, "EHLO client"));
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert!(ehlo.ends_with("\r\n250 STARTTLS"), "{ehlo}");
    let mut tls = session(true, false, false);
    let ehlo = code(feed(&mut tls, "EHLO client"));
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(ehlo.ends_with("\r\n250 AUTH PLAIN LOGIN"), "{ehlo}");
}

#[test]
fn auth_in_clear_is_530_and_never_asks_for_a_password() {
    let mut s = session(false, false, false);
    feed(&mut s, "EHLO client");
    let r = code(feed(
        &mut s,
        &format!("AUTH PLAIN {}", plain("carol", "pw")),
    ));
    assert!(r.starts_with("530 5.7.0"), "{r}");
    let r = code(feed(&mut s, "AUTH LOGIN"));
    assert!(r.starts_with("530 5.7.0"), "{r}");
}

#[test]
fn starttls_starts_over_and_nothing_pipelined_after_it_runs() {
    let mut s = session(false, false, true);
    assert!(
        code(feed(&mut s, "STARTTLS")).starts_with("503"),
        "EHLO first"
    );
    feed(&mut s, "EHLO client");
    assert_eq!(
        feed(&mut s, "STARTTLS"),
        Action::StartTls("220 2.0.0 Ready to start TLS".into())
    );
    // CVE-2011-0411: a command behind STARTTLS in the same packet is no
    // command of the TLS session.
    let r = feed(&mut s, "MAIL FROM:<jsmith@poa.acme>");
    assert!(
        matches!(&r, Action::Close(c) if c.starts_with("421")),
        "{r:?}"
    );
    s.tls_started();
    // RFC 3207 4.2: EHLO again.
    assert!(code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>")).starts_with("503"));
    let ehlo = code(feed(&mut s, "EHLO client"));
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    assert!(
        code(feed(&mut s, "STARTTLS")).starts_with("503"),
        "once only"
    );
}

#[test]
fn starttls_without_a_certificate_is_not_implemented() {
    let mut s = SmtpSession::new(SmtpConfig {
        hostname: "poa.acme".into(),
        post_office: name("POA"),
        network: name("ACME"),
        max_size: 1000,
        starttls: false,
        tls: false,
        submission: false,
        trusted: true,
    })
    .0;
    let ehlo = code(feed(&mut s, "EHLO client"));
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(code(feed(&mut s, "STARTTLS")).starts_with("502"));
}

#[test]
fn auth_plain_and_login_then_send_as_oneself_only() {
    let mut s = session(true, false, false);
    assert_eq!(
        log_in(&mut s, "carol", AuthOutcome::Accepted(name("CAROL"))),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(s.user(), Some(&name("CAROL")));
    assert!(code(feed(&mut s, "AUTH LOGIN")).starts_with("503"), "once");
    // RFC 4954 5: AUTH= is taken once AUTH is offered.
    let r = code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>"));
    assert!(r.starts_with("553 5.7.1"), "{r}");
    let r = code(feed(&mut s, "MAIL FROM:<postmaster@poa.acme>"));
    assert!(r.starts_with("553 5.7.1"), "{r}");
    let r = code(feed(&mut s, "MAIL FROM:<carol@poa.acme> AUTH=<>"));
    assert!(r.starts_with("250"), "{r}");
    let r = code(feed(&mut s, "RCPT TO:<dave@pob.acme>"));
    assert!(r.starts_with("250"), "authenticated: may send out: {r}");

    // LOGIN, step by step.
    let mut s = session(true, false, false);
    feed(&mut s, "EHLO client");
    assert_eq!(code(feed(&mut s, "AUTH LOGIN")), "334 VXNlcm5hbWU6");
    assert_eq!(
        code(feed(&mut s, &STANDARD.encode("carol@poa.acme"))),
        "334 UGFzc3dvcmQ6"
    );
    let Action::Auth { login, password } = feed(&mut s, &STANDARD.encode("s3cret")) else {
        panic!("no credentials");
    };
    assert_eq!(
        (login.mailbox, password.expose().as_str()),
        (Some(name("CAROL")), "s3cret")
    );
}

#[test]
fn bad_credentials_are_535_and_leave_the_client_unauthenticated() {
    let mut s = session(true, false, false);
    let r = log_in(&mut s, "carol", AuthOutcome::Refused);
    assert!(r.starts_with("535 5.7.8"), "{r}");
    assert_eq!(s.user(), None);
    let r = log_in(&mut s, "carol", AuthOutcome::Unavailable);
    assert!(r.starts_with("454 4.7.0"), "{r}");
    // Mail within the post office needs no AUTH; another post office does.
    assert!(code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>")).starts_with("250"));
    assert!(code(feed(&mut s, "RCPT TO:<carol@poa.acme>")).starts_with("250"));
    let r = code(feed(&mut s, "RCPT TO:<dave@pob.acme>"));
    assert!(r.starts_with("530 5.7.0"), "{r}");
}

#[test]
fn a_trusted_client_relays_without_auth_but_not_on_submission() {
    let mut s = session(false, false, true);
    feed(&mut s, "EHLO client");
    assert!(code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>")).starts_with("250"));
    assert!(code(feed(&mut s, "RCPT TO:<dave@pob.acme>")).starts_with("250"));
    // RFC 6409 4.3 / 6.1: submission requires AUTH.
    let mut s = session(false, true, true);
    feed(&mut s, "EHLO client");
    let r = code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>"));
    assert!(r.starts_with("530 5.7.0"), "{r}");
    let mut s = session(true, true, true);
    log_in(&mut s, "jsmith", AuthOutcome::Accepted(name("JSMITH")));
    assert!(code(feed(&mut s, "MAIL FROM:<jsmith@poa.acme>")).starts_with("250"));
}

#[test]
fn an_exchange_is_cancelled_by_a_star_a_bad_line_or_an_unknown_mechanism() {
    let mut s = session(true, false, false);
    feed(&mut s, "EHLO client");
    assert_eq!(code(feed(&mut s, "AUTH PLAIN")), "334 ");
    assert!(code(feed(&mut s, "*")).starts_with("501"));
    // The exchange is over: the next line is a command again.
    assert!(code(feed(&mut s, "NOOP")).starts_with("250"));
    assert_eq!(code(feed(&mut s, "AUTH LOGIN")), "334 VXNlcm5hbWU6");
    assert!(code(s.line(b"Y2Fyb2w=\n", local)).starts_with("500 5.5.2"));
    assert!(
        code(feed(&mut s, "NOOP")).starts_with("500"),
        "the rest of the bare line"
    );
    assert!(code(feed(&mut s, "NOOP")).starts_with("250"));
    assert!(code(feed(&mut s, "AUTH CRAM-MD5")).starts_with("504"));
    // Not in a mail transaction (RFC 4954 4).
    feed(&mut s, "MAIL FROM:<jsmith@poa.acme>");
    assert!(code(feed(&mut s, "AUTH PLAIN")).starts_with("503"));
}
