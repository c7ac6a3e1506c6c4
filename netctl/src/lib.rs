//! `netctl`: start the patent's network from one topology file, inspect it,
//! and (as the roles land) migrate post offices through steps A-G.
//!
//! * [`topology`]: the topology file, checked;
//! * [`configs`]: each role's config, written from the topology;
//! * [`supervisor`]: background processes and their `ready` lines;
//! * [`state`]: what `up` leaves in the data directory for later commands;
//! * [`lock`]: one command at a time changes a network;
//! * [`migrate`]: the staged migration (plan, journal, executor, checks);
//! * [`network`]: a running network as the operator reaches it;
//! * [`parallel`]: one thread per item, for work that waits on the network;
//! * [`mailclient`]: SMTP and POP3 as a mail client speaks them;
//! * [`demo`]: `netctl demo`, the whole story with live traffic;
//! * [`commands`]: one module per subcommand.

pub mod client;
pub mod commands;
pub mod configs;
pub mod demo;
mod error;
pub mod lock;
pub mod mailclient;
pub mod migrate;
pub mod network;
pub mod parallel;
pub mod state;
pub mod supervisor;
pub mod tls;
pub mod topology;

pub use error::NetctlError;
