//! The thin Tokio shell around `wire-format`: an authenticated, framed TCP
//! connection with a timeout on every wait. Every role uses it to talk to
//! every other, so authentication and error handling happen in one place.
//!
//! * [`Connection::connect`]: dial, then run the client side of the handshake.
//! * [`Connection::accept`]: run the server side on an accepted socket; a peer
//!   that fails it gets an `AuthFailed` error frame and is dropped before any
//!   other frame is read.
//! * [`Connection::request`]: send a request and wait for the frame with its
//!   request id; unsolicited frames (request id 0) that arrive meanwhile are
//!   kept for [`Connection::take_unsolicited`].
//! * [`listen`]: a listening socket with a long accept queue.

mod connection;
mod keyring;
mod listen;
pub mod secret;

pub use connection::{Connection, LinkError, PeerIdentity, Timeouts, WRITE_BATCH};
pub use keyring::Keyring;
pub use listen::{LISTEN_BACKLOG, listen};
pub use secret::{MIN_SECRET_HEX_DIGITS, Secret, WeakSecret, check_strength};
pub use wire_format;
