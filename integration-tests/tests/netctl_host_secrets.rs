//! Secrets and files on the host (issue #15), with `netctl` and every role
//! as real processes: what a local user who is not the operator can read in
//! the data directory, what one process's config lets its reader do to the
//! others, how a POP3 password reaches netctl without the process list, and
//! which topologies `up` refuses before starting anything.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use integration_tests::netctl_run::{NetworkGuard, netctl, netctl_binary, succeeded};
use integration_tests::operator::Operator;
use integration_tests::test_dir;
use netctl::mailclient;
use netctl::state::NetworkState;
use netctl::topology::RoleKind;

/// The smallest network `up` accepts: the three hubs and one post office
/// (10 processes). JSMITH and MJONES have no password in the topology.
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
users = [
  { mailbox = "JSMITH", display_name = "John Smith" },
  { mailbox = "MJONES", display_name = "Mary Jones" },
]
"#;

/// `netctl up` of `topology` in a new `DIR/data` (netctl creates it).
fn up(label: &str, topology: &str) -> (tempfile::TempDir, PathBuf, NetworkGuard) {
    let dir = test_dir(label);
    let topology_path = dir.path().join("topology.toml");
    std::fs::write(&topology_path, topology).unwrap();
    let data = dir.path().join("data");
    let out = netctl(&data, &["up", topology_path.to_str().unwrap()]);
    let guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    (dir, data, guard)
}

/// Every path under `dir` (itself included) with its permission bits.
fn walk(dir: &Path, found: &mut Vec<(PathBuf, u32)>) {
    let meta = std::fs::symlink_metadata(dir).unwrap();
    found.push((dir.to_path_buf(), meta.permissions().mode() & 0o777));
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            walk(&entry.unwrap().path(), found);
        }
    }
}

/// The value of `operator_secret` in a role's config file.
fn operator_secret_in(config: &Path) -> String {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("operator_secret = "))
        .unwrap_or_else(|| panic!("no operator_secret in {}", config.display()));
    line.trim_matches('"').to_owned()
}

#[test]
fn nothing_in_the_data_directory_is_open_to_other_users_and_each_process_has_its_own_operator_key()
{
    let (_dir, data, _guard) = up("host-files", TOPOLOGY);
    let state = NetworkState::load(&data).unwrap();
    assert_eq!(state.processes.len(), 10);

    // Every file and directory netctl and the processes made: configs,
    // secrets.toml, network.toml, logs, stores. None readable, writable or
    // enterable by group or others.
    let mut found = Vec::new();
    walk(&data, &mut found);
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let has = |want: &dyn Fn(&str) -> bool| found.iter().filter(|(p, _)| want(&name(p))).count();
    assert_eq!(has(&|n| n == "config.toml"), 10);
    assert_eq!(has(&|n| n == "secrets.toml"), 1);
    assert_eq!(has(&|n| n == "network.toml"), 1);
    assert_eq!(has(&|n| n == "stderr.log"), 10);
    let stores = has(&|n| !n.ends_with(".toml") && !n.ends_with(".log") && n.contains('.'));
    assert!(stores >= 10, "the processes' stores are there: {found:?}");
    let open: Vec<String> = found
        .iter()
        .filter(|(_, mode)| mode & 0o077 != 0)
        .map(|(p, mode)| format!("{:o} {}", mode, p.display()))
        .collect();
    assert!(
        open.is_empty(),
        "open to group or others:\n{}",
        open.join("\n")
    );

    // Each process has its own operator key.
    let keys: std::collections::BTreeSet<String> = state
        .processes
        .iter()
        .map(|p| operator_secret_in(&p.config))
        .collect();
    assert_eq!(keys.len(), 10, "one operator key per process");

    // The key in POA's mail-router config administers POA's mail router...
    let poa_router = state.process("POA", RoleKind::MailRouter).unwrap();
    let h_server = state.process("H", RoleKind::DsServer).unwrap();
    let poa_key = operator_secret_in(&poa_router.config);
    let mut op = Operator::connect(poa_router.wire().unwrap(), &poa_key)
        .expect("POA's own key opens POA's mail router");
    assert!(op.status().is_ok());
    // ...and nothing else: H's DS server refuses a real connection with it.
    let refused = Operator::connect(h_server.wire().unwrap(), &poa_key);
    assert!(
        refused.is_err(),
        "the key in POA's mail-router config authenticated to H's DS server"
    );
    // netctl itself reaches every process, each with its key.
    let status = netctl(&data, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&succeeded("status", &status)).unwrap();
    for p in json["processes"].as_array().unwrap() {
        assert!(p["error"].is_null(), "{}: {}", p["id"], p["error"]);
    }
}

