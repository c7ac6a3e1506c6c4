//! ldap3_proto's codec with two bounds that hold before it parses.
//!
//! * Size: `LdapCodec` checks its `max_ber_size` only once a message has
//!   been parsed, so a client announcing a 2 GiB SEQUENCE would have the
//!   buffer grow until it sent that much. Here a buffer past the bound
//!   that holds no complete message within its first `max` bytes ends the
//!   connection.
//! * Depth: its BER parser (lber) recurses once per nested element with
//!   no bound; 4 KiB of nested tags overflow a 1 MiB stack in a debug
//!   build, which aborts the process, not just the connection. [`too_deep`]
//!   walks the elements' headers (identifier and length octets, never the
//!   values) and refuses nesting past [`MAX_DEPTH`] first. Decoding stays
//!   ldap3_proto's.

use std::io;

use bytes::{Buf, BytesMut};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::{Decoder, Encoder};

/// Requests are small (a search with its filter, a bind): ldap3_proto's
/// own default, about a hundred times a long Thunderbird search.
pub const MAX_FRAME: usize = ldap3_proto::DEFAULT_MAX_BER_SIZE;
/// The message, its operation, a filter nested 50 deep: more than any
/// client sends (Thunderbird's is 4 deep).
pub const MAX_DEPTH: usize = 64;

pub struct Bounded {
    inner: LdapCodec,
    max: usize,
}

impl Bounded {
    pub fn new(max: usize) -> Bounded {
        Bounded {
            inner: LdapCodec::new(Some(max)),
            max,
        }
    }
}

impl Default for Bounded {
    fn default() -> Self {
        Bounded::new(MAX_FRAME)
    }
}

fn too_large(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("an LDAP message longer than {max} bytes"),
    )
}

impl Decoder for Bounded {
    type Item = LdapMsg;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, io::Error> {
        if too_deep(&buf[..buf.len().min(self.max)], MAX_DEPTH) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BER nested deeper than {MAX_DEPTH}"),
            ));
        }
        if buf.len() <= self.max {
            return self.inner.decode(buf);
        }
        // Only the first `max` bytes are offered: a message within them
        // is taken, anything else is too long.
        let mut head = BytesMut::from(&buf[..self.max]);
        match self.inner.decode(&mut head)? {
            Some(message) => {
                buf.advance(self.max - head.len());
                Ok(Some(message))
            }
            None => Err(too_large(self.max)),
        }
    }
}

/// Whether the BER elements in `bytes` (a message, or the start of one)
/// nest deeper than `max`. Reads X.690 8.1.2-8.1.3 headers only: the
/// identifier octets (bit 6: constructed; low five bits all set: a long
/// tag number follows) and the length octets.
pub fn too_deep(bytes: &[u8], max: usize) -> bool {
    // Where each open constructed element ends.
    let mut open: Vec<usize> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        while open.last().is_some_and(|end| at >= *end) {
            open.pop();
        }
        let identifier = bytes[at];
        at += 1;
        if identifier & 0x1f == 0x1f {
            while bytes.get(at).is_some_and(|b| b & 0x80 != 0) {
                at += 1;
            }
            at += 1;
        }
        let Some(&first) = bytes.get(at) else {
            return false;
        };
        at += 1;
        let length = if first & 0x80 == 0 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            let Some(octets) = bytes.get(at..at + count) else {
                return false;
            };
            at += count;
            // Indefinite (0x80) or absurd: take it as running to the end.
            if count == 0 || count > 4 {
                bytes.len()
            } else {
                octets
                    .iter()
                    .fold(0usize, |n, b| (n << 8) | usize::from(*b))
            }
        };
        if identifier & 0x20 != 0 {
            open.push(at.saturating_add(length));
            if open.len() > max {
                return true;
            }
        } else {
            at = at.saturating_add(length);
        }
    }
    false
}

impl Encoder<LdapMsg> for Bounded {
    type Error = io::Error;

    fn encode(&mut self, message: LdapMsg, buf: &mut BytesMut) -> Result<(), io::Error> {
        self.inner.encode(message, buf)
    }
}

/// The bytes of one message, for a reply written without a codec (the
/// busy notice of a full listener).
pub fn encode(message: LdapMsg) -> Vec<u8> {
    let mut buf = BytesMut::new();
    match Bounded::default().encode(message, &mut buf) {
        Ok(()) => buf.to_vec(),
        Err(_) => Vec::new(),
    }
}
