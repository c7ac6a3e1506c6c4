//! The directory synchronization core shared by `ds-server` and `ds-requestor`.
//!
//! * [`server`]: the DS server's master list (entries, update numbers,
//!   per-requestor upload marks) and its rules (ownership, export filter, pull
//!   plan) as plain functions;
//! * [`requestor`]: a post office's directory (its own users, the imported
//!   GAL, the outbound queue, the server's mark), the bridge's bookkeeping,
//!   and the sync cycle as a state machine (upload until acknowledged, pull,
//!   apply, record) that checks what a server streams before anything is
//!   applied.
//!
//! No sockets and no clocks here: the binaries are the Tokio shells. Every
//! store method is one redb transaction, so a mark is never committed apart
//! from the changes it covers.

mod error;
pub mod patterns;
pub mod requestor;
pub mod server;
mod stored;

pub use error::DirError;
