use super::*;

fn stored(uid: &str, size: usize) -> Stored {
    Stored {
        key: uid.as_bytes().to_vec(),
        uid: uid.into(),
        size,
    }
}

#[test]
fn a_user_logs_in_lists_retrieves_and_deletes() {
    let (mut s, greeting) = Pop3Session::new("poa.acme");
    assert!(greeting.starts_with("+OK"));
    assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
    assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
    match s.line(b"PASS secret") {
        Action::Login { login, password } => {
            assert_eq!(
                login.mailbox.map(|m| m.as_str().to_owned()).as_deref(),
                Some("JSMITH")
            );
            assert_eq!(password, "secret");
        }
        other => panic!("{other:?}"),
    }
    s.logged_in(Some(vec![stored("a1", 10), stored("b2", 20)]));
    assert_eq!(s.line(b"STAT"), ok("2 30"));
    assert_eq!(s.line(b"UIDL 2"), ok("2 b2"));
    assert_eq!(
        s.line(b"RETR 1"),
        Action::Retrieve {
            key: b"a1".to_vec()
        }
    );
    assert_eq!(s.line(b"DELE 1"), ok("message 1 deleted"));
    assert_eq!(s.line(b"RETR 1"), err("no such message"));
    assert_eq!(
        s.line(b"LIST"),
        Action::Lines("+OK 1 messages".into(), vec!["2 20".into()])
    );
    assert_eq!(
        s.line(b"QUIT"),
        Action::Quit {
            delete: vec![b"a1".to_vec()]
        }
    );
}

#[test]
fn a_wrong_password_goes_back_to_user() {
    let (mut s, _) = Pop3Session::new("x");
    s.line(b"USER jsmith");
    s.line(b"PASS nope");
    assert_eq!(s.logged_in(None), err("[AUTH] wrong mailbox or password"));
    assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
    assert_eq!(s.line(b"RSET"), err("USER and PASS first"));
    assert_eq!(s.line(b"QUIT"), Action::Close("+OK bye".into()));
}

#[test]
fn a_login_the_store_cannot_check_is_a_temporary_error_not_a_wrong_password() {
    let (mut s, _) = Pop3Session::new("x");
    s.line(b"USER jsmith");
    s.line(b"PASS right");
    assert_eq!(
        s.login_unavailable(),
        Action::Reply("-ERR [SYS/TEMP] mailbox unavailable, try again later".into())
    );
    assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
    assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
}

#[test]
fn bodies_are_dot_stuffed_and_terminated() {
    assert_eq!(
        multiline("+OK", b"a\r\n.b\r\n"),
        b"+OK\r\na\r\n..b\r\n.\r\n"
    );
    assert_eq!(multiline("+OK", b""), b"+OK\r\n.\r\n");
}

fn logged_in(s: &mut Pop3Session) {
    s.line(b"USER carol");
    assert!(matches!(s.line(b"PASS pw"), Action::Login { .. }));
    s.logged_in(Some(vec![stored("a1", 10), stored("b2", 20)]));
}

/// RFC 2449 §5: CAPA in the AUTHORIZATION and the TRANSACTION state.
#[test]
fn capa_lists_the_capabilities_in_both_states() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    let expect = |s: &mut Pop3Session| match s.line(b"CAPA") {
        Action::Lines(first, lines) => {
            assert!(first.starts_with("+OK"));
            for c in [
                "TOP",
                "UIDL",
                "USER",
                "SASL PLAIN",
                "RESP-CODES",
                "PIPELINING",
            ] {
                assert!(lines.iter().any(|l| l == c), "{c} missing from {lines:?}");
            }
            assert!(lines.iter().any(|l| l.starts_with("IMPLEMENTATION ")));
        }
        other => panic!("{other:?}"),
    };
    expect(&mut s);
    logged_in(&mut s);
    expect(&mut s);
}

/// RFC 1939 §7.
#[test]
fn top_asks_for_a_message_and_a_line_count() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    assert_eq!(s.line(b"TOP 1 0"), err("USER and PASS first"));
    logged_in(&mut s);
    assert_eq!(
        s.line(b"TOP 2 5"),
        Action::Top {
            key: b"b2".to_vec(),
            lines: 5
        }
    );
    assert_eq!(s.line(b"TOP 3 0"), err("no such message"));
    assert!(matches!(s.line(b"TOP 1"), Action::Reply(r) if r.starts_with("-ERR")));
    assert!(matches!(s.line(b"TOP 1 -1"), Action::Reply(r) if r.starts_with("-ERR")));
    s.line(b"DELE 1");
    assert_eq!(s.line(b"TOP 1 0"), err("no such message"));
    let wire = s.top(Some(b"A: b\r\n\r\n.x\r\ny\r\n".to_vec()), 1);
    assert_eq!(
        wire,
        b"+OK top of message follows\r\nA: b\r\n\r\n..x\r\n.\r\n"
    );
}

