//! Queued messages are stored in their wire encoding.

use bytes::BytesMut;
use wire_format::{MailTransfer, Message, MessageType, WireError};

use crate::MailError;

pub fn encode(m: &MailTransfer) -> Result<Vec<u8>, WireError> {
    let mut out = BytesMut::with_capacity(m.body.len() + 128);
    Message::MailTransfer(m.clone()).encode_body(&mut out)?;
    Ok(out.to_vec())
}

pub fn decode(id: &[u8; 16], raw: &[u8]) -> Result<MailTransfer, MailError> {
    match Message::decode_body(MessageType::MailTransfer, raw) {
        Ok(Message::MailTransfer(m)) => Ok(m),
        Ok(_) => Err(MailError::Corrupt {
            id: hex::encode(id),
            reason: "not a mail".into(),
        }),
        Err(e) => Err(MailError::Corrupt {
            id: hex::encode(id),
            reason: e.to_string(),
        }),
    }
}
