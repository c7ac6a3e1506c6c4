//! What both requestor stores (a post office's [`RequestorStore`] and the
//! bridge's [`BridgeStore`]) keep the same way: the `meta` numbers, the
//! `outbox` of own changes not yet acknowledged by the server, and the
//! resync generation. Rows are in the [`stored`](crate::stored) encoding.
//!
//! [`RequestorStore`]: super::RequestorStore
//! [`BridgeStore`]: super::BridgeStore

use std::ops::Bound;
use std::path::Path;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use wire_format::Entry;

use crate::{DirError, stored};

pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const OUT_SEQ: &str = "out_seq";
pub const ACKED: &str = "acked";
pub const EPOCH: &str = "server_epoch";
pub const MARK: &str = "server_mark";
pub const GEN: &str = "resync_gen";
pub const RESYNC_ACTIVE: &str = "resync_active";
/// This store's own epoch, drawn when it is created: the server ties its
/// upload mark to it, so a new store's numbers are never taken for replays.
pub const STORE_EPOCH: &str = "store_epoch";
/// Set in a post office's new store until one full pull that restores its
/// own users from the server has been committed.
pub const RESTORE_PENDING: &str = "restore_pending";
/// How many own users that restore brought back.
pub const RESTORED: &str = "restored_users";
/// How many times the server acknowledged more than this store ever
/// numbered, so that the store drew a new epoch (see [`Ledger::record_ack`]).
pub const RENEWALS: &str = "epoch_renewals";

/// The tag of an outbox row.
const QUEUED: u8 = 2;

/// Stored bytes of changes per `pending` answer: a quarter of the default
/// 4 MiB frame (an entry's encoding is about its stored size), whatever the
/// entries hold.
pub const PENDING_BYTES: usize = 1 << 20;

pub fn get(t: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, DirError> {
    Ok(t.get(key)
        .map_err(DirError::store)?
        .map_or(0, |v| v.value()))
}

pub fn set(t: &mut redb::Table<'_, &'static str, u64>, key: &str, v: u64) -> Result<(), DirError> {
    t.insert(key, v).map_err(DirError::store)?;
    Ok(())
}

pub fn add(
    t: &mut redb::Table<'_, &'static str, u64>,
    key: &str,
    delta: i64,
) -> Result<(), DirError> {
    let now = get(t, key)? as i64;
    set(t, key, (now + delta).max(0) as u64)
}

/// Opens (creating) the database `file` in `dir`, with the outbox and meta
/// tables and whatever else `tables` opens, so reads never meet a missing table.
/// A store without an epoch draws one; `tables` is told whether the store is
/// brand new (nothing was ever recorded in it), as opposed to one written by
/// a version that kept no epoch.
pub fn open(
    dir: &Path,
    file: &str,
    tables: impl FnOnce(&WriteTransaction, bool) -> Result<(), DirError>,
) -> Result<Database, DirError> {
    let db = store_file::open(&dir.join(file), &mut redb::Builder::new())?;
    write(&db, |txn| {
        txn.open_table(OUTBOX).map_err(DirError::store)?;
        let mut m = txn.open_table(META).map_err(DirError::store)?;
        let mut fresh = false;
        if get(&m, STORE_EPOCH)? == 0 {
            fresh = m.is_empty().map_err(DirError::store)?;
            set(&mut m, STORE_EPOCH, draw_epoch()?)?;
        }
        drop(m);
        tables(txn, fresh)
    })?;
    Ok(db)
}

/// A random non-zero epoch (0 means "none" on the wire).
pub fn draw_epoch() -> Result<u64, DirError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(DirError::store)?;
    Ok(u64::from_be_bytes(bytes).max(1))
}

/// One durable write transaction.
pub fn write<T>(
    db: &Database,
    body: impl FnOnce(&WriteTransaction) -> Result<T, DirError>,
) -> Result<T, DirError> {
    let txn = db.begin_write().map_err(DirError::store)?;
    let out = body(&txn)?;
    txn.commit().map_err(DirError::store)?;
    Ok(out)
}

