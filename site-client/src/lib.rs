//! The client side of the site directory, for the DS roles that keep their
//! entries in it (H2's DS server, H3's DS requestor): write with `SiteWrite`,
//! read the log with `RepPull` as a peer does.
//!
//! * [`batch`]: splitting a write into frames of bounded size, as plain
//!   functions;
//! * [`SiteClient`]: the connection to the local replicator.
//!
//! A library of its own so that the DS roles reach the site directory
//! without depending on the replicator role (its store, config and binary).

pub mod batch;
mod client;

pub use batch::{WRITE_BYTES, batches, size_bound};
pub use client::{LogRead, ReadCursor, SiteClient};
