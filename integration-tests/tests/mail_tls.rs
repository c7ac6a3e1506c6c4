//! POP3 over TLS on a network `netctl up` started (issue #16), checked with
//! clients that are not ours: Python's poplib and curl, both verifying the
//! post office's certificate against the CA netctl wrote to
//! `DATA_DIR/tls/ca.pem`.
//!
//! * RFC 2595 §4: STLS, listed in CAPA until TLS is active; after it the
//!   client starts over (CAPA no longer lists STLS).
//! * RFC 8314 §3.2: POP3 over implicit TLS (the pop3s, port-995 service).
//! * RFC 2595 §2.2 / RFC 8314 §4: a server may refuse passwords in clear;
//!   the post offices netctl starts do, answering RFC 3206 `[AUTH]`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::netctl_run::{NetworkGuard, netctl, succeeded};
use integration_tests::{RoleProcess, binary, test_dir};

const PASSWORD: &str = "alice-pop3-password";

/// The smallest network `up` accepts; ALICE of POA has a POP3 password.
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
"#;

fn up(label: &str) -> (tempfile::TempDir, PathBuf, PathBuf, NetworkGuard) {
    let dir = test_dir(label);
    let topology = dir.path().join("topology.toml");
    std::fs::write(&topology, TOPOLOGY).unwrap();
    let data = dir.path().join("data");
    let out = netctl(&data, &["up", topology.to_str().unwrap()]);
    let guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    (dir, data, topology, guard)
}

/// POA's mail router's `service` endpoint, from `netctl status --json`.
fn endpoint(data: &Path, service: &str) -> String {
    let out = netctl(data, &["status", "--json"]);
    let text = succeeded("netctl status --json", &out);
    let status: serde_json::Value = serde_json::from_str(&text).expect("status is JSON");
    let processes = status["processes"].as_array().expect("processes");
    let router = (processes.iter())
        .find(|p| p["id"] == "POA.mail-router")
        .expect("POA's mail router");
    match router[service].as_str() {
        Some(addr) => addr.to_owned(),
        None => panic!("no {service} in {router}"),
    }
}

/// Logs in as ALICE with Python's poplib, over STLS (`mode` "stls") or
/// implicit TLS ("implicit"), trusting only `ca`; prints what it saw.
const POPLIB: &str = r#"
import poplib, ssl, sys
mode, addr, ca, user, password = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
if mode == "stls":
    p = poplib.POP3(host, int(port), timeout=10)
    caps = p.capa()
    assert "STLS" in caps, caps
    assert "USER" not in caps, caps
    p.stls(context=ctx)
    caps = p.capa()
    assert "STLS" not in caps, caps
    assert "USER" in caps, caps
else:
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=10)
p.user(user)
p.pass_(password)
print("stat", p.stat()[0], p.sock.version())
p.quit()
"#;

fn poplib(mode: &str, addr: &str, ca: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            POPLIB,
            mode,
            addr,
            ca.to_str().unwrap(),
            "ALICE",
            PASSWORD,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "poplib {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A line-at-a-time POP3 exchange in clear.
fn clear_exchange(addr: &str, commands: &[&str]) -> Vec<String> {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    let mut replies = Vec::new();
    for command in commands {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        let mut reply = line.trim_end().to_owned();
        if *command == "CAPA" {
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim_end() == "." {
                    break;
                }
                reply.push(' ');
                reply.push_str(line.trim_end());
            }
        }
        replies.push(reply);
    }
    replies
}

#[test]
fn poplib_logs_in_over_stls_and_over_pop3s_verifying_the_network_ca() {
    let (_dir, data, _topology, _guard) = up("tls-poplib");
    let ca = data.join("tls").join("ca.pem");
    assert!(ca.is_file(), "netctl up wrote no {}", ca.display());
    let pop3 = endpoint(&data, "pop3");
    let pop3s = endpoint(&data, "pop3s");
    let stls = poplib("stls", &pop3, &ca);
    assert!(stls.starts_with("stat 0 TLSv1."), "{stls}");
    let implicit = poplib("implicit", &pop3s, &ca);
    assert!(implicit.starts_with("stat 0 TLSv1."), "{implicit}");
}

