//! Per requestor, what a DS server keeps besides its directory: the upload
//! mark (the highest origin sequence number applied: what makes an upload
//! replay-safe), the epoch of the requestor store that mark counts in (and
//! how many times a new store replaced the old one), and whether the
//! operator removed the requestor (patent step B). The same tables and rules
//! whether they live in the server's own store (private mode,
//! [`ServerStore`](super::ServerStore)) or in a store of their own (site
//! mode, where the directory is the site replicator's).

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use wire_format::Name;

use super::rules::{StoreEpoch, judge_store_epoch};
use crate::DirError;

pub(crate) const UPLOAD_MARKS: TableDefinition<&str, u64> = TableDefinition::new("upload_marks");
const REMOVED: TableDefinition<&str, u64> = TableDefinition::new("removed");
const STORE_EPOCHS: TableDefinition<&str, u64> = TableDefinition::new("store_epochs");
const STORE_EPOCH_CHANGES: TableDefinition<&str, u64> = TableDefinition::new("store_epoch_changes");

/// What the server holds of a requestor's store, for status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreEpochRecord {
    /// The epoch its upload mark counts in (0: none heard yet).
    pub epoch: u64,
    /// How many times a new store replaced the old one.
    pub changes: u64,
}

/// Creates the tables, so readers never meet a missing one.
pub fn create_tables(txn: &WriteTransaction) -> Result<(), DirError> {
    for table in [UPLOAD_MARKS, REMOVED, STORE_EPOCHS, STORE_EPOCH_CHANGES] {
        txn.open_table(table).map_err(DirError::store)?;
    }
    Ok(())
}

fn read(
    db: &Database,
    table: TableDefinition<&str, u64>,
    requestor: &Name,
) -> Result<Option<u64>, DirError> {
    let txn = db.begin_read().map_err(DirError::store)?;
    let t = txn.open_table(table).map_err(DirError::store)?;
    Ok(t.get(requestor.as_str())
        .map_err(DirError::store)?
        .map(|v| v.value()))
}

pub fn upload_mark(db: &Database, requestor: &Name) -> Result<u64, DirError> {
    Ok(read(db, UPLOAD_MARKS, requestor)?.unwrap_or(0))
}

pub fn set_upload_mark(db: &Database, requestor: &Name, mark: u64) -> Result<(), DirError> {
    let txn = db.begin_write().map_err(DirError::store)?;
    txn.open_table(UPLOAD_MARKS)
        .map_err(DirError::store)?
        .insert(requestor.as_str(), mark)
        .map_err(DirError::store)?;
    txn.commit().map_err(DirError::store)
}

pub fn store_epoch(db: &Database, requestor: &Name) -> Result<StoreEpochRecord, DirError> {
    Ok(StoreEpochRecord {
        epoch: read(db, STORE_EPOCHS, requestor)?.unwrap_or(0),
        changes: read(db, STORE_EPOCH_CHANGES, requestor)?.unwrap_or(0),
    })
}

/// Ties the requestor's upload mark to the epoch of the store it uploads
/// from ([`judge_store_epoch`]): a first epoch is recorded; a new one is
/// recorded, counted, and the mark starts again from 0, in one transaction.
/// Called before each upload is applied.
pub fn note_store_epoch(
    db: &Database,
    requestor: &Name,
    sent: u64,
) -> Result<StoreEpoch, DirError> {
    // Every upload but the first of a store's life is the same epoch: a
    // read, no write transaction.
    let verdict = judge_store_epoch(store_epoch(db, requestor)?.epoch, sent);
    if verdict == StoreEpoch::Same {
        return Ok(verdict);
    }
    let txn = db.begin_write().map_err(DirError::store)?;
    let verdict = {
        let mut epochs = txn.open_table(STORE_EPOCHS).map_err(DirError::store)?;
        let recorded = epochs
            .get(requestor.as_str())
            .map_err(DirError::store)?
            .map_or(0, |v| v.value());
        let verdict = judge_store_epoch(recorded, sent);
        epochs
            .insert(requestor.as_str(), sent)
            .map_err(DirError::store)?;
        if let StoreEpoch::New { .. } = verdict {
            let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
            marks.remove(requestor.as_str()).map_err(DirError::store)?;
            let mut changes = txn
                .open_table(STORE_EPOCH_CHANGES)
                .map_err(DirError::store)?;
            let n = changes
                .get(requestor.as_str())
                .map_err(DirError::store)?
                .map_or(0, |v| v.value());
            changes
                .insert(requestor.as_str(), n + 1)
                .map_err(DirError::store)?;
        }
        verdict
    };
    txn.commit().map_err(DirError::store)?;
    Ok(verdict)
}

pub fn is_removed(db: &Database, requestor: &Name) -> Result<bool, DirError> {
    Ok(read(db, REMOVED, requestor)?.is_some())
}

/// Patent step B: the requestor may no longer sync; its upload mark and the
/// store epoch it counts in are dropped in the same transaction, so a later
/// re-registration starts clean.
pub fn remove(db: &Database, requestor: &Name) -> Result<(), DirError> {
    let txn = db.begin_write().map_err(DirError::store)?;
    {
        let key = requestor.as_str();
        let mut removed = txn.open_table(REMOVED).map_err(DirError::store)?;
        removed.insert(key, 1).map_err(DirError::store)?;
        let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
        marks.remove(key).map_err(DirError::store)?;
        let mut epochs = txn.open_table(STORE_EPOCHS).map_err(DirError::store)?;
        epochs.remove(key).map_err(DirError::store)?;
    }
    txn.commit().map_err(DirError::store)
}

/// The rollback of step B: the requestor may sync again, from a mark of 0.
pub fn restore(db: &Database, requestor: &Name) -> Result<(), DirError> {
    let txn = db.begin_write().map_err(DirError::store)?;
    txn.open_table(REMOVED)
        .map_err(DirError::store)?
        .remove(requestor.as_str())
        .map_err(DirError::store)?;
    txn.commit().map_err(DirError::store)
}
