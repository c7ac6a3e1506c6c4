//! The sync cycle driven without sockets: a scripted server answers each
//! request, the stores are real (on a temporary directory).

use std::collections::VecDeque;

use wire_format::{
    DirPullEnd, DirPullStart, DirUpdate, DirUpdates, DirUploadAck, Entry, Message, Name,
};

use super::tests::{entry, n, update};
use super::*;
use crate::DirError;

fn live(no: u64, po: &str, mailbox: &str) -> DirUpdate {
    update(no, po, mailbox, false)
}

/// What the server streams for a pull: start, one update per chunk, end.
pub(super) fn stream(
    epoch: u64,
    full: bool,
    high_water: u64,
    updates: Vec<DirUpdate>,
) -> Vec<Message> {
    let mut out = vec![
        DirPullStart {
            epoch,
            full,
            high_water,
        }
        .into(),
    ];
    let sent = updates.len() as u64;
    out.extend(
        updates
            .into_iter()
            .map(|u| DirUpdates { updates: vec![u] }.into()),
    );
    out.push(
        DirPullEnd {
            epoch,
            high_water,
            sent,
        }
        .into(),
    );
    out
}

/// A server that acknowledges every upload and answers a pull with `pull`.
fn server(pull: Vec<Message>) -> impl FnMut(Message) -> Vec<Message> {
    let mut acked = 0;
    let mut pull = Some(pull);
    move |request| match request {
        Message::DirUpload(up) => {
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
        Message::DirPull(_) => pull.take().unwrap_or_default(),
        other => panic!("unexpected request {other:?}"),
    }
}

/// The shell, in miniature. Stops (as a crash would) after `commits`
/// commits when given; returns the report, the requests and the ops.
pub(super) struct Run {
    pub(super) report: Option<CycleReport>,
    pub(super) requests: Vec<Message>,
    ops: Vec<Op>,
    site: Vec<Entry>,
    /// Store steps run while the pull was still streaming.
    streamed_stores: usize,
}

pub(super) fn drive<S: CycleStore>(
    store: &S,
    mut server: impl FnMut(Message) -> Vec<Message>,
    (chunk, batch): (usize, usize),
    commits: Option<usize>,
) -> Result<Run, DirError> {
    let (mut cycle, mut step) = Cycle::new(chunk, batch, S::STAGES);
    let mut replies = VecDeque::new();
    let mut run = Run {
        report: None,
        requests: Vec::new(),
        ops: Vec::new(),
        site: Vec::new(),
        streamed_stores: 0,
    };
    // A shell may read ahead while a store step runs when the cycle says
    // the pull is streaming: that frame must then be the next thing asked.
    let mut read_ahead = false;
    loop {
        if read_ahead && matches!(step, Step::Request(_) | Step::Done(_)) {
            panic!("pull_streaming promised a Receive, got {step:?}");
        }
        step = match step {
            Step::Store(op) => {
                read_ahead |= cycle.pull_streaming();
                run.streamed_stores += usize::from(cycle.pull_streaming());
                if matches!(op, Op::Commit(_))
                    && commits
                        == Some(
                            run.ops
                                .iter()
                                .filter(|o| matches!(o, Op::Commit(_)))
                                .count(),
                        )
                {
                    return Ok(run);
                }
                run.ops.push(op.clone());
                cycle.stored(perform(store, op)?)?
            }
            Step::Request(message) => {
                run.requests.push(message.clone());
                replies = server(message).into();
                cycle.reply(replies.pop_front().expect("a reply"))?
            }
            Step::Receive => {
                read_ahead = false;
                cycle.reply(replies.pop_front().expect("another reply"))?
            }
            Step::Write(entries) => {
                run.site.extend(entries);
                cycle.written()?
            }
            Step::Done(report) => {
                run.report = Some(report);
                return Ok(run);
            }
        };
    }
}

/// A post office's store that has pulled up to `mark` of epoch 7 (none:
/// never pulled). Its restore (a new store's first pull) is behind it, so
/// its cycles upload before they pull.
fn store_at(dir: &tempfile::TempDir, mark: Option<u64>) -> RequestorStore {
    let store = RequestorStore::open(dir.path()).unwrap();
    let generation = store.ledger().begin_full().unwrap();
    store.finish_pull(0, 0, Some(generation)).unwrap();
    if let Some(mark) = mark {
        store.finish_pull(7, mark, None).unwrap();
    }
    store
}

/// The store as a directory that owns no post office.
fn directory(store: &RequestorStore) -> PostOffice<'_> {
    PostOffice { store, own: OWN }
}

const OWN: &[Name] = &[];

