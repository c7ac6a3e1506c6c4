//! The DS requestor of a post office: owns the post office's users, sends
//! their changes to its DS server and imports everyone else's into the GAL.
//!
//! * [`config`]: the TOML configuration;
//! * [`net`]: the Tokio shell: the operator listener and the sync task. The
//!   store and the pull checks live in `dir-core`.

pub mod config;
pub mod net;
pub mod site;

pub use config::Settings;
pub use dir_core::DirError;
