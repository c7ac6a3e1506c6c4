//! What a site-mode DS server keeps of its own, apart from the directory
//! (which lives in the site replicator): per requestor, the highest origin
//! sequence number it applied and the epoch of the requestor store that
//! mark counts in (with how many times a new store replaced the old one),
//! and the requestors the operator removed.

use std::path::Path;

use dir_core::DirError;
use dir_core::server::{StoreEpoch, StoreEpochRecord, judge_store_epoch};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use wire_format::Name;

const UPLOAD_MARKS: TableDefinition<&str, u64> = TableDefinition::new("upload_marks");
const REMOVED: TableDefinition<&str, u64> = TableDefinition::new("removed");
const STORE_EPOCHS: TableDefinition<&str, u64> = TableDefinition::new("store_epochs");
const STORE_EPOCH_CHANGES: TableDefinition<&str, u64> = TableDefinition::new("store_epoch_changes");

pub struct Marks {
    db: Database,
}

impl Marks {
    pub fn open(dir: &Path) -> Result<Marks, DirError> {
        let db = store_file::open(&dir.join("ds-server-site.redb"), &mut redb::Builder::new())?;
        let txn = db.begin_write().map_err(DirError::store)?;
        txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
        txn.open_table(REMOVED).map_err(DirError::store)?;
        txn.open_table(STORE_EPOCHS).map_err(DirError::store)?;
        txn.open_table(STORE_EPOCH_CHANGES)
            .map_err(DirError::store)?;
        txn.commit().map_err(DirError::store)?;
        Ok(Marks { db })
    }

    fn get(&self, table: TableDefinition<&str, u64>, key: &Name) -> Result<Option<u64>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let t = txn.open_table(table).map_err(DirError::store)?;
        Ok(t.get(key.as_str())
            .map_err(DirError::store)?
            .map(|v| v.value()))
    }

    fn update(
        &self,
        table: TableDefinition<&str, u64>,
        key: &Name,
        value: Option<u64>,
    ) -> Result<(), DirError> {
        let txn = self.db.begin_write().map_err(DirError::store)?;
        {
            let mut t = txn.open_table(table).map_err(DirError::store)?;
            match value {
                Some(v) => t.insert(key.as_str(), v).map(drop),
                None => t.remove(key.as_str()).map(drop),
            }
            .map_err(DirError::store)?;
        }
        txn.commit().map_err(DirError::store)
    }

    pub fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError> {
        Ok(self.get(UPLOAD_MARKS, requestor)?.unwrap_or(0))
    }

    pub fn set_upload_mark(&self, requestor: &Name, mark: u64) -> Result<(), DirError> {
        self.update(UPLOAD_MARKS, requestor, Some(mark))
    }

    pub fn store_epoch(&self, requestor: &Name) -> Result<StoreEpochRecord, DirError> {
        Ok(StoreEpochRecord {
            epoch: self.get(STORE_EPOCHS, requestor)?.unwrap_or(0),
            changes: self.get(STORE_EPOCH_CHANGES, requestor)?.unwrap_or(0),
        })
    }

    /// As the private store's `ServerStore::note_store_epoch`: a new store
    /// epoch is recorded, counted, and the mark dropped, in one transaction.
    pub fn note_store_epoch(&self, requestor: &Name, sent: u64) -> Result<StoreEpoch, DirError> {
        let recorded = self.get(STORE_EPOCHS, requestor)?.unwrap_or(0);
        let verdict = judge_store_epoch(recorded, sent);
        if verdict == StoreEpoch::Same {
            return Ok(verdict);
        }
        let txn = self.db.begin_write().map_err(DirError::store)?;
        {
            let mut epochs = txn.open_table(STORE_EPOCHS).map_err(DirError::store)?;
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
        }
        txn.commit().map_err(DirError::store)?;
        Ok(verdict)
    }

    pub fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        Ok(self.get(REMOVED, requestor)?.is_some())
    }

    /// Removed with its mark (and the store epoch it counts in) dropped in
    /// one transaction, so a restored requestor starts clean.
    pub fn set_removed(&self, requestor: &Name, removed: bool) -> Result<(), DirError> {
        if !removed {
            return self.update(REMOVED, requestor, None);
        }
        let txn = self.db.begin_write().map_err(DirError::store)?;
        {
            let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
            marks.remove(requestor.as_str()).map_err(DirError::store)?;
            let mut epochs = txn.open_table(STORE_EPOCHS).map_err(DirError::store)?;
            epochs.remove(requestor.as_str()).map_err(DirError::store)?;
            let mut gone = txn.open_table(REMOVED).map_err(DirError::store)?;
            gone.insert(requestor.as_str(), 1)
                .map_err(DirError::store)?;
        }
        txn.commit().map_err(DirError::store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_removals_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let pod = Name::new("POD").unwrap();
        {
            let m = Marks::open(dir.path()).unwrap();
            m.set_upload_mark(&pod, 7).unwrap();
        }
        let m = Marks::open(dir.path()).unwrap();
        assert_eq!(m.upload_mark(&pod).unwrap(), 7);
        m.set_removed(&pod, true).unwrap();
        assert!(m.is_removed(&pod).unwrap());
        assert_eq!(m.upload_mark(&pod).unwrap(), 0);
        m.set_removed(&pod, false).unwrap();
        assert!(!m.is_removed(&pod).unwrap());
    }

    #[test]
    fn a_new_store_epoch_drops_the_mark_and_is_counted_durably() {
        let dir = tempfile::tempdir().unwrap();
        let poa = Name::new("POA").unwrap();
        {
            let m = Marks::open(dir.path()).unwrap();
            assert_eq!(m.note_store_epoch(&poa, 11).unwrap(), StoreEpoch::First);
            m.set_upload_mark(&poa, 40).unwrap();
            assert_eq!(m.note_store_epoch(&poa, 11).unwrap(), StoreEpoch::Same);
            assert_eq!(m.upload_mark(&poa).unwrap(), 40);
            assert_eq!(
                m.note_store_epoch(&poa, 22).unwrap(),
                StoreEpoch::New { previous: 11 }
            );
        }
        let m = Marks::open(dir.path()).unwrap();
        assert_eq!(m.upload_mark(&poa).unwrap(), 0);
        let record = m.store_epoch(&poa).unwrap();
        assert_eq!((record.epoch, record.changes), (22, 1));
        // No epoch (a tool's upload) changes nothing.
        m.set_upload_mark(&poa, 3).unwrap();
        assert_eq!(m.note_store_epoch(&poa, 0).unwrap(), StoreEpoch::Same);
        assert_eq!(m.upload_mark(&poa).unwrap(), 3);
    }
}
