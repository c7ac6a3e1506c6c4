//! The DS requestor side: a post office's directory ([`RequestorStore`]) and
//! the pull session that checks a server's stream ([`session`]).

pub mod session;
mod store;
#[cfg(test)]
mod tests;

pub use session::PullSession;
pub use store::{Counts, PENDING_BYTES, RequestorStore, SyncState};
