use super::*;

impl SmtpSession {
    /// A line as a client sends it: `text`, then CRLF.
    fn feed(&mut self, text: &[u8], lookup: impl Fn(&Name) -> Option<bool>) -> Action {
        let mut line = text.to_vec();
        line.extend_from_slice(b"\r\n");
        self.line(&line, lookup)
    }
}

fn session() -> SmtpSession {
    SmtpSession::new(SmtpConfig {
        hostname: "poa.acme".into(),
        post_office: Name::new("POA").unwrap(),
        network: Name::new("ACME").unwrap(),
        max_size: 100,
        starttls: false,
        tls: false,
        submission: false,
        trusted: true,
    })
    .0
}

fn local(m: &Name) -> Option<bool> {
    Some(matches!(m.as_str(), "JSMITH" | "CAROL" | "POSTMASTER"))
}

/// Ends the message under way: the sender, the recipients and the
/// text the session hands the shell to store.
fn submission(s: &mut SmtpSession) -> (String, Vec<String>, Vec<u8>) {
    match s.feed(b".", local) {
        Action::Submit {
            from,
            recipients,
            data,
        } => (
            from.to_string(),
            recipients.iter().map(ToString::to_string).collect(),
            data,
        ),
        other => panic!("not a submission: {other:?}"),
    }
}

