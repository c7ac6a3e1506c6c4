//! Which open stores have failed an I/O operation. redb latches its first
//! I/O error (a full disk, say): every later transaction on that `Database`
//! fails ("Previous I/O error") until it is dropped and opened again, while
//! reads its cache still holds go on working. So a process whose status only
//! reads would look healthy while it can write nothing. Every store opened
//! here goes through [`Watched`], which notes the first I/O error of its
//! file; [`faults`] lists those of the stores still open, for the status
//! report (see role-runtime's loop). A store dropped and opened again (the
//! mail router's recovery) starts with a clean slate.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use redb::{BackendError, StorageBackend};

/// One open store's first I/O error.
#[derive(Debug)]
struct Slot {
    path: PathBuf,
    first: OnceLock<String>,
}

/// Every open store's slot; a store's slot dies with its backend.
static OPEN: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// An open store's first I/O error; shown as `store PATH: I/O error: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub path: PathBuf,
    pub error: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store {}: I/O error: {}",
            self.path.display(),
            self.error
        )
    }
}

/// The first I/O error of each open store that has had one, in the order
/// the stores were opened.
pub fn faults() -> Vec<Fault> {
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    open.retain(|slot| slot.strong_count() > 0);
    open.iter()
        .filter_map(Weak::upgrade)
        .filter_map(|slot| {
            Some(Fault {
                path: slot.path.clone(),
                error: slot.first.get()?.clone(),
            })
        })
        .collect()
}

/// Whether the directory of a faulted store takes a write again: a
/// `PROBE_BYTES` file is written, synced and removed. A store reopened
/// before that passes would fail again at once (redb's repair on open
/// writes too).
pub fn takes_writes_again(fault: &Fault) -> bool {
    use std::io::Write;
    let Some(dir) = fault.path.parent() else {
        return false;
    };
    let probe = dir.join(".space-probe");
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&[0u8; PROBE_BYTES])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}

/// Room enough for a store's next few commits, so that a restart is not
/// followed by the same fault at once.
const PROBE_BYTES: usize = 1 << 20;

/// A backend that notes its first I/O error, and otherwise is `inner`.
pub(crate) struct Watched<B> {
    inner: B,
    slot: Arc<Slot>,
}

impl<B> Watched<B> {
    pub(crate) fn new(inner: B, path: &Path) -> Watched<B> {
        let slot = Arc::new(Slot {
            path: path.to_owned(),
            first: OnceLock::new(),
        });
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|slot| slot.strong_count() > 0);
        open.push(Arc::downgrade(&slot));
        Watched { inner, slot }
    }

    fn noted<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            let _ = self.slot.first.set(e.to_string());
        }
        result
    }
}

impl<B: fmt::Debug> fmt::Debug for Watched<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("inner", &self.inner)
            .field("path", &self.slot.path)
            .finish()
    }
}

impl<B: StorageBackend> StorageBackend for Watched<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.noted(self.inner.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.noted(self.inner.read(offset, out))
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.noted(self.inner.set_len(len))
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.noted(self.inner.sync_data())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.noted(self.inner.write(offset, data))
    }

    fn close(&self) -> std::io::Result<()> {
        self.inner.close()
    }

    // The file's locks (one process per store) are the inner backend's.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    /// A backend whose writes fail once `full` is set.
    #[derive(Debug, Default)]
    struct Disk {
        full: std::sync::atomic::AtomicBool,
    }

    impl StorageBackend for Disk {
        fn len(&self) -> std::io::Result<u64> {
            Ok(0)
        }
        fn read(&self, _: u64, _: &mut [u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn set_len(&self, _: u64) -> std::io::Result<()> {
            Ok(())
        }
        fn sync_data(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn write(&self, _: u64, _: &[u8]) -> std::io::Result<()> {
            if self.full.load(std::sync::atomic::Ordering::Relaxed) {
                Err(Error::new(
                    ErrorKind::StorageFull,
                    "No space left on device",
                ))
            } else {
                Ok(())
            }
        }
    }

    fn mine(path: &str) -> Vec<String> {
        faults()
            .into_iter()
            .filter(|f| f.path == Path::new(path))
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn the_first_io_error_of_an_open_store_is_listed_until_the_store_is_dropped() {
        let path = "/watch-test/a.redb";
        let store = Watched::new(Disk::default(), Path::new(path));
        assert!(store.write(0, b"x").is_ok());
        assert!(mine(path).is_empty());
        store
            .inner
            .full
            .store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(store.write(0, b"x").is_err());
        assert!(store.sync_data().is_ok());
        assert_eq!(
            mine(path),
            vec![format!("store {path}: I/O error: No space left on device")]
        );
        drop(store);
        assert!(mine(path).is_empty(), "a dropped store's fault is gone");
        // Opened again: a clean slate.
        let again = Watched::new(Disk::default(), Path::new(path));
        assert!(again.write(0, b"x").is_ok());
        assert!(mine(path).is_empty());
    }
}
