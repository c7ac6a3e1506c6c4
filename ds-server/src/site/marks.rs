//! What a site-mode DS server keeps of its own, apart from the directory
//! (which lives in the site replicator): per requestor, its upload mark,
//! store epoch and removal, in a store of their own with the tables and rules
//! of [`dir_core::server::requestor_marks`].

use std::path::Path;

use dir_core::DirError;
use dir_core::server::requestor_marks;
use dir_core::server::{StoreEpoch, StoreEpochRecord};
use redb::Database;
use wire_format::Name;

pub struct Marks {
    db: Database,
}

impl Marks {
    pub fn open(dir: &Path) -> Result<Marks, DirError> {
        let db = store_file::open(&dir.join("ds-server-site.redb"), &mut redb::Builder::new())?;
        let txn = db.begin_write().map_err(DirError::store)?;
        requestor_marks::create_tables(&txn)?;
        txn.commit().map_err(DirError::store)?;
        Ok(Marks { db })
    }

    pub fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError> {
        requestor_marks::upload_mark(&self.db, requestor)
    }

    pub fn set_upload_mark(&self, requestor: &Name, mark: u64) -> Result<(), DirError> {
        requestor_marks::set_upload_mark(&self.db, requestor, mark)
    }

    pub fn store_epoch(&self, requestor: &Name) -> Result<StoreEpochRecord, DirError> {
        requestor_marks::store_epoch(&self.db, requestor)
    }

    pub fn note_store_epoch(&self, requestor: &Name, sent: u64) -> Result<StoreEpoch, DirError> {
        requestor_marks::note_store_epoch(&self.db, requestor, sent)
    }

    pub fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        requestor_marks::is_removed(&self.db, requestor)
    }

    /// Removed with its mark (and the store epoch it counts in) dropped in
    /// one transaction, so a restored requestor starts clean.
    pub fn set_removed(&self, requestor: &Name, removed: bool) -> Result<(), DirError> {
        if removed {
            requestor_marks::remove(&self.db, requestor)
        } else {
            requestor_marks::restore(&self.db, requestor)
        }
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
