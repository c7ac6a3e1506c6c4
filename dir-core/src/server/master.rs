//! The seam between the DS server's shell and where its directory lives:
//! a private redb file ([`ServerStore`](super::ServerStore), run on the
//! blocking pool by the shell) or, for the DS server of H2, the site
//! directory (folders F1, FS-<PO>) reached over the wire through the local
//! site replicator (`ds_server::site`). The wire handling and the rules
//! stay the same for both.
//!
//! Its calls are asynchronous because one of the two is network I/O; the
//! futures are boxed so the shell can hold either as a `dyn MasterList`,
//! and plain `std` types so this crate stays free of a runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wire_format::{Address, Entry, Name};

use super::requestor_marks::StoreEpochRecord;
use super::rules::{PullPlan, StoreEpoch};
use super::store::{PullEvent, PullSummary, UploadOutcome};
use crate::DirError;

/// A master list call in progress.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, DirError>> + Send + 'a>>;

/// The requestor's filter: which entries a pull sends it. Shared, because
/// a store may evaluate it on another thread.
pub type Receives = Arc<dyn Fn(&Entry) -> bool + Send + Sync>;

/// One pull to serve: what to send (the plan, from
/// [`plan_pull`](super::plan_pull)), how many updates per chunk, and to whom.
pub struct PullRequest {
    pub plan: PullPlan,
    pub chunk: usize,
    pub receives: Receives,
}

/// A page of the listing (ListGal): at most `limit` live entries after
/// `after`, only `post_office`'s when one is named.
pub struct PageQuery {
    pub after: Option<Address>,
    pub limit: usize,
    pub post_office: Option<Name>,
}

/// Where a pull's events go, in order (the requestor's connection). An
/// error stops the pull.
pub trait PullSink: Send {
    fn send(&mut self, event: PullEvent) -> Pending<'_, ()>;
}

/// A DS server's master list. Every call that changes something commits
/// before its future completes; the shell acknowledges only after that.
pub trait MasterList: Send + Sync {
    /// Changes when the list is rebuilt from scratch (requestors then resync).
    fn epoch(&self) -> u64;
    /// The last update number: a pull given it as its high water has sent
    /// every change up to it.
    fn high_water(&self) -> Pending<'_, u64>;
    /// The highest update number whose delete is no longer kept.
    fn floor(&self) -> Pending<'_, u64>;
    fn live_entries(&self) -> Pending<'_, u64>;
    fn upload_mark(&self, requestor: Name) -> Pending<'_, u64>;
    fn is_removed(&self, requestor: Name) -> Pending<'_, bool>;
    /// The epoch of the requestor store its upload mark counts in, and how
    /// many times a new store replaced the old one.
    fn store_epoch(&self, requestor: Name) -> Pending<'_, StoreEpochRecord>;
    /// Ties the upload mark to the store the requestor uploads from, before
    /// its upload is applied: a new store epoch starts the mark from 0 (see
    /// [`judge_store_epoch`](super::judge_store_epoch)), durably.
    fn note_store_epoch(&self, requestor: Name, epoch: u64) -> Pending<'_, StoreEpoch>;
    fn apply_upload(
        &self,
        requestor: Name,
        changes: Vec<Entry>,
        now_ms: u64,
    ) -> Pending<'_, UploadOutcome>;
    fn remove_requestor(&self, requestor: Name) -> Pending<'_, ()>;
    /// Undoes [`MasterList::remove_requestor`] (a rolled-back migration).
    fn restore_requestor(&self, requestor: Name) -> Pending<'_, ()>;
    /// Records changes through `seq` as dealt with although none was stored
    /// (a bridge's changes of post offices it no longer owns). Returns the mark.
    fn raise_upload_mark(&self, requestor: Name, seq: u64) -> Pending<'_, u64>;
    /// Deletes the post office's users; returns how many and the high water.
    fn purge_post_office(
        &self,
        post_office: Name,
        by: Name,
        now_ms: u64,
    ) -> Pending<'_, (u64, u64)>;
    fn collect_tombstones(&self, before_ms: u64) -> Pending<'_, u64>;
    /// One pull from one consistent snapshot, streamed into `sink`.
    fn pull<'a>(
        &'a self,
        request: PullRequest,
        sink: &'a mut dyn PullSink,
    ) -> Pending<'a, PullSummary>;
    /// Live entries in address order after `after`, only `post_office`'s
    /// when one is named; the flag says whether more follow.
    fn page(&self, query: PageQuery) -> Pending<'_, (Vec<Entry>, bool)>;
}
