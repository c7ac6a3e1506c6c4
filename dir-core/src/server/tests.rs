use wire_format::{DirPull, DirUpdate, Entry, EntryVersion, Name};

use super::*;

fn n(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn entry(po: &str, mailbox: &str, seq: u64, tombstone: bool) -> Entry {
    Entry {
        address: format!("ACME/{po}/{mailbox}").parse().unwrap(),
        display_name: format!("{mailbox} of {po}"),
        attributes: Vec::new(),
        owner: n(po),
        folder: None,
        origin: n(po),
        version: EntryVersion {
            version: seq,
            changed_at_ms: 1,
            origin_seq: seq,
        },
        tombstone,
    }
}

fn policy(name: &str, export: &[&str]) -> RequestorPolicy {
    RequestorPolicy {
        name: n(name),
        post_offices: vec![n(name)],
        export: export.iter().map(|s| s.to_string()).collect(),
    }
}

fn pull_all(store: &ServerStore, plan: PullPlan, who: &RequestorPolicy) -> (u64, Vec<DirUpdate>) {
    let mut got = Vec::new();
    let mut hw = None;
    let summary = store
        .pull(
            plan,
            2,
            |e| who.receives(e),
            |ev| {
                match ev {
                    PullEvent::Start { high_water } => hw = Some(high_water),
                    PullEvent::Updates(u) => got.extend(u),
                }
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(hw, Some(summary.high_water));
    assert_eq!(summary.sent, got.len() as u64);
    (summary.high_water, got)
}

#[test]
fn a_replayed_upload_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    let changes = vec![entry("POA", "A", 1, false), entry("POA", "B", 2, false)];
    let first = store.apply_upload(&n("POA"), &changes, 1).unwrap();
    assert_eq!(
        (first.applied, first.applied_through, first.high_water),
        (2, 2, 2)
    );
    let mut more = changes.clone();
    more.push(entry("POA", "C", 3, false));
    let replay = store.apply_upload(&n("POA"), &more, 1).unwrap();
    assert_eq!(
        (
            replay.applied,
            replay.skipped,
            replay.applied_through,
            replay.high_water
        ),
        (1, 2, 3, 3)
    );
    // An empty upload just asks for the ack.
    assert_eq!(
        store
            .apply_upload(&n("POA"), &[], 1)
            .unwrap()
            .applied_through,
        3
    );
    assert_eq!(store.live_entries().unwrap(), 3);
}

#[test]
fn the_mark_survives_reopening_and_the_epoch_too() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = {
        let store = ServerStore::open(dir.path()).unwrap();
        store
            .apply_upload(&n("POA"), &[entry("POA", "A", 7, false)], 1)
            .unwrap();
        store.epoch()
    };
    let store = ServerStore::open(dir.path()).unwrap();
    assert_eq!(store.epoch(), epoch);
    assert_eq!(store.upload_mark(&n("POA")).unwrap(), 7);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(
        ServerStore::open(other.path()).unwrap().epoch(),
        epoch,
        "a rebuilt server has a new epoch"
    );
}

#[test]
fn pulls_never_echo_and_follow_the_export_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    store
        .apply_upload(&n("POA"), &[entry("POA", "A", 1, false)], 1)
        .unwrap();
    store
        .apply_upload(&n("POB"), &[entry("POB", "B", 1, false)], 1)
        .unwrap();
    store
        .apply_upload(&n("POC"), &[entry("POC", "C", 1, false)], 1)
        .unwrap();
    let full = PullPlan {
        full: true,
        after: 0,
    };
    let (_, to_a) = pull_all(&store, full, &policy("POA", &["*"]));
    let got: Vec<_> = to_a
        .iter()
        .map(|u| u.entry.address.post_office.to_string())
        .collect();
    assert_eq!(got, ["POB", "POC"]);
    let (_, to_b) = pull_all(&store, full, &policy("POB", &["POC"]));
    assert_eq!(to_b.len(), 1);
    assert_eq!(to_b[0].entry.address.post_office, n("POC"));
}

