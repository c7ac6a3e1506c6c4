//! The frame: a fixed 16-byte header and a message body.
//!
//! ```text
//! offset size field
//!      0    4 magic        "MHUB" (4d 48 55 42)
//!      4    1 format       frame format version, 1
//!      5    1 type         message type code
//!      6    2 flags        reserved, must be 0
//!      8    4 request_id   echoed by the answer; 0 for unsolicited frames
//!     12    4 body_len     bytes of body that follow
//! ```
//! All integers are big-endian.

use bytes::{BufMut, BytesMut};

use crate::WireError;
use crate::message::{Message, MessageType};

pub const MAGIC: [u8; 4] = *b"MHUB";
pub const FRAME_FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 16;

/// A request id and the message it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub request_id: u32,
    pub message: Message,
}

impl Frame {
    pub fn new(request_id: u32, message: impl Into<Message>) -> Frame {
        Frame {
            request_id,
            message: message.into(),
        }
    }
}

/// A checked header: the magic, version and flags were right and the type is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub message_type: MessageType,
    pub request_id: u32,
    pub body_len: usize,
}

/// Checks whatever part of a header `buf` holds, so garbage is refused as soon
/// as its first bytes arrive. `Ok(None)`: the header is not complete yet.
pub fn decode_header(buf: &[u8], max_body: usize) -> Result<Option<Header>, WireError> {
    let magic_seen = buf.len().min(4);
    if buf[..magic_seen] != MAGIC[..magic_seen] {
        let mut found = [0u8; 4];
        found[..magic_seen].copy_from_slice(&buf[..magic_seen]);
        return Err(WireError::BadMagic { found });
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let (_, (format, code, flags, request_id, body_len)) =
        header_fields(&buf[4..HEADER_LEN]).map_err(|_| WireError::TruncatedFrame(buf.len()))?;
    if format != FRAME_FORMAT_VERSION {
        return Err(WireError::UnsupportedFrameVersion {
            found: format,
            supported: FRAME_FORMAT_VERSION,
        });
    }
    if flags != 0 {
        return Err(WireError::NonZeroFlags(flags));
    }
    let message_type = MessageType::from_code(code).ok_or(WireError::UnknownMessageType(code))?;
    let body_len = body_len as usize;
    if body_len > max_body {
        return Err(WireError::FrameTooLarge {
            len: body_len,
            max: max_body,
        });
    }
    Ok(Some(Header {
        message_type,
        request_id,
        body_len,
    }))
}

fn header_fields(i: &[u8]) -> nom::IResult<&[u8], (u8, u8, u16, u32, u32)> {
    use nom::Parser;
    use nom::number::complete::{be_u8, be_u16, be_u32};
    (be_u8, be_u8, be_u16, be_u32, be_u32).parse(i)
}

/// Decodes one frame from the front of `buf`. `Ok(None)`: more bytes are
/// needed; `Ok(Some((frame, used)))`: the frame took the first `used` bytes.
pub fn decode_frame(buf: &[u8], max_body: usize) -> Result<Option<(Frame, usize)>, WireError> {
    let Some(header) = decode_header(buf, max_body)? else {
        return Ok(None);
    };
    let total = HEADER_LEN + header.body_len;
    if buf.len() < total {
        return Ok(None);
    }
    let message = Message::decode_body(header.message_type, &buf[HEADER_LEN..total])?;
    Ok(Some((
        Frame {
            request_id: header.request_id,
            message,
        },
        total,
    )))
}

/// Appends the encoding of `frame` to `out`. On error `out` is left as it was.
pub fn encode_frame(frame: &Frame, max_body: usize, out: &mut BytesMut) -> Result<(), WireError> {
    let start = out.len();
    out.put_slice(&MAGIC);
    out.put_u8(FRAME_FORMAT_VERSION);
    out.put_u8(frame.message.message_type().code());
    out.put_u16(0);
    out.put_u32(frame.request_id);
    out.put_u32(0);
    let body_start = out.len();
    let result = frame.message.encode_body(out).and_then(|()| {
        let len = out.len() - body_start;
        if len > max_body {
            Err(WireError::FrameTooLarge { len, max: max_body })
        } else {
            Ok(len)
        }
    });
    match result {
        Ok(len) => {
            out[start + 12..start + 16].copy_from_slice(&(len as u32).to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Encodes `frame` into a fresh buffer.
pub fn frame_to_bytes(frame: &Frame, max_body: usize) -> Result<BytesMut, WireError> {
    let mut out = BytesMut::new();
    encode_frame(frame, max_body, &mut out)?;
    Ok(out)
}
