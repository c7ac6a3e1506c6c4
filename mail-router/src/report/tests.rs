use super::*;

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn a(s: &str) -> Address {
    s.parse().unwrap()
}

fn original(body: &[u8]) -> MailTransfer {
    MailTransfer {
        message_id: [1; 16],
        kind: MailKind::Normal,
        from: a("ACME/POA/JSMITH"),
        recipients: vec![a("ACME/POB/NOBODY"), a("ACME/POB/KLEE")],
        hop_count: 3,
        submitted_at_ms: 0,
        body: body.to_vec().into(),
    }
}

fn reporter() -> Reporter {
    Reporter {
        node: n("POB"),
        network: n("ACME"),
        now_ms: 5_000,
        arrived_ms: 4_000,
    }
}

fn report(body: &[u8]) -> String {
    let m = original(body);
    let failed = [(a("ACME/POB/NOBODY"), Failure::no_mailbox())];
    let r = bounce(&reporter(), &m, &failed).unwrap();
    assert_eq!(r.kind, MailKind::NonDelivery);
    assert_eq!(r.recipients, vec![m.from.clone()]);
    // The envelope is the reporting router's own, so that the next hop
    // takes it from this router (see `routing::may_hand_over`).
    assert_eq!(r.from, a("ACME/POB/POSTMASTER"));
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// The header section of a MIME entity, then its body.
fn split(entity: &str) -> (&str, &str) {
    entity.split_once("\r\n\r\n").unwrap()
}

#[test]
fn a_report_is_a_multipart_report_from_the_senders_mailer_daemon() {
    // RFC 3464 2 and RFC 3462; RFC 3834 5 (Auto-Submitted); RFC 5322 3.6
    // (Date and Message-ID).
    let text = report(b"Subject: lunch\r\nMessage-ID: <x@poa.acme>\r\n\r\nsee you\r\n");
    let (head, _) = split(&text);
    for field in [
        "From: Mail Delivery System <MAILER-DAEMON@poa.acme>\r\n",
        "To: <jsmith@poa.acme>\r\n",
        "Subject: Undeliverable: lunch\r\n",
        "Date: Thu, 01 Jan 1970 00:00:05 +0000\r\n",
        "MIME-Version: 1.0\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "Content-Type: multipart/report; report-type=delivery-status;\r\n",
    ] {
        assert!(
            format!("{head}\r\n").contains(field),
            "{field:?} in\n{head}"
        );
    }
    assert!(head.contains("Message-ID: <"), "{head}");
    assert!(head.contains("@pob.acme>"), "{head}");
}

#[test]
fn its_parts_are_for_people_for_programs_and_the_original() {
    let body = b"Subject: lunch\r\nFrom: jsmith@poa.acme\r\n\r\nsee you\r\n";
    let text = report(body);
    let (head, rest) = split(&text);
    let boundary = head
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .unwrap();
    let parts: Vec<&str> = rest.split(&format!("--{boundary}")).collect();
    // Preamble, three parts, then the closing "--".
    assert_eq!(parts.len(), 5, "{text}");
    assert!(parts[4].starts_with("--"), "{text}");
    let (human_head, human) = split(parts[1].trim_start_matches("\r\n"));
    assert!(human_head.starts_with("Content-Type: text/plain"));
    assert!(
        human.contains("<nobody@pob.acme>: no such mailbox (5.1.1)"),
        "{human}"
    );
    // RFC 3464 2.2 (per message) and 2.3 (per recipient).
    let (dsn_head, dsn) = split(parts[2].trim_start_matches("\r\n"));
    assert_eq!(dsn_head, "Content-Type: message/delivery-status");
    let groups: Vec<&str> = dsn.trim_end().split("\r\n\r\n").collect();
    assert_eq!(groups.len(), 2, "{dsn}");
    assert!(groups[0].starts_with("Reporting-MTA: dns; pob.acme\r\n"));
    assert!(groups[0].ends_with("Arrival-Date: Thu, 01 Jan 1970 00:00:04 +0000"));
    assert_eq!(
        groups[1],
        "Final-Recipient: rfc822; nobody@pob.acme\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 no such mailbox"
    );
    // A small original comes back whole.
    let (orig_head, orig) = split(parts[3].trim_start_matches("\r\n"));
    assert_eq!(orig_head, "Content-Type: message/rfc822");
    assert_eq!(orig, format!("{}\r\n", String::from_utf8_lossy(body)));
}

#[test]
fn a_large_original_comes_back_as_its_headers_only() {
    let mut body = b"Subject: big\r\nX-Tag: \xc3\xa9t\xc3\xa9\r\n\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', WHOLE_MESSAGE_UP_TO));
    let text = String::from_utf8_lossy(
        &bounce(
            &reporter(),
            &original(&body),
            &[(
                a("ACME/POB/KLEE"),
                Failure::expired("not delivered within 1s".into()),
            )],
        )
        .unwrap()
        .body,
    )
    .into_owned();
    assert!(text.contains(
        "Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Subject: big\r\nX-Tag: \u{e9}t\u{e9}\r\n\r\n--report-"
    ));
    assert!(!text.contains("xxxx"));
    assert!(text.contains("Status: 5.4.7\r\nDiagnostic-Code: smtp; 554 5.4.7 not delivered"));
}

#[test]
fn reports_are_never_answered() {
    // RFC 3464 2: a report is sent with an empty envelope sender, and a
    // failed report is not reported on.
    let m = original(b"Subject: x\r\n\r\ny\r\n");
    let failed = [(a("ACME/POB/NOBODY"), Failure::no_mailbox())];
    let r = bounce(&reporter(), &m, &failed).unwrap();
    assert!(
        bounce(
            &reporter(),
            &r,
            &[(a("ACME/POA/JSMITH"), Failure::no_mailbox())]
        )
        .is_none()
    );
    assert!(bounce(&reporter(), &m, &[]).is_none());
}

#[test]
fn the_boundary_is_not_in_the_original() {
    let id = copy_id(&[1; 16], &n("NDR"));
    let planted = format!("Subject: x\r\n\r\n--report-{}\r\n", hex::encode(id));
    let text = report(planted.as_bytes());
    let (head, _) = split(&text);
    assert!(head.contains(&format!("boundary=\"report-{}x\"", hex::encode(id))));
}

#[test]
fn header_sections_end_at_the_blank_line_or_the_first_non_field() {
    assert_eq!(
        header_block(b"A: 1\r\n\tmore\r\nB: 2\r\n\r\nbody\r\n"),
        b"A: 1\r\n\tmore\r\nB: 2\r\n"
    );
    assert_eq!(header_block(b"just text\r\nA: 1\r\n"), b"");
    assert_eq!(header_block(b" A: 1\r\n"), b"");
    assert_eq!(header_block(b"A: 1"), b"");
    assert_eq!(
        original::subject(b"Subject: a\r\n b\r\n"),
        Some("a b".into())
    );
    assert_eq!(original::subject(b"Subject: \xc3\xa9\r\n"), None);
    assert_eq!(original::subject(b"From: x\r\n"), None);
}

#[test]
fn a_message_refused_by_policy_comes_back_as_its_headers_only() {
    // It may be forged: its text must not go to whoever it names as sender.
    let m = original(b"Subject: forged\r\n\r\nbuy now\r\n");
    let failed = [(a("ACME/POB/KLEE"), Failure::refused("not its own".into()))];
    let text = String::from_utf8(bounce(&reporter(), &m, &failed).unwrap().body.to_vec()).unwrap();
    assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: forged\r\n"));
    assert!(!text.contains("buy now"), "{text}");
    assert!(text.contains("Status: 5.7.1\r\nDiagnostic-Code: smtp; 550 5.7.1 not its own"));
}
