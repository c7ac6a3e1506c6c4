//! SMTP submission as the standards say, seen from clients nobody here
//! wrote (Python's smtplib, swaks) and from a raw socket: the line
//! discipline of RFC 5321 2.3.8 and 4.1.1.4 (no CVE-2023-51764 smuggling),
//! recipients checked at RCPT time (RFC 5321 3.3), Date: and Message-ID:
//! added at submission (RFC 6409 8.2, 8.3), ENHANCEDSTATUSCODES (RFC 2034)
//! and the SIZE limit (RFC 1870).
//!
//! One post office, POA, with JSMITH and CAROL: local mail needs no hub.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use integration_tests::mail::{Net, Router, Spec, marker, password, pop3_fetch, python, smtp_send};
use integration_tests::{peak_rss_kib, test_dir, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

fn post_office(root: &Path, extra: &str) -> Router {
    let mut spec = Spec::post_office("POA", "H", &["H"], &["JSMITH", "CAROL"]);
    if !extra.is_empty() {
        spec = spec.with_extra(extra);
    }
    Router::start(root, spec)
}

/// Sends `input` as it is on a fresh connection, then reads every reply
/// until the server closes (the input ends with QUIT).
fn raw_session(smtp: SocketAddr, input: &[u8]) -> String {
    let mut stream = TcpStream::connect(smtp).expect("connect to SMTP");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    stream.write_all(input).expect("send the session");
    let mut replies = Vec::new();
    let _ = stream.read_to_end(&mut replies);
    String::from_utf8_lossy(&replies).into_owned()
}

/// CAROL's mailbox once the messages with these markers arrived (the last
/// sent last, so that anything sent before had its chance to arrive too).
fn carol_after(poa: &Router, markers: &[&str]) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let arrived = wait_until(WAIT, POLL, || {
        got = pop3_fetch(poa.pop3(), "CAROL", false);
        markers
            .iter()
            .all(|m| got.iter().any(|t| marker(t).as_deref() == Some(*m)))
    });
    assert!(arrived, "{markers:?} never all reached CAROL");
    got
}

fn send_text(poa: &Router, dir: &Path, to: &str, text: &[u8]) -> String {
    let file = dir.join("m.eml");
    std::fs::write(&file, text).expect("write the message");
    smtp_send(poa.smtp(), "jsmith@poa.acme", &[to], &file)
}

/// RFC 5321 2.3.8 and 4.1.1.4 over a raw socket: for each fake end of data
/// of CVE-2023-51764 and its relatives, followed by a second transaction
/// with a forged From:, the smuggled message is never delivered as its own
/// mail (this router refuses the whole message: 550 5.6.0). And a bare LF
/// does not end a command: `MAIL ...\nRCPT ...\r\n` runs neither.
#[test]
fn rfc5321_2_3_8_bare_cr_lf_never_end_a_command_nor_smuggle_a_message() {
    let root = test_dir("smtp-smuggle");
    let poa = post_office(root.path(), "");
    let patterns: [&[u8]; 11] = [
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
        b"\n.\n\r\n",
    ];
    for (n, pattern) in patterns.iter().enumerate() {
        let mut input = b"EHLO attacker\r\nMAIL FROM:<jsmith@poa.acme>\r\n\
            RCPT TO:<carol@poa.acme>\r\nDATA\r\n"
            .to_vec();
        input.extend_from_slice(format!("Subject: outer {n}\r\n\r\nmarker outer-{n}").as_bytes());
        input.extend_from_slice(pattern);
        input.extend_from_slice(
            format!(
                "MAIL FROM:<jsmith@poa.acme>\r\nRCPT TO:<carol@poa.acme>\r\nDATA\r\n\
                 From: ceo@bank.example\r\nSubject: smuggled\r\n\r\nmarker smuggled-{n}\r\n\
                 .\r\nQUIT\r\n"
            )
            .as_bytes(),
        );
        let replies = raw_session(poa.smtp(), &input);
        let pattern = String::from_utf8_lossy(pattern);
        assert!(replies.contains("\r\n550 5.6.0 "), "{pattern:?}: {replies}");
        assert!(!replies.contains("queued as"), "{pattern:?}: {replies}");
    }
    // Command lines: one bare LF, and the line it is part of runs nowhere.
    let replies = raw_session(
        poa.smtp(),
        b"EHLO x\r\nMAIL FROM:<jsmith@poa.acme>\nRCPT TO:<carol@poa.acme>\r\n\
          RCPT TO:<carol@poa.acme>\r\nNOOP\rRSET\r\nQUIT\r\n",
    );
    let codes: Vec<&str> = replies
        .split("\r\n")
        .filter(|l| l.len() > 4 && &l[3..4] == " ")
        .map(|l| &l[..9])
        .collect();
    assert_eq!(
        codes,
        [
            "220 poa.a",
            "250 PIPEL",
            "500 5.5.2",
            "500 5.5.2",
            "503 5.5.1",
            "500 5.5.2",
            "221 2.0.0"
        ],
        "{replies}"
    );
    // An honest message last: nothing smuggled arrived before it.
    assert_eq!(
        send_text(
            &poa,
            root.path(),
            "carol@poa.acme",
            b"Subject: ok\r\n\r\nmarker honest\r\n"
        ),
        "OK 0"
    );
    let got = carol_after(&poa, &["honest"]);
    let markers: Vec<Option<String>> = got.iter().map(|t| marker(t)).collect();
    assert_eq!(markers, [Some("honest".to_owned())]);
}

