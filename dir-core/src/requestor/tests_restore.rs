//! A new store (the old one lost, emptied or replaced) takes its post
//! office's users back from the server before it uploads anything, and
//! what was changed in the new store wins over the server's copies.

use wire_format::{Address, DirUpdate, DirUploadAck, Entry, EntryVersion, Message};

use super::tests::{entry, n};
use super::tests_cycle::{drive, stream};
use super::*;

/// An entry as the server holds it: uploaded by POA in an earlier life.
fn held(no: u64, po: &str, mailbox: &str, display: &str) -> DirUpdate {
    let mut e = entry(po, mailbox);
    e.display_name = display.into();
    e.version = EntryVersion {
        version: 3,
        changed_at_ms: 1,
        origin_seq: 40 + no,
    };
    DirUpdate {
        update_no: no,
        entry: e,
    }
}

fn named(mailbox: &str, display: &str) -> Entry {
    let mut e = entry("POA", mailbox);
    e.display_name = display.into();
    e
}

fn gal(store: &RequestorStore) -> Vec<String> {
    let (entries, _) = store.page(None, 100, None).unwrap();
    entries
        .iter()
        .map(|e| format!("{}|{}", e.address, e.display_name))
        .collect()
}

#[test]
fn a_store_draws_its_epoch_once_and_a_new_store_another() {
    let dir = tempfile::tempdir().unwrap();
    let first = RequestorStore::open(dir.path()).unwrap().state().unwrap();
    assert_ne!(first.store_epoch, 0);
    assert!(first.restore_pending, "a new store restores first");
    let again = RequestorStore::open(dir.path()).unwrap().state().unwrap();
    assert_eq!(again.store_epoch, first.store_epoch);
    let other = tempfile::tempdir().unwrap();
    let replaced = RequestorStore::open(other.path()).unwrap().state().unwrap();
    assert_ne!(replaced.store_epoch, first.store_epoch);

    // The bridge has an epoch too, and never restores (it owns no users).
    let bridge = BridgeStore::open(other.path()).unwrap();
    let state = bridge.state().unwrap().sync;
    assert_ne!(state.store_epoch, 0);
    assert!(!state.restore_pending);
    assert_eq!(
        bridge.ledger().outgoing(10).unwrap().store_epoch,
        state.store_epoch
    );
}

#[test]
fn a_new_store_restores_its_users_then_uploads_what_was_changed_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let epoch = store.state().unwrap().store_epoch;
    // Written in the new store before it reached the server: seeds from
    // the config (S1 untouched, S2 changed since), a new user, a user added
    // and deleted again.
    store
        .seed_once(vec![named("S1", "Seed one"), named("S2", "Seed two")])
        .unwrap();
    store.upsert_local(named("NEW", "New here")).unwrap();
    store.upsert_local(named("S2", "Changed here")).unwrap();
    store.upsert_local(named("GONE", "Gone")).unwrap();
    let gone: Address = "ACME/POA/GONE".parse().unwrap();
    store.delete_local(&gone, 5).unwrap();
    assert!(
        store.ledger().outgoing(10).unwrap().changes.is_empty(),
        "nothing goes up before the restore"
    );

    // What the server holds of POA's earlier life, and another post office.
    let restore = stream(
        7,
        true,
        9,
        vec![
            held(1, "POA", "OLD1", "Old one"),
            held(2, "POA", "OLD2", "Old two"),
            held(3, "POA", "S1", "Seed one, renamed by the operator"),
            held(4, "POA", "S2", "Seed two, older"),
            held(5, "POA", "GONE", "Gone, older"),
            held(6, "POA", "NEW", "New, older"),
            held(9, "POB", "X", "X of POB"),
        ],
    );
    let mut pulls = vec![restore, stream(7, false, 9, Vec::new())].into_iter();
    let mut acked = 0;
    let server = move |request: Message| match request {
        Message::DirUpload(up) => {
            assert_eq!(up.store_epoch, epoch, "every upload names the store");
            acked = up
                .changes
                .iter()
                .map(|e| e.version.origin_seq)
                .fold(acked, u64::max);
            vec![
                DirUploadAck {
                    applied_through: acked,
                }
                .into(),
            ]
        }
        Message::DirPull(_) => pulls.next().expect("two pulls"),
        other => panic!("unexpected {other:?}"),
    };
    let po = PostOffice {
        store: &store,
        own: &[n("POA")],
    };
    let run = drive(&po, server, (100, 100), None).unwrap();

    // An empty upload (the server learns the epoch), the restore, then the
    // held changes, and an incremental pull.
    let shape: Vec<String> = run
        .requests
        .iter()
        .map(|m| match m {
            Message::DirUpload(u) => format!("up {}", u.changes.len()),
            Message::DirPull(p) => format!("pull full={} restore={}", p.force_full, p.restore),
            other => format!("{other:?}"),
        })
        .collect();
    // Uploaded: S2's seed and its change, NEW, GONE and its delete; not
    // S1's seed, which yielded to the server's copy.
    assert_eq!(
        shape,
        [
            "up 0",
            "pull full=true restore=true",
            "up 5",
            "up 0",
            "pull full=false restore=false"
        ]
    );
    let report = run.report.unwrap();
    assert!(report.restored && report.full);
    assert_eq!(
        gal(&store),
        [
            "ACME/POA/NEW|New here",
            "ACME/POA/OLD1|Old one",
            "ACME/POA/OLD2|Old two",
            "ACME/POA/S1|Seed one, renamed by the operator",
            "ACME/POA/S2|Changed here",
            "ACME/POB/X|X of POB",
        ]
    );
    let state = store.state().unwrap();
    assert!(!state.restore_pending);
    assert_eq!(state.restored, 3, "OLD1, OLD2 and S1");
    assert_eq!((state.epoch, state.mark), (7, 9));
    let counts = store.counts().unwrap();
    assert_eq!((counts.local, counts.imported, counts.pending), (5, 1, 0));

    // The restored users are the post office's own: it can change and
    // delete them, and those changes go up numbered above the server's.
    let seq = store
        .upsert_local(named("OLD1", "Old one, renamed"))
        .unwrap();
    let old2: Address = "ACME/POA/OLD2".parse().unwrap();
    store.delete_local(&old2, 9).unwrap();
    let up = store.ledger().outgoing(10).unwrap().changes;
    assert_eq!(up.len(), 2);
    assert_eq!((up[0].version.origin_seq, up[0].version.version), (seq, 4));
    assert!(up[1].tombstone && up[1].version.version == 4);
}

