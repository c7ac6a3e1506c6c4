//! The DS server side: the master list ([`ServerStore`]) and the rules a
//! server applies to uploads and pulls ([`rules`]).

pub mod rules;
mod store;
#[cfg(test)]
mod tests;

pub use rules::{PullPlan, RequestorPolicy, plan_pull};
pub use store::{PullEvent, PullSummary, ServerStore, UploadOutcome};