fn code(a: Action) -> String {
    match a {
        Action::Reply(r) | Action::Close(r) => r[..3].to_owned(),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_local_user_submits_to_anyone_in_the_network() {
    let mut s = session();
    assert_eq!(code(s.feed(b"EHLO client", local)), "250");
    assert_eq!(
        code(s.feed(b"MAIL FROM:<jsmith@poa.acme> SIZE=20", local)),
        "250"
    );
    assert_eq!(code(s.feed(b"RCPT TO:<ajones@pod.acme>", local)), "250");
    assert_eq!(code(s.feed(b"DATA", local)), "354");
    assert_eq!(s.feed(b"Subject: hi", local), Action::None);
    assert_eq!(s.feed(b"", local), Action::None);
    assert_eq!(s.feed(b"..leading dot", local), Action::None);
    let (from, to, data) = submission(&mut s);
    assert_eq!(from, "ACME/POA/JSMITH");
    assert_eq!(to[0], "ACME/POD/AJONES");
    assert_eq!(data, b"Subject: hi\r\n\r\n.leading dot\r\n");
    assert!(s.submitted(Some("x".into())).starts_with("250"));
    assert_eq!(code(s.feed(b"QUIT", local)), "221");
}

#[test]
fn it_is_never_an_open_relay() {
    let mut s = session();
    s.feed(b"HELO x", local);
    assert_eq!(
        code(s.feed(b"MAIL FROM:<eve@pob.acme>", local)),
        "550",
        "another post office's sender"
    );
    assert_eq!(
        code(s.feed(b"MAIL FROM:<nobody@poa.acme>", local)),
        "550",
        "not a user here"
    );
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    assert_eq!(code(s.feed(b"RCPT TO:<someone@example.com>", local)), "550");
    assert_eq!(code(s.feed(b"RCPT TO:<x@poa.other>", local)), "550");
    assert_eq!(code(s.feed(b"DATA", local)), "554");
}

#[test]
fn order_and_size_are_enforced() {
    let mut s = session();
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
    s.feed(b"EHLO x", local);
    assert_eq!(code(s.feed(b"RCPT TO:<a@pob.acme>", local)), "503");
    assert_eq!(
        code(s.feed(b"MAIL FROM:<jsmith@poa.acme> SIZE=1000", local)),
        "552"
    );
    s.feed(b"MAIL FROM:<jsmith@poa.acme>", local);
    s.feed(b"RCPT TO:<a@pob.acme>", local);
    s.feed(b"DATA", local);
    for _ in 0..20 {
        s.feed(b"0123456789", local);
    }
    assert_eq!(code(s.feed(b".", local)), "552");
    assert_eq!(code(s.feed(&[b'X'; 600], local)), "500");
    assert_eq!(code(s.feed(b"BOGUS", local)), "500");
}

#[test]
fn a_store_that_fails_is_a_temporary_refusal_that_names_no_file() {
    let mut s = in_mail();
    assert_eq!(code(s.feed(b"RCPT TO:<ajones@pod.acme>", local)), "250");
    assert_eq!(code(s.feed(b"DATA", local)), "354");
    s.feed(b"hello", local);
    submission(&mut s);
    assert_eq!(s.submitted(None), "451 4.3.0 Not stored, try again later");
    // The session goes on: the client may send again.
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    // A sender that cannot be looked up is not refused for good.
    let mut s = session();
    s.feed(b"EHLO client", local);
    let unknown = |_: &Name| None;
    assert_eq!(
        s.feed(b"MAIL FROM:<jsmith@poa.acme>", unknown),
        Action::Reply(NOT_NOW.into())
    );
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
}

/// A session past EHLO and a valid MAIL FROM.
fn in_mail() -> SmtpSession {
    let mut s = session();
    s.feed(b"EHLO client", local);
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    s
}

#[test]
fn the_ehlo_reply_offers_size_8bitmime_enhancedstatuscodes_and_pipelining() {
    let mut s = session();
    assert_eq!(
        s.feed(b"ehlo client.example", local),
        Action::Reply(
            "250-poa.acme greets client.example\r\n250-SIZE 100\r\n\
             250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING"
                .into()
        )
    );
    assert_eq!(
        s.feed(b"HELO x", local),
        Action::Reply("250 poa.acme".into())
    );
}

#[test]
fn verbs_and_keywords_come_in_any_case_and_spacing() {
    let mut s = session();
    assert_eq!(code(s.feed(b"eHlO client", local)), "250");
    assert_eq!(
        code(s.feed(b"mail from: <JSmith@POA.acme> size=20 BODY=8bitmime", local)),
        "250"
    );
    assert_eq!(code(s.feed(b"Rcpt To:<klee@pob.acme>", local)), "250");
    // A source route is accepted and ignored (RFC 5321 4.1.1.3, C).
    assert_eq!(
        code(s.feed(b"RCPT TO:<@hub.acme:ajones@pod.acme>", local)),
        "250"
    );
    assert_eq!(code(s.feed(b"noop", local)), "250");
    assert_eq!(code(s.feed(b"vrfy jsmith", local)), "252");
    assert_eq!(code(s.feed(b"data", local)), "354");
    assert_eq!(s.feed(b"body", local), Action::None);
    let (from, to, _) = submission(&mut s);
    assert_eq!(from, "ACME/POA/JSMITH");
    assert_eq!(to, ["ACME/POB/KLEE", "ACME/POD/AJONES"]);
}

#[test]
fn rset_drops_the_envelope_and_quit_closes() {
    let mut s = in_mail();
    s.feed(b"RCPT TO:<klee@pob.acme>", local);
    assert_eq!(code(s.feed(b"RSET", local)), "250");
    assert_eq!(code(s.feed(b"DATA", local)), "503");
    assert_eq!(code(s.feed(b"RCPT TO:<klee@pob.acme>", local)), "503");
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
    assert!(matches!(s.feed(b"quit", local), Action::Close(r) if r.starts_with("221")));
}

#[test]
fn recipients_are_counted_once_and_bounded() {
    let mut s = in_mail();
    for i in 0..MAX_RECIPIENTS {
        let line = format!("RCPT TO:<u{i}@pob.acme>");
        assert_eq!(code(s.feed(line.as_bytes(), local)), "250");
        if i == 0 {
            // The same one again is no new recipient.
            assert_eq!(code(s.feed(line.as_bytes(), local)), "250");
        }
    }
    assert_eq!(code(s.feed(b"RCPT TO:<one@more.acme>", local)), "452");
    s.feed(b"DATA", local);
    s.feed(b"x", local);
    assert_eq!(submission(&mut s).1.len(), MAX_RECIPIENTS);
}

#[test]
fn paths_must_be_bracketed_and_senders_local() {
    let mut s = session();
    s.feed(b"EHLO x", local);
    // RFC 5321 4.1.2: Reverse-path = Path = "<" ... ">".
    assert_eq!(code(s.feed(b"MAIL FROM:jsmith@poa.acme", local)), "501");
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme", local)), "501");
    assert_eq!(code(s.feed(b"MAIL jsmith@poa.acme", local)), "501");
    assert_eq!(code(s.feed(b"MAIL", local)), "501");
    assert_eq!(code(s.feed(b"MAIL TO:<jsmith@poa.acme>", local)), "501");
    // The null reverse path is valid syntax but no user here.
    assert_eq!(code(s.feed(b"MAIL FROM:<>", local)), "553");
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@acme>", local)), "553");
    assert_eq!(
        code(s.feed(b"MAIL FROM:<jsmith..x@poa.acme>", local)),
        "553"
    );
    assert_eq!(code(s.feed(b"MAIL FROM:<nodomain>", local)), "553");
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.other>", local)), "550");
    let mut s = in_mail();
    assert_eq!(code(s.feed(b"RCPT TO:klee@pob.acme", local)), "501");
    assert_eq!(code(s.feed(b"RCPT FROM:<klee@pob.acme>", local)), "501");
    assert_eq!(code(s.feed(b"RCPT TO:<klee@@pob.acme>", local)), "553");
    assert_eq!(code(s.feed(b"RCPT TO:<>", local)), "550");
}

#[test]
fn postmaster_without_a_domain_is_this_post_offices_postmaster() {
    let mut s = in_mail();
    for line in [
        b"RCPT TO:<postmaster>".as_slice(),
        b"RCPT TO:<PostMaster>",
        b"RCPT TO:<postmaster@poa.acme>",
        b"RCPT TO:<Postmaster@pob.acme>",
    ] {
        assert_eq!(code(s.feed(line, local)), "250", "{line:?}");
    }
    s.feed(b"DATA", local);
    // The first three are one recipient, named three ways.
    assert_eq!(
        submission(&mut s).1,
        ["ACME/POA/POSTMASTER", "ACME/POB/POSTMASTER"]
    );
}

#[test]
fn parameters_are_checked_against_what_ehlo_offered() {
    let mut s = session();
    s.feed(b"EHLO x", local);
    // In order: the session's state carries from line to line.
    let lines: [(&[u8], &str); 14] = [
        (b"MAIL FROM:<jsmith@poa.acme> SIZE=abc", "501"),
        (b"MAIL FROM:<jsmith@poa.acme> SIZE=", "501"),
        // Past usize::MAX, as the old parser's `parse::<usize>` did.
        (
            b"MAIL FROM:<jsmith@poa.acme> SIZE=99999999999999999999",
            "501",
        ),
        (b"MAIL FROM:<jsmith@poa.acme> BODY=9BIT", "501"),
        // Unknown to smtp-proto, or known but not offered here: 555.
        (b"MAIL FROM:<jsmith@poa.acme> X-FOO=1", "555"),
        (b"MAIL FROM:<jsmith@poa.acme> SMTPUTF8", "555"),
        (b"MAIL FROM:<jsmith@poa.acme> RET=HDRS", "555"),
        (b"MAIL FROM:<jsmith@poa.acme> REQUIRETLS", "555"),
        (b"MAIL FROM:<jsmith@poa.acme> BODY=BINARYMIME", "555"),
        (b"MAIL FROM:<jsmith@poa.acme> SIZE=100", "250"),
        (b"RCPT TO:<klee@pob.acme> NOTIFY=NEVER", "555"),
        (b"RCPT TO:<klee@pob.acme> X-BAR", "555"),
        (b"RCPT TO:<klee@pob.acme> NOTIFY=SOMETIMES", "501"),
        // None of the recipients was taken.
        (b"DATA", "554"),
    ];
    for (line, expected) in lines {
        let text = String::from_utf8_lossy(line);
        assert_eq!(code(s.feed(line, local)), expected, "{text}");
    }
    // The parameter's name comes back, on one line.
    match s.feed(b"RCPT TO:<klee@pob.acme> x-bar=1", local) {
        Action::Reply(r) => assert_eq!(r, "555 5.5.4 Unsupported parameter X-BAR=1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_size_limit_holds_whatever_size_was_announced() {
    // smtp-proto 0.2.5 reads a SIZE of more than 20 digits modulo its
    // overflow (this one as 50); the announcement is only advisory, the
    // data itself is counted.
    let mut s = session();
    s.feed(b"EHLO x", local);
    let wrapped = b"MAIL FROM:<jsmith@poa.acme> SIZE=100000000000000000000050";
    assert_eq!(code(s.feed(wrapped, local)), "250");
    s.feed(b"RCPT TO:<a@pob.acme>", local);
    s.feed(b"DATA", local);
    for _ in 0..20 {
        s.feed(b"0123456789", local);
    }
    assert_eq!(code(s.feed(b".", local)), "552");
}

#[test]
fn smtp_proto_errors_map_to_replies() {
    let cases = [
        (ParseError::UnknownCommand, "500"),
        (
            ParseError::SyntaxError {
                syntax: "EHLO domain",
            },
            "501",
        ),
        (ParseError::InvalidSenderAddress, "553"),
        (ParseError::InvalidRecipientAddress, "553"),
        (ParseError::InvalidParameter { param: "SIZE" }, "501"),
        (
            ParseError::UnsupportedParameter { param: "X".into() },
            "555",
        ),
        (ParseError::NeedsMoreData { bytes_left: 0 }, "501"),
        (ParseError::ResponseTooLong, "501"),
        (ParseError::InvalidResponse { code: 0 }, "501"),
    ];
    for (error, want) in cases {
        assert_eq!(code(parse_error(error.clone())), want, "{error:?}");
    }
}

#[test]
fn other_commands_and_malformed_lines_get_their_codes() {
    let mut s = session();
    assert_eq!(code(s.feed(b"", local)), "500");
    assert_eq!(code(s.feed(b"MAILX FROM:<jsmith@poa.acme>", local)), "500");
    assert_eq!(code(s.feed(b"TOOLONGVERB", local)), "500");
    // RFC 5321 4.1.1.1: EHLO and HELO name the client; VRFY a user.
    assert_eq!(code(s.feed(b"EHLO", local)), "501");
    assert_eq!(code(s.feed(b"HELO", local)), "501");
    assert_eq!(code(s.feed(b"VRFY", local)), "501");
    // (AUTH is tested in auth_tests: it needs EHLO, then TLS.)
    for verb in [
        "STARTTLS",
        "HELP",
        "EXPN staff",
        "BDAT 10 LAST",
        "ETRN x",
        "LHLO x",
    ] {
        assert_eq!(code(s.feed(verb.as_bytes(), local)), "502", "{verb}");
    }
    // Not text, or a CR or LF inside the line: refused before parsing.
    assert_eq!(code(s.feed(b"NOOP \xff", local)), "500");
    assert_eq!(code(s.feed(b"NO\rOP", local)), "500");
    assert_eq!(code(s.feed(b"NOOP\nQUIT", local)), "500");
    // Still at the start: nothing above said EHLO.
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
}

proptest::proptest! {
    #[test]
    fn any_bytes_get_a_reply_and_never_a_panic(
        lines in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..600), 0..8),
    ) {
        let mut s = session();
        s.feed(b"EHLO x", local);
        for line in &lines {
            match s.feed(line, local) {
                Action::Reply(r) | Action::Close(r) => {
                    proptest::prop_assert!(r.len() >= 3 && r.as_bytes()[..3].iter().all(u8::is_ascii_digit), "{r:?}");
                    for reply_line in r.split("\r\n") {
                        proptest::prop_assert!(!reply_line.contains(['\r', '\n']));
                    }
                }
                Action::None | Action::Submit { .. } | Action::StartTls(_) | Action::Auth { .. } => {}
            }
        }
    }

    #[test]
    fn command_like_lines_never_panic(
        verb in "(?i)(mail from:|rcpt to:|ehlo|helo|vrfy|noop|data|rset|auth|bdat) ?",
        path in "<?[a-z@.\"\\:,]{0,20}>?",
        params in "( [A-Za-z=0-9;,+-]{0,12}){0,4}",
    ) {
        let mut s = in_mail();
        let line = format!("{verb}{path}{params}");
        let _ = s.feed(line.as_bytes(), local);
    }
}

/// RFC 2034 4: every reply but the greeting and the EHLO/HELO replies
/// starts its text with a class.subject.detail code; 354 (an intermediate
/// reply, for which RFC 3463 has no class) keeps its plain text.
fn carries_enhanced_code(reply: &str) -> bool {
    if reply.starts_with("354 ") || reply.contains("greets") || reply == "250 poa.acme" {
        return true;
    }
    let Some(text) = reply.get(4..) else {
        return false;
    };
    let code = text.split(' ').next().unwrap_or("");
    let parts: Vec<&str> = code.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[0] == &reply[..1]
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A session in DATA for JSMITH to AJONES at POD.
fn in_data() -> SmtpSession {
    let mut s = in_mail();
    assert_eq!(code(s.feed(b"RCPT TO:<ajones@pod.acme>", local)), "250");
    assert_eq!(code(s.feed(b"DATA", local)), "354");
    s
}

/// Feeds `input` cut after each LF, as the shell reads it; the replies.
fn run(s: &mut SmtpSession, input: &[u8]) -> Vec<Action> {
    input
        .split_inclusive(|b| *b == b'\n')
        .map(|piece| s.line(piece, local))
        .filter(|a| *a != Action::None)
        .collect()
}

/// RFC 5321 2.3.8, 4.1.1.4: a bare LF does not end a command, and no piece
/// of a line that had one runs: `MAIL ...\nRCPT ...\r\n` runs neither.
#[test]
fn a_bare_lf_or_cr_in_a_command_is_refused_and_runs_nothing() {
    let mut s = session();
    s.feed(b"EHLO x", local);
    let replies = run(
        &mut s,
        b"MAIL FROM:<jsmith@poa.acme>\nRCPT TO:<a@pob.acme>\r\n",
    );
    let bare = || Action::Reply(BARE_LINE_END.into());
    assert_eq!(replies, [bare(), bare()]);
    // Nothing ran: no sender was taken.
    assert_eq!(code(s.feed(b"RCPT TO:<a@pob.acme>", local)), "503");
    // A client that ends every line with LF gets an answer to each.
    assert_eq!(run(&mut s, b"NOOP\nNOOP\n"), [bare(), bare()]);
    assert_eq!(s.feed(b"NOOP", local), bare(), "the end of that line");
    assert_eq!(code(s.feed(b"NOOP", local)), "250");
    // A bare CR inside, or at the end before CRLF.
    assert_eq!(s.feed(b"NOOP\r", local), bare());
    assert_eq!(s.feed(b"MAIL FROM:<jsmith@poa.acme>\rRSET", local), bare());
    assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
}

/// CVE-2023-51764 and its relatives: each fake end of data, then a second
/// transaction. Only CRLF.CRLF ends the message, and one that holds a bare
/// CR or LF is refused whole: nothing is submitted, least of all the
/// smuggled message.
#[test]
fn no_smuggling_pattern_ends_a_message_or_submits_a_second_one() {
    let patterns: [&[u8]; 12] = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\r\n.\r\r\n",
        b"\r.\r",
        b"\n.\r",
        b"\r.\n",
        b"\r\n\n.\n",
        b"\r\n.\n\r\n",
        b"\n.\n\r\n",
    ];
    for pattern in patterns {
        let mut s = in_data();
        let mut input = b"Subject: first\r\n\r\nhello".to_vec();
        input.extend_from_slice(pattern);
        input.extend_from_slice(
            b"MAIL FROM:<jsmith@poa.acme>\r\nRCPT TO:<klee@pob.acme>\r\nDATA\r\n\
              From: forged\r\n\r\nsmuggled\r\n.\r\n",
        );
        let replies = run(&mut s, &input);
        assert_eq!(
            replies,
            [Action::Reply(BARE_IN_MESSAGE.into())],
            "{:?}",
            String::from_utf8_lossy(pattern)
        );
        // The session is ready for a new, honest transaction.
        assert_eq!(code(s.feed(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    }
}

#[test]
fn only_crlf_dot_crlf_ends_data_and_dots_are_unstuffed_at_line_starts() {
    let mut s = in_data();
    let replies = run(&mut s, b"a\r\n..b\r\n.c\r\n\r\n.\r\n");
    let [Action::Submit { data, .. }] = &replies[..] else {
        panic!("{replies:?}");
    };
    assert_eq!(data, b"a\r\n.b\r\nc\r\n\r\n");
    // The empty message.
    let mut s = in_data();
    assert!(matches!(&run(&mut s, b".\r\n")[..], [Action::Submit { data, .. }] if data.is_empty()));
}

/// RFC 5321 3.3: recipients are checked when named, not bounced later.
#[test]
fn local_recipients_must_exist_with_plus_addressing_and_any_case() {
    let mut s = in_mail();
    match s.feed(b"RCPT TO:<nobody@poa.acme>", local) {
        Action::Reply(r) => assert!(r.starts_with("550 5.1.1 "), "{r}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(code(s.feed(b"RCPT TO:<Carol+News@POA.Acme>", local)), "250");
    assert_eq!(code(s.feed(b"RCPT TO:<cArOl@poa.acme>", local)), "250");
    // Another post office's users are its own to know (no directory here).
    assert_eq!(code(s.feed(b"RCPT TO:<klee+x@pob.acme>", local)), "250");
    // A store that cannot be read: try again later, no verdict.
    assert_eq!(
        s.feed(b"RCPT TO:<carol@poa.acme>", |_: &Name| None),
        Action::Reply(RECIPIENT_NOT_NOW.into())
    );
    assert_eq!(code(s.feed(b"DATA", local)), "354");
    s.feed(b"x", local);
    let (_, to, _) = submission(&mut s);
    assert_eq!(to, ["ACME/POA/CAROL", "ACME/POB/KLEE"]);
    assert_eq!(without_detail("\"a+b\"@poa.acme"), "\"a+b\"@poa.acme");
}

/// RFC 2034: offered, and every reply of a whole session carries a code.
#[test]
fn every_reply_carries_an_enhanced_status_code() {
    let mut s = session();
    let mut replies = Vec::new();
    for line in [
        "NOOP",
        "MAIL FROM:<jsmith@poa.acme>",
        "EHLO x",
        "HELO x",
        "RSET",
        "VRFY x",
        "HELP",
        "BOGUS",
        "MAIL FROM:<>",
        "MAIL FROM:<x@poa.acme>",
        "MAIL FROM:<jsmith@poa.acme> SIZE=999",
        "MAIL FROM:<jsmith@poa.acme> X=1",
        "MAIL FROM:<jsmith@poa.acme>",
        "MAIL FROM:<jsmith@poa.acme>",
        "RCPT TO:<a@b.c>",
        "RCPT TO:<nobody@poa.acme>",
        "RCPT TO:<a@pob.acme> NOTIFY=NEVER",
        "RCPT TO:<a@pob.acme>",
        "DATA",
    ] {
        replies.push(s.feed(line.as_bytes(), local));
    }
    assert_eq!(s.line(b"a\nb\r\n", local), Action::None);
    replies.push(s.feed(b".", local));
    replies.push(s.feed(b"NOOP\r", local));
    replies.push(Action::Reply(s.submitted(None)));
    replies.push(Action::Reply(s.submitted(Some("1".into()))));
    replies.push(s.feed(b"QUIT", local));
    for r in replies {
        match r {
            Action::Reply(r) | Action::Close(r) => assert!(carries_enhanced_code(&r), "{r}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A message whose size was announced gets one buffer of that size (plus
/// room for Date: and Message-ID:), so it is never copied to a bigger one.
#[test]
fn an_announced_size_is_reserved_once_and_bounded_by_the_limit() {
    let mut s = session();
    s.feed(b"EHLO x", local);
    assert_eq!(
        code(s.feed(b"MAIL FROM:<jsmith@poa.acme> SIZE=90", local)),
        "250"
    );
    s.feed(b"RCPT TO:<a@pob.acme>", local);
    s.feed(b"DATA", local);
    assert!(s.data.capacity() >= 90 + ADDED_HEADER_ROOM);
    s.feed(&[b'x'; 86], local);
    let (_, _, mut data) = submission(&mut s);
    let before = data.as_ptr();
    complete_headers(&mut data, 0, "id", "poa.acme");
    assert_eq!(data.as_ptr(), before, "the text moved to another buffer");
    // Refused at the end when the text is bigger than announced and the
    // limit; the buffer is given back.
    s.submitted(Some("1".into()));
    s.feed(b"MAIL FROM:<jsmith@poa.acme> SIZE=10", local);
    s.feed(b"RCPT TO:<a@pob.acme>", local);
    s.feed(b"DATA", local);
    for _ in 0..20 {
        s.feed(b"0123456789", local);
    }
    assert_eq!(s.data.capacity(), 0);
    match s.feed(b".", local) {
        Action::Reply(r) => assert!(r.starts_with("552 5.3.4 "), "{r}"),
        other => panic!("{other:?}"),
    }
}
