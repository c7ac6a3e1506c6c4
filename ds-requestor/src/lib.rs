//! The DS requestor: a post office's directory, or the bridge H3's towards
//! the old hub. Owns the post office's users (or the bridge's export
//! folders), sends their changes to its DS server and imports everyone
//! else's.
//!
//! * [`config`]: the TOML configuration;
//! * [`net`]: the Tokio shell: the operator listener and the sync task that
//!   drives `dir_core::requestor::Cycle` for either directory;
//! * [`ldap`]: the read-only LDAP address book of the GAL;
//! * `bridge`: what only the bridge does: take in the site replicator's log
//!   (export-folder changes go up to the server).
//!
//! The stores, the cycle and the pull checks live in `dir-core`.

mod blocking;
mod bridge;
pub mod config;
pub mod ldap;
pub mod net;
mod process;

pub use config::Settings;
pub use dir_core::DirError;
pub use process::DsRequestor;
