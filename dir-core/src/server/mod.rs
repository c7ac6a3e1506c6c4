//! The DS server side: the master list ([`MasterList`], kept on redb by
//! [`ServerStore`]) and the rules a server applies to uploads and pulls
//! ([`rules`]).

mod master;
pub mod requestor_marks;
pub mod rules;
mod store;
#[cfg(test)]
mod tests;

pub use master::{MasterList, PageQuery, Pending, PullRequest, PullSink, Receives};
pub use requestor_marks::StoreEpochRecord;
pub use rules::{PullPlan, RequestorPolicy, StoreEpoch, judge_store_epoch, plan_pull};
pub use store::{PullEvent, PullSummary, ServerStore, UploadOutcome};
