//! Plays an arbitrary server answer (frames in any order, any values) against
//! a pull session. Besides never panicking: whenever the session accepts an
//! end frame, the exchange it accepted must be consistent, checked here
//! independently of the session's own code: one start, matching epoch and
//! high water, the announced count, and for an incremental answer the
//! pull's epoch and strictly increasing update numbers after the mark and
//! within the high water. Some frames are built from the pull and from the
//! frames before them, so that consistent exchanges (and near misses) are
//! common rather than one in 2^64.
#![no_main]

use dir_core::requestor::{PullSession, SyncState};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use wire_format::{DirPull, DirPullEnd, DirPullStart, DirUpdate, DirUpdates, Entry};

#[derive(Debug, Arbitrary)]
enum Frame {
    Start(DirPullStart),
    Updates(DirUpdates),
    End(DirPullEnd),
    /// A start for the pull's epoch, `extra` above what was asked after.
    StartAsAsked {
        full: bool,
        extra: u16,
    },
    /// Updates numbered from the last one sent, each `step` further (0 repeats).
    UpdatesFrom {
        entry: Entry,
        steps: Vec<u8>,
    },
    /// An end repeating the last start sent, its count off by `skew`.
    EndAsStarted {
        skew: i8,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    epoch: u64,
    mark: u64,
    resync_active: bool,
    force_full: bool,
    frames: Vec<Frame>,
}

/// A frame as the session sees it.
enum Wire {
    Start(DirPullStart),
    Updates(DirUpdates),
    End(DirPullEnd),
}

/// What the fuzzer sent, to build the derived frames from.
struct Sent {
    start: Option<DirPullStart>,
    updates: u64,
    last_update_no: u64,
}

impl Sent {
    fn frame(&mut self, frame: &Frame, pull: &DirPull) -> Wire {
        match frame {
            Frame::StartAsAsked { full, extra } => Wire::Start(DirPullStart {
                epoch: pull.epoch,
                full: *full,
                high_water: pull.after.saturating_add(u64::from(*extra)),
            }),
            Frame::UpdatesFrom { entry, steps } => Wire::Updates(DirUpdates {
                updates: steps
                    .iter()
                    .map(|step| {
                        self.last_update_no = self.last_update_no.saturating_add(u64::from(*step));
                        DirUpdate {
                            update_no: self.last_update_no,
                            entry: entry.clone(),
                        }
                    })
                    .collect(),
            }),
            Frame::EndAsStarted { skew } => {
                let start = self.start.clone().unwrap_or(DirPullStart {
                    epoch: pull.epoch,
                    full: false,
                    high_water: pull.after,
                });
                Wire::End(DirPullEnd {
                    epoch: start.epoch,
                    high_water: start.high_water,
                    sent: self.updates.saturating_add_signed(i64::from(*skew)),
                })
            }
            Frame::Start(s) => Wire::Start(s.clone()),
            Frame::Updates(u) => Wire::Updates(u.clone()),
            Frame::End(e) => Wire::End(e.clone()),
        }
    }
}

fuzz_target!(|input: Input| {
    let state = SyncState {
        epoch: input.epoch,
        mark: input.mark,
        resync_active: input.resync_active,
        ..SyncState::default()
    };
    let (mut session, pull) = PullSession::begin(&state, input.force_full);
    assert_eq!(pull.epoch, state.epoch);
    let mut sent = Sent {
        start: None,
        updates: 0,
        last_update_no: pull.after,
    };
    // The start the session accepted and the update numbers it took since.
    let mut start: Option<DirPullStart> = None;
    let mut taken: Vec<u64> = Vec::new();
    for frame in &input.frames {
        match sent.frame(frame, &pull) {
            Wire::Start(s) => {
                sent.start = Some(s.clone());
                if session.start(&s).is_ok() {
                    assert!(start.is_none(), "a second start accepted");
                    start = Some(s);
                }
            }
            Wire::Updates(chunk) => {
                sent.updates += chunk.updates.len() as u64;
                if session.updates(&chunk).is_ok() {
                    taken.extend(chunk.updates.iter().map(|u| u.update_no));
                }
            }
            Wire::End(end) => {
                let Ok(accepted) = session.end(&end) else {
                    continue;
                };
                let s = start.take().expect("an end accepted without a start");
                assert_eq!(accepted, s);
                assert_eq!((end.epoch, end.high_water), (s.epoch, s.high_water));
                assert_eq!(end.sent, taken.len() as u64);
                assert!(taken.iter().all(|n| *n <= s.high_water));
                if !s.full {
                    assert_eq!(s.epoch, pull.epoch);
                    assert!(s.high_water >= pull.after);
                    let mut last = pull.after;
                    for n in &taken {
                        assert!(*n > last, "update {n} after {last}");
                        last = *n;
                    }
                }
                // One session is one pull: the shells stop at its end.
                return;
            }
        }
    }
});