/// RFC 5321 3.3: an unknown mailbox of this post office is refused at RCPT
/// (550 5.1.1), not accepted and bounced later; `carol+news` is CAROL and
/// case does not matter; swaks with PIPELINING sees ENHANCEDSTATUSCODES
/// (RFC 2034) in the EHLO reply.
#[test]
fn rfc5321_3_3_recipients_are_checked_at_rcpt_with_plus_addressing() {
    let root = test_dir("smtp-rcpt");
    let poa = post_office(root.path(), "");
    let refused = send_text(
        &poa,
        root.path(),
        "nobody@poa.acme",
        b"Subject: x\r\n\r\nx\r\n",
    );
    assert_eq!(refused, "RECIPIENTS 550");
    let script = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo()
print('enhancedstatuscodes' in s.esmtp_features)
s.mail('jsmith@poa.acme')
code, text = s.rcpt('nobody@poa.acme')
print(code, text.decode().split()[0])
s.quit()
"#;
    let (ok, out, err) = python(
        script,
        &[poa.smtp().ip().to_string(), poa.smtp().port().to_string()],
        WAIT,
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["True", "550", "5.1.1"]
    );

    let swaks = Command::new("swaks")
        .args(["--server", &poa.smtp().to_string()])
        .args(["--from", "jsmith@poa.acme", "--to", "Carol+News@POA.Acme"])
        .args(["--pipeline", "--header", "Subject: plus"])
        .args(["--body", "marker plus-addressed"])
        .output()
        .expect("swaks runs (apt-get install swaks)");
    let transcript = String::from_utf8_lossy(&swaks.stdout);
    assert!(swaks.status.success(), "{transcript}");
    assert!(
        transcript.contains("250-ENHANCEDSTATUSCODES"),
        "{transcript}"
    );
    let got = carol_after(&poa, &["plus-addressed"]);
    assert_eq!(got.len(), 1);
}

/// RFC 6409 8.2 and 8.3: a message submitted without Date: and Message-ID:
/// arrives with both; one that has them keeps its own.
#[test]
fn rfc6409_8_date_and_message_id_are_added_when_missing() {
    let root = test_dir("smtp-headers");
    let poa = post_office(root.path(), "");
    let bare = b"Subject: bare\r\n\r\nmarker bare\r\n";
    assert_eq!(send_text(&poa, root.path(), "carol@poa.acme", bare), "OK 0");
    let dressed = b"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\nMessage-ID: <own@client.example>\r\n\
        Subject: dressed\r\n\r\nmarker dressed\r\n";
    assert_eq!(
        send_text(&poa, root.path(), "carol@poa.acme", dressed),
        "OK 0"
    );
    let got = carol_after(&poa, &["bare", "dressed"]);
    let header = |marker_text: &str, name: &str| -> Vec<String> {
        let text = got
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .find(|t| marker(t.as_bytes()).as_deref() == Some(marker_text))
            .unwrap_or_else(|| panic!("{marker_text} not in CAROL's mailbox"));
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_owned();
        head.lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(str::to_owned)
            .collect()
    };
    let date = header("bare", "date");
    assert_eq!(date.len(), 1, "{date:?}");
    assert!(date[0].ends_with(" +0000"), "{date:?}");
    let id = header("bare", "message-id");
    assert_eq!(id.len(), 1, "{id:?}");
    assert!(id[0].ends_with("@poa.acme>"), "{id:?}");
    assert_eq!(
        header("dressed", "date"),
        ["Date: Tue, 01 Dec 2026 10:00:00 +0100"]
    );
    assert_eq!(
        header("dressed", "message-id"),
        ["Message-ID: <own@client.example>"]
    );
}

