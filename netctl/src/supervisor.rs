//! Starting role processes in the background and stopping them.
//!
//! A process's stdout and stderr go to files in its data directory, so it
//! outlives `netctl` and nothing blocks on a pipe; `netctl` watches the stdout
//! file for the `listening …` lines and `ready` (the process contract).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::NetctlError;

/// The directory holding the role binaries: `MHUB_BIN_DIR`, or beside netctl.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MHUB_BIN_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

pub struct Started {
    pub pid: u32,
    pub endpoints: BTreeMap<String, String>,
}

/// Starts `binary --config CONFIG` in its own process group and waits for `ready`.
pub fn start(
    id: &str,
    binary: &Path,
    config: &Path,
    stdout: &Path,
    stderr: &Path,
    within: Duration,
) -> Result<Started, NetctlError> {
    use std::os::unix::process::CommandExt;
    let start_err = |reason: String| NetctlError::Start {
        process: id.to_owned(),
        reason,
    };
    let path = binary;
    if !path.exists() {
        return Err(start_err(format!(
            "{} does not exist (build with `cargo build --release`)",
            path.display()
        )));
    }
    let out = std::fs::File::create(stdout)
        .map_err(|e| start_err(format!("{}: {e}", stdout.display())))?;
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr)
        .map_err(|e| start_err(format!("{}: {e}", stderr.display())))?;
    let mut child = Command::new(path)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own group: a Ctrl-C at the operator's terminal does not take the network down.
        .process_group(0)
        .spawn()
        .map_err(|e| start_err(format!("{}: {e}", path.display())))?;
    let pid = child.id();
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(stdout).unwrap_or_default();
        if text.lines().any(|l| l.trim() == "ready") {
            let endpoints = text
                .lines()
                .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                    ["listening", service, addr] => Some((service.to_owned(), addr.to_owned())),
                    _ => None,
                })
                .collect();
            return Ok(Started { pid, endpoints });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(start_err(format!(
                "exited with {status} before it was ready; see {}",
                stderr.display()
            )));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Err(NetctlError::NotReady {
                process: id.to_owned(),
                seconds: within.as_secs(),
                log: stderr.display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is `pid` a live (not zombie) process?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM, wait up to `grace` for the exit, then SIGKILL. Returns whether it
/// exited gracefully.
pub fn stop(pid: u32, grace: Duration) -> bool {
    if !alive(pid) {
        return true;
    }
    signal(pid, "TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(pid, "KILL");
    false
}

/// Where free ports are looked for: below Linux's ephemeral range
/// (32768-60999), so no outgoing connection of this machine takes a chosen
/// port in the time between the plan and the process's own bind.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;

/// A listener on a free TCP port of `host`; the port stays taken while the
/// listener lives.
pub fn free_port(host: &str) -> Result<std::net::TcpListener, NetctlError> {
    let span = u32::from(PORT_RANGE.end - PORT_RANGE.start);
    for _ in 0..200 {
        let mut bytes = [0u8; 4];
        if getrandom::fill(&mut bytes).is_err() {
            break;
        }
        let offset = u32::from_le_bytes(bytes) % span;
        let port = PORT_RANGE.start + offset as u16;
        if let Ok(listener) = std::net::TcpListener::bind((host, port)) {
            return Ok(listener);
        }
    }
    // A crowded range: let the kernel choose.
    std::net::TcpListener::bind((host, 0)).map_err(|source| NetctlError::NoPort {
        host: host.to_owned(),
        source,
    })
}
