//! Store-and-forward mail transfer between routers, with custody transfer.

use bytes::{BufMut, Bytes, BytesMut};

use super::Body;
use crate::WireError;
use crate::entry::Address;
use crate::limits::MAX_RECIPIENTS;
use crate::primitives::{
    PResult, array16, blob, bool_, fail, list, put_blob, put_bool, put_list, u8_, u64_,
};

/// Ordinary mail, or a non-delivery report (never answered by another report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MailKind {
    Normal = 1,
    NonDelivery = 2,
}

/// Sender -> next hop: take custody of this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTransfer {
    /// Unique per message; a receiver stores a message id once.
    pub message_id: [u8; 16],
    pub kind: MailKind,
    pub from: Address,
    pub recipients: Vec<Address>,
    /// Routers passed so far; a router refuses a message at its hop limit.
    pub hop_count: u8,
    pub submitted_at_ms: u64,
    /// The RFC 5322 message as submitted.
    pub body: Bytes,
}

/// Next hop -> sender: the message is on the receiver's disk; the sender may
/// forget it. `duplicate` says the receiver already had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAck {
    pub message_id: [u8; 16],
    pub duplicate: bool,
}

impl Body for MailTransfer {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_slice(&self.message_id);
        out.put_u8(self.kind as u8);
        self.from.encode(out)?;
        put_list(
            out,
            "mail.recipients",
            &self.recipients,
            MAX_RECIPIENTS,
            |o, a| a.encode(o),
        )?;
        out.put_u8(self.hop_count);
        out.put_u64(self.submitted_at_ms);
        put_blob(out, "mail.body", &self.body)
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, message_id) = array16(i)?;
        let (i, kind) = match u8_(i)? {
            (i, 1) => (i, MailKind::Normal),
            (i, 2) => (i, MailKind::NonDelivery),
            (_, other) => return fail(format!("unknown mail kind {other}")),
        };
        let (i, from) = Address::decode(i)?;
        let (i, recipients) = list("mail.recipients", MAX_RECIPIENTS, Address::decode)(i)?;
        let (i, hop_count) = u8_(i)?;
        let (i, submitted_at_ms) = u64_(i)?;
        let (i, body) = blob(i)?;
        Ok((
            i,
            MailTransfer {
                message_id,
                kind,
                from,
                recipients,
                hop_count,
                submitted_at_ms,
                body,
            },
        ))
    }
}

impl Body for MailAck {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_slice(&self.message_id);
        put_bool(out, self.duplicate);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, message_id) = array16(i)?;
        let (i, duplicate) = bool_("mail_ack.duplicate")(i)?;
        Ok((
            i,
            MailAck {
                message_id,
                duplicate,
            },
        ))
    }
}
