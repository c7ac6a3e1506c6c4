//! A store that hit an I/O error recovers without a restart. redb latches
//! its first I/O error (a full disk, say): from then on every operation on
//! that `Database` fails with "Previous I/O error" until it is dropped and
//! opened again, and opening runs redb's repair. So the store marks itself
//! degraded, with the reason, and every later operation (or the router's
//! recovery tick) first tries to reopen it, at most once per backoff step.
//! A reopened store counts as recovered only once a probe write of 1 MiB
//! (a large message) has committed: a reopen on a still-full disk can
//! succeed, and would otherwise report a store that cannot take mail as
//! healthy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redb::{Database, TableDefinition};
use tracing::{info, warn};

use super::MailStore;
use crate::MailError;

/// The first reopen waits this long after the fault, each failed one twice
/// as long as the one before, up to `REOPEN_AT_MOST`: every reopen checks
/// every page of the file (see `store_file`), which on a large store is
/// not free, while once the disk has room the router should serve again
/// within seconds.
const REOPEN_AFTER: Duration = Duration::from_millis(500);
const REOPEN_AT_MOST: Duration = Duration::from_secs(8);
/// The probe: about as much as one large message takes, written and then
/// removed.
const PROBE_BYTES: usize = 1 << 20;
const PROBE: TableDefinition<&str, &[u8]> = TableDefinition::new("recovery_probe");

/// Why the store is degraded, and when to try reopening it. `faulty`
/// mirrors whether there is a fault, so that every operation of a healthy
/// store (thousands a second) only reads a flag.
#[derive(Debug, Default)]
pub(super) struct Health {
    faulty: AtomicBool,
    fault: Mutex<Option<Fault>>,
}

#[derive(Debug)]
struct Fault {
    reason: String,
    /// Why the last reopen failed, when it failed otherwise than the
    /// fault itself (a damaged file, say).
    reopen_error: Option<String>,
    retry_at: Instant,
    backoff: Duration,
}

impl Health {
    fn fault(&self) -> std::sync::MutexGuard<'_, Option<Fault>> {
        self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MailStore {
    /// Runs `op` on the database, reopening a degraded store first when
    /// its time has come. An I/O error from `op` makes the store degraded.
    pub(super) fn with_db<T>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, MailError>,
    ) -> Result<T, MailError> {
        self.reopen_if_due()?;
        let result = {
            let db = self.db.read().unwrap_or_else(PoisonError::into_inner);
            match db.as_ref() {
                Some(db) => op(db),
                None => Err(self.unavailable()),
            }
        };
        if let Err(MailError::StoreIo { reason, .. }) = &result {
            self.degrade(reason);
        }
        result
    }

    /// Why the store is degraded (for the status report), or `None` when
    /// it works.
    pub fn degraded(&self) -> Option<String> {
        if !self.health.faulty.load(Ordering::Acquire) {
            return None;
        }
        let fault = self.health.fault();
        let fault = fault.as_ref()?;
        let last = (fault.reopen_error.as_ref())
            .map(|e| format!(" (the last reopen: {e})"))
            .unwrap_or_default();
        Some(format!(
            "mail store {}: {}; mail is refused with a temporary error (451) and \
             the store is reopened until it can be written again{last}",
            self.path.display(),
            fault.reason
        ))
    }

    /// Tries to reopen a degraded store now if its backoff has passed (the
    /// router calls this every second, so it recovers without traffic too).
    pub fn recover(&self) {
        let _ = self.reopen_if_due();
    }

    fn degrade(&self, reason: &str) {
        let mut fault = self.health.fault();
        match fault.as_mut() {
            // "Previous I/O error" says nothing: the first reason stays.
            Some(_) => {}
            None => {
                warn!(path = %self.path.display(), reason, "mail store I/O error: degraded until it is reopened");
                self.health.faulty.store(true, Ordering::Release);
                *fault = Some(Fault {
                    reason: reason.to_owned(),
                    reopen_error: None,
                    retry_at: Instant::now() + REOPEN_AFTER,
                    backoff: REOPEN_AFTER,
                });
            }
        }
    }

    fn unavailable(&self) -> MailError {
        let reason = (self.health.fault().as_ref())
            .map_or_else(|| "closed".to_owned(), |f| f.reason.clone());
        MailError::Unavailable {
            path: self.path.display().to_string(),
            reason,
        }
    }

    /// Ok when the store works, or was reopened (and probed) just now;
    /// otherwise why not, at once, without touching the database.
    fn reopen_if_due(&self) -> Result<(), MailError> {
        if !self.health.faulty.load(Ordering::Acquire) {
            return Ok(());
        }
        {
            let mut fault = self.health.fault();
            let Some(f) = fault.as_mut() else {
                return Ok(());
            };
            let now = Instant::now();
            if now < f.retry_at {
                drop(fault);
                return Err(self.unavailable());
            }
            // Claimed: concurrent callers wait for the next step.
            f.backoff = (f.backoff * 2).min(REOPEN_AT_MOST);
            f.retry_at = now + f.backoff;
        }
        match self.reopen() {
            Ok(()) => {
                info!(path = %self.path.display(), "mail store reopened and writable again");
                let mut fault = self.health.fault();
                *fault = None;
                self.health.faulty.store(false, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                info!(path = %self.path.display(), error = %e, "mail store still cannot be written; will retry");
                if let Some(f) = self.health.fault().as_mut() {
                    let text = match &e {
                        // The path is in the report already.
                        MailError::StoreIo { reason, .. } => reason.clone(),
                        other => other.to_string(),
                    };
                    f.reopen_error = (text != f.reason).then_some(text);
                }
                Err(self.unavailable())
            }
        }
    }

    /// Drops the database (so its file is closed and its lock released)
    /// and opens it again, then probes it with a write.
    fn reopen(&self) -> Result<(), MailError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        *db = None;
        let fresh = super::open_db(&self.path, self.cache_bytes)?;
        let probed = probe(&fresh).map_err(|e| self.err(e));
        // Kept even when the probe failed: its repair is done, and the
        // next attempt drops it again.
        *db = Some(fresh);
        probed
    }
}

/// Writes `PROBE_BYTES` and removes them again, each in a commit.
fn probe(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(PROBE)?
        .insert("probe", vec![0u8; PROBE_BYTES].as_slice())?;
    txn.commit()?;
    let txn = db.begin_write()?;
    txn.delete_table(PROBE)?;
    txn.commit()?;
    Ok(())
}