#[test]
fn a_cycle_uploads_until_acknowledged_then_pulls_and_records_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, None);
    for m in ["A", "B", "C"] {
        store.upsert_local(entry("POA", m)).unwrap();
    }
    let po = PostOffice {
        store: &store,
        own: &[n("POA")],
    };
    let pull = stream(7, true, 9, vec![live(4, "POB", "X"), live(9, "POB", "Y")]);
    let run = drive(&po, server(pull), (2, 100), None).unwrap();
    let uploads: Vec<usize> = run
        .requests
        .iter()
        .filter_map(|m| match m {
            Message::DirUpload(u) => Some(u.changes.len()),
            _ => None,
        })
        .collect();
    // Two chunks, then an empty upload that learns nothing more is pending.
    assert_eq!(uploads, [2, 1, 0]);
    assert_eq!(
        run.report,
        Some(CycleReport {
            uploaded: 3,
            applied: 2,
            full: true,
            restored: false,
            renewed: false,
        })
    );
    let state = store.state().unwrap();
    assert_eq!(
        (state.epoch, state.mark, state.acked, state.resync_active),
        (7, 9, 3, false)
    );
    assert!(store.ledger().pending(10).unwrap().is_empty());
    assert_eq!(store.counts().unwrap().imported, 2);
}

#[test]
fn a_server_that_lost_our_changes_gets_them_again_in_the_same_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, None);
    store.upsert_local(entry("POA", "A")).unwrap();
    store.ledger().record_ack(1).unwrap();
    store.finish_pull(7, 5, None).unwrap();
    let po = directory(&store);
    // A rebuilt server: it acknowledges nothing until it gets the change again.
    let rebuilt = server(stream(7, false, 5, vec![]));
    let run = drive(&po, rebuilt, (10, 10), None).unwrap();
    assert_eq!(run.report.unwrap().uploaded, 1);
    assert!(store.ledger().pending(10).unwrap().is_empty());
    assert!(store.state().unwrap().acked > 1, "a fresh number");
}

#[test]
fn a_pull_in_batches_lets_the_shell_read_ahead_only_while_frames_will_come() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, None);
    let po = directory(&store);
    let updates = (1..=6).map(|i| live(i, "POB", &format!("U{i}"))).collect();
    // A full pull in batches of two: its BeginFull and the first two
    // commits run while the stream goes on; the last commit does not, and
    // `drive` checks each promised Receive came.
    let run = drive(&po, server(stream(7, true, 6, updates)), (10, 2), None).unwrap();
    assert_eq!(run.report.map(|r| r.applied), Some(6));
    let commits = run
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Commit(_)))
        .count();
    assert_eq!(commits, 4, "three full batches and the end's");
    // A post office's store is the directory: no batch is staged.
    assert!(!run.ops.iter().any(|o| matches!(o, Op::Stage(_))));
    // BeginFull, then the commit of each of the three full batches.
    assert_eq!(run.streamed_stores, 4);
}

#[test]
fn a_quiet_pull_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, Some(10));
    let po = directory(&store);
    let run = drive(&po, server(stream(7, false, 10, vec![])), (10, 10), None).unwrap();
    assert_eq!(run.report, Some(CycleReport::default()));
    assert!(
        !run.ops
            .iter()
            .any(|o| matches!(o, Op::Stage(_) | Op::Commit(_) | Op::BeginFull))
    );
}

#[test]
fn a_full_resync_cut_short_keeps_the_old_mark_and_is_asked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, None);
    store
        .apply_chunk(OWN, None, &[live(3, "POB", "OLD")])
        .unwrap();
    store.finish_pull(7, 3, None).unwrap();
    let po = directory(&store);
    let updates = (1..=5).map(|i| live(i, "POB", &format!("U{i}"))).collect();
    // Batches of two; the crash comes before the second commit.
    let run = drive(&po, server(stream(8, true, 5, updates)), (10, 2), Some(1)).unwrap();
    assert_eq!(run.report, None);
    let state = store.state().unwrap();
    assert_eq!((state.epoch, state.mark, state.resync_active), (7, 3, true));
    let updates = (1..=5).map(|i| live(i, "POB", &format!("U{i}"))).collect();
    let run = drive(&po, server(stream(8, true, 5, updates)), (10, 2), None).unwrap();
    let pull = run.requests.iter().find_map(|m| match m {
        Message::DirPull(p) => Some(p.clone()),
        _ => None,
    });
    assert!(
        pull.unwrap().force_full,
        "an unfinished resync starts again"
    );
    let commits = run
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Commit(_)))
        .count();
    assert_eq!(commits, 3, "2 + 2 + the last with the end");
    let state = store.state().unwrap();
    assert_eq!(
        (state.epoch, state.mark, state.resync_active),
        (8, 5, false)
    );
    // OLD is gone: the GAL is exactly the server's set.
    assert_eq!(store.counts().unwrap().imported, 5);
}

