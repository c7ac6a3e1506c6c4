//! What a DS server decides, as plain functions over plain data: who may
//! write what, what each requestor receives, and whether a pull is answered
//! from the change log or with a full resync.

use wire_format::{DirPull, Entry, Name};

use crate::{DirError, patterns};

/// One registered requestor as the server sees it.
#[derive(Debug, Clone)]
pub struct RequestorPolicy {
    /// The node name it authenticates as.
    pub name: Name,
    /// Post offices whose users it owns and may write (its own; for a bridge,
    /// the post offices behind it).
    pub post_offices: Vec<Name>,
    /// Export configuration: post office patterns it receives (`*`: all).
    pub export: Vec<String>,
}

impl RequestorPolicy {
    pub fn may_write(&self, entry: &Entry) -> bool {
        self.post_offices.contains(&entry.address.post_office)
    }

    /// An upload is taken whole or refused whole: a requestor that names one
    /// entry of another post office is broken or hostile, and applying the
    /// rest would hide that.
    pub fn check_upload(&self, changes: &[Entry]) -> Result<(), DirError> {
        match changes.iter().find(|e| !self.may_write(e)) {
            Some(bad) => Err(DirError::Forbidden {
                requestor: self.name.to_string(),
                address: bad.address.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Does this requestor receive `entry`? Never its own entries (no echo),
    /// and only post offices its export configuration names.
    pub fn receives(&self, entry: &Entry) -> bool {
        entry.origin != self.name
            && !self.may_write(entry)
            && patterns::matches(&self.export, &entry.address.post_office)
    }
}

/// How a pull is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullPlan {
    pub full: bool,
    /// For an incremental pull: send updates numbered above this.
    pub after: u64,
}

/// A pull is answered from the log only when the requestor's mark belongs to
/// this store's epoch, is not older than what the log still holds (`floor`),
/// and not beyond its end; anything else gets the complete present set. A
/// restore (a new requestor store taking its own users back) is always full.
pub fn plan_pull(pull: &DirPull, epoch: u64, floor: u64, high_water: u64) -> PullPlan {
    let incremental = !pull.force_full
        && !pull.restore
        && pull.epoch == epoch
        && pull.after >= floor
        && pull.after <= high_water;
    if incremental {
        PullPlan {
            full: false,
            after: pull.after,
        }
    } else {
        PullPlan {
            full: true,
            after: 0,
        }
    }
}

/// What the epoch of a requestor's store, sent with its upload, means for
/// the upload mark the server holds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEpoch {
    /// The store the mark belongs to (or the uploader sent no epoch, 0):
    /// the mark holds.
    Same,
    /// The first epoch heard from this requestor (a new requestor, or one
    /// from before epochs were kept): recorded, the mark holds.
    First,
    /// Another store than the one the mark counts: the old one was lost,
    /// emptied or replaced, and the new one numbers its changes from 1
    /// again. The mark starts again from 0, or the new store's changes
    /// would be taken for replays and dropped.
    New { previous: u64 },
}

/// Judges the epoch `sent` with an upload against the one `recorded` for
/// the requestor (0: none yet).
pub fn judge_store_epoch(recorded: u64, sent: u64) -> StoreEpoch {
    match (recorded, sent) {
        (_, 0) => StoreEpoch::Same,
        (0, _) => StoreEpoch::First,
        (r, s) if r == s => StoreEpoch::Same,
        (previous, _) => StoreEpoch::New { previous },
    }
}
