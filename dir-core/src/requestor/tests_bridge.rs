//! The bridge's bookkeeping: what goes up from the export folders, and the
//! site cursor committed with it.

use wire_format::{DirUpdate, Entry, RepChange};

use super::tests::{entry, n};
use super::*;

fn in_folder(po: &str, mailbox: &str, folder: &str) -> Entry {
    let mut e = entry(po, mailbox);
    e.folder = Some(n(folder));
    e.origin = n("H2");
    e
}

fn change(usn: u64, entry: Entry) -> RepChange {
    RepChange { usn, entry }
}

/// The bridge's rule in small: export folders start with FS.
fn export(e: &Entry) -> Option<Entry> {
    let folder = e.folder?;
    if !folder.as_str().starts_with("FS") {
        return None;
    }
    let mut out = e.clone();
    out.folder = None;
    Some(out)
}

fn cursor(usn: u64) -> SiteCursor {
    SiteCursor { epoch: 3, usn }
}

#[test]
fn only_real_changes_of_export_folders_go_up_and_the_cursor_moves_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = BridgeStore::open(dir.path()).unwrap();
    let a = in_folder("POC", "A", "FS-POC");
    let changes = [change(1, a.clone()), change(2, in_folder("POB", "B", "F1"))];
    assert_eq!(store.intake(&changes, cursor(2), export).unwrap(), 1);
    assert_eq!(store.state().unwrap().site, cursor(2));
    // The same content again (a replay, a resync of the site): nothing.
    assert_eq!(
        store
            .intake(&[change(3, a.clone())], cursor(3), export)
            .unwrap(),
        0
    );
    // A delete of something never sent up needs no message either.
    let mut never = in_folder("POC", "Z", "FS-POC");
    never.tombstone = true;
    assert_eq!(
        store
            .intake(&[change(4, never)], cursor(4), export)
            .unwrap(),
        0
    );
    let pending = store.ledger().pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].folder, pending[0].version.origin_seq),
        (None, 1)
    );
    store.ledger().record_ack(1).unwrap();
    assert_eq!(store.counts().unwrap().pending, 0);
    // A server that lost it gets it again, with a fresh number.
    store.ledger().record_ack(0).unwrap();
    let again = store.ledger().pending(10).unwrap();
    assert_eq!((again.len(), again[0].version.origin_seq), (1, 2));
}

#[test]
fn an_import_folder_copy_is_superseded_when_its_post_office_exports_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = BridgeStore::open(dir.path()).unwrap();
    let from_server = DirUpdate {
        update_no: 1,
        entry: in_folder("POC", "A", "F1"),
    };
    store
        .record_imported(
            None,
            std::slice::from_ref(&from_server),
            Some(PullEnd {
                epoch: 7,
                high_water: 1,
            }),
        )
        .unwrap();
    assert_eq!(store.counts().unwrap().imported, 1);
    let handed_over = [change(5, in_folder("POC", "A", "FS-POC"))];
    let old = store.superseded(&handed_over, export).unwrap();
    assert_eq!(old.len(), 1);
    store.intake(&handed_over, cursor(5), export).unwrap();
    assert_eq!(store.counts().unwrap().imported, 0);
    // The server's copy of an exported user is not written back into F1.
    assert_eq!(store.to_write(&[from_server]).unwrap(), [false]);
}
