//! The shell every role binary shares, so that security, limits and
//! shutdown behaviour are written once:
//!
//! * [`process`]: a role's whole `main` (flags, logging, runtime, signals,
//!   exit codes).
//! * [`server`]: listeners with a connection cap and a graceful drain, and
//!   the per-connection loop of the wire protocol.
//! * [`tls`]: the certificate and key of a client-facing listener, and a
//!   stream that is plain TCP or TLS (STLS/STARTTLS upgrade it).
//! * [`metrics`]: the HTTP listener of `/metrics` (Prometheus text) and
//!   `/health/live`, `/health/ready`, fed by the role's status report.
//! * small things every role needs the same way: [`Secret`], [`now_ms`],
//!   [`OPERATOR`], [`RETRY`].

mod clock;
mod identity;
mod limits;
mod retry;

pub use clock::now_ms;
pub use identity::{OPERATOR, keyring_with_operator, operator};
pub use limits::Limits;
pub use peer_link::{MIN_SECRET_HEX_DIGITS, Secret, WeakSecret, check_strength};
pub use retry::RETRY;

pub mod config;
pub mod history;
pub mod metrics;
pub mod process;
pub mod server;
pub mod tls;

pub use config::CommonConfig;
pub use process::{RoleProcess, main};

use thiserror::Error;

/// What the shared shell can fail at, with what to do about it.
#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {reason}")]
    ConfigInvalid { path: String, reason: String },
    #[error(
        "cannot listen for {service} on {addr}: {source} (is another process using the port, or is the address not this host's?)"
    )]
    Listen {
        service: &'static str,
        addr: String,
        source: std::io::Error,
    },
    /// `reason` starts with the key (`tls_cert`, `tls_key`) naming the file.
    #[error("cannot use {path} for TLS: {reason}")]
    Tls { path: String, reason: String },
}
