//! The server shell every role shares: [`Listener`] (bind, a connection
//! cap, a span per connection, no accepts once draining), [`Shutdown`]
//! (the drain), and for the wire protocol [`WireService`]: the handshake,
//! then one per-connection loop ([`serve_requests`]) around a role's
//! [`RequestHandler`].

mod listener;
mod session;
mod shutdown;
mod wire;

pub use listener::{Listener, Service};
pub use session::{Interrupted, Session};
pub use shutdown::Shutdown;
pub use wire::{Refusal, RequestHandler, WireIdentity, WireService, error_code, serve_requests};

#[cfg(test)]
mod tests;
