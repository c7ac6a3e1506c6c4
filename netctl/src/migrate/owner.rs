//! Is the wave in the journal still being run? `netctl migrate` holds the
//! data directory's lock ([`crate::lock`]) for as long as it runs and writes
//! its pid into the lock file; a journal whose lock holder is gone belongs
//! to a netctl that was killed (or lost its machine), and waits for the same
//! command to resume it.
//!
//! The holder is judged by its pid rather than by trying the lock: a watcher
//! that took the lock, even for a moment, could make the operator's own
//! `netctl migrate` starting at that moment fail as "locked".

use std::path::Path;

use super::journal::{self, Journal};
use crate::lock::lock_path;

/// Whether a netctl that took the lock of `data_dir` is still running.
/// With no lock file at all (a wave run in-process, as the demo does) there
/// is no evidence of an interruption: true.
pub fn holder_alive(data_dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock_path(data_dir)) else {
        return true;
    };
    match holder_pid(&text) {
        Some(pid) => is_netctl(pid),
        None => true,
    }
}

/// Whether the wave of journal `j` (just read) is still being run. A
/// holder gone while the journal still reads the same is an interruption;
/// one gone with its journal changed or closed since `j` was read had run
/// the wave until then (it ended, or a resume began).
pub fn wave_running(data_dir: &Path, j: &Journal) -> bool {
    holder_alive(data_dir) || journal::load(data_dir).ok().flatten().as_ref() != Some(j)
}

/// The pid in the lock file's line, "`netctl migrate POC --to H2` (pid 42)".
fn holder_pid(line: &str) -> Option<u32> {
    let (_, rest) = line.rsplit_once("(pid ")?;
    rest.split(')').next()?.trim().parse().ok()
}

/// Is `pid` a live netctl? The command name guards against the pid having
/// been reused by another program since the holder died.
fn is_netctl(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let name = stat
                .split_once('(')
                .and_then(|(_, rest)| rest.rsplit_once(')'))
                .map(|(name, state)| (name, state.trim_start()));
            matches!(name, Some((name, state)) if name.starts_with("netctl") && !state.starts_with('Z'))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_is_read_from_the_lock_line() {
        assert_eq!(
            holder_pid("`netctl migrate POC --to H2` (pid 42)\n"),
            Some(42)
        );
        assert_eq!(holder_pid("another netctl command"), None);
    }

    #[test]
    fn a_dead_holder_is_an_interruption() {
        let dir = tempfile::tempdir().unwrap();
        assert!(holder_alive(dir.path()), "no lock file: no evidence");
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::write(
            lock_path(dir.path()),
            format!("`netctl migrate POC --to H2` (pid {pid})\n"),
        )
        .unwrap();
        assert!(!holder_alive(dir.path()));
        // A live process that is not netctl: the holder's pid reused.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let line = format!("`netctl migrate POC --to H2` (pid {})\n", other.id());
        std::fs::write(lock_path(dir.path()), line).unwrap();
        let reused = holder_alive(dir.path());
        other.kill().unwrap();
        other.wait().unwrap();
        assert!(!reused);
        // The journal closed after it was read: the wave ran to its end.
        let j = Journal {
            to: "H2".into(),
            method: journal::Method::Patent,
            moves: vec![],
            started_ms: 1,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        };
        assert!(
            wave_running(dir.path(), &j),
            "no journal now: not interrupted"
        );
        journal::save(dir.path(), &j).unwrap();
        assert!(
            !wave_running(dir.path(), &j),
            "the same journal, its holder dead"
        );
        // This test binary is cargo's `netctl-HASH`: a live netctl.
        let line = format!(
            "`netctl migrate POC --to H2` (pid {})\n",
            std::process::id()
        );
        std::fs::write(lock_path(dir.path()), line).unwrap();
        assert!(holder_alive(dir.path()));
    }
}
