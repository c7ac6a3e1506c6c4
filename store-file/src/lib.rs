//! Every role keeps its state in one redb file. They all open it here, so
//! every one of them treats a missing, empty or damaged file the same way:
//!
//! * a missing file is a new store, created readable by the owner only
//!   (mode 0600, its directory 0700), never widened by a chmod afterwards;
//! * a zero-length file is refused: redb would silently start a new empty
//!   store in it, and a store that lost its contents must never pass for a
//!   new one (the operator decides, by moving it aside);
//! * a damaged file is refused with the file's name and what to do, never a
//!   panic: redb checks every page's checksum on open, and a panic inside redb
//!   on bytes it did not write is caught and reported the same way;
//! * an open store's first I/O error (a full disk) is listed by [`faults`],
//!   so that every role's status shows it degraded (see `watch`).

mod quiet_panic;
mod watch;

pub use watch::{Fault, faults, takes_writes_again};

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, StorageError};
use thiserror::Error;

/// What the operator does about a store that cannot be opened: said once,
/// the same for every role.
const REMEDY: &str = "stop the process, move the file aside (keep it: it may \
                      still hold data), and restore it from a backup; or start \
                      without it to begin with a new empty store (see \
                      docs/MIGRATION.md, \"When something goes wrong\")";

#[derive(Debug, Error)]
pub enum StoreFileError {
    #[error(
        "store {path} is an empty file (0 bytes), not a store this process wrote: \
         it was truncated or replaced. Refusing to start a new store in its place; {REMEDY}"
    )]
    Empty { path: PathBuf },
    #[error("store {path} is damaged ({reason}). Refusing to use it; {REMEDY}")]
    Damaged { path: PathBuf, reason: String },
    #[error("store {path} is open in another process: stop that process first")]
    InUse { path: PathBuf },
    #[error("cannot open store {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreFileError {
    pub fn path(&self) -> &Path {
        match self {
            StoreFileError::Empty { path }
            | StoreFileError::Damaged { path, .. }
            | StoreFileError::InUse { path }
            | StoreFileError::Io { path, .. } => path,
        }
    }
}

/// Opens the store at `path` with `builder`'s settings (cache size...),
/// creating it, and any missing directory above it, private to the owner.
pub fn open(path: &Path, builder: &mut redb::Builder) -> Result<Database, StoreFileError> {
    let io = |source| StoreFileError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    // Every page's checksum is checked on open, so damage is found here, with
    // the file's name, and not by a panic in the middle of a transaction.
    builder.set_check_integrity_on_open(true);
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => {
            if file.metadata().map_err(io)?.len() == 0 {
                return Err(StoreFileError::Empty {
                    path: path.to_owned(),
                });
            }
            open_existing(path, builder, file)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => create(path, builder),
        Err(e) => Err(io(e)),
    }
}

/// A new store is made under a temporary name and renamed into place once
/// redb has written its header, so a process killed while creating it never
/// leaves an empty file that the next start would (rightly) refuse.
fn create(path: &Path, builder: &redb::Builder) -> Result<Database, StoreFileError> {
    let io = |source| StoreFileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let fresh = PathBuf::from(name);
    match std::fs::remove_file(&fresh) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&fresh)
        .map_err(io)?;
    let db = open_existing(path, builder, file)?;
    std::fs::rename(&fresh, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(db)
}

fn open_existing(
    path: &Path,
    builder: &redb::Builder,
    file: File,
) -> Result<Database, StoreFileError> {
    let backend = redb::backends::FileBackend::new(file).map_err(|e| classify(path, e))?;
    // Its first I/O error is noted for the status report (see `faults`).
    let backend = watch::Watched::new(backend, path);
    match quiet_panic::catch(|| builder.create_with_backend(backend)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(classify(path, e)),
        Err(panic) => Err(StoreFileError::Damaged {
            path: path.to_owned(),
            reason: format!("the store library failed reading it: {panic}"),
        }),
    }
}

fn classify(path: &Path, e: DatabaseError) -> StoreFileError {
    let path = path.to_owned();
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreFileError::InUse { path },
        DatabaseError::Storage(StorageError::Io(source))
            if source.kind() != ErrorKind::InvalidData =>
        {
            StoreFileError::Io { path, source }
        }
        other => StoreFileError::Damaged {
            path,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
