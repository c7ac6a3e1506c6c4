use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;

use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

use super::*;

const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");

fn fill(db: &Database, rows: u64) {
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(T).unwrap();
        for i in 0..rows {
            t.insert(i, [i as u8; 500].as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_store_is_private_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/s.redb");
    fill(&open(&path, &mut redb::Builder::new()).unwrap(), 10);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert!(!dir.path().join("deep/er/s.redb.new").exists());
    let db = open(&path, &mut redb::Builder::new()).unwrap();
    let txn = db.begin_read().unwrap();
    assert_eq!(txn.open_table(T).unwrap().len().unwrap(), 10);
}

#[test]
fn an_empty_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    File::create(&path).unwrap();
    let err = open(&path, &mut redb::Builder::new()).unwrap_err();
    assert!(matches!(err, StoreFileError::Empty { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left as found");
}

#[test]
fn garbage_in_the_middle_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    fill(&open(&path, &mut redb::Builder::new()).unwrap(), 4_000);
    let len = std::fs::metadata(&path).unwrap().len();
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(len / 2 / 4096 * 4096)).unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    file.write_all(&garbage).unwrap();
    drop(file);
    let err = open(&path, &mut redb::Builder::new()).unwrap_err();
    assert!(matches!(err, StoreFileError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn a_file_that_is_no_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    std::fs::write(&path, b"not a database at all").unwrap();
    let err = open(&path, &mut redb::Builder::new()).unwrap_err();
    assert!(matches!(err, StoreFileError::Damaged { .. }), "{err}");
}

#[test]
fn a_store_open_elsewhere_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _held = open(&path, &mut redb::Builder::new()).unwrap();
    let err = open(&path, &mut redb::Builder::new()).unwrap_err();
    assert!(matches!(err, StoreFileError::InUse { .. }), "{err}");
}

#[test]
fn a_creation_cut_short_leaves_nothing_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    File::create(dir.path().join("s.redb.new")).unwrap();
    fill(&open(&path, &mut redb::Builder::new()).unwrap(), 1);
}
