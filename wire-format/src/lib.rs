//! Every byte on the wire of the mail network, and nothing else: no sockets,
//! no clocks, no randomness. See `docs/PROTOCOL.md` for the specification.
//!
//! * [`frame`]: the 16-byte header and [`decode_frame`] / [`encode_frame`];
//! * [`message`]: every message, each with a `nom` decoder and an encoder;
//! * [`entry`]: names, addresses and directory entries;
//! * [`auth`]: the challenge-response handshake proofs;
//! * [`codec`]: the `tokio_util::codec` adapter;
//! * [`gal_digest`]: the per-post-office GAL digest of `GalSummary`.
//!
//! With the `arbitrary` feature every frame and message implements
//! `arbitrary::Arbitrary`, yielding only valid values, for the fuzz targets.

#[cfg(feature = "arbitrary")]
mod arbitrary;
pub mod auth;
pub mod codec;
pub mod entry;
pub mod frame;
pub mod gal_digest;
pub mod limits;
pub mod message;
mod primitives;
mod wire_error;

pub use codec::FrameCodec;
pub use entry::{Address, Attribute, Entry, EntryVersion, Name, NameError};
pub use frame::{Frame, decode_frame, encode_frame, frame_to_bytes};
pub use gal_digest::GalDigester;
pub use message::*;
pub use wire_error::WireError;
