//! SMTP with TLS and AUTH on a network `netctl up` started (issue #16),
//! checked with clients that are not ours (Python's smtplib, swaks, curl),
//! each verifying the post office's certificate against the CA netctl wrote
//! to `DATA_DIR/tls/ca.pem`. netctl writes `trusted_networks = []`, so the
//! tests' own address, 127.0.0.1, is an untrusted client here.
//!
//! * RFC 3207 4, 4.2: STARTTLS offered in clear, the session starts over
//!   after it (EHLO again), and RFC 3207 5 / CVE-2011-0411: commands
//!   pipelined behind STARTTLS are never run.
//! * RFC 8314 3.3: SMTP over implicit TLS (smtps, the port-465 role).
//! * RFC 6409 4.3, 6.1: the submission listener (port-587 role) takes no
//!   mail without AUTH.
//! * RFC 4954 4, 6: AUTH PLAIN (RFC 4616) and LOGIN, offered only under
//!   TLS; `530 5.7.0` in clear, `535 5.7.8` for bad credentials, then the
//!   sender must be the authenticated user (`553 5.7.1`); mail to another
//!   post office without AUTH from an untrusted address: `530 5.7.0`.
//!
//! On the code before this change every test fails: EHLO offered neither
//! STARTTLS nor AUTH (STARTTLS and AUTH were `502`), and there were no
//! smtps or submission listeners.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::netctl_run::{NetworkGuard, netctl, succeeded};
use integration_tests::test_dir;

const ALICE_PW: &str = "alice-pop3-password";
const BOB_PW: &str = "bob-pop3-password";

/// Two post offices on one hub; ALICE (POA) and BOB (POB) have passwords.
const TOPOLOGY: &str = r#"
network = "ACME"
[old_hub]
name = "H"
[new_hub]
name = "H2"
[bridge]
name = "H3"
[[post_offices]]
name = "POA"
hub = "H"
users = [{ mailbox = "ALICE", display_name = "Alice", password = "alice-pop3-password" }]
[[post_offices]]
name = "POB"
hub = "H"
users = [{ mailbox = "BOB", display_name = "Bob", password = "bob-pop3-password" }]
"#;

struct Net {
    _dir: tempfile::TempDir,
    data: PathBuf,
    _guard: NetworkGuard,
}

impl Net {
    fn up(label: &str) -> Net {
        Net::up_with(label, TOPOLOGY)
    }

    fn up_with(label: &str, topology_text: &str) -> Net {
        let dir = test_dir(label);
        let topology = dir.path().join("topology.toml");
        std::fs::write(&topology, topology_text).unwrap();
        let data = dir.path().join("data");
        let out = netctl(&data, &["up", topology.to_str().unwrap()]);
        let guard = NetworkGuard(data.clone());
        succeeded("netctl up", &out);
        Net {
            _dir: dir,
            data,
            _guard: guard,
        }
    }

    fn ca(&self) -> String {
        let ca = self.data.join("tls").join("ca.pem");
        assert!(ca.is_file(), "netctl up wrote no {}", ca.display());
        ca.to_str().unwrap().to_owned()
    }

    /// `node`'s mail router's `service` endpoint, from `netctl status --json`.
    fn endpoint(&self, node: &str, service: &str) -> String {
        let out = netctl(&self.data, &["status", "--json"]);
        let text = succeeded("netctl status --json", &out);
        let status: serde_json::Value = serde_json::from_str(&text).expect("status is JSON");
        let processes = status["processes"].as_array().expect("processes");
        let id = format!("{node}.mail-router");
        let router = (processes.iter())
            .find(|p| p["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no {id} in {text}"));
        match router[service].as_str() {
            Some(addr) => addr.to_owned(),
            None => panic!("no {service} in {router}"),
        }
    }