fn login_of(action: Action) -> (Option<String>, String) {
    match action {
        Action::Login { login, password } => {
            (login.mailbox.map(|m| m.as_str().to_owned()), password)
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 5034 §4, with the initial response and with the continuation.
#[test]
fn auth_plain_logs_in_with_or_without_an_initial_response() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    // "\0carol\0pw"
    assert_eq!(
        login_of(s.line(b"AUTH PLAIN AGNhcm9sAHB3")),
        (Some("CAROL".into()), "pw".into())
    );
    assert_eq!(s.line(b"AUTH PLAIN"), Action::Reply("+ ".into()));
    // "\0carol@poc.acme\0pw"
    assert_eq!(
        login_of(s.line(b"AGNhcm9sQHBvYy5hY21lAHB3")),
        (Some("CAROL".into()), "pw".into())
    );
    assert_eq!(s.line(b"AUTH PLAIN"), Action::Reply("+ ".into()));
    assert_eq!(s.line(b"*"), err("authentication cancelled"));
    assert!(matches!(s.line(b"AUTH PLAIN !!"), Action::Reply(r) if r.starts_with("-ERR")));
    assert!(matches!(s.line(b"AUTH CRAM-MD5"), Action::Reply(r) if r.starts_with("-ERR")));
    assert_eq!(
        s.line(b"AUTH"),
        Action::Lines("+OK SASL mechanisms follow".into(), vec!["PLAIN".into()])
    );
}

#[test]
fn another_post_offices_address_is_checked_against_no_mailbox() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    assert!(matches!(s.line(b"USER carol@pob.acme"), Action::Reply(r) if r.starts_with("+OK")));
    assert_eq!(login_of(s.line(b"PASS pw")), (None, "pw".into()));
    assert_eq!(s.logged_in(None), err("[AUTH] wrong mailbox or password"));
}

/// RFC 1939 §8 and RFC 2449 §8.1.2: a held maildrop is `[IN-USE]`.
#[test]
fn a_held_mailbox_is_in_use_and_the_session_may_try_again() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    s.line(b"USER carol");
    s.line(b"PASS pw");
    assert!(matches!(s.in_use(), Action::Reply(r) if r.starts_with("-ERR [IN-USE] ")));
    assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
    logged_in(&mut s);
    assert_eq!(s.line(b"STAT"), ok("2 30"));
}

#[test]
fn a_bad_line_ends_an_auth_exchange() {
    let (mut s, _) = Pop3Session::new("poc.acme");
    assert_eq!(s.line(b"AUTH PLAIN"), Action::Reply("+ ".into()));
    assert!(matches!(s.line(&[0xff]), Action::Reply(r) if r.starts_with("-ERR")));
    assert!(matches!(s.line(b"USER carol"), Action::Reply(r) if r.starts_with("+OK")));
}

fn caps(s: &mut Pop3Session) -> Vec<String> {
    match s.line(b"CAPA") {
        Action::Lines(_, caps) => caps,
        other => panic!("{other:?}"),
    }
}

const STLS_ONLY: Security = Security {
    stls: true,
    tls_active: false,
    allow_plaintext: false,
};

#[test]
fn stls_is_offered_once_and_passwords_wait_for_tls() {
    // RFC 2595 §4: STLS in CAPA while TLS can be started; §2.2: no
    // password in clear when the server requires TLS.
    let (mut s, _) = Pop3Session::with_security("poa.acme", STLS_ONLY);
    let before = caps(&mut s);
    assert!(before.contains(&"STLS".to_owned()), "{before:?}");
    assert!(!before.contains(&"USER".to_owned()), "{before:?}");
    assert_eq!(
        s.line(b"USER jsmith"),
        Action::Reply(CLEARTEXT_REFUSED.into())
    );
    assert_eq!(s.line(b"PASS x"), Action::Reply(CLEARTEXT_REFUSED.into()));
    assert_eq!(
        s.line(b"AUTH PLAIN AGpzbWl0aABzZWNyZXQ="),
        Action::Reply(CLEARTEXT_REFUSED.into())
    );
    assert!(matches!(s.line(b"stls"), Action::StartTls(r) if r.starts_with("+OK")));
    s.tls_started();
    let after = caps(&mut s);
    assert!(!after.contains(&"STLS".to_owned()), "{after:?}");
    assert!(after.contains(&"USER".to_owned()) && after.contains(&"SASL PLAIN".to_owned()));
    assert_eq!(s.line(b"STLS"), err("TLS is already active"));
    assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
    assert!(matches!(s.line(b"PASS secret"), Action::Login { .. }));
}

#[test]
fn stls_is_refused_without_a_certificate_and_after_login() {
    let (mut s, _) = Pop3Session::new("poa.acme");
    assert!(!caps(&mut s).contains(&"STLS".to_owned()));
    assert_eq!(s.line(b"STLS"), err("TLS is not offered here"));
    let (mut s, _) = Pop3Session::with_security(
        "poa.acme",
        Security {
            allow_plaintext: true,
            ..STLS_ONLY
        },
    );
    s.line(b"USER jsmith");
    s.line(b"PASS secret");
    s.logged_in(Some(vec![]));
    assert_eq!(s.line(b"STLS"), err("unknown command"));
}

#[test]
fn an_implicit_tls_connection_takes_passwords_and_offers_no_stls() {
    let (mut s, _) = Pop3Session::with_security(
        "poa.acme",
        Security {
            tls_active: true,
            ..STLS_ONLY
        },
    );
    let caps = caps(&mut s);
    assert!(!caps.contains(&"STLS".to_owned()) && caps.contains(&"USER".to_owned()));
    assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
}
