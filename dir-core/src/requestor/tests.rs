use wire_format::{
    Address, DirPullEnd, DirPullStart, DirUpdate, DirUpdates, Entry, EntryVersion, Name,
};

use super::*;

pub(super) fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

pub(super) fn entry(po: &str, mailbox: &str) -> Entry {
    Entry {
        address: format!("ACME/{po}/{mailbox}").parse().unwrap(),
        display_name: mailbox.into(),
        attributes: Vec::new(),
        owner: n(po),
        folder: None,
        origin: n(po),
        version: EntryVersion::default(),
        tombstone: false,
    }
}

pub(super) fn update(no: u64, po: &str, mailbox: &str, tombstone: bool) -> DirUpdate {
    let mut e = entry(po, mailbox);
    e.tombstone = tombstone;
    DirUpdate {
        update_no: no,
        entry: e,
    }
}

fn names(store: &RequestorStore) -> Vec<String> {
    store
        .page(None, 1000, None)
        .unwrap()
        .0
        .iter()
        .map(|e| e.address.to_string())
        .collect()
}

#[test]
fn local_changes_queue_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    assert_eq!(store.upsert_local(entry("POA", "A")).unwrap(), 1);
    assert_eq!(store.upsert_local(entry("POA", "B")).unwrap(), 2);
    assert_eq!(
        store
            .delete_local(&"ACME/POA/A".parse().unwrap(), 5)
            .unwrap(),
        3
    );
    let pending = store.ledger().pending(10).unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|e| e.version.origin_seq)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(pending[2].tombstone);
    store.ledger().record_ack(2).unwrap();
    assert_eq!(store.ledger().pending(10).unwrap().len(), 1);
    store.ledger().record_ack(3).unwrap();
    assert!(store.ledger().pending(10).unwrap().is_empty());
    assert_eq!(names(&store), ["ACME/POA/B"]);
}

#[test]
fn a_server_that_forgot_our_changes_gets_them_all_again_with_fresh_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    store.upsert_local(entry("POA", "A")).unwrap();
    store.upsert_local(entry("POA", "B")).unwrap();
    store.ledger().record_ack(2).unwrap();
    store.ledger().record_ack(0).unwrap();
    let pending = store.ledger().pending(10).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|e| e.version.origin_seq > 2));
}

#[test]
fn a_full_resync_leaves_exactly_the_servers_set_and_local_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let own = [n("POA")];
    store.upsert_local(entry("POA", "ME")).unwrap();
    store
        .apply_chunk(
            &own,
            None,
            &[
                update(1, "POB", "OLD", false),
                update(2, "POB", "KEPT", false),
            ],
        )
        .unwrap();
    store.finish_pull(7, 2, None).unwrap();
    let generation = store.ledger().begin_full().unwrap();
    assert!(store.state().unwrap().resync_active);
    // The server's present set: KEPT and NEW. An echo of our own user is ignored.
    store
        .apply_chunk(
            &own,
            Some(generation),
            &[
                update(2, "POB", "KEPT", false),
                update(3, "POB", "NEW", false),
                update(4, "POA", "ME", false),
            ],
        )
        .unwrap();
    let dropped = store.finish_pull(8, 4, Some(generation)).unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(
        names(&store),
        ["ACME/POA/ME", "ACME/POB/KEPT", "ACME/POB/NEW"]
    );
    let state = store.state().unwrap();
    assert_eq!(
        (state.epoch, state.mark, state.resync_active),
        (8, 4, false)
    );
    let counts = store.counts().unwrap();
    assert_eq!((counts.local, counts.imported), (1, 2));
}

#[test]
fn an_interrupted_resync_is_asked_for_again_in_full() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = RequestorStore::open(dir.path()).unwrap();
        store.finish_pull(7, 10, None).unwrap();
        let generation = store.ledger().begin_full().unwrap();
        store
            .apply_chunk(&[], Some(generation), &[update(3, "POB", "X", false)])
            .unwrap();
        // Crash: no finish_pull.
    }
    let store = RequestorStore::open(dir.path()).unwrap();
    let state = store.state().unwrap();
    assert_eq!(
        state.mark, 10,
        "a full resync never moves the mark before it finishes"
    );
    let (_, pull) = PullSession::begin(&state, false);
    assert!(pull.force_full);
}

#[test]
fn incremental_chunks_move_the_mark_with_the_changes_and_apply_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    store
        .apply_chunk(
            &[],
            None,
            &[update(1, "POB", "X", false), update(2, "POB", "Y", false)],
        )
        .unwrap();
    assert_eq!(store.state().unwrap().mark, 2);
    store
        .apply_chunk(&[], None, &[update(3, "POB", "X", true)])
        .unwrap();
    assert_eq!(store.state().unwrap().mark, 3);
    assert_eq!(names(&store), ["ACME/POB/Y"]);
}

#[test]
fn repoint_forgets_the_mark_and_requeues_local_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    store.upsert_local(entry("POA", "ME")).unwrap();
    store.ledger().record_ack(1).unwrap();
    store.finish_pull(7, 10, None).unwrap();
    store.repoint(&n("H2"), "127.0.0.1:1").unwrap();
    let state = store.state().unwrap();
    assert_eq!((state.epoch, state.mark, state.acked), (0, 0, 0));
    assert_eq!(store.ledger().pending(10).unwrap().len(), 1);
    assert_eq!(
        store.current_server().unwrap(),
        Some(("H2".into(), "127.0.0.1:1".into()))
    );
    assert!(PullSession::begin(&state, false).1.force_full);
}