    /// Waits until BOB's mailbox (read over pop3s) holds a message with
    /// each of `subjects`.
    fn bob_receives(&self, subjects: &[&str]) {
        let pop3s = self.endpoint("POB", "pop3s");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = python(SUBJECTS, &[&pop3s, &self.ca(), "BOB", BOB_PW]);
            if subjects.iter().all(|s| seen.contains(s)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "BOB never received {subjects:?}; has: {seen}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Subject of every message in a mailbox, over POP3 with implicit TLS.
const SUBJECTS: &str = r#"
import poplib, ssl, sys
addr, ca, user, password = sys.argv[1:5]
host, port = addr.rsplit(":", 1)
p = poplib.POP3_SSL(host, int(port), context=ssl.create_default_context(cafile=ca), timeout=10)
p.user(user)
p.pass_(password)
for n in range(1, p.stat()[0] + 1):
    for line in p.top(n, 0)[1]:
        if line.lower().startswith(b"subject:"):
            print(line.decode())
p.quit()
"#;

/// Sends one message with smtplib: `starttls` (RFC 3207) or `smtps`
/// (RFC 8314), then `login` (AUTH PLAIN), verifying the certificate.
const SMTPLIB_SEND: &str = r#"
import smtplib, ssl, sys
mode, addr, ca, user, password, sender, rcpt, subject = sys.argv[1:9]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
if mode == "smtps":
    s = smtplib.SMTP_SSL(host, int(port), context=ctx, timeout=20)
else:
    s = smtplib.SMTP(host, int(port), timeout=20)
    s.ehlo()
    assert s.has_extn("starttls"), s.esmtp_features
    assert not s.has_extn("auth"), "AUTH offered in clear: %r" % s.esmtp_features
    s.starttls(context=ctx)
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
mechanisms = s.esmtp_features["auth"].split()
assert "PLAIN" in mechanisms and "LOGIN" in mechanisms, mechanisms
s.login(user, password)
msg = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nover TLS\r\n" % (sender, rcpt, subject)
s.sendmail(sender, [rcpt], msg)
print("sent", s.sock.version())
s.quit()
"#;

#[test]
fn smtplib_sends_over_starttls_smtps_and_submission_with_auth() {
    let net = Net::up("smtp-auth-smtplib");
    let ca = net.ca();
    for (mode, service, subject) in [
        ("starttls", "smtp", "via-starttls"),
        ("smtps", "smtps", "via-smtps"),
        ("starttls", "submission", "via-submission"),
    ] {
        let addr = net.endpoint("POA", service);
        let out = python(
            SMTPLIB_SEND,
            &[
                mode,
                &addr,
                &ca,
                "alice@poa.acme",
                ALICE_PW,
                "alice@poa.acme",
                "bob@pob.acme",
                subject,
            ],
        );
        assert!(out.starts_with("sent TLSv1."), "{service}: {out}");
    }
    net.bob_receives(&["via-starttls", "via-smtps", "via-submission"]);
}

#[test]
fn swaks_and_curl_submit_with_tls_and_auth() {
    let net = Net::up("smtp-auth-swaks");
    let ca = net.ca();
    let smtp = net.endpoint("POA", "smtp");
    let smtps = net.endpoint("POA", "smtps");
    let swaks = |server: &str, tls: &str, mechanism: &str, subject: &str| {
        let out = Command::new("swaks")
            .args([
                "--server",
                server,
                tls,
                "--tls-verify",
                "--tls-ca-path",
                &ca,
            ])
            .args(["--auth", mechanism, "--auth-user", "alice@poa.acme"])
            .args(["--auth-password", ALICE_PW])
            .args(["--from", "alice@poa.acme", "--to", "bob@pob.acme"])
            .args(["--header", &format!("Subject: {subject}")])
            .args(["--timeout", "20"])
            .output()
            .expect("swaks runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "swaks {tls} {mechanism}: {text}");
        assert!(text.contains("235 2.7.0"), "{text}");
    };
    swaks(&smtp, "--tls", "PLAIN", "swaks-starttls-plain");
    swaks(&smtps, "--tlsc", "LOGIN", "swaks-tlsc-login");

    let message = net.data.join("curl.eml");
    std::fs::write(
        &message,
        "From: <alice@poa.acme>\r\nTo: <bob@pob.acme>\r\nSubject: curl-smtps\r\n\r\nhi\r\n",
    )
    .unwrap();
    let curl = |url: &str, extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--ssl-reqd"])
            .args(["--user", &format!("alice@poa.acme:{ALICE_PW}")])
            .args([
                "--mail-from",
                "alice@poa.acme",
                "--mail-rcpt",
                "bob@pob.acme",
            ])
            .args(["--upload-file", message.to_str().unwrap()])
            .args(extra)
            .arg(url)
            .output()
            .expect("curl runs")
    };
    let ok = curl(&format!("smtps://{smtps}"), &["--cacert", &ca]);
    assert!(
        ok.status.success(),
        "curl smtps: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Without the network CA the certificate is not trusted: the check is real.
    let unverified = curl(&format!("smtps://{smtps}"), &[]);
    assert_eq!(unverified.status.code(), Some(60), "curl without the CA");
    net.bob_receives(&["swaks-starttls-plain", "swaks-tlsc-login", "curl-smtps"]);
}

/// The refusals, each over smtplib; the script asserts the codes.
const REFUSALS: &str = r#"
import base64, smtplib, ssl, sys, time
smtp, submission, ca, password = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = smtplib.SMTP(host, int(port), timeout=30)
    s.ehlo()
    return s
def expect(got, code, enhanced, what):
    assert got[0] == code and got[1].decode().startswith(enhanced), "%s: %r" % (what, got)
    print(what, got[0], got[1].decode())
plain = lambda pw: base64.b64encode(("\0alice@poa.acme\0" + pw).encode()).decode()

# RFC 4954 4 / RFC 3207: no AUTH in clear.
s = connect(smtp)
expect(s.docmd("AUTH", "PLAIN " + plain(password)), 530, "5.7.0", "auth-in-clear")
expect(s.docmd("AUTH", "LOGIN"), 530, "5.7.0", "auth-login-in-clear")
# 127.0.0.1 is not trusted: another post office needs AUTH; this one not.
expect(s.mail("alice@poa.acme"), 250, "2.1.0", "mail-untrusted")
expect(s.rcpt("alice@poa.acme"), 250, "2.1.5", "rcpt-local-untrusted")
expect(s.rcpt("bob@pob.acme"), 530, "5.7.0", "relay-without-auth")
s.quit()

# Under TLS: a wrong password is 535 and slowed; the right one still works.
s = connect(smtp)
s.starttls(context=ctx)
s.ehlo()
began = time.monotonic()
for _ in range(6):
    expect(s.docmd("AUTH", "PLAIN " + plain("wrong")), 535, "5.7.8", "wrong-password")
slowed = time.monotonic() - began
assert slowed >= 1.4, "6 wrong passwords took only %.2f s" % slowed
print("six-wrong-took", round(slowed, 2))
expect(s.docmd("AUTH", "PLAIN " + plain(password)), 235, "2.7.0", "right-password")
# The sender must be the authenticated user: not another, not POSTMASTER.
expect(s.mail("bob@pob.acme"), 553, "5.7.1", "mail-from-other-post-office")
expect(s.mail("postmaster@poa.acme"), 553, "5.7.1", "mail-from-postmaster")
expect(s.mail("alice@poa.acme"), 250, "2.1.0", "mail-from-self")
expect(s.rcpt("bob@pob.acme"), 250, "2.1.5", "relay-with-auth")
s.quit()

# RFC 6409: submission takes no mail without AUTH.
s = connect(submission)
s.starttls(context=ctx)
s.ehlo()
expect(s.mail("alice@poa.acme"), 530, "5.7.0", "submission-without-auth")
s.quit()
"#;

#[test]
fn refusals_auth_in_clear_bad_password_foreign_sender_and_relay_without_auth() {
    let net = Net::up("smtp-auth-refusals");
    let out = python(
        REFUSALS,
        &[
            &net.endpoint("POA", "smtp"),
            &net.endpoint("POA", "submission"),
            &net.ca(),
            ALICE_PW,
        ],
    );
    for step in [
        "auth-in-clear 530",
        "relay-without-auth 530",
        "wrong-password 535",
        "mail-from-postmaster 553",
        "submission-without-auth 530",
    ] {
        assert!(out.contains(step), "{step} missing in:\n{out}");
    }
}

/// CVE-2011-0411: `STARTTLS` and a command in one packet. After the
/// handshake the first reply must be the one to the client's own EHLO:
/// the injected MAIL was dropped, not run under TLS.
const INJECTION: &str = r#"
import socket, ssl, sys
addr, ca = sys.argv[1:3]
host, port = addr.rsplit(":", 1)
raw = socket.create_connection((host, int(port)), timeout=20)
f = raw.makefile("rb")
def reply(f):
    lines = []
    while True:
        line = f.readline().decode().rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines
assert reply(f)[0].startswith("220"), "greeting"
raw.sendall(b"EHLO client\r\n")
reply(f)
raw.sendall(b"STARTTLS\r\nMAIL FROM:<alice@poa.acme>\r\n")
first = reply(f)
assert first[0].startswith("220 "), first
ctx = ssl.create_default_context(cafile=ca)
tls = ctx.wrap_socket(raw, server_hostname=host)
g = tls.makefile("rb")
tls.sendall(b"EHLO client\r\n")
ehlo = reply(g)
assert ehlo[0].startswith("250-") and "greets client" in ehlo[0], "injected command ran: %r" % ehlo
tls.sendall(b"RCPT TO:<alice@poa.acme>\r\n")
rcpt = reply(g)
assert rcpt[0].startswith("503"), "a sender from before TLS survived: %r" % rcpt
print("injection refused", ehlo[0], rcpt[0])
tls.sendall(b"QUIT\r\n")
"#;

#[test]
fn commands_pipelined_after_starttls_are_not_executed() {
    let net = Net::up("smtp-starttls-injection");
    let out = python(INJECTION, &[&net.endpoint("POA", "smtp"), &net.ca()]);
    assert!(out.starts_with("injection refused"), "{out}");
}

/// msmtp (a mail client of its own) with TLS and AUTH, when installed.
#[test]
fn msmtp_sends_with_starttls_and_auth_when_installed() {
    if Command::new("msmtp").arg("--version").output().is_err() {
        eprintln!("msmtp is not installed (apt-get install -y msmtp): skipped");
        return;
    }
    let net = Net::up("smtp-auth-msmtp");
    let smtp = net.endpoint("POA", "smtp");
    let (host, port) = smtp.rsplit_once(':').unwrap();
    let config = net.data.join("msmtprc");
    std::fs::write(
        &config,
        format!(
            "account default\nhost {host}\nport {port}\ntls on\ntls_starttls on\n\
             tls_trust_file {}\nauth on\nuser alice@poa.acme\npassword {ALICE_PW}\n\
             from alice@poa.acme\n",
            net.ca()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut child = Command::new("msmtp")
        .args(["-C", config.to_str().unwrap(), "bob@pob.acme"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("msmtp runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(
                b"From: <alice@poa.acme>\r\nTo: <bob@pob.acme>\r\nSubject: via-msmtp\r\n\r\nhi\r\n",
            )
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "msmtp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    net.bob_receives(&["via-msmtp"]);
}

/// Plain SMTP from 127.0.0.1 to another post office, no TLS, no AUTH.
const PLAIN_RELAY: &str = r#"
import smtplib, sys
addr = sys.argv[1]
host, port = addr.rsplit(":", 1)
s = smtplib.SMTP(host, int(port), timeout=20)
s.sendmail("alice@poa.acme", ["bob@pob.acme"],
    "From: <alice@poa.acme>\r\nTo: <bob@pob.acme>\r\nSubject: trusted-relay\r\n\r\nhi\r\n")
print("sent")
s.quit()
"#;

/// A topology's `trusted_networks` reaches the post offices (Postfix's
/// mynetworks): a client there sends to another post office without AUTH.
#[test]
fn a_topologys_trusted_networks_send_without_auth() {
    let topology = format!("trusted_networks = [\"127.0.0.0/8\"]\n{TOPOLOGY}");
    let net = Net::up_with("smtp-trusted-networks", &topology);
    let out = python(PLAIN_RELAY, &[&net.endpoint("POA", "smtp")]);
    assert_eq!(out.trim(), "sent");
    net.bob_receives(&["trusted-relay"]);
}
