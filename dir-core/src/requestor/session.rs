//! One pull, as a state machine with no I/O: the shell feeds it each frame of
//! the server's answer and it says whether the frame fits. A server that
//! breaks the exchange (wrong epoch, update numbers going backwards or past
//! its high water, a wrong count) is caught before its data is committed.

use wire_format::{DirPull, DirPullEnd, DirPullStart, DirUpdates};

use super::outbox::SyncState;
use crate::DirError;

#[derive(Debug, Clone)]
pub struct PullSession {
    asked_after: u64,
    asked_epoch: u64,
    started: Option<DirPullStart>,
    last_update_no: u64,
    received: u64,
}

fn broken(what: String) -> DirError {
    DirError::Protocol(what)
}

impl PullSession {
    /// The request for this requestor's state. A resync left unfinished by a
    /// crash is asked for again in full, and so is a new store's restore.
    pub fn begin(state: &SyncState, force_full: bool) -> (PullSession, DirPull) {
        let force_full =
            force_full || state.resync_active || state.epoch == 0 || state.restore_pending;
        let pull = DirPull {
            epoch: state.epoch,
            after: if force_full { 0 } else { state.mark },
            force_full,
            restore: state.restore_pending,
        };
        let session = PullSession {
            asked_after: pull.after,
            asked_epoch: state.epoch,
            started: None,
            last_update_no: pull.after,
            received: 0,
        };
        (session, pull)
    }

    /// Checks the start frame; returns whether this is a full resync.
    pub fn start(&mut self, start: &DirPullStart) -> Result<bool, DirError> {
        if self.started.is_some() {
            return Err(broken("a second DirPullStart".into()));
        }
        if !start.full && (start.epoch != self.asked_epoch || start.high_water < self.asked_after) {
            return Err(broken(format!(
                "an incremental answer for epoch {} up to {} to a pull of epoch {} after {}",
                start.epoch, start.high_water, self.asked_epoch, self.asked_after
            )));
        }
        self.started = Some(start.clone());
        Ok(start.full)
    }

    /// Checks one chunk. Incremental updates come in log order, strictly
    /// increasing; every update number is within the announced high water.
    pub fn updates(&mut self, chunk: &DirUpdates) -> Result<(), DirError> {
        let Some(start) = &self.started else {
            return Err(broken("DirUpdates before DirPullStart".into()));
        };
        // Kept aside until the whole chunk passed: a refused frame leaves
        // the session as it was.
        let mut last_update_no = self.last_update_no;
        for u in &chunk.updates {
            if u.update_no > start.high_water {
                return Err(broken(format!(
                    "update {} beyond the announced high water {}",
                    u.update_no, start.high_water
                )));
            }
            if !start.full {
                if u.update_no <= last_update_no {
                    return Err(broken(format!(
                        "update {} after {}: not increasing",
                        u.update_no, last_update_no
                    )));
                }
                last_update_no = u.update_no;
            }
        }
        self.last_update_no = last_update_no;
        self.received += chunk.updates.len() as u64;
        Ok(())
    }

    /// Checks the end frame against the start and the count received.
    pub fn end(&mut self, end: &DirPullEnd) -> Result<DirPullStart, DirError> {
        let Some(start) = &self.started else {
            return Err(broken("DirPullEnd before DirPullStart".into()));
        };
        if end.epoch != start.epoch || end.high_water != start.high_water {
            return Err(broken("DirPullEnd does not match DirPullStart".into()));
        }
        if end.sent != self.received {
            return Err(broken(format!(
                "the server says it sent {} updates, {} arrived",
                end.sent, self.received
            )));
        }
        let start = start.clone();
        self.started = None;
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use wire_format::{Address, DirUpdate, Entry, EntryVersion, Name};

    use super::*;

    fn update(update_no: u64) -> DirUpdate {
        let name = |s| Name::new(s).unwrap();
        DirUpdate {
            update_no,
            entry: Entry {
                address: Address::new(name("ACME"), name("POB"), name("A")),
                display_name: String::new(),
                attributes: Vec::new(),
                owner: name("POB"),
                folder: None,
                origin: name("POB"),
                version: EntryVersion::default(),
                tombstone: false,
            },
        }
    }

    /// Found by the `pull_session` fuzz target: a refused DirPullEnd used
    /// to drop the start, after which a second DirPullStart was taken.
    #[test]
    fn a_refused_frame_leaves_the_session_as_it_was() {
        let state = SyncState {
            epoch: 5,
            mark: 10,
            ..SyncState::default()
        };
        let (mut s, _) = PullSession::begin(&state, false);
        let start = DirPullStart {
            epoch: 5,
            full: false,
            high_water: 20,
        };
        s.start(&start).unwrap();
        let wrong_end = DirPullEnd {
            epoch: 5,
            high_water: 19,
            sent: 0,
        };
        assert!(s.end(&wrong_end).is_err());
        assert!(
            s.start(&start).is_err(),
            "a second start after a refused end"
        );

        // A chunk refused half-way does not move the last update number.
        let bad_chunk = DirUpdates {
            updates: vec![update(15), update(14)],
        };
        assert!(s.updates(&bad_chunk).is_err());
        s.updates(&DirUpdates {
            updates: vec![update(12)],
        })
        .unwrap();
        let end = DirPullEnd {
            epoch: 5,
            high_water: 20,
            sent: 1,
        };
        assert_eq!(s.end(&end).unwrap(), start);
    }
}
