//! What a site-mode DS server keeps of its own, apart from the directory
//! (which lives in the site replicator): per requestor, the highest origin
//! sequence number it applied, and the requestors the operator removed.

use std::path::Path;

use dir_core::DirError;
use redb::{Database, ReadableDatabase, TableDefinition};
use wire_format::Name;

const UPLOAD_MARKS: TableDefinition<&str, u64> = TableDefinition::new("upload_marks");
const REMOVED: TableDefinition<&str, u64> = TableDefinition::new("removed");

pub struct Marks {
    db: Database,
}

impl Marks {
    pub fn open(dir: &Path) -> Result<Marks, DirError> {
        let db = store_file::open(&dir.join("ds-server-site.redb"), &mut redb::Builder::new())?;
        let txn = db.begin_write().map_err(DirError::store)?;
        txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
        txn.open_table(REMOVED).map_err(DirError::store)?;
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

    pub fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        Ok(self.get(REMOVED, requestor)?.is_some())
    }

    /// Removed with its mark dropped in one transaction, so a restored
    /// requestor starts clean.
    pub fn set_removed(&self, requestor: &Name, removed: bool) -> Result<(), DirError> {
        if !removed {
            return self.update(REMOVED, requestor, None);
        }
        let txn = self.db.begin_write().map_err(DirError::store)?;
        {
            let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
            marks.remove(requestor.as_str()).map_err(DirError::store)?;
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
}
