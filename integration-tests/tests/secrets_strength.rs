//! Issue #15: an empty pre-shared key authenticated anyone, and a short
//! human-chosen one can be guessed offline from one captured handshake. Every
//! role binary now refuses such a key when it loads its configuration: exit
//! code 2 (configuration), a message naming the key and how to generate
//! one, and never the key itself. The same files with generated keys start.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::keys::key;
use integration_tests::{RoleProcess, binary, test_dir};

/// `role_runtime::process::EXIT_CONFIG`.
const EXIT_CONFIG: i32 = 2;

/// A role whose file has an operator key and one key of a peer.
struct Case {
    bin: &'static str,
    /// The name the refusal must use for the peer's key.
    peer_key: &'static str,
    config: fn(data: &Path, operator: &str, peer: &str) -> String,
}

fn common(node: &str, data: &Path, operator: &str) -> String {
    format!(
        "node = \"{node}\"\nnetwork = \"ACME\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\n\
         operator_secret = \"{operator}\"\n",
        data.display()
    )
}

const CASES: [Case; 4] = [
    Case {
        bin: "mail-router",
        peer_key: "peers[POA].secret",
        config: |data, operator, peer| {
            format!(
                "{}mode = \"hub\"\n[[peers]]\nname = \"POA\"\nsecret = \"{peer}\"\n",
                common("H", data, operator)
            )
        },
    },
    Case {
        bin: "ds-server",
        peer_key: "requestors[POA].secret",
        config: |data, operator, peer| {
            format!(
                "{}[[requestors]]\nname = \"POA\"\nsecret = \"{peer}\"\n",
                common("H", data, operator)
            )
        },
    },
    Case {
        bin: "ds-requestor",
        peer_key: "servers[H].secret",
        config: |data, operator, peer| {
            format!(
                "{}server = \"H\"\n[[servers]]\nname = \"H\"\nendpoint = \"127.0.0.1:9\"\n\
                 secret = \"{peer}\"\n",
                common("POA", data, operator)
            )
        },
    },
    Case {
        bin: "site-replicator",
        peer_key: "clients[H2].secret",
        config: |data, operator, peer| {
            format!(
                "{}[[clients]]\nname = \"H2\"\nsecret = \"{peer}\"\nfolders = [\"F*\"]\n",
                common("H2", data, operator)
            )
        },
    },
];

/// Weak keys, as an operator might write them: none at all, ten hex digits
/// (40 bits), and a human-chosen word.
const WEAK: [&str; 3] = ["", "0123456789", "s3cret-passw0rd"];

/// Runs `bin --config FILE` and waits for it to exit: (exit code, stderr).
/// A process still running after `within` took the file: it is killed and
/// the test fails.
fn run_to_exit(bin: &str, config: &Path, within: Duration) -> (Option<i32>, String) {
    let err = config.with_extension("err");
    let stderr = std::fs::File::create(&err).expect("create the stderr file");
    let mut child = Command::new(binary(bin))
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{bin} started with {}, a weak key, instead of refusing it",
                config.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&err).unwrap_or_default(),
    )
}

#[test]
fn every_role_refuses_an_empty_or_short_key_and_names_it() {
    let dir = test_dir("secrets-strength");
    let good = key("a generated key");
    for (i, case) in CASES.iter().enumerate() {
        for (j, weak) in WEAK.iter().enumerate() {
            // The peer's key, then the operator's, each weak alone.
            let files = [
                (
                    (case.config)(&dir.path().join("data"), &good, weak),
                    case.peer_key,
                ),
                (
                    (case.config)(&dir.path().join("data"), weak, &good),
                    "operator_secret",
                ),
            ];
            for (k, (text, named)) in files.iter().enumerate() {
                let config = dir.path().join(format!("{}-{i}-{j}-{k}.toml", case.bin));
                std::fs::write(&config, text).expect("write the config");
                let (code, stderr) = run_to_exit(case.bin, &config, Duration::from_secs(20));
                let what = format!("{} with {named} = {weak:?}", case.bin);
                assert_eq!(code, Some(EXIT_CONFIG), "{what}: {stderr}");
                assert!(
                    stderr.contains(&format!("{named} ")),
                    "{what}: the key is not named: {stderr}"
                );
                assert!(
                    stderr.contains("openssl rand -hex 16"),
                    "{what}: no hint: {stderr}"
                );
                assert!(
                    weak.is_empty() || !stderr.contains(weak),
                    "{what}: the key is shown: {stderr}"
                );
            }
        }
    }
}

#[test]
fn the_same_files_with_generated_keys_start() {
    let dir = test_dir("secrets-strength-ok");
    for case in &CASES {
        let data = dir.path().join(case.bin);
        let config = dir.path().join(format!("{}.toml", case.bin));
        let text = (case.config)(&data, &key("operator"), &key("peer"));
        std::fs::write(&config, text).expect("write the config");
        let config = config.to_string_lossy().into_owned();
        let mut process = RoleProcess::start(
            case.bin,
            case.bin,
            &["--config", &config],
            &dir.path().join(format!("{}.log", case.bin)),
            Duration::from_secs(60),
        );
        assert!(process.terminate(Duration::from_secs(10)), "{}", case.bin);
    }
}