const BIG: &str = r#"
import base64, hashlib, os, poplib, smtplib, sys, time
host, port, pop_port, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
to = 'klee@pob.acme'
limit = 25 * 1024 * 1024
s = smtplib.SMTP(host, port, timeout=120)
s.ehlo()
print('SIZE', s.esmtp_features.get('size'))
# RFC 1870 6.1: an announced size over the limit is refused at MAIL.
code, text = s.mail('jsmith@poa.acme', ['SIZE=%d' % (limit + 1)])
print('ANNOUNCED', code, text.decode().split()[0])
s.rset()
# Not announced: the whole text is read, then refused with the same code.
s.mail('jsmith@poa.acme')
s.rcpt(to)
line = b'x' * 998 + b'\r\n'
code, text = s.data(line * (limit // len(line) + 1))
print('UNANNOUNCED', code, text.decode().split()[0])
# A 25 MiB message (an attachment of some 18 MiB of data, base64), sent
# with its size announced, arrives byte for byte.
head = (b'Date: Wed, 02 Dec 2026 12:00:00 +0000\r\nMessage-ID: <big@client.example>\r\n'
        b'Subject: big\r\nMIME-Version: 1.0\r\n'
        b'Content-Type: multipart/mixed; boundary=b\r\n\r\nmarker big\r\n--b\r\n'
        b'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n')
tail = b'--b--\r\n'
raw = os.urandom((limit - len(head) - len(tail) - 4096) // 78 * 57)
encoded = base64.encodebytes(raw).replace(b'\n', b'\r\n')
message = head + encoded + tail
start = time.time()
refused = s.sendmail('jsmith@poa.acme', [to], message)
print('SENT', len(refused), len(message) <= limit)
s.quit()
want = hashlib.sha256(message).hexdigest()
deadline = time.time() + 300
while time.time() < deadline:
    p = poplib.POP3(host, pop_port, timeout=120)
    p.user('KLEE')
    p.pass_(password)
    got = [b'\r\n'.join(p.retr(i + 1)[1]) + b'\r\n' for i in range(p.stat()[0])]
    p.quit()
    if got:
        # Trace fields may come first; the client's text follows exactly.
        print('ARRIVED', len(got), hashlib.sha256(got[0][-len(message):]).hexdigest() == want,
              got[0].endswith(message))
        print('SECONDS', round(time.time() - start, 1), file=sys.stderr)
        break
    time.sleep(0.5)
else:
    print('NOT ARRIVED')
"#;

/// RFC 1870 and the size of an attachment users send today: the limit is
/// 25 MiB by default (the EHLO reply says so); a size announced over it is
/// refused at MAIL FROM, one not announced at the end of the data, both
/// with 552 5.3.4 (RFC 3463); a 25 MiB message goes POA -> H -> POB (one
/// wire frame a hop) and arrives byte-exact in KLEE's POP3 mailbox (SHA-256
/// of what was sent and what came back). No router holds it more than a
/// few times over (peak resident memory).
#[test]
fn rfc1870_size_is_25_mib_by_default_and_a_25_mib_message_arrives_exact() {
    let root = test_dir("smtp-size");
    let net = Net::start(
        root.path(),
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    );
    let (poa, pob) = (net.get("POA"), net.get("POB"));
    let (ok, out, err) = python(
        BIG,
        &[
            poa.smtp().ip().to_string(),
            poa.smtp().port().to_string(),
            pob.pop3().port().to_string(),
            password("KLEE"),
        ],
        Duration::from_secs(600),
    );
    assert!(ok, "{out}\n{err}");
    eprintln!("{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "SIZE 26214400",
            "ANNOUNCED 552 5.3.4",
            "UNANNOUNCED 552 5.3.4",
            "SENT 0 True",
            "ARRIVED 1 True True"
        ]
    );
    for name in ["POA", "H", "POB"] {
        let pid = net.get(name).process.pid().expect("the router runs");
        let peak_mib = peak_rss_kib(pid).expect("the router runs") / 1024;
        eprintln!("{name}: peak resident memory {peak_mib} MiB");
    }
}
