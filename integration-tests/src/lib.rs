//! Shared helpers for the end-to-end tests in `tests/`: they start the real
//! role binaries as separate processes on 127.0.0.1 and talk to them over TCP.
//!
//! The process contract every role binary keeps (and `netctl up` relies on
//! too): once it listens, it prints one line `listening <service> <host:port>`
//! per listener on stdout, then a line `ready` once its state is loaded and it
//! serves. Logs go to stderr. So tests can bind port 0 and never race for ports.

pub mod bridge;
pub mod dirsync;
pub mod keys;
pub mod mail;
pub mod netctl_run;
pub mod operator;
pub mod site;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries for the profile the tests
/// were built with (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The path of a workspace binary, building its package first (once per test
/// process): `cargo test` alone does not build other packages' binaries. Each
/// role's package is named after its binary.
pub fn binary(name: &str) -> PathBuf {
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !built.contains(name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", name, "--bin", name]);
        if bin_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building {name} failed");
        built.insert(name.to_owned());
    }
    let path = bin_dir().join(name);
    assert!(path.exists(), "binary {} was not built", path.display());
    path
}

/// A fresh directory for one test, removed when dropped.
pub fn test_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("itest-{label}-"))
        .tempdir()
        .expect("create a temporary directory")
}

/// A role binary running as its own process. Killed (SIGKILL) when dropped.
pub struct RoleProcess {
    child: Option<Child>,
    pub label: String,
    pub endpoints: HashMap<String, SocketAddr>,
    pub log: PathBuf,
}

impl RoleProcess {
    /// Starts `bin` with `args`, logging stderr to `log`, and waits (at most
    /// `ready_within`) for its `ready` line.
    pub fn start(
        label: &str,
        bin: &str,
        args: &[&str],
        log: &Path,
        ready_within: Duration,
    ) -> RoleProcess {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log file");
        let mut child = Command::new(binary(bin))
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining after `ready` so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + ready_within;
        let mut endpoints = HashMap::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.trim() == "ready" => break,
                Ok(line) => {
                    let parts: Vec<&str> = line.split_whitespace().collect();
                    if let ["listening", service, addr] = parts[..] {
                        let addr = addr
                            .parse()
                            .unwrap_or_else(|e| panic!("{label}: bad address {addr}: {e}"));
                        endpoints.insert(service.to_owned(), addr);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let log_text = std::fs::read_to_string(log).unwrap_or_default();
                    panic!(
                        "{label} ({bin}) did not become ready within {ready_within:?}; log:\n{log_text}"
                    );
                }
            }
        }
        RoleProcess {
            child: Some(child),
            label: label.to_owned(),
            endpoints,
            log: log.to_path_buf(),
        }
    }

    /// The address a listener announced, e.g. `endpoint("dirsync")`.
    pub fn endpoint(&self, service: &str) -> SocketAddr {
        *self.endpoints.get(service).unwrap_or_else(|| {
            panic!(
                "{} announced no {service} listener: {:?}",
                self.label, self.endpoints
            )
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, no chance to clean up: what durability tests want.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait up to `within` for a graceful exit; returns whether it exited.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every `every` until it returns true or `within` passes;
/// returns whether it became true. Tests poll state instead of sleeping.
pub fn wait_until(within: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Peak resident memory (VmHWM) of a running process, in KiB, from /proc.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
