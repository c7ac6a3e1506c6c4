//! The shell every role binary shares, so that security, limits and
//! shutdown behaviour are written once:
//!
//! * [`process`]: a role's whole `main` (flags, logging, runtime, signals,
//!   exit codes).
//! * [`server`]: listeners with a connection cap and a graceful drain, and
//!   the per-connection loop of the wire protocol.
//! * small things every role needs the same way: [`Secret`], [`now_ms`],
//!   [`OPERATOR`], [`RETRY`].

mod clock;
mod identity;
mod limits;
mod retry;
mod secret;

pub use clock::now_ms;
pub use identity::{OPERATOR, operator};
pub use limits::Limits;
pub use retry::RETRY;
pub use secret::Secret;
