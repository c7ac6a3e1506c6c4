//! The message transfer role of every node: a post office (mailboxes, SMTP
//! submission, POP3 collection), a hub (H, H2) or the gateway (H3).
//!
//! * [`routing`]: where mail for a post office goes, as plain functions;
//! * [`trace`], [`report`]: the `Received:` and delivery headers, and
//!   RFC 3464 non-delivery reports, as plain functions;
//! * [`store`]: the durable queue, mailboxes and users (redb); custody is
//!   taken in one transaction, acknowledged only after it commits;
//! * [`smtp`], [`pop3`]: the client protocols as sans-IO session machines,
//!   POP3 command lines parsed with nom ([`command`]), SMTP ones with
//!   the `smtp-proto` crate;
//! * [`net`]: the Tokio shell (wire listener, forwarders, SMTP, POP3).

pub mod command;
pub mod config;
mod error;
pub mod net;
pub mod pop3;
mod process;
pub mod report;
pub mod routing;
pub mod smtp;
pub mod store;
pub mod trace;

pub use config::Settings;
pub use error::MailError;
pub use process::MailRouter;
