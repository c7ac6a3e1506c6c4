//! Running `netctl` itself as a process against a network it started, with
//! every role binary built beside it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::binary;

const ROLES: [&str; 4] = [
    "site-replicator",
    "ds-server",
    "ds-requestor",
    "mail-router",
];

/// Builds netctl and every role binary; returns netctl's path.
pub fn netctl_binary() -> PathBuf {
    for role in ROLES {
        binary(role);
    }
    binary("netctl")
}

fn command(data_dir: &Path, args: &[&str]) -> Command {
    let netctl = netctl_binary();
    let mut cmd = Command::new(&netctl);
    cmd.arg("--data-dir").arg(data_dir).args(args);
    if let Some(dir) = netctl.parent() {
        cmd.env("MHUB_BIN_DIR", dir);
    }
    cmd
}

/// Runs `netctl --data-dir DIR ARGS...` to completion.
pub fn netctl(data_dir: &Path, args: &[&str]) -> Output {
    let _one_up = one_up_at_a_time(args);
    command(data_dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run netctl")
}

/// `netctl up` picks free ports, releases them, then starts each process on
/// its own: two `up`s of one test binary at once (its tests run in
/// parallel) could hand the same port to both networks, and one process
/// fails to listen. Other commands, and `up`s of other test binaries (which
/// cargo runs one after another), do not race this way.
fn one_up_at_a_time(args: &[&str]) -> Option<std::sync::MutexGuard<'static, ()>> {
    static UP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    (args.first() == Some(&"up"))
        .then(|| UP.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// [`netctl`] from the working directory `cwd` (DIR may be relative to it).
pub fn netctl_in(cwd: &Path, data_dir: &Path, args: &[&str]) -> Output {
    let _one_up = one_up_at_a_time(args);
    command(data_dir, args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run netctl")
}

/// Starts `netctl --data-dir DIR ARGS...` in the background.
pub fn spawn_netctl(data_dir: &Path, args: &[&str]) -> Child {
    command(data_dir, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netctl")
}

/// [`spawn_netctl`] from the working directory `cwd`.
pub fn spawn_netctl_in(cwd: &Path, data_dir: &Path, args: &[&str]) -> Child {
    command(data_dir, args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netctl")
}

/// Panics with netctl's output unless it succeeded; returns its stdout.
pub fn succeeded(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Stops the network of `data_dir` when dropped, whatever the test did.
pub struct NetworkGuard(pub PathBuf);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = netctl(&self.0, &["down"]);
    }
}

/// A network `netctl up` started in a new test directory. Its fields drop
/// in order: the network is brought down before its directory is removed.
pub struct Started {
    pub guard: NetworkGuard,
    /// `DIR/net`, the data directory.
    pub data: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Writes `topology` (a topology file's text) into a new test directory
/// named after `label` and runs `netctl up` on it, panicking with netctl's
/// output if that fails.
pub fn up_network(label: &str, topology: &str) -> Started {
    let dir = crate::test_dir(label);
    let file = dir.path().join("topology.toml");
    std::fs::write(&file, topology).expect("write the topology file");
    let data = dir.path().join("net");
    let out = netctl(&data, &["up", &file.to_string_lossy()]);
    let guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    Started { guard, data, dir }
}
