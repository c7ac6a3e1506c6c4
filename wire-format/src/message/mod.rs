//! Every message of the protocol. Each has a struct, an encoder and a `nom`
//! decoder (the [`Body`] impls in the submodules); the macro below assigns the
//! type codes and builds [`Message`] and [`MessageType`] from one list, so a
//! code can never be missing from either.

pub mod admin;
pub mod dirsync;
pub mod error;
pub mod handshake;
pub mod history;
pub mod mail;
pub mod replication;

use bytes::BytesMut;

pub use admin::*;
pub use dirsync::*;
pub use error::*;
pub use handshake::*;
pub use history::*;
pub use mail::*;
pub use replication::*;

use crate::WireError;
use crate::primitives::PResult;

/// The body encoding of one message type.
pub trait Body: Sized {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError>;
    fn decode_body(i: &[u8]) -> PResult<'_, Self>;
}

macro_rules! messages {
    ($( $code:literal => $variant:ident ),* $(,)?) => {
        /// The type byte of a frame header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum MessageType {
            $( $variant = $code, )*
        }

        impl MessageType {
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant),*];

            pub fn from_code(code: u8) -> Option<MessageType> {
                match code {
                    $($code => Some(MessageType::$variant),)*
                    _ => None,
                }
            }

            pub fn code(self) -> u8 {
                self as u8
            }

            pub fn name(self) -> &'static str {
                match self {
                    $(MessageType::$variant => stringify!($variant),)*
                }
            }
        }

        /// A decoded message of any type.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Message {
            $( $variant($variant), )*
        }

        impl Message {
            pub fn message_type(&self) -> MessageType {
                match self {
                    $(Message::$variant(_) => MessageType::$variant,)*
                }
            }

            pub fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
                match self {
                    $(Message::$variant(m) => m.encode_body(out),)*
                }
            }

            /// Decodes a whole body; trailing bytes are an error, so every
            /// message has exactly one encoding.
            pub fn decode_body(ty: MessageType, body: &[u8]) -> Result<Message, WireError> {
                let parsed = match ty {
                    $(MessageType::$variant => $variant::decode_body(body)
                        .map(|(rest, m)| (rest, Message::$variant(m))),)*
                };
                let malformed = |reason: String| WireError::Malformed { message: ty.name(), reason };
                match parsed {
                    Ok(([], message)) => Ok(message),
                    Ok((rest, _)) => Err(malformed(format!("{} trailing bytes", rest.len()))),
                    Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(malformed(e.reason.into_owned())),
                    Err(nom::Err::Incomplete(_)) => Err(malformed("body ends too early".into())),
                }
            }
        }

        $(
            impl From<$variant> for Message {
                fn from(m: $variant) -> Message {
                    Message::$variant(m)
                }
            }
        )*
    };
}

messages! {
    0x01 => Hello,
    0x02 => Challenge,
    0x03 => Authenticate,
    0x04 => Welcome,
    0x05 => Ping,
    0x06 => Pong,

    0x10 => DirUpload,
    0x11 => DirUploadAck,
    0x12 => DirPull,
    0x13 => DirPullStart,
    0x14 => DirUpdates,
    0x15 => DirPullEnd,
    0x16 => DirNotify,

    0x20 => RepPull,
    0x21 => RepChanges,
    0x22 => RepPullEnd,
    0x23 => RepNotify,
    0x24 => SiteWrite,
    0x25 => SiteWriteAck,

    0x30 => MailTransfer,
    0x31 => MailAck,

    0x40 => StatusRequest,
    0x41 => StatusReport,
    0x42 => UserUpsert,
    0x43 => UserDelete,
    0x44 => SyncNow,
    0x45 => SetRoute,
    0x46 => ListGal,
    0x47 => GalPage,
    0x48 => RemoveRequestor,
    0x49 => PurgePostOffice,
    0x4A => Repoint,
    0x4B => RestoreRequestor,
    0x4C => GalSummaryRequest,
    0x4D => GalSummary,
    0x4F => AdminOk,

    0x50 => HistoryRequest,
    0x51 => HistoryPage,

    0x7F => ErrorReply,
}
