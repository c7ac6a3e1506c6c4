//! POP3 as clients nobody here wrote use it (issue #16, without TLS):
//! Python's `poplib` and `curl` against a real post office process over
//! TCP. CAPA (RFC 2449), TOP (RFC 1939 §7), AUTH PLAIN (RFC 5034), login by
//! the post office's own address, the exclusive maildrop lock (RFC 1939 §8,
//! `[IN-USE]` of RFC 2449 §8.1.2), failed logins slowed per mailbox and per
//! client address, and a missing mailbox that costs as much as a wrong
//! password (RFC 1939 §13: do not help a guesser).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use integration_tests::mail::{Net, Spec, password, python, smtp_send};
use integration_tests::{test_dir, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
/// Users beyond CAROL and DAVE: each tried once with a wrong password by
/// the timing test, so that no earlier failure slows its attempt.
const SPARE: [&str; 6] = ["U1", "U2", "U3", "U4", "U5", "U6"];

/// One post office, POC, with CAROL holding one message from DAVE.
fn post_office(root: &Path, subject: &str, body: &str) -> Net {
    let mut users = vec!["CAROL", "DAVE"];
    users.extend(SPARE);
    let net = Net::start(root, vec![Spec::post_office("POC", "H", &["H"], &users)]);
    let poc = net.get("POC");
    let file = root.join("m.eml");
    let text =
        format!("Subject: {subject}\r\nFrom: dave@poc.acme\r\nTo: carol@poc.acme\r\n\r\n{body}");
    std::fs::write(&file, text).expect("write the message");
    assert_eq!(
        smtp_send(poc.smtp(), "dave@poc.acme", &["carol@poc.acme"], &file),
        "OK 0"
    );
    assert!(
        wait_until(WAIT, POLL, || poc.count("delivered") == 1),
        "the message was not delivered"
    );
    net
}

fn run_python(script: &str, server: SocketAddr, extra: &[&str], within: Duration) -> String {
    let mut args = vec![
        server.ip().to_string(),
        server.port().to_string(),
        password("CAROL"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let (ok, out, err) = python(script, &args, within);
    assert!(ok, "python failed:\n{out}\n{err}");
    out.trim().to_owned()
}

const CAPA_AND_TOP: &str = r#"
import poplib, sys
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = poplib.POP3(host, port, timeout=30)
before = p.capa()
p.user('carol'); p.pass_(pw)
after = p.capa()
for state, caps in (('AUTHORIZATION', before), ('TRANSACTION', after)):
    for c in ('TOP', 'UIDL', 'USER', 'SASL', 'RESP-CODES', 'PIPELINING', 'IMPLEMENTATION'):
        if c not in caps:
            raise SystemExit('CAPA in the %s state lacks %s: %r' % (state, c, caps))
    if 'PLAIN' not in caps['SASL']:
        raise SystemExit('SASL without PLAIN: %r' % caps)
_, whole, _ = p.retr(1)
header = whole[:whole.index(b'')]
for n in (0, 2, 99999999):
    _, lines, _ = p.top(1, n)
    if b'' not in lines:
        raise SystemExit('TOP 1 %d has no blank line: %r' % (n, lines))
    blank = lines.index(b'')
    if lines[:blank] != header:
        raise SystemExit('TOP 1 %d header %r, RETR header %r' % (n, lines[:blank], header))
    expect = whole[len(header) + 1:][:n]
    if lines[blank + 1:] != expect:
        raise SystemExit('TOP 1 %d body %r, expected %r' % (n, lines[blank + 1:], expect))
if not any(h == b'Subject: top test' for h in header):
    raise SystemExit('no Subject in %r' % header)
p.quit()
print('OK')
"#;

/// RFC 2449 §5 (CAPA in both states, §6 the capabilities) and RFC 1939 §7
/// (TOP: the header, the blank line, n body lines; poplib undoes the
/// dot-stuffing of ".line two").
#[test]
fn rfc2449_capa_in_both_states_and_rfc1939_s7_top_with_poplib() {
    let root = test_dir("pop3-capa-top");
    let net = post_office(
        root.path(),
        "top test",
        "line one\r\n.line two\r\nline three\r\n",
    );
    let out = run_python(CAPA_AND_TOP, net.get("POC").pop3(), &[], WAIT);
    assert_eq!(out, "OK");
}

const PIPELINED: &str = r#"
import socket, sys
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = socket.create_connection((host, port), timeout=30)
f = conn.makefile('rb')
f.readline()
conn.sendall(('CAPA\r\nUSER carol\r\nPASS %s\r\nSTAT\r\nTOP 1 0\r\nNOOP\r\nQUIT\r\n' % pw).encode())
def multiline():
    first = f.readline()
    if not first.startswith(b'+OK'):
        raise SystemExit('a multi-line answer began %r' % first)
    while f.readline() != b'.\r\n':
        pass
multiline()
replies = []
for expect in ('USER', 'PASS', 'STAT'):
    replies.append(f.readline())
multiline()
replies += [f.readline(), f.readline()]
bad = [r for r in replies if not r.startswith(b'+OK')]
if bad or not replies[2].startswith(b'+OK 1 '):
    raise SystemExit('pipelined answers %r' % replies)
print('OK')
"#;

/// RFC 2449 §6.6 (PIPELINING): commands sent in one go are answered in
/// order, a multi-line answer whole before the next.
#[test]
fn rfc2449_s6_6_pipelined_commands_are_answered_in_order() {
    let root = test_dir("pop3-pipelining");
    let net = post_office(root.path(), "pipelined", "body\r\n");
    let out = run_python(PIPELINED, net.get("POC").pop3(), &[], WAIT);
    assert_eq!(out, "OK");
}

const IN_USE: &str = r#"
import poplib, sys, time
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def session(user):
    p = poplib.POP3(host, port, timeout=30)
    p.user(user); p.pass_(pw)
    return p
def refused(user):
    p = poplib.POP3(host, port, timeout=30)
    p.user(user)
    try:
        p.pass_(pw)
    except poplib.error_proto as e:
        if not e.args[0].startswith(b'-ERR [IN-USE]'):
            raise SystemExit('refused without [IN-USE]: %r' % e.args[0])
        return p
    raise SystemExit('a second session of %s was let in' % user)
first = session('carol')
second = refused('CAROL')
refused('carol@poc.acme').quit()
first.dele(1)
first.quit()
# The refused session may try again in its AUTHORIZATION state.
second.user('carol'); second.pass_(pw)
if second.stat()[0] != 0:
    raise SystemExit('the first session QUIT after DELE, yet %r' % (second.stat(),))
# A session that drops its connection without QUIT lets go as well.
second.close()
deadline = time.time() + 10
while True:
    try:
        session('carol').quit()
        break
    except poplib.error_proto as e:
        if time.time() > deadline:
            raise SystemExit('still locked after a dropped connection: %r' % e.args[0])
        time.sleep(0.1)
print('OK')
"#;

/// RFC 1939 §8: the maildrop is locked exclusively while a session is in
/// the TRANSACTION state; a second session gets `-ERR [IN-USE]` (RFC 2449
/// §8.1.2) and gets in after the first QUITs, or drops its connection.
#[test]
fn rfc1939_s8_a_second_session_is_refused_in_use_until_the_first_ends() {
    let root = test_dir("pop3-in-use");
    let net = post_office(root.path(), "lock", "body\r\n");
    let out = run_python(IN_USE, net.get("POC").pop3(), &[], WAIT);
    assert_eq!(out, "OK");
}

const AUTH_PLAIN: &str = r#"
import poplib, sys, base64
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def b64(authz, user, pw):
    return base64.b64encode(('%s\0%s\0%s' % (authz, user, pw)).encode()).decode()
# With the initial response (RFC 5034 §4), login by address.
p = poplib.POP3(host, port, timeout=30)
resp = p._shortcmd('AUTH PLAIN ' + b64('', 'carol@POC.acme', pw))
if p.stat()[0] != 1:
    raise SystemExit('AUTH PLAIN %r, then STAT %r' % (resp, p.stat()))
p.quit()
# With the "+ " continuation.
p = poplib.POP3(host, port, timeout=30)
p._putcmd('AUTH PLAIN')
line, _ = p._getline()
if not line.startswith(b'+'):
    raise SystemExit('AUTH PLAIN without a response answered %r' % line)
p._putcmd(b64('carol', 'CAROL', pw))
p._getresp()
p.stat(); p.quit()
# Login names: the mailbox name in any case, or the post office's address.
for user in ('CAROL', 'carol', 'Carol@poc.ACME'):
    p = poplib.POP3(host, port, timeout=30)
    p.user(user); p.pass_(pw); p.quit()
# Another post office's address is refused like a wrong password.
for attempt in ('user', 'auth'):
    p = poplib.POP3(host, port, timeout=30)
    try:
        if attempt == 'user':
            p.user('carol@pob.acme'); p.pass_(pw)
        else:
            p._shortcmd('AUTH PLAIN ' + b64('', 'carol@pob.acme', pw))
        raise SystemExit('carol@pob.acme logged in at POC')
    except poplib.error_proto as e:
        if not e.args[0].startswith(b'-ERR [AUTH]'):
            raise SystemExit('carol@pob.acme refused with %r' % e.args[0])
    p.quit()
print('OK')
"#;

/// RFC 5034 §4 (AUTH PLAIN with an initial response, and with the "+ "
/// continuation; RFC 4616 message) and the login names of issue #16:
/// CAROL, carol, carol@poc.acme, but not carol@pob.acme.
#[test]
fn rfc5034_s4_auth_plain_and_login_by_the_post_offices_address() {
    let root = test_dir("pop3-auth-plain");
    let net = post_office(root.path(), "auth", "body\r\n");
    let out = run_python(AUTH_PLAIN, net.get("POC").pop3(), &[], WAIT);
    assert_eq!(out, "OK");
}

fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "-v", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// curl's POP3 (RFC 1939 §7 RETR and TOP through `-X`; curl reads CAPA,
/// RFC 2449, and logs in with SASL PLAIN, RFC 5034, when it is offered).
#[test]
fn rfc1939_s7_curl_retrieves_and_tops_after_capa_and_auth_plain() {
    let root = test_dir("pop3-curl");
    let net = post_office(root.path(), "curl test", "first body line\r\n");
    let server = net.get("POC").pop3();
    let user = format!("carol:{}", password("CAROL"));
    let base = format!("pop3://{server}/");
    let (ok, message, log) = curl(&[&format!("{base}1"), "-u", &user]);
    assert!(ok, "curl RETR failed: {log}");
    assert!(message.contains("Subject: curl test"), "{message}");
    assert!(message.contains("first body line"), "{message}");
    assert!(
        log.contains("> AUTH PLAIN"),
        "curl did not use SASL PLAIN: {log}"
    );

    let (ok, top, log) = curl(&[&base, "-u", &user, "-X", "TOP 1 0"]);
    assert!(ok, "curl TOP failed: {log}");
    assert!(top.contains("Subject: curl test"), "{top}");
    assert!(
        !top.contains("first body line"),
        "TOP 1 0 sent the body: {top}"
    );

    let foreign = format!("carol@pob.acme:{}", password("CAROL"));
    let (ok, _, log) = curl(&[&base, "-u", &foreign]);
    assert!(!ok, "carol@pob.acme logged in at POC: {log}");
}

/// The wait before the k-th failed login (k from 0) of one mailbox or one
/// client address: min(0.1 s × k, 0.5 s) (docs/ARCHITECTURE.md, POP3).
fn schedule(failures: u32) -> Duration {
    (0..failures)
        .map(|k| Duration::from_millis(100 * u64::from(k)).min(Duration::from_millis(500)))
        .sum()
}

const BRUTE: &str = r#"
import socket, sys, time, threading
host, port, pw, n, parallel = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == '1'
def attempt(conn, f, user, password):
    conn.sendall(('USER %s\r\n' % user).encode())
    f.readline()
    conn.sendall(('PASS %s\r\n' % password).encode())
    return f.readline()
def connect():
    conn = socket.create_connection((host, port), timeout=120)
    f = conn.makefile('rb')
    f.readline()
    return conn, f
failures = []
def wrong(conn, f, i):
    reply = attempt(conn, f, 'carol', 'wrong-%d' % i)
    if not reply.startswith(b'-ERR'):
        failures.append(reply)
start = time.monotonic()
if parallel:
    def one(i):
        conn, f = connect()
        wrong(conn, f, i)
        conn.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
else:
    conn, f = connect()
    for i in range(n):
        wrong(conn, f, i)
    conn.close()
elapsed = time.monotonic() - start
if failures:
    raise SystemExit('a wrong password answered %r' % failures[0])
conn, f = connect()
start = time.monotonic()
reply = attempt(conn, f, 'carol', pw)
right = time.monotonic() - start
if not reply.startswith(b'+OK'):
    raise SystemExit('the right password after the attack: %r' % reply)
print('%.3f %.3f' % (elapsed, right))
"#;

fn brute(parallel: bool, failures: u32) -> (Duration, Duration) {
    let root = test_dir("pop3-brute");
    let net = post_office(root.path(), "brute", "body\r\n");
    let n = failures.to_string();
    let out = run_python(
        BRUTE,
        net.get("POC").pop3(),
        &[&n, if parallel { "1" } else { "0" }],
        Duration::from_secs(120),
    );
    let mut times = out.split_whitespace().map(|t| t.parse::<f64>());
    let (Some(Ok(elapsed)), Some(Ok(right))) = (times.next(), times.next()) else {
        panic!("unexpected output {out:?}");
    };
    (
        Duration::from_secs_f64(elapsed),
        Duration::from_secs_f64(right),
    )
}

/// 200 wrong passwords take at least a minute (the schedule above makes
/// it 98 s); 12 take at least 4.5 s (checked with 5% slack for the fading
/// of old failures), and the right password afterwards is answered within
/// the 0.5 s cap plus the hash and the mailbox listing (1 s given for
/// those, for a debug build on a busy machine): no lock-out weapon.
#[test]
fn failed_logins_on_one_connection_are_slowed_and_the_right_password_still_works() {
    let (elapsed, right) = brute(false, 12);
    eprintln!("12 wrong passwords on one connection: {elapsed:?}, then the right one: {right:?}");
    assert!(
        elapsed >= schedule(12).mul_f64(0.95),
        "12 wrong passwords took {elapsed:?}, less than {:?}",
        schedule(12)
    );
    assert!(
        right <= Duration::from_millis(1500),
        "the right password took {right:?}"
    );
}

/// As above, with every wrong password on its own connection, all at
/// once: the client address's logins are checked one at a time, so many
/// connections guess no faster than one.
#[test]
fn failed_logins_across_parallel_connections_are_slowed_alike() {
    let (elapsed, right) = brute(true, 12);
    eprintln!("12 wrong passwords on 12 connections: {elapsed:?}, then the right one: {right:?}");
    assert!(
        elapsed >= schedule(12).mul_f64(0.95),
        "12 parallel wrong passwords took {elapsed:?}, less than {:?}",
        schedule(12)
    );
    assert!(
        right <= Duration::from_millis(1500),
        "the right password took {right:?}"
    );
}

const TIMING: &str = r#"
import socket, sys, time, statistics
host, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
existing, missing = sys.argv[4].split(','), sys.argv[5].split(',')
source = [10]
def pass_time(user):
    # A fresh client address and name each time: no earlier failure slows it.
    source[0] += 1
    conn = socket.create_connection((host, port), timeout=60, source_address=('127.0.0.%d' % source[0], 0))
    f = conn.makefile('rb')
    f.readline()
    conn.sendall(('USER %s\r\n' % user).encode())
    f.readline()
    start = time.monotonic()
    conn.sendall(b'PASS not-the-password\r\n')
    reply = f.readline()
    took = time.monotonic() - start
    conn.close()
    if not reply.startswith(b'-ERR'):
        raise SystemExit('%s: %r' % (user, reply))
    return took
a, b = [], []
for e, m in zip(existing, missing):
    a.append(pass_time(e))
    b.append(pass_time(m))
print('%.6f %.6f' % (statistics.median(a), statistics.median(b)))
"#;

/// RFC 1939 §13 (security): a missing mailbox, or another post office's
/// address, is refused after the same password-hash work as a wrong
/// password, so the time PASS takes does not tell which mailboxes exist.
#[test]
fn rfc1939_s13_a_missing_mailbox_costs_as_much_as_a_wrong_password() {
    let root = test_dir("pop3-timing");
    let net = post_office(root.path(), "timing", "body\r\n");
    let existing = SPARE.join(",");
    let missing = "nobody1,nobody2,nobody3,ghost@poc.acme,carol@pob.acme,nobody4";
    let out = run_python(
        TIMING,
        net.get("POC").pop3(),
        &[&existing, missing],
        Duration::from_secs(120),
    );
    let mut times = out.split_whitespace().map(|t| t.parse::<f64>());
    let (Some(Ok(existing)), Some(Ok(missing))) = (times.next(), times.next()) else {
        panic!("unexpected output {out:?}");
    };
    eprintln!("PASS: wrong password {existing} s, missing mailbox {missing} s (medians)");
    // The hash is what is measured: it must show above the loopback noise.
    assert!(existing >= 0.001, "a wrong password took only {existing} s");
    assert!(
        missing >= existing * 0.6 && missing <= existing * 1.6 + 0.005,
        "a wrong password takes {existing} s, a missing mailbox {missing} s"
    );
}
