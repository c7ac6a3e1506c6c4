//! Who may write what on this server, and what each requestor receives,
//! decided per request from the configuration and the live removed set, so
//! an operator's RemoveRequestor or RestoreRequestor moves ownership at
//! once, without a restart.
//!
//! * A requestor writes the post offices it is registered for.
//! * The bridge (`bridge = true`) also writes every post office that no live
//!   requestor (registered, not removed, not a bridge) owns here: the post
//!   offices beyond it. Its changes of a post office that has since become
//!   owned again (a rollback) are skipped and counted, not refused: the
//!   bridge could not know, and refusing its whole upload would stall it.
//! * The bridge receives everything not uploaded by itself (origin), even
//!   entries of post offices it now owns: the deletes of step C must reach
//!   it so they leave F1.
//! * In site mode, requestors receive by folder: the folders their export
//!   names, never their own post offices' folders.
//! * A restore (a new requestor store taking its users back) also carries
//!   the live entries of the post offices the requestor writes (in site
//!   mode: in their own folders), which no other pull sends it.

use std::sync::Arc;

use dir_core::server::{RequestorPolicy, UploadOutcome};
use dir_core::{DirError, patterns};
use wire_format::{Entry, Name};

use super::{Shared, now_ms};
use crate::config::Registered;

/// What a requestor's pull carries.
pub struct PullFilter {
    policy: RequestorPolicy,
    /// Site mode: its own folders, never sent back to it (but in a restore).
    own_folders: Option<Vec<Name>>,
    /// A restore: its own post offices' users are sent too.
    restore: bool,
}

impl PullFilter {
    pub fn receives(&self, entry: &Entry) -> bool {
        if self.restore && self.is_own(entry) {
            return true;
        }
        match &self.own_folders {
            None => self.policy.receives(entry),
            Some(own) => entry.folder.is_some_and(|f| {
                !own.contains(&f)
                    && !self.policy.may_write(entry)
                    && patterns::matches(&self.policy.export, &f)
            }),
        }
    }

    /// One of the requestor's own users, as this server holds it: of a post
    /// office it writes (in site mode, in that post office's own folder).
    fn is_own(&self, entry: &Entry) -> bool {
        self.policy.may_write(entry)
            && match &self.own_folders {
                None => true,
                Some(own) => entry.folder.is_some_and(|f| own.contains(&f)),
            }
    }
}

/// An upload after the ownership check: what to store, and the highest
/// sequence number of what was skipped.
pub struct Admitted {
    pub changes: Vec<Entry>,
    pub skipped: u64,
    pub skipped_through: u64,
}

impl Shared {
    /// Does a live requestor other than a bridge own `post_office` here?
    fn owned_by_live_requestor(&self, post_office: &Name) -> bool {
        self.settings.requestors.iter().any(|r| {
            !r.bridge
                && r.policy.post_offices.contains(post_office)
                && !self.is_removed(&r.policy.name)
        })
    }

    pub fn may_write(&self, registered: &Registered, entry: &Entry) -> bool {
        registered.policy.may_write(entry)
            || (registered.bridge && !self.owned_by_live_requestor(&entry.address.post_office))
    }

    /// Checks an upload: refused whole (Err) if a requestor names another's
    /// post office; for the bridge, entries it may not write are set aside.
    pub fn admit_upload(
        &self,
        registered: &Registered,
        changes: Vec<Entry>,
    ) -> Result<Admitted, DirError> {
        if !registered.bridge {
            registered.policy.check_upload(&changes)?;
            return Ok(Admitted {
                changes,
                skipped: 0,
                skipped_through: 0,
            });
        }
        let mut admitted = Admitted {
            changes: Vec::with_capacity(changes.len()),
            skipped: 0,
            skipped_through: 0,
        };
        for entry in changes {
            if self.may_write(registered, &entry) {
                admitted.changes.push(entry);
            } else {
                admitted.skipped += 1;
                admitted.skipped_through = admitted.skipped_through.max(entry.version.origin_seq);
            }
        }
        Ok(admitted)
    }

    /// What `registered` receives; with `restore`, its own users too.
    pub fn pull_filter(&self, registered: &Registered, restore: bool) -> PullFilter {
        let mut policy = registered.policy.clone();
        if registered.bridge {
            // Only origin keeps the bridge's own changes from coming back.
            policy.post_offices.clear();
        }
        let own_folders = self.settings.site.as_ref().map(|site| {
            registered
                .policy
                .post_offices
                .iter()
                .filter_map(|po| site.folder_of(po).ok())
                .collect()
        });
        PullFilter {
            policy,
            own_folders,
            restore: restore && !registered.bridge,
        }
    }
}

/// Stores an admitted upload and moves the requestor's mark past what was
/// skipped, so the acknowledgement covers the whole upload.
pub async fn apply_admitted(
    shared: &Arc<Shared>,
    peer: Name,
    admitted: Admitted,
) -> Result<UploadOutcome, DirError> {
    let Admitted {
        changes,
        skipped,
        skipped_through,
    } = admitted;
    let store = &shared.store;
    let mut outcome = store.apply_upload(peer, changes, now_ms()).await?;
    if skipped_through > outcome.applied_through {
        outcome.applied_through = store.raise_upload_mark(peer, skipped_through).await?;
    }
    outcome.skipped += skipped;
    Ok(outcome)
}
