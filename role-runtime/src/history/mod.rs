//! A process's run history: a bounded, durable log of what it did (a DS
//! requestor's dirsync cycles, a site replicator's replication sessions, a
//! DS server's uploads applied), which the wire loop serves to the
//! operator's `HistoryRequest` and `netctl history` shows.
//!
//! * **Where**: `history.log` in the process's data directory, an
//!   append-only file ([`log_file`]) rather than a table in the role's redb
//!   store: redb latches a store's first I/O error and the process then
//!   reports itself degraded and restarts to reopen it, so a history write
//!   that failed (a full disk) would reach the role's real work. A failed
//!   append here is logged and forgotten; the next one tries again.
//! * **Bound**: the newest 1,000 events are kept (and served, from memory);
//!   the file is rewritten with those once it holds 1,250.
//! * **Durable**: an append is synced before [`History::record`] returns,
//!   so an event recorded survives a kill -9.
//! * **Sparing** ([`Quiet`]): a cycle is recorded when it moved a change,
//!   was a full resync, failed with another error than the last one
//!   recorded for its peer, or is the first success after a failure. Every
//!   other one (an idle 1 s poll, the same failure again) is only counted,
//!   in the next recorded event's `quiet_before`. The count is kept in
//!   memory: a restart forgets it.

mod log_file;
mod quiet;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::warn;
use wire_format::{HistoryEvent, HistoryKind, Name};

use log_file::{KEEP, LogFile};
pub use quiet::Quiet;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "history.log";

/// What a role reports of one cycle or session; [`History::record`] turns
/// it into a [`HistoryEvent`] (numbered, with its `quiet_before`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    pub peer: Option<Name>,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub full: bool,
    pub sent: u64,
    pub received: u64,
    pub applied: u64,
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
    pub refused: u64,
    pub error: Option<String>,
}

impl Run {
    /// Counts `entry`, sent or received, as added, updated or deleted: a
    /// tombstone is a deletion, an entry's first version (1, or 0 for a
    /// seed user) an addition, any other version an update.
    pub fn classify(&mut self, entry: &wire_format::Entry) {
        if entry.tombstone {
            self.deleted += 1;
        } else if entry.version.version <= 1 {
            self.added += 1;
        } else {
            self.updated += 1;
        }
    }

    /// Whether it moved anything (or was a full resync).
    pub fn moved(&self) -> bool {
        self.full || self.sent + self.received + self.applied > 0
    }
}

/// A process's history; clones share it. Opening never fails: a history
/// that cannot be opened records nothing and answers with why.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file; None when it could not be opened (`unavailable` says why).
    file: Mutex<Option<LogFile>>,
    unavailable: Option<String>,
    /// The newest events, oldest first, and the next sequence number.
    events: Mutex<(VecDeque<HistoryEvent>, u64)>,
    quiet: Mutex<HashMap<(HistoryKind, Option<Name>), Quiet>>,
}

impl History {
    /// The history kept in `data_dir` (see [`FILE_NAME`]).
    pub fn open(data_dir: &Path) -> History {
        let path = data_dir.join(FILE_NAME);
        let (file, events, unavailable) = match LogFile::open(&path) {
            Ok((file, events)) => (Some(file), events, None),
            Err(e) => {
                let why = format!("cannot open the history file {}: {e}", path.display());
                warn!(reason = %why, "run history disabled; the role's work goes on");
                (None, VecDeque::new(), Some(why))
            }
        };
        let next = events.back().map_or(1, |e| e.seq + 1);
        History {
            inner: Arc::new(Inner {
                file: Mutex::new(file),
                unavailable,
                events: Mutex::new((events, next)),
                quiet: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Records `run` of `kind` if the sparing rule (see the module doc)
    /// says so, synced before it returns (on the blocking pool). A write
    /// that fails is logged, never returned: the role's work goes on.
    pub async fn record(&self, kind: HistoryKind, mut run: Run) {
        if let Some(error) = run.error.as_mut() {
            cut(error, wire_format::limits::MAX_HISTORY_TEXT_LEN);
        }
        let quiet_before = {
            let mut quiet = lock(&self.inner.quiet);
            match quiet.entry((kind, run.peer)).or_default().admit(&run) {
                Some(n) => n,
                None => return,
            }
        };
        let inner = Arc::clone(&self.inner);
        let written = tokio::task::spawn_blocking(move || inner.append(kind, run, quiet_before));
        match written.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "a run-history event could not be written; the role's work goes on")
            }
            Err(e) => warn!(error = %e, "the run-history write failed"),
        }
    }

    /// The newest events that ended at or after `since_ms`, at most `max`
    /// (and at most 1,000), newest first; Err: the history could not be
    /// opened, and why.
    pub fn page(&self, since_ms: u64, max: u32) -> Result<Vec<HistoryEvent>, String> {
        if let Some(why) = &self.inner.unavailable {
            return Err(why.clone());
        }
        let events = lock(&self.inner.events);
        Ok(events
            .0
            .iter()
            .rev()
            .filter(|e| e.ended_ms >= since_ms)
            .take((max as usize).min(KEEP))
            .cloned()
            .collect())
    }
}

impl Inner {
    /// Numbers the event, keeps it in memory and appends it to the file.
    /// The file's lock is held from the numbering to the write, so the
    /// file's order is the numbering's; the events' lock only while they
    /// change, so a page is never kept waiting for a disk.
    fn append(&self, kind: HistoryKind, run: Run, quiet_before: u64) -> std::io::Result<()> {
        let mut file = lock(&self.file);
        let mut events = lock(&self.events);
        let (newest, next) = &mut *events;
        let event = HistoryEvent {
            seq: *next,
            kind,
            peer: run.peer,
            started_ms: run.started_ms,
            ended_ms: run.ended_ms,
            full: run.full,
            sent: run.sent,
            received: run.received,
            applied: run.applied,
            added: run.added,
            updated: run.updated,
            deleted: run.deleted,
            refused: run.refused,
            quiet_before,
            error: run.error,
        };
        *next += 1;
        if newest.len() == KEEP {
            newest.pop_front();
        }
        newest.push_back(event.clone());
        let Some(file) = file.as_mut() else {
            return Ok(());
        };
        if file.full() {
            let snapshot = newest.clone();
            drop(events);
            file.rewrite(&snapshot)
        } else {
            drop(events);
            file.append(&event)
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `text` cut to at most `max` bytes, at a character.
fn cut(text: &mut String, max: usize) {
    let mut at = text.len().min(max);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
}
