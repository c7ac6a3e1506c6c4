//! The `tokio_util::codec` adapter around [`decode_frame`] and [`encode_frame`].

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::WireError;
use crate::frame::{Frame, HEADER_LEN, decode_frame, decode_header, encode_frame};
use crate::limits::DEFAULT_MAX_FRAME_BODY;

/// Frames over a byte stream. After an `Err` from `decode` the stream is out of
/// step: answer with an error frame (see [`WireError::code`]) and close.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_body: usize,
}

impl FrameCodec {
    pub fn new(max_body: usize) -> FrameCodec {
        FrameCodec { max_body }
    }

    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Changes the bound for the frames that follow, e.g. from the
    /// handshake's small limit to the full one once the peer is known.
    pub fn set_max_body(&mut self, max_body: usize) {
        self.max_body = max_body;
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_BODY)
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, WireError> {
        match decode_frame(src, self.max_body)? {
            Some((frame, used)) => {
                src.advance(used);
                Ok(Some(frame))
            }
            None => {
                // The header was checked (and its length bounded) before we
                // reserve room for the body it announces.
                if let Some(header) = decode_header(src, self.max_body)? {
                    src.reserve(HEADER_LEN + header.body_len - src.len());
                }
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, WireError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(WireError::TruncatedFrame(src.len())),
        }
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = WireError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), WireError> {
        encode_frame(&frame, self.max_body, dst)
    }
}