#[test]
fn incremental_pulls_carry_deletes_and_full_pulls_only_the_present_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    store
        .apply_upload(
            &n("POA"),
            &[entry("POA", "A", 1, false), entry("POA", "B", 2, false)],
            1,
        )
        .unwrap();
    let reader = policy("POB", &["*"]);
    let (hw, _) = pull_all(
        &store,
        PullPlan {
            full: true,
            after: 0,
        },
        &reader,
    );
    store
        .apply_upload(&n("POA"), &[entry("POA", "A", 3, true)], 1)
        .unwrap();
    let (hw2, incr) = pull_all(
        &store,
        PullPlan {
            full: false,
            after: hw,
        },
        &reader,
    );
    assert_eq!(hw2, hw + 1);
    assert_eq!(incr.len(), 1);
    assert!(incr[0].entry.tombstone);
    let (_, full) = pull_all(
        &store,
        PullPlan {
            full: true,
            after: 0,
        },
        &reader,
    );
    assert_eq!(full.len(), 1);
    assert_eq!(full[0].entry.address.mailbox, n("B"));
}

#[test]
fn purge_turns_a_post_offices_entries_into_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    store
        .apply_upload(
            &n("POC"),
            &[entry("POC", "A", 1, false), entry("POC", "B", 2, false)],
            1,
        )
        .unwrap();
    store
        .apply_upload(&n("POA"), &[entry("POA", "Z", 1, false)], 1)
        .unwrap();
    let (deleted, hw) = store.purge_post_office(&n("POC"), &n("H"), 1).unwrap();
    assert_eq!((deleted, hw), (2, 5));
    assert_eq!(store.live_entries().unwrap(), 1);
    let (_, incr) = pull_all(
        &store,
        PullPlan {
            full: false,
            after: 3,
        },
        &policy("POB", &["*"]),
    );
    assert!(incr.iter().all(|u| u.entry.tombstone) && incr.len() == 2);
}

#[test]
fn a_forbidden_upload_is_refused_whole() {
    let poa = policy("POA", &["*"]);
    assert!(poa.check_upload(&[entry("POA", "A", 1, false)]).is_ok());
    assert!(
        poa.check_upload(&[entry("POA", "A", 1, false), entry("POB", "X", 2, false)])
            .is_err()
    );
}

#[test]
fn pull_plans_fall_back_to_a_full_resync_when_the_mark_is_unusable() {
    let pull = |epoch, after, force_full| DirPull {
        epoch,
        after,
        force_full,
        restore: false,
    };
    assert_eq!(
        plan_pull(&pull(9, 5, false), 9, 0, 10),
        PullPlan {
            full: false,
            after: 5
        }
    );
    // Another epoch (a rebuilt server), forced, trimmed past, or beyond the end.
    assert!(plan_pull(&pull(8, 5, false), 9, 0, 10).full);
    assert!(plan_pull(&pull(9, 5, true), 9, 0, 10).full);
    assert!(plan_pull(&pull(9, 5, false), 9, 6, 10).full);
    assert!(plan_pull(&pull(9, 11, false), 9, 0, 10).full);
}

#[test]
fn collected_tombstones_raise_the_floor_so_laggards_resync_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    let a = n("POA");
    store
        .apply_upload(
            &a,
            &[entry("POA", "A", 1, false), entry("POA", "B", 2, false)],
            10,
        )
        .unwrap();
    store
        .apply_upload(&a, &[entry("POA", "A", 3, true)], 20)
        .unwrap();
    store
        .apply_upload(&a, &[entry("POA", "B", 4, true)], 40)
        .unwrap();
    assert_eq!(store.collect_tombstones(30).unwrap(), 1);
    assert_eq!(store.floor().unwrap(), 3);
    // A requestor that pulled up to 2 may have missed A's delete: full resync.
    let hw = store.high_water().unwrap();
    assert!(
        plan_pull(
            &DirPull {
                epoch: store.epoch(),
                after: 2,
                force_full: false,
                restore: false,
            },
            store.epoch(),
            3,
            hw
        )
        .full
    );
    assert!(
        !plan_pull(
            &DirPull {
                epoch: store.epoch(),
                after: 3,
                force_full: false,
                restore: false,
            },
            store.epoch(),
            3,
            hw
        )
        .full
    );
    // The young tombstone is still there for incremental pulls.
    let (_, incr) = pull_all(
        &store,
        PullPlan {
            full: false,
            after: 3,
        },
        &policy("POB", &["*"]),
    );
    assert_eq!(incr.len(), 1);
    assert!(incr[0].entry.tombstone);
    assert_eq!(store.collect_tombstones(50).unwrap(), 1);
    assert_eq!(store.floor().unwrap(), 4);
}

