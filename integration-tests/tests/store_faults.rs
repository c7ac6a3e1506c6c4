//! A store file that was emptied or damaged behind a process's back (issue
//! #15): the process refuses it at start with a message naming the file and
//! what to do, exits 1, and never panics, never starts a new empty store in
//! its place. Every role's real binary, over stores a real network wrote.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use integration_tests::netctl_run::{NetworkGuard, netctl, netctl_binary, succeeded};
use integration_tests::{binary, test_dir, wait_until};

/// POA gets enough users that the middle of H's and POB's directory stores
/// holds entries, not free pages.
fn topology() -> String {
    let text = netctl::demo::PATENT_TOPOLOGY;
    assert!(text.contains("generate_users = 3\n"), "POA's line moved");
    text.replacen("generate_users = 3\n", "generate_users = 3000\n", 1)
}

fn store_of(data: &Path, node: &str, role: &str) -> PathBuf {
    let dir = data.join(node).join(role);
    let mut stores: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "redb"))
        .collect();
    stores.sort();
    stores
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no store in {}", dir.display()))
}

/// Runs the role as `netctl up` configured it, and waits for it to exit.
fn start(data: &Path, node: &str, role: &str) -> Output {
    let config = data.join(node).join(role).join("config.toml");
    let mut child = Command::new(binary(role))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the role");
    let exited = wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("collect the role's output");
    assert!(exited, "{node}.{role} kept running on a broken store");
    out
}

fn assert_refused(out: &Output, store: &Path, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    assert!(
        stderr.contains(&store.display().to_string()),
        "the message names the file:\n{stderr}"
    );
    assert!(stderr.contains(says), "says {says:?}:\n{stderr}");
    assert!(
        stderr.contains("move the file aside"),
        "says what to do:\n{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ready"),
        "it served"
    );
}

fn damage_middle(store: &Path) {
    let len = std::fs::metadata(store).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(store).unwrap();
    file.seek(SeekFrom::Start(len / 2 / 4096 * 4096)).unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    file.write_all(&garbage).unwrap();
}

#[test]
fn an_emptied_or_damaged_store_is_refused_by_name_without_a_panic() {
    netctl_binary();
    let dir = test_dir("store-faults");
    let topology_file = dir.path().join("topology.toml");
    std::fs::write(&topology_file, topology()).unwrap();
    let data = dir.path().join("net");
    let guard = NetworkGuard(data.clone());
    succeeded(
        "netctl up",
        &netctl(&data, &["up", topology_file.to_str().unwrap()]),
    );
    let spread = wait_until(Duration::from_secs(120), Duration::from_millis(500), || {
        let out = netctl(&data, &["--json", "gal", "POB", "--of", "POA"]);
        let list: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        list.as_array().is_some_and(|a| a.len() >= 3000)
    });
    assert!(spread, "POA's users never reached POB");
    succeeded("netctl down", &netctl(&data, &["down"]));
    drop(guard);

    for (node, role) in [("H", "ds-server"), ("POB", "ds-requestor")] {
        let store = store_of(&data, node, role);
        damage_middle(&store);
        assert_refused(&start(&data, node, role), &store, "is damaged");
    }
    for (node, role) in [("POA", "mail-router"), ("H2", "site-replicator")] {
        let store = store_of(&data, node, role);
        std::fs::File::create(&store).unwrap();
        assert_refused(&start(&data, node, role), &store, "is an empty file");
        assert_eq!(
            std::fs::metadata(&store).unwrap().len(),
            0,
            "{node}.{role} wrote into the empty file"
        );
    }
}
