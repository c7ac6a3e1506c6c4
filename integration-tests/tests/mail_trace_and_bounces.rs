//! What a user's mail program sees, parsed with Python's `email` package,
//! over real router processes (POA -> H -> POB): trace headers at every
//! hop and on final delivery (RFC 5321 4.4, RFC 9228), and non-delivery
//! reports as RFC 3464 delivery status notifications, never answered by
//! another report.

use std::path::Path;
use std::time::Duration;

use integration_tests::mail::{Net, Spec, pop3_fetch, python, smtp_send};
use integration_tests::{test_dir, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// POA and POB on hub H.
fn network() -> Vec<Spec> {
    vec![
        Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
        Spec::post_office("POB", "H", &["H"], &["KLEE"]),
        Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
    ]
}

/// Runs `script` (Python, reading the message from the file `argv[1]`);
/// it prints `OK` or raises with what is wrong.
fn check_with_python(script: &str, message: &[u8], dir: &Path) {
    let file = dir.join("fetched.eml");
    std::fs::write(&file, message).unwrap();
    let (ok, out, err) = python(
        script,
        &[file.display().to_string()],
        Duration::from_secs(60),
    );
    assert!(
        ok && out.trim() == "OK",
        "{out}\n{err}\nmessage:\n{}",
        String::from_utf8_lossy(message)
    );
}

const TRACE_CHECK: &str = r#"
import sys, email, email.policy, email.utils
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
names = [k.lower() for k in m.keys()]
# RFC 5321 4.4: Return-Path is the first line of a delivered message; RFC
# 9228: Delivered-To, added by the delivering post office, above the trace.
assert names[0] == 'return-path' and names[1] == 'delivered-to', names
assert m['Return-Path'] == '<jsmith@poa.acme>', m['Return-Path']
assert m['Delivered-To'] == 'klee@pob.acme', m['Delivered-To']
received = m.get_all('Received')
assert received is not None and len(received) >= 3, received
# Newest first: POB took it from H, H from POA, POA from the SMTP client.
want = [('h.acme', 'pob.acme', 'MHUB'), ('poa.acme', 'h.acme', 'MHUB'), ('[127.0.0.1]', 'poa.acme', 'ESMTP')]
for r, (frm, by, proto) in zip(received, want):
    r = ' '.join(str(r).split())
    stamp, _, date = r.rpartition(';')
    words = stamp.split()
    assert words[0:2] == ['from', frm], r
    assert 'by' in words and words[words.index('by') + 1] == by, r
    assert 'with' in words and words[words.index('with') + 1] == proto, r
    assert 'id' in words and len(words[words.index('id') + 1]) == 32, r
    assert 'for' in words and words[words.index('for') + 1] == '<klee@pob.acme>', r
    assert email.utils.parsedate_to_datetime(date.strip()) is not None, r
# The trace headers sit on top of what the sender wrote.
assert raw.endswith(b'Subject: traced\r\n\r\nmarker trace-1\r\n'), raw[-80:]
print('OK')
"#;

#[test]
fn a_message_through_a_hub_carries_a_received_per_hop_and_its_delivery_headers() {
    let root = test_dir("mail-trace");
    let net = Net::start(root.path(), network());
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: traced\r\n\r\nmarker trace-1\r\n").unwrap();
    assert_eq!(
        smtp_send(
            net.get("POA").smtp(),
            "jsmith@poa.acme",
            &["klee@pob.acme"],
            &file
        ),
        "OK 0"
    );
    let pob = net.get("POB");
    assert!(
        wait_until(WAIT, POLL, || pob.count("delivered") == 1),
        "not delivered at POB\nPOB log:\n{}",
        pob.log_text()
    );
    let got = pop3_fetch(pob.pop3(), "KLEE", false);
    assert_eq!(got.len(), 1);
    check_with_python(TRACE_CHECK, &got[0], root.path());
}

const BOUNCE_CHECK: &str = r#"
import sys, email, email.policy, email.utils
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
# RFC 3464 2 and RFC 3462: a multipart/report of report-type delivery-status.
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status', m.get_param('report-type')
# From MAILER-DAEMON at the sender's own post office, though POB made it.
assert email.utils.parseaddr(m['From'])[1] == 'MAILER-DAEMON@poa.acme', m['From']
assert email.utils.parseaddr(m['To'])[1] == 'jsmith@poa.acme', m['To']
# RFC 3834 5: it is an automatic answer; RFC 5322 3.6: Date and Message-ID.
assert m['Auto-Submitted'] == 'auto-replied', m['Auto-Submitted']
assert email.utils.parsedate_to_datetime(m['Date']) is not None
assert m['Message-ID'].startswith('<') and '@' in m['Message-ID'], m['Message-ID']
assert m['MIME-Version'] == '1.0', m['MIME-Version']
# RFC 3464 2 / RFC 5321 4.5.5: the envelope sender of a report is empty.
assert m['Return-Path'] == '<>', m['Return-Path']
assert m['Delivered-To'] == 'jsmith@poa.acme', m['Delivered-To']
parts = m.get_payload()
assert len(parts) == 3, [p.get_content_type() for p in parts]
human, status, original = parts
assert human.get_content_type() == 'text/plain'
text = human.get_content()
assert 'nobody@pob.acme' in text and 'no such mailbox' in text, text
# RFC 3464 2.2 and 2.3: per-message fields, then one block per recipient.
assert status.get_content_type() == 'message/delivery-status'
blocks = status.get_payload()
assert len(blocks) == 2, [dict(b) for b in blocks]
assert blocks[0]['Reporting-MTA'] == 'dns; pob.acme', blocks[0]['Reporting-MTA']
rcpt = blocks[1]
assert rcpt['Final-Recipient'] == 'rfc822; nobody@pob.acme', rcpt['Final-Recipient']
assert rcpt['Action'] == 'failed', rcpt['Action']
assert rcpt['Status'] == '5.1.1', rcpt['Status']
assert '5.1.1' in rcpt['Diagnostic-Code'], rcpt['Diagnostic-Code']
# The original comes back: whole when small (message/rfc822), else its
# headers (text/rfc822-headers); either way, the headers the sender wrote.
if original.get_content_type() == 'message/rfc822':
    headers = original.get_payload(0)
else:
    assert original.get_content_type() == 'text/rfc822-headers', original.get_content_type()
    headers = email.message_from_bytes(original.get_payload(decode=True), policy=email.policy.default)
assert headers['Subject'] == 'lunch on friday', headers['Subject']
assert headers['Message-ID'] == '<lunch-1@poa.acme>', headers['Message-ID']
print('OK')
"#;

#[test]
fn an_unknown_recipient_at_another_post_office_gets_an_rfc3464_report() {
    let root = test_dir("mail-bounce");
    let net = Net::start(root.path(), network());
    let file = root.path().join("m.eml");
    std::fs::write(
        &file,
        b"From: jsmith@poa.acme\r\nTo: nobody@pob.acme\r\nSubject: lunch on friday\r\n\
          Message-ID: <lunch-1@poa.acme>\r\n\r\nmarker bounce-1\r\n",
    )
    .unwrap();
    let poa = net.get("POA");
    assert_eq!(
        smtp_send(poa.smtp(), "jsmith@poa.acme", &["nobody@pob.acme"], &file),
        "OK 0"
    );
    assert!(
        wait_until(WAIT, POLL, || poa.count("delivered") == 1),
        "no report came back\nPOB log:\n{}",
        net.get("POB").log_text()
    );
    assert_eq!(net.get("POB").count("returned"), 1);
    let got = pop3_fetch(poa.pop3(), "JSMITH", false);
    assert_eq!(got.len(), 1);
    check_with_python(BOUNCE_CHECK, &got[0], root.path());
}

#[test]
fn a_report_that_cannot_be_delivered_is_dropped_not_reported_on() {
    let root = test_dir("mail-bounce-bounce");
    // H sends POA's mail to H2, which never runs: the report POB makes
    // for JSMITH waits at H until it expires.
    let net = Net::start(
        root.path(),
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "H2"), ("POB", "POB")])
                .with_peer("POA")
                .with_extra("expiry_secs = 1"),
        ],
    );
    let file = root.path().join("m.eml");
    std::fs::write(&file, b"Subject: doomed\r\n\r\nmarker doomed-1\r\n").unwrap();
    assert_eq!(
        smtp_send(
            net.get("POA").smtp(),
            "jsmith@poa.acme",
            &["nobody@pob.acme"],
            &file
        ),
        "OK 0"
    );
    let (h, pob) = (net.get("H"), net.get("POB"));
    assert!(
        wait_until(WAIT, POLL, || pob.count("returned") == 1),
        "POB made no report\nPOB log:\n{}",
        pob.log_text()
    );
    // RFC 3464 2: the report's envelope sender is empty, so when it fails
    // nobody is told; the operator finds a log line.
    assert!(
        wait_until(WAIT, POLL, || h
            .log_text()
            .contains("dropped an undeliverable delivery report")),
        "H did not drop the report\nH log:\n{}",
        h.log_text()
    );
    assert!(wait_until(WAIT, POLL, || h.count("queued") == 0));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(h.count("returned"), 0, "H reported on a report");
    assert_eq!(pob.count("delivered"), 0, "a report reached POB");
    assert_eq!(pob.count("queued"), 0);
}