#[test]
fn an_incremental_pull_cut_short_keeps_the_mark_of_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, Some(10));
    let po = directory(&store);
    let updates = (11..=15)
        .map(|i| live(i, "POB", &format!("U{i}")))
        .collect();
    drive(&po, server(stream(7, false, 15, updates)), (10, 2), Some(1)).unwrap();
    assert_eq!(store.state().unwrap().mark, 12);
}

#[test]
fn a_server_that_breaks_the_exchange_fails_the_cycle_before_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir, Some(10));
    let po = directory(&store);
    let wrong_ack = |_| stream(7, false, 10, vec![]);
    assert!(matches!(
        drive(&po, wrong_ack, (10, 10), None),
        Err(DirError::Protocol(_))
    ));
    // An update beyond the announced high water.
    let mut pull = stream(7, false, 11, vec![live(11, "POB", "A")]);
    pull[1] = DirUpdates {
        updates: vec![live(12, "POB", "A")],
    }
    .into();
    assert!(matches!(
        drive(&po, server(pull), (10, 1), None),
        Err(DirError::Protocol(_))
    ));
    assert_eq!(store.state().unwrap().mark, 10);
    assert_eq!(store.counts().unwrap().imported, 0);
}

#[test]
fn a_shell_that_feeds_what_was_not_asked_for_is_refused() {
    let (mut cycle, _) = Cycle::new(10, 10, true);
    assert!(matches!(cycle.written(), Err(DirError::Cycle(_))));
    let (mut cycle, _) = Cycle::new(10, 10, true);
    assert!(matches!(
        cycle.reply(DirUploadAck { applied_through: 1 }.into()),
        Err(DirError::Cycle(_))
    ));
    let (mut cycle, _) = Cycle::new(10, 10, true);
    assert!(matches!(
        cycle.stored(Stored::Acked { renewed: false }),
        Err(DirError::Cycle(_))
    ));
}

#[test]
fn the_bridge_writes_the_import_folder_before_it_records_and_deletes_what_the_server_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = BridgeStore::open(dir.path()).unwrap();
    let bridge = Bridge {
        store: &store,
        import_folder: n("F1"),
    };
    let first = stream(7, true, 2, vec![live(1, "POB", "A"), live(2, "POB", "B")]);
    let run = drive(&bridge, server(first), (10, 10), None).unwrap();
    assert_eq!(run.site.len(), 2);
    assert!(run.site.iter().all(|e| e.folder == Some(n("F1"))));
    assert_eq!(run.report.unwrap().applied, 2);
    // Stage, then (the write), then commit: never recorded before written.
    let kinds: Vec<_> = run
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Stage(_) | Op::Commit(_)))
        .collect();
    assert!(matches!(kinds[..], [Op::Stage(_), Op::Commit(_)]));
    // The server rebuilt with B changed and without A: B is rewritten and A
    // deleted from the folder; a second identical resync writes nothing.
    let mut b = live(1, "POB", "B");
    b.entry.display_name = "Bea".into();
    let run = drive(
        &bridge,
        server(stream(9, true, 1, vec![b.clone()])),
        (10, 10),
        None,
    )
    .unwrap();
    let written: Vec<_> = run
        .site
        .iter()
        .map(|e| (e.address.mailbox.to_string(), e.tombstone))
        .collect();
    assert_eq!(written, [("B".to_string(), false), ("A".to_string(), true)]);
    let run = drive(
        &bridge,
        server(stream(10, true, 1, vec![b])),
        (10, 10),
        None,
    )
    .unwrap();
    assert!(run.site.is_empty());
    let state = store.state().unwrap();
    assert_eq!((state.sync.epoch, state.sync.mark), (10, 1));
    assert_eq!(store.counts().unwrap().imported, 1);
}

#[test]
fn a_bridge_resync_in_batches_deletes_only_what_no_batch_brought_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = BridgeStore::open(dir.path()).unwrap();
    let bridge = Bridge {
        store: &store,
        import_folder: n("F1"),
    };
    let all = |hw| (1..=hw).map(|i| live(i, "POB", &format!("U{i}"))).collect();
    drive(&bridge, server(stream(7, true, 4, all(4))), (10, 2), None).unwrap();
    // U1..U3 come again (U1 and U2 in a batch of their own, U3 with the
    // end); U4 is gone. Unchanged entries are not written again.
    let run = drive(&bridge, server(stream(8, true, 3, all(3))), (10, 2), None).unwrap();
    let written: Vec<_> = run
        .site
        .iter()
        .map(|e| (e.address.mailbox.to_string(), e.tombstone))
        .collect();
    assert_eq!(written, [("U4".to_string(), true)]);
    assert_eq!(store.counts().unwrap().imported, 3);
    assert!(!store.state().unwrap().sync.resync_active);
}
