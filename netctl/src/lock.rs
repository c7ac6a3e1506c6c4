//! One netctl command at a time changes a network: `up`, `down`, `migrate`
//! and `rollback` hold an exclusive lock on `DATA_DIR/netctl.lock` while they
//! run, so two migrations never write the same journal and placement at once.
//!
//! The lock is the kernel's (`flock` through `File::try_lock`): it goes away
//! with the process that holds it, however that process ends, so a killed
//! netctl never leaves a stale lock behind. The file itself stays; it holds
//! the command and pid of the holder, for the message of a command refused.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::NetctlError;

const LOCK_FILE: &str = "netctl.lock";

/// Held while a command runs; dropping it releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LOCK_FILE)
}

/// Takes the lock of `data_dir` for `command` (as the operator typed it,
/// e.g. `migrate POC --to H2`), or fails at once naming the command and pid
/// that hold it. The directory is created when missing (`up` makes it).
pub fn acquire(data_dir: &Path, command: &str) -> Result<DataDirLock, NetctlError> {
    let path = lock_path(data_dir);
    let werr = |source| NetctlError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(werr)?;
    // Not truncated on open: the holder's line must stay readable for the
    // command that is refused.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(werr)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(NetctlError::Locked {
                data_dir: data_dir.display().to_string(),
                holder: if holder.is_empty() {
                    "another netctl command".to_owned()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(werr(e)),
    }
    let line = format!("`netctl {command}` (pid {})\n", std::process::id());
    file.set_len(0).map_err(werr)?;
    file.rewind().map_err(werr)?;
    file.write_all(line.as_bytes()).map_err(werr)?;
    Ok(DataDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_command_and_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "migrate POC --to H2").unwrap();
        let e = acquire(dir.path(), "rollback POC").unwrap_err().to_string();
        assert!(e.contains("`netctl migrate POC --to H2`"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(held);
        let again = acquire(dir.path(), "rollback POC");
        assert!(again.is_ok(), "released when dropped: {again:?}");
    }
}
