//! The error frame: a code a program can act on and text a person can read.

use bytes::{BufMut, BytesMut};

use super::Body;
use crate::WireError;
use crate::limits::MAX_DETAIL_LEN;
use crate::primitives::{PResult, put_string, string, u16_};

macro_rules! error_codes {
    ($( $code:literal => $variant:ident : $doc:literal ),* $(,)?) => {
        /// Why a request failed. Unknown codes from a newer peer decode as
        /// [`ErrorCode::Other`] rather than failing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( #[doc = $doc] $variant, )*
            /// A code this build does not know.
            Other(u16),
        }

        impl ErrorCode {
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn to_u16(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $code,)*
                    ErrorCode::Other(code) => code,
                }
            }

            pub fn from_u16(code: u16) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Other(other),
                }
            }
        }
    };
}

error_codes! {
    1 => Malformed: "The frame or message could not be decoded.",
    2 => UnsupportedVersion: "No protocol version in common.",
    3 => AuthFailed: "Unknown peer, wrong key or wrong role.",
    4 => NotAuthenticated: "A request arrived before the handshake finished.",
    5 => Forbidden: "The peer may not do this, e.g. write another post office's user.",
    6 => UnknownMessage: "The message type is not known.",
    7 => FrameTooLarge: "The frame exceeds the receiver's maximum size.",
    8 => UnexpectedMessage: "The message is valid but not at this point of the exchange, or not for this role.",
    9 => NotFound: "The named user, post office, route or peer does not exist.",
    10 => Unavailable: "Temporarily unable (shutting down, storage busy); retry later.",
    11 => Internal: "The receiver failed; the request may be retried.",
    12 => HopLimitExceeded: "A mail passed too many routers.",
    13 => InvalidRequest: "The request is well-formed but its content is not acceptable.",
}

/// Either side: the request with this frame's request id failed. After an
/// error about the connection itself (malformed frame, failed
/// authentication) the sender closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub text: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> ErrorReply {
        let mut text = text.into();
        if text.len() > MAX_DETAIL_LEN {
            let mut cut = MAX_DETAIL_LEN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        ErrorReply { code, text }
    }
}

impl Body for ErrorReply {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u16(self.code.to_u16());
        put_string(out, "error.text", &self.text, MAX_DETAIL_LEN)
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, code) = u16_(i)?;
        let (i, text) = string("error.text", MAX_DETAIL_LEN)(i)?;
        Ok((
            i,
            ErrorReply {
                code: ErrorCode::from_u16(code),
                text,
            },
        ))
    }
}
