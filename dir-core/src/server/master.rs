//! The seam between the DS server's shell and where its directory lives.
//! [`ServerStore`](super::ServerStore) keeps it in a private redb file; the
//! DS server of H2 keeps it in the site directory (folders F1, FS-<PO>)
//! through the local site replicator (`ds_server::site`), behind this same
//! trait, so the wire handling and the rules stay as they are.

use wire_format::{Address, Entry, Name};

use super::rules::PullPlan;
use super::store::{PullEvent, PullSummary, UploadOutcome};
use crate::DirError;

/// A DS server's master list. Every method that changes something commits
/// before it returns; the shell acknowledges only after that.
pub trait MasterList: Send + Sync {
    /// Changes when the list is rebuilt from scratch (requestors then resync).
    fn epoch(&self) -> u64;
    fn high_water(&self) -> Result<u64, DirError>;
    /// The highest update number whose delete is no longer kept.
    fn floor(&self) -> Result<u64, DirError>;
    fn live_entries(&self) -> Result<u64, DirError>;
    fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError>;
    fn is_removed(&self, requestor: &Name) -> Result<bool, DirError>;
    fn apply_upload(
        &self,
        requestor: &Name,
        changes: &[Entry],
        now_ms: u64,
    ) -> Result<UploadOutcome, DirError>;
    fn remove_requestor(&self, requestor: &Name) -> Result<(), DirError>;
    /// Undoes [`MasterList::remove_requestor`] (a rolled-back migration).
    fn restore_requestor(&self, requestor: &Name) -> Result<(), DirError>;
    /// Records changes through `seq` as dealt with although none was stored
    /// (a bridge's changes of post offices it no longer owns). Returns the mark.
    fn raise_upload_mark(&self, requestor: &Name, seq: u64) -> Result<u64, DirError>;
    fn purge_post_office(
        &self,
        post_office: &Name,
        by: &Name,
        now_ms: u64,
    ) -> Result<(u64, u64), DirError>;
    fn collect_tombstones(&self, before_ms: u64) -> Result<u64, DirError>;
    /// One pull from one consistent snapshot, streamed into `sink`.
    fn pull(
        &self,
        plan: PullPlan,
        chunk: usize,
        receives: &dyn Fn(&Entry) -> bool,
        sink: &mut dyn FnMut(PullEvent) -> Result<(), DirError>,
    ) -> Result<PullSummary, DirError>;
    /// Live entries in address order after `after`, only `post_office`'s
    /// when one is named; the flag says whether more follow.
    fn page(
        &self,
        after: Option<&Address>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), DirError>;
}

impl MasterList for super::ServerStore {
    fn epoch(&self) -> u64 {
        super::ServerStore::epoch(self)
    }
    fn high_water(&self) -> Result<u64, DirError> {
        super::ServerStore::high_water(self)
    }
    fn floor(&self) -> Result<u64, DirError> {
        super::ServerStore::floor(self)
    }
    fn live_entries(&self) -> Result<u64, DirError> {
        super::ServerStore::live_entries(self)
    }
    fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError> {
        super::ServerStore::upload_mark(self, requestor)
    }
    fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        super::ServerStore::is_removed(self, requestor)
    }
    fn apply_upload(
        &self,
        requestor: &Name,
        changes: &[Entry],
        now_ms: u64,
    ) -> Result<UploadOutcome, DirError> {
        super::ServerStore::apply_upload(self, requestor, changes, now_ms)
    }
    fn remove_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        super::ServerStore::remove_requestor(self, requestor)
    }
    fn restore_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        super::ServerStore::restore_requestor(self, requestor)
    }
    fn raise_upload_mark(&self, requestor: &Name, seq: u64) -> Result<u64, DirError> {
        super::ServerStore::raise_upload_mark(self, requestor, seq)
    }
    fn purge_post_office(
        &self,
        post_office: &Name,
        by: &Name,
        now_ms: u64,
    ) -> Result<(u64, u64), DirError> {
        super::ServerStore::purge_post_office(self, post_office, by, now_ms)
    }
    fn collect_tombstones(&self, before_ms: u64) -> Result<u64, DirError> {
        super::ServerStore::collect_tombstones(self, before_ms)
    }
    fn pull(
        &self,
        plan: PullPlan,
        chunk: usize,
        receives: &dyn Fn(&Entry) -> bool,
        sink: &mut dyn FnMut(PullEvent) -> Result<(), DirError>,
    ) -> Result<PullSummary, DirError> {
        super::ServerStore::pull(self, plan, chunk, receives, sink)
    }
    fn page(
        &self,
        after: Option<&Address>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), DirError> {
        super::ServerStore::page(self, after, limit, post_office)
    }
}