#[test]
fn curl_collects_over_pop3s_with_the_ca_and_refuses_without_it() {
    let (_dir, data, _topology, _guard) = up("tls-curl");
    let ca = data.join("tls").join("ca.pem");
    let url = format!("pop3s://{}/", endpoint(&data, "pop3s"));
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-u",
                &format!("ALICE:{PASSWORD}"),
            ])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl runs")
    };
    let ok = curl(&["--cacert", ca.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "curl --cacert: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The system's CAs do not know the network CA: the check is real.
    let unverified = curl(&[]);
    assert_eq!(
        unverified.status.code(),
        Some(60),
        "curl without the CA: {}",
        String::from_utf8_lossy(&unverified.stderr)
    );
}

#[test]
fn passwords_in_clear_are_refused_and_the_ca_survives_down_and_up() {
    let (_dir, data, topology, _guard) = up("tls-clear");
    let pop3 = endpoint(&data, "pop3");
    let replies = clear_exchange(
        &pop3,
        &[
            "CAPA",
            "USER ALICE",
            &format!("PASS {PASSWORD}"),
            // \0ALICE\0alice-pop3-password
            "AUTH PLAIN AEFMSUNFAGFsaWNlLXBvcDMtcGFzc3dvcmQ=",
            "QUIT",
        ],
    );
    assert!(replies[0].contains("STLS"), "{replies:?}");
    assert!(!replies[0].contains("USER"), "{replies:?}");
    for refused in &replies[1..4] {
        assert!(
            refused.starts_with("-ERR [AUTH]") && refused.contains("STLS"),
            "{replies:?}"
        );
    }
    // The key of each post office is the operator's alone.
    use std::os::unix::fs::PermissionsExt;
    let key = data.join("tls").join("POA").join("key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", key.display());

    // Clients keep trusting the same CA after the network is restarted.
    let ca = data.join("tls").join("ca.pem");
    let before = std::fs::read(&ca).unwrap();
    succeeded("netctl down", &netctl(&data, &["down"]));
    succeeded(
        "netctl up again",
        &netctl(&data, &["up", topology.to_str().unwrap()]),
    );
    assert_eq!(std::fs::read(&ca).unwrap(), before, "the CA changed");
    let implicit = poplib("implicit", &endpoint(&data, "pop3s"), &ca);
    assert!(implicit.starts_with("stat 0"), "{implicit}");
}

/// A self-signed server certificate (not a CA) for 127.0.0.1 in `dir`, as
/// an operator might make for one host: (cert, key).
fn openssl_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("poa.pem"), dir.join("poa-key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=poa.acme",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

#[test]
fn a_post_office_serves_the_operators_own_certificate_named_in_the_topology() {
    let dir = test_dir("tls-own");
    let (cert, key) = openssl_certificate(dir.path());
    let topology = dir.path().join("topology.toml");
    let own = TOPOLOGY.replacen(
        "hub = \"H\"\nusers",
        &format!(
            "hub = \"H\"\ntls_cert = {:?}\ntls_key = {:?}\nusers",
            cert.display().to_string(),
            key.display().to_string()
        ),
        1,
    );
    assert_ne!(own, TOPOLOGY);
    std::fs::write(&topology, own).unwrap();
    let data = dir.path().join("data");
    let out = netctl(&data, &["up", topology.to_str().unwrap()]);
    let _guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    assert!(
        !data.join("tls").join("POA").exists(),
        "netctl issued POA a certificate although the topology gave one"
    );
    // Python trusts the operator's certificate, not the network CA.
    let implicit = poplib("implicit", &endpoint(&data, "pop3s"), &cert);
    assert!(implicit.starts_with("stat 0"), "{implicit}");
    // netctl's own client (demo, migration checks) does too, over STLS.
    let pop3 = netctl::mailclient::Pop3Server {
        endpoint: endpoint(&data, "pop3"),
        trust: Some(cert.clone()),
    };
    let got = netctl::mailclient::collect(&pop3, "ALICE", PASSWORD, &|_| false);
    assert!(got.is_ok(), "{got:?}");
}

/// A post office configured by hand (no netctl): TLS files, pop3s, and
/// `pop3_allow_plaintext` as given.
fn router_config(dir: &Path, cert: &Path, key: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "node = \"POA\"\nnetwork = \"ACME\"\nmode = \"post-office\"\n\
         data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n\
         operator_secret = \"{}\"\nhub = \"H\"\n\
         smtp_listen = \"127.0.0.1:0\"\npop3_listen = \"127.0.0.1:0\"\n\
         pop3s_listen = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n{extra}\n\
         [[users]]\nmailbox = \"ALICE\"\npassword = \"{PASSWORD}\"\n",
        dir.join("store").display().to_string(),
        integration_tests::mail::OPERATOR_SECRET,
        cert.display().to_string(),
        key.display().to_string(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_router_allowed_plaintext_offers_both_and_pop3s_serves_its_certificate() {
    let dir = test_dir("tls-router");
    let (cert, key) = openssl_certificate(dir.path());
    let config = router_config(dir.path(), &cert, &key, "pop3_allow_plaintext = true");
    let router = RoleProcess::start(
        "mail-router POA",
        "mail-router",
        &["--config", config.to_str().unwrap()],
        &dir.path().join("log.txt"),
        Duration::from_secs(30),
    );
    let pop3 = router.endpoint("pop3").to_string();
    let replies = clear_exchange(
        &pop3,
        &["CAPA", "USER ALICE", &format!("PASS {PASSWORD}"), "QUIT"],
    );
    assert!(
        replies[0].contains("STLS") && replies[0].contains("USER"),
        "{replies:?}"
    );
    assert!(replies[1].starts_with("+OK"), "{replies:?}");
    assert!(replies[2].starts_with("+OK"), "{replies:?}");
    let pop3s = router.endpoint("pop3s").to_string();
    let implicit = poplib("implicit", &pop3s, &cert);
    assert!(implicit.starts_with("stat 0"), "{implicit}");
}

#[test]
fn a_missing_key_file_stops_the_router_naming_it() {
    let dir = test_dir("tls-missing");
    let (cert, _) = openssl_certificate(dir.path());
    let missing = dir.path().join("no-such-key.pem");
    let config = router_config(dir.path(), &cert, &missing, "");
    let out = Command::new(binary("mail-router"))
        .args(["--config", config.to_str().unwrap()])
        .output()
        .expect("mail-router runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(missing.to_str().unwrap()) && stderr.contains("tls_key"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ready"),
        "it started"
    );
}