#[test]
fn a_delete_committed_during_a_full_refresh_reaches_the_next_pull() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    let a = n("POA");
    let changes: Vec<_> = (1..=10)
        .map(|i| entry("POA", &format!("U{i}"), i, false))
        .collect();
    store.apply_upload(&a, &changes, 1).unwrap();
    let reader = policy("POB", &["*"]);
    let mut deleted = false;
    let mut got = Vec::new();
    // The delete commits while the full refresh is half streamed.
    let summary = store
        .pull(
            PullPlan {
                full: true,
                after: 0,
            },
            3,
            |e| reader.receives(e),
            |ev| {
                if let PullEvent::Updates(u) = ev {
                    got.extend(u);
                    if !deleted {
                        deleted = true;
                        store
                            .apply_upload(&a, &[entry("POA", "U9", 11, true)], 1)
                            .unwrap();
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    // The refresh is the snapshot from before the delete...
    assert_eq!(summary.high_water, 10);
    assert_eq!(got.len(), 10);
    // ...and the delete is above its high water, so the next pull has it.
    let (_, next) = pull_all(
        &store,
        PullPlan {
            full: false,
            after: summary.high_water,
        },
        &reader,
    );
    assert_eq!(next.len(), 1);
    assert!(next[0].entry.tombstone && next[0].entry.address.mailbox == n("U9"));
}

#[test]
fn a_store_epoch_is_judged_against_the_recorded_one() {
    assert_eq!(judge_store_epoch(0, 5), StoreEpoch::First);
    assert_eq!(judge_store_epoch(5, 5), StoreEpoch::Same);
    assert_eq!(judge_store_epoch(5, 0), StoreEpoch::Same, "no epoch sent");
    assert_eq!(judge_store_epoch(0, 0), StoreEpoch::Same);
    assert_eq!(judge_store_epoch(5, 6), StoreEpoch::New { previous: 5 });
}

/// The lost store: a new one numbers its changes from 1 again. Under the
/// old store's mark they were acknowledged and dropped; under the new
/// epoch they are applied.
#[test]
fn a_new_requestor_store_is_not_taken_for_a_replay_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = ServerStore::open(dir.path()).unwrap();
    let poa = n("POA");
    assert_eq!(
        store.note_store_epoch(&poa, 100).unwrap(),
        StoreEpoch::First
    );
    let old: Vec<_> = (1..=5)
        .map(|i| entry("POA", &format!("OLD{i}"), i, false))
        .collect();
    assert_eq!(store.apply_upload(&poa, &old, 1).unwrap().applied, 5);

    // The same store replaying: skipped, as before.
    assert_eq!(store.note_store_epoch(&poa, 100).unwrap(), StoreEpoch::Same);
    let replay = store
        .apply_upload(&poa, &[entry("POA", "OLD1", 1, false)], 1)
        .unwrap();
    assert_eq!((replay.applied, replay.applied_through), (0, 5));

    // A new store: its first change, number 1, is applied and acknowledged.
    assert_eq!(
        store.note_store_epoch(&poa, 200).unwrap(),
        StoreEpoch::New { previous: 100 }
    );
    assert_eq!(store.upload_mark(&poa).unwrap(), 0);
    let fresh = store
        .apply_upload(&poa, &[entry("POA", "NEW", 1, false)], 1)
        .unwrap();
    assert_eq!((fresh.applied, fresh.applied_through), (1, 1));
    let (listed, _) = store.page(None, 100, Some(&poa)).unwrap();
    assert_eq!(listed.len(), 6, "the old users stay, the new one is added");
    let record = store.store_epoch(&poa).unwrap();
    assert_eq!((record.epoch, record.changes), (200, 1));

    // Durable: a restart of the server still knows the new epoch and count.
    drop(store);
    let store = ServerStore::open(dir.path()).unwrap();
    assert_eq!(store.note_store_epoch(&poa, 200).unwrap(), StoreEpoch::Same);
    assert_eq!(store.store_epoch(&poa).unwrap().changes, 1);
    assert_eq!(store.upload_mark(&poa).unwrap(), 1);

    // Removed (step B) and restored: it starts clean, epoch included.
    store.remove_requestor(&poa).unwrap();
    assert_eq!(store.store_epoch(&poa).unwrap().epoch, 0);
    store.restore_requestor(&poa).unwrap();
    assert_eq!(
        store.note_store_epoch(&poa, 200).unwrap(),
        StoreEpoch::First
    );
}

#[test]
fn a_restore_pull_is_always_answered_in_full() {
    let pull = DirPull {
        epoch: 9,
        after: 5,
        force_full: false,
        restore: true,
    };
    assert_eq!(
        plan_pull(&pull, 9, 0, 10),
        PullPlan {
            full: true,
            after: 0
        }
    );
}
