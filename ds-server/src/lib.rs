//! The DS server of a hub (H, H2): keeps the master list, merges requestors'
//! uploads with increasing update numbers and gives each requestor what it
//! has not seen, filtered by its export configuration.
//!
//! * [`config`]: the TOML configuration;
//! * [`net`]: the Tokio shell (one wire listener for requestors and the
//!   operator). The rules and the store live in `dir-core`;
//! * [`site`]: site mode (H2), the master list in the site directory.

pub mod config;
pub mod net;
mod process;
pub mod site;

pub use config::Settings;
pub use dir_core::DirError;
pub use process::DsServer;