#[test]
fn a_pull_session_rejects_a_broken_stream() {
    let state = SyncState {
        epoch: 5,
        mark: 10,
        ..SyncState::default()
    };
    let (mut s, pull) = PullSession::begin(&state, false);
    assert_eq!((pull.after, pull.force_full), (10, false));
    assert!(
        s.updates(&DirUpdates { updates: vec![] }).is_err(),
        "updates before start"
    );
    s.start(&DirPullStart {
        epoch: 5,
        full: false,
        high_water: 20,
    })
    .unwrap();
    s.updates(&DirUpdates {
        updates: vec![update(11, "POB", "A", false), update(12, "POB", "B", false)],
    })
    .unwrap();
    assert!(
        s.clone()
            .updates(&DirUpdates {
                updates: vec![update(12, "POB", "C", false)]
            })
            .is_err(),
        "not increasing"
    );
    assert!(
        s.clone()
            .updates(&DirUpdates {
                updates: vec![update(21, "POB", "C", false)]
            })
            .is_err(),
        "past high water"
    );
    assert!(
        s.clone()
            .end(&DirPullEnd {
                epoch: 5,
                high_water: 20,
                sent: 3
            })
            .is_err(),
        "wrong count"
    );
    s.end(&DirPullEnd {
        epoch: 5,
        high_water: 20,
        sent: 2,
    })
    .unwrap();
    // An incremental answer from another epoch is refused.
    let (mut s, _) = PullSession::begin(&state, false);
    assert!(
        s.start(&DirPullStart {
            epoch: 6,
            full: false,
            high_water: 20
        })
        .is_err()
    );
}

#[test]
fn the_delete_of_an_old_folders_copy_leaves_the_entry_shown_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let in_folder = |no, folder: &str, tombstone| {
        let mut u = update(no, "POC", "X", tombstone);
        u.entry.folder = Some(n(folder));
        u
    };
    // The old copy (F1), then the post office's own folder, then the old
    // copy's delete: the entry stays, now from FS-POC.
    store
        .apply_chunk(&[], None, &[in_folder(1, "F1", false)])
        .unwrap();
    store
        .apply_chunk(&[], None, &[in_folder(2, "FS-POC", false)])
        .unwrap();
    store
        .apply_chunk(&[], None, &[in_folder(3, "F1", true)])
        .unwrap();
    assert_eq!(names(&store), ["ACME/POC/X"]);
    // The delete from the folder it is shown from does remove it.
    store
        .apply_chunk(&[], None, &[in_folder(4, "FS-POC", true)])
        .unwrap();
    assert!(names(&store).is_empty());
}

#[test]
fn seed_users_are_added_once_in_a_stores_life() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let seeds = || vec![entry("POA", "X"), entry("POA", "Y")];
    assert_eq!(store.seed_once(seeds()).unwrap(), 2);
    assert_eq!(
        store.ledger().pending(10).unwrap().len(),
        2,
        "seeds go up like any change"
    );
    let x: Address = "ACME/POA/X".parse().unwrap();
    store.delete_local(&x, 1).unwrap();
    drop(store);
    let store = RequestorStore::open(dir.path()).unwrap();
    assert_eq!(store.seed_once(seeds()).unwrap(), 0);
    assert_eq!(
        names(&store),
        ["ACME/POA/Y"],
        "a deleted seed stays deleted"
    );
}

#[test]
fn a_listing_of_one_post_office_pages_through_its_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    store.upsert_local(entry("POA", "A")).unwrap();
    store
        .apply_chunk(
            &[n("POA")],
            None,
            &[
                update(1, "POB", "B", false),
                update(2, "POB", "C", false),
                update(3, "POC", "D", false),
            ],
        )
        .unwrap();
    let pob = n("POB");
    let (first, more) = store.page(None, 1, Some(&pob)).unwrap();
    assert_eq!(
        (first[0].address.to_string().as_str(), more),
        ("ACME/POB/B", true)
    );
    let (rest, more) = store.page(Some(&first[0].address), 10, Some(&pob)).unwrap();
    let rest: Vec<_> = rest.iter().map(|e| e.address.to_string()).collect();
    assert_eq!((rest, more), (vec!["ACME/POB/C".to_string()], false));
    // A GAL summary counts every post office's users, its own included.
    let summary = store.gal_summary().unwrap();
    let counts: Vec<_> = summary
        .iter()
        .map(|d| (d.post_office.as_str(), d.entries))
        .collect();
    assert_eq!(counts, [("POA", 1), ("POB", 2), ("POC", 1)]);
}

#[test]
fn pending_changes_come_in_frames_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let big = "x".repeat(250);
    let users = (0..6000)
        .map(|i| {
            let mut e = entry("POA", &format!("U{i}"));
            e.display_name = big.clone();
            e
        })
        .collect();
    store.seed_once(users).unwrap();
    let first = store.ledger().pending(10_000).unwrap();
    assert!(first.len() < 6000, "{} changes in one frame", first.len());
    let bytes: usize = first.iter().map(|e| e.display_name.len()).sum();
    assert!(bytes <= PENDING_BYTES + 512, "{bytes} bytes");
    assert_eq!(store.ledger().pending(10).unwrap().len(), 10);
}