/// `netctl user add` with the password written to its standard input.
fn add_with_stdin(data: &Path, mailbox: &str, display: &str, input: &str) -> Output {
    let netctl = netctl_binary();
    let mut cmd = Command::new(&netctl);
    cmd.arg("--data-dir").arg(data);
    cmd.args(["user", "add", "POA", mailbox, display, "--password-stdin"]);
    if let Some(dir) = netctl.parent() {
        cmd.env("MHUB_BIN_DIR", dir);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Logs in to POA's POP3 listener as `mailbox` (and reads the mailbox).
/// Over STLS, trusting the network CA `up` wrote: netctl's post offices
/// take no password in clear.
fn pop3_login(
    data: &Path,
    state: &NetworkState,
    mailbox: &str,
    password: &str,
) -> Result<(), String> {
    let router = state.process("POA", RoleKind::MailRouter).unwrap();
    let pop3 = mailclient::Pop3Server {
        endpoint: router.endpoints["pop3"].clone(),
        trust: Some(netctl::tls::ca_path(data)),
    };
    mailclient::collect(&pop3, mailbox, password, &|_| false)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn a_password_comes_from_a_file_or_standard_input_and_there_is_no_default_one() {
    let (dir, data, _guard) = up("host-passwords", TOPOLOGY);
    let state = NetworkState::load(&data).unwrap();

    // A topology user without a password cannot log in with the password
    // netctl used to give them all.
    for (mailbox, guess) in [("JSMITH", "jsmith-pw"), ("MJONES", "mjones-pw")] {
        let err = pop3_login(&data, &state, mailbox, guess).expect_err("a default password works");
        assert!(err.contains("PASS"), "{mailbox}: {err}");
    }

    // From a file (its line ending is not part of the password).
    let file = dir.path().join("jsmith.pw");
    std::fs::write(&file, "correct horse battery\n").unwrap();
    let out = netctl(
        &data,
        &[
            "user",
            "add",
            "POA",
            "JSMITH",
            "John Smith",
            "--password-file",
            file.to_str().unwrap(),
        ],
    );
    succeeded("user add --password-file", &out);
    pop3_login(&data, &state, "JSMITH", "correct horse battery").expect("JSMITH logs in");
    assert!(pop3_login(&data, &state, "JSMITH", "jsmith-pw").is_err());

    // From standard input, for a topology user and for a new one.
    let out = add_with_stdin(&data, "MJONES", "Mary Jones", "stdin secret 1\n");
    succeeded("user add --password-stdin", &out);
    pop3_login(&data, &state, "MJONES", "stdin secret 1").expect("MJONES logs in");
    let out = add_with_stdin(&data, "NEWBIE", "New Bie", "stdin secret 2\n");
    succeeded("user add --password-stdin (new user)", &out);
    pop3_login(&data, &state, "NEWBIE", "stdin secret 2").expect("NEWBIE logs in");

    // An empty standard input is refused, and changes nothing.
    let out = add_with_stdin(&data, "MJONES", "Mary Jones", "");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("standard input") && stderr.contains("empty"),
        "{stderr}"
    );
    pop3_login(&data, &state, "MJONES", "stdin secret 1").expect("MJONES still logs in");
}

/// `netctl up` of `topology`: refused, with stderr naming every `wanted`
/// text, and nothing started.
fn refused(label: &str, topology: &str, wanted: &[&str]) {
    let dir = test_dir(label);
    let path = dir.path().join("topology.toml");
    std::fs::write(&path, topology).unwrap();
    let data = dir.path().join("data");
    let _guard = NetworkGuard(data.clone());
    let out = netctl(&data, &["up", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{label}: up succeeded");
    for want in wanted {
        assert!(stderr.contains(want), "{label}: {want:?} not in {stderr}");
    }
    assert!(
        NetworkState::load(&data).is_err(),
        "{label}: processes were started"
    );
}

#[test]
fn up_refuses_empty_weak_and_unknown_secrets_and_too_many_users() {
    let strong = "00112233445566778899aabbccddeeff";
    refused(
        "empty-secret",
        &format!("{TOPOLOGY}[secrets]\n\"POA@H\" = \"\"\n"),
        &["\"POA@H\"", "empty", "openssl rand -hex 16"],
    );
    refused(
        "weak-secret",
        &format!("{TOPOLOGY}[secrets]\n\"POA@H\" = \"correcthorsebatterystaple\"\n"),
        &["\"POA@H\"", "openssl rand -hex 16"],
    );
    refused(
        "short-secret",
        &format!("{TOPOLOGY}[secrets]\n\"POA@H\" = \"{}\"\n", &strong[..30]),
        &["\"POA@H\"", "30 hex digits", "openssl rand -hex 16"],
    );
    refused(
        "unknown-secret",
        &format!("{TOPOLOGY}[secrets]\n\"POA@POB\" = \"{strong}\"\n"),
        &["\"POA@POB\"", "no link"],
    );
    refused(
        "too-many-users",
        &TOPOLOGY.replace("hub = \"H\"", "hub = \"H\"\ngenerate_users = 4294967295"),
        &["POA", "generate_users = 4294967295", "1000000"],
    );
}
