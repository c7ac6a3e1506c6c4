//! The site directory of an Exchange-style site (H2 and H3 in the patent):
//! named folders replicated multi-master between the servers of the site.
//!
//! * [`resolve`]: the replication rules as plain functions (conflict order,
//!   local stamping, the up-to-dateness vector);
//! * [`store`]: the durable directory and log on redb;
//! * [`net`]: the Tokio shell: the wire listener (peers, local DS clients,
//!   the operator) and one puller per peer.

pub mod config;
mod error;
pub mod net;
mod process;
pub mod resolve;
pub mod store;

pub use config::Settings;
pub use error::SiteError;
pub use process::SiteReplicator;
pub use store::SiteStore;
