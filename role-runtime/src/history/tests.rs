use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use wire_format::{HistoryKind, Name};

use super::log_file::{KEEP, TRIM_AT};
use super::{FILE_NAME, History, Run};

/// A fresh directory under the system's temporary one, removed on drop.
pub(super) struct Dir(pub(super) PathBuf);

impl Dir {
    pub(super) fn new() -> Dir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mhub-history-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn peer(name: &str) -> Option<Name> {
    Some(Name::new(name).unwrap())
}

/// A run that moved one change, ended at `ended_ms`.
fn moved(ended_ms: u64) -> Run {
    Run {
        peer: peer("H"),
        started_ms: ended_ms.saturating_sub(5),
        ended_ms,
        received: 1,
        applied: 1,
        added: 1,
        ..Run::default()
    }
}

fn idle() -> Run {
    Run {
        peer: peer("H"),
        ..Run::default()
    }
}

fn failed(why: &str) -> Run {
    Run {
        peer: peer("H"),
        error: Some(why.into()),
        ..Run::default()
    }
}

fn seqs(history: &History) -> Vec<u64> {
    history
        .page(0, u32::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

#[tokio::test]
async fn events_come_newest_first_and_since_filters_by_their_end() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    for t in [100, 200, 300] {
        history.record(HistoryKind::DirsyncCycle, moved(t)).await;
    }
    assert_eq!(seqs(&history), [3, 2, 1]);
    let since: Vec<u64> = history
        .page(200, 10)
        .unwrap()
        .iter()
        .map(|e| e.ended_ms)
        .collect();
    assert_eq!(since, [300, 200]);
    assert_eq!(history.page(0, 1).unwrap()[0].seq, 3);
}

#[tokio::test]
async fn the_log_keeps_the_newest_thousand_in_memory_and_on_disk() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    let total = (TRIM_AT + KEEP / 2) as u64;
    for t in 1..=total {
        history.record(HistoryKind::Replication, moved(t)).await;
    }
    let expected: Vec<u64> = (total - KEEP as u64 + 1..=total).rev().collect();
    assert_eq!(seqs(&history), expected);
    drop(history);
    let reopened = History::open(&dir.0);
    assert_eq!(seqs(&reopened), expected);
    // The file was rewritten once it reached its bound: it holds fewer
    // records than were ever written.
    let size = std::fs::metadata(dir.0.join(FILE_NAME)).unwrap().len();
    let record = 8 + reopened.page(0, 1).unwrap()[0].to_bytes().unwrap().len() as u64;
    assert!(size < 8 + TRIM_AT as u64 * record, "{size} bytes");
    assert!(size >= 8 + KEEP as u64 * record, "{size} bytes");
}

#[tokio::test]
async fn a_reopened_history_has_every_event_and_numbers_on() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    history.record(HistoryKind::DirsyncCycle, moved(10)).await;
    history
        .record(HistoryKind::DirsyncCycle, failed("refused"))
        .await;
    let before = history.page(0, 10).unwrap();
    drop(history);
    let reopened = History::open(&dir.0);
    assert_eq!(reopened.page(0, 10).unwrap(), before);
    reopened.record(HistoryKind::DirsyncCycle, moved(30)).await;
    assert_eq!(seqs(&reopened), [3, 2, 1]);
}

#[tokio::test]
async fn a_record_cut_short_by_a_crash_is_dropped_and_the_log_goes_on() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    history.record(HistoryKind::DirsyncCycle, moved(10)).await;
    history.record(HistoryKind::DirsyncCycle, moved(20)).await;
    drop(history);
    // Half a record, as a crash in the middle of a write leaves it.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.0.join(FILE_NAME))
        .unwrap();
    file.write_all(&[0, 0, 0, 90, 1, 2, 3, 4, 5]).unwrap();
    drop(file);
    let reopened = History::open(&dir.0);
    assert_eq!(seqs(&reopened), [2, 1]);
    reopened.record(HistoryKind::DirsyncCycle, moved(30)).await;
    drop(reopened);
    assert_eq!(seqs(&History::open(&dir.0)), [3, 2, 1]);
}

#[tokio::test]
async fn idle_runs_and_repeated_failures_are_only_counted() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    let kind = HistoryKind::DirsyncCycle;
    for _ in 0..5 {
        history.record(kind, idle()).await;
    }
    assert!(seqs(&history).is_empty(), "idle runs are not recorded");
    history.record(kind, moved(1)).await;
    for _ in 0..3 {
        history.record(kind, failed("connection refused")).await;
    }
    history.record(kind, failed("timed out")).await;
    history.record(kind, idle()).await; // the recovery
    history.record(kind, idle()).await;
    // Another peer's runs are counted apart.
    history
        .record(
            kind,
            Run {
                peer: peer("H2"),
                ..failed("timed out")
            },
        )
        .await;
    let page = history.page(0, 10).unwrap();
    let got: Vec<(Option<String>, u64)> = page
        .iter()
        .rev()
        .map(|e| (e.error.clone(), e.quiet_before))
        .collect();
    assert_eq!(
        got,
        [
            (None, 5),
            (Some("connection refused".into()), 0),
            (Some("timed out".into()), 2),
            (None, 0),
            (Some("timed out".into()), 0),
        ]
    );
    assert_eq!(page[0].peer, peer("H2"));
}

#[tokio::test]
async fn a_history_that_cannot_be_opened_says_why_and_records_nothing() {
    let dir = Dir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    // A directory where the file should be: it cannot be opened as one.
    std::fs::create_dir(dir.0.join(FILE_NAME)).unwrap();
    let history = History::open(&dir.0);
    history.record(HistoryKind::Upload, moved(1)).await;
    let why = history.page(0, 10).unwrap_err();
    assert!(why.contains(FILE_NAME), "{why}");
}

#[test]
fn crc32_is_the_ieee_one() {
    // The check value of CRC-32/ISO-HDLC.
    assert_eq!(super::log_file::crc32(b"123456789"), 0xCBF4_3926);
}
