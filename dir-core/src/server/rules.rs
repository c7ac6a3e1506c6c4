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
/// and not beyond its end; anything else gets the complete present set.
pub fn plan_pull(pull: &DirPull, epoch: u64, floor: u64, high_water: u64) -> PullPlan {
    let incremental =
        !pull.force_full && pull.epoch == epoch && pull.after >= floor && pull.after <= high_water;
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