#[test]
fn a_restore_cut_short_is_asked_for_again_and_holds_the_uploads_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    store.upsert_local(named("NEW", "New here")).unwrap();
    let po = PostOffice {
        store: &store,
        own: &[n("POA")],
    };
    let restore = || {
        stream(
            7,
            true,
            2,
            vec![held(1, "POA", "OLD1", "Old one"), held(2, "POB", "X", "X")],
        )
    };
    let mut first = Some(restore());
    let server = move |request: Message| match request {
        Message::DirUpload(_) => vec![DirUploadAck { applied_through: 0 }.into()],
        Message::DirPull(p) => {
            assert!(p.restore);
            first.take().expect("one pull")
        }
        other => panic!("unexpected {other:?}"),
    };
    // Cut off (as by a crash) before the pull's only commit.
    let run = drive(&po, server, (100, 100), Some(0)).unwrap();
    assert!(run.report.is_none());
    assert!(store.state().unwrap().restore_pending);
    assert!(store.ledger().outgoing(10).unwrap().changes.is_empty());
    assert_eq!(store.counts().unwrap().pending, 1, "the change is kept");
}

/// An old copy of the store put back (a backup): its epoch is the one the
/// server knows, but the server's mark is above anything it numbered, so
/// its new change would be skipped as a replay. It draws a new epoch, the
/// change goes up under it, and a user made after the copy comes back.
#[test]
fn a_store_older_than_the_servers_mark_renews_its_epoch_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = RequestorStore::open(dir.path()).unwrap();
    let generation = store.ledger().begin_full().unwrap();
    store.finish_pull(7, 0, Some(generation)).unwrap();
    store.upsert_local(named("A", "A")).unwrap();
    store.ledger().record_ack(1).unwrap();
    let old_epoch = store.state().unwrap().store_epoch;
    // Made after the copy was taken: the server counts 5 of this epoch.
    store
        .upsert_local(named("C", "C, made in the copy"))
        .unwrap();

    // A server that skips what is at or below its mark, per store epoch.
    let mut epoch_seen = old_epoch;
    let mut mark = 5;
    let mut applied: Vec<(u64, String)> = Vec::new();
    let mut pulls = vec![
        stream(
            7,
            true,
            9,
            vec![
                held(1, "POA", "A", "A"),
                held(2, "POA", "D", "D, made after the copy"),
            ],
        ),
        stream(7, false, 9, Vec::new()),
    ]
    .into_iter();
    let server = |request: Message| match request {
        Message::DirUpload(up) => {
            if up.store_epoch != epoch_seen {
                epoch_seen = up.store_epoch;
                mark = 0;
            }
            for e in &up.changes {
                if e.version.origin_seq > mark {
                    applied.push((up.store_epoch, e.address.to_string()));
                    mark = e.version.origin_seq;
                }
            }
            vec![
                DirUploadAck {
                    applied_through: mark,
                }
                .into(),
            ]
        }
        Message::DirPull(_) => pulls.next().expect("two pulls"),
        other => panic!("unexpected {other:?}"),
    };
    let po = PostOffice {
        store: &store,
        own: &[n("POA")],
    };
    let run = drive(&po, server, (100, 100), None).unwrap();
    let report = run.report.unwrap();
    assert!(report.renewed && report.restored);
    let state = store.state().unwrap();
    assert_ne!(state.store_epoch, old_epoch);
    assert_eq!(state.renewals, 1);
    assert_eq!(
        applied,
        [(state.store_epoch, "ACME/POA/C".to_owned())],
        "the change made in the copy went up under the new epoch"
    );
    assert_eq!(store.counts().unwrap().pending, 0);
    assert_eq!(
        gal(&store),
        [
            "ACME/POA/A|A",
            "ACME/POA/C|C, made in the copy",
            "ACME/POA/D|D, made after the copy",
        ]
    );
}

#[test]
fn a_bridge_store_older_than_the_servers_mark_renews_its_epoch_without_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let store = BridgeStore::open(dir.path()).unwrap();
    let before = store.state().unwrap().sync;
    // Nothing numbered yet, and the server acknowledges 4.
    assert!(store.ledger().record_ack(4).unwrap());
    let after = store.state().unwrap().sync;
    assert_ne!(after.store_epoch, before.store_epoch);
    assert_eq!((after.acked, after.renewals), (0, 1));
    assert!(!after.restore_pending, "a bridge owns no users to restore");
}