pub fn enqueue(txn: &WriteTransaction, seq: u64, entry: &Entry) -> Result<(), DirError> {
    let mut outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
    outbox
        .insert(seq, stored::encode(seq, QUEUED, entry)?.as_slice())
        .map_err(DirError::store)?;
    Ok(())
}

/// Where this requestor stands with its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncState {
    /// The server's epoch the mark belongs to (0: none yet).
    pub epoch: u64,
    /// The server's highest update number committed here.
    pub mark: u64,
    /// Own changes the server has acknowledged, by origin sequence number.
    pub acked: u64,
    /// The last origin sequence number given to a local change.
    pub out_seq: u64,
    /// A full resync was begun and not finished (a crash interrupted it).
    pub resync_active: bool,
    /// This store's epoch (see [`STORE_EPOCH`]).
    pub store_epoch: u64,
    /// A new store that has not yet restored its own users from the server:
    /// its next pull asks for them, and nothing is uploaded before.
    pub restore_pending: bool,
    /// How many own users the restore brought back.
    pub restored: u64,
    /// How many times the store found itself older than the server's
    /// record of it and drew a new epoch.
    pub renewals: u64,
}

/// What the next upload carries: the store's epoch and its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub store_epoch: u64,
    pub changes: Vec<Entry>,
}

/// Queues every own change again with fresh numbers, in the transaction,
/// and makes the acknowledged mark the second argument.
pub type Requeue = fn(&WriteTransaction, u64) -> Result<(), DirError>;

