//! The DS requestor side: a post office's directory ([`RequestorStore`]),
//! the bridge's bookkeeping ([`BridgeStore`]), and the sans-IO cycle that
//! syncs either with a server ([`Cycle`], built on the [`PullSession`] that
//! checks a server's stream).

mod bridge;
mod cycle;
mod directories;
mod outbox;
pub mod session;
mod store;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bridge;
#[cfg(test)]
mod tests_cycle;
#[cfg(test)]
mod tests_restore;

pub use bridge::{BridgeCounts, BridgeState, BridgeStore, SiteCursor, same_content};
pub use cycle::{Batch, Cycle, CycleReport, CycleStore, Op, PullEnd, Step, Stored, perform};
pub use directories::{Bridge, PostOffice};
pub use outbox::{Ledger, Outgoing, PENDING_BYTES, SyncState};
pub use session::PullSession;
pub use store::{Counts, RequestorStore};