/// A store's own changes on their way to the server, and its resync
/// generation: what a sync cycle asks of either store the same way.
#[derive(Clone, Copy)]
pub struct Ledger<'a> {
    db: &'a Database,
    requeue: Requeue,
    /// A post office's store, which can take its own users back from the
    /// server (the bridge owns none).
    restores: bool,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(db: &'a Database, requeue: Requeue, restores: bool) -> Ledger<'a> {
        Ledger {
            db,
            requeue,
            restores,
        }
    }

    /// Changes not yet acknowledged, oldest first: at most `max` and about
    /// [`PENDING_BYTES`] of them, so that an upload of many small entries takes
    /// few round trips while one of large entries still fits a frame.
    pub fn pending(&self, max: usize) -> Result<Vec<Entry>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let acked = get(&txn.open_table(META).map_err(DirError::store)?, ACKED)?;
        let outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
        let mut out = Vec::new();
        let mut bytes = 0;
        for row in outbox
            .range((Bound::Excluded(acked), Bound::Unbounded))
            .map_err(DirError::store)?
            .take(max)
        {
            if bytes >= PENDING_BYTES {
                break;
            }
            let (seq, v) = row.map_err(DirError::store)?;
            bytes += v.value().len();
            out.push(stored::decode(&format!("outbox {}", seq.value()), v.value())?.2);
        }
        Ok(out)
    }

    /// Where the store stands with its server.
    pub fn sync_state(&self) -> Result<SyncState, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let m = txn.open_table(META).map_err(DirError::store)?;
        Ok(SyncState {
            epoch: get(&m, EPOCH)?,
            mark: get(&m, MARK)?,
            acked: get(&m, ACKED)?,
            out_seq: get(&m, OUT_SEQ)?,
            resync_active: get(&m, RESYNC_ACTIVE)? != 0,
            store_epoch: get(&m, STORE_EPOCH)?,
            restore_pending: get(&m, RESTORE_PENDING)? != 0,
            restored: get(&m, RESTORED)?,
            renewals: get(&m, RENEWALS)?,
        })
    }

    /// The next upload: [`Ledger::pending`] with the store's epoch, and
    /// nothing while a restore is pending. A new store's changes wait for
    /// the restore, so that the seed users it wrote when it was created do
    /// not overwrite what the server holds for the post office.
    pub fn outgoing(&self, max: usize) -> Result<Outgoing, DirError> {
        let (store_epoch, restoring) = {
            let txn = self.db.begin_read().map_err(DirError::store)?;
            let m = txn.open_table(META).map_err(DirError::store)?;
            (get(&m, STORE_EPOCH)?, get(&m, RESTORE_PENDING)? != 0)
        };
        let changes = if restoring {
            Vec::new()
        } else {
            self.pending(max)?
        };
        Ok(Outgoing {
            store_epoch,
            changes,
        })
    }

    /// How many changes wait for an acknowledgement.
    pub fn pending_count(&self) -> Result<u64, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let acked = get(&txn.open_table(META).map_err(DirError::store)?, ACKED)?;
        let outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
        Ok(outbox
            .range((Bound::Excluded(acked), Bound::Unbounded))
            .map_err(DirError::store)?
            .count() as u64)
    }

    /// Records the server's acknowledgement. If the server acknowledges less
    /// than it did before, it has lost our changes (rebuilt, restored or a
    /// different server): everything is queued again with fresh sequence
    /// numbers, in the same transaction.
    ///
    /// If it acknowledges more than this store ever numbered, the store is
    /// older than the one the server knows under this epoch (an old copy of
    /// it put back, or a server that kept a mark of a lost store as the
    /// first epoch it heard): the changes it just sent were skipped as
    /// replays. Nothing is dropped then: the store draws a new epoch (the
    /// server starts its mark again from 0), a post office's store takes
    /// its users back as a new store does, and the queued changes go up
    /// again. Returns true in that case.
    pub fn record_ack(&self, applied_through: u64) -> Result<bool, DirError> {
        // The common case in a quiet cycle: nothing new acknowledged, so no
        // write (and no fsync) at all.
        {
            let txn = self.db.begin_read().map_err(DirError::store)?;
            let m = txn.open_table(META).map_err(DirError::store)?;
            if get(&m, ACKED)? == applied_through {
                return Ok(false);
            }
        }
        write(self.db, |txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            if applied_through < get(&m, ACKED)? {
                drop(m);
                (self.requeue)(txn, applied_through)?;
                return Ok(false);
            }
            if applied_through > get(&m, OUT_SEQ)? {
                set(&mut m, STORE_EPOCH, draw_epoch()?)?;
                // Everything still queued waits for the new epoch's mark.
                set(&mut m, ACKED, 0)?;
                add(&mut m, RENEWALS, 1)?;
                if self.restores {
                    set(&mut m, RESTORE_PENDING, 1)?;
                }
                return Ok(true);
            }
            let mut outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
            outbox
                .retain_in(..=applied_through, |_, _| false)
                .map_err(DirError::store)?;
            let out_seq = get(&m, OUT_SEQ)?;
            set(&mut m, ACKED, applied_through.min(out_seq))?;
            Ok(false)
        })
    }

    /// Begins a full resync: a new generation, remembered as unfinished until
    /// the pull's end commits.
    pub fn begin_full(&self) -> Result<u64, DirError> {
        write(self.db, |txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let generation = get(&m, GEN)? + 1;
            set(&mut m, GEN, generation)?;
            set(&mut m, RESYNC_ACTIVE, 1)?;
            Ok(generation)
        })
    }
}

/// Clears the outbox and queues `entries` again with fresh sequence numbers
/// (given to each before `keep` stores it back); the acknowledged mark
/// becomes `acked`.
pub fn requeue(
    txn: &WriteTransaction,
    acked: u64,
    entries: Vec<Entry>,
    mut keep: impl FnMut(u64, &Entry) -> Result<(), DirError>,
) -> Result<(), DirError> {
    let mut m = txn.open_table(META).map_err(DirError::store)?;
    txn.open_table(OUTBOX)
        .map_err(DirError::store)?
        .retain(|_, _| false)
        .map_err(DirError::store)?;
    // Fresh numbers start above both our own sequence and whatever the
    // server acknowledged, so none of them looks like a replay to it.
    let mut seq = get(&m, OUT_SEQ)?.max(acked);
    for mut entry in entries {
        seq += 1;
        entry.version.origin_seq = seq;
        keep(seq, &entry)?;
        enqueue(txn, seq, &entry)?;
    }
    set(&mut m, OUT_SEQ, seq)?;
    set(&mut m, ACKED, acked)
}
