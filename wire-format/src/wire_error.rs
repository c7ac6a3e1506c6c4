use thiserror::Error;

/// Everything that can go wrong turning bytes into frames or frames into bytes.
///
/// Every variant maps to an [`ErrorCode`](crate::ErrorCode) through
/// [`WireError::code`], so a server can answer a bad frame with an error frame
/// before it closes the connection.
#[derive(Debug, Error)]
pub enum WireError {
    #[error("bad magic {found:02x?}: the peer does not speak this protocol")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported frame format version {found} (this build speaks {supported})")]
    UnsupportedFrameVersion { found: u8, supported: u8 },
    #[error("header flags must be zero, found {0:#06x}")]
    NonZeroFlags(u16),
    #[error("unknown message type {0:#04x}")]
    UnknownMessageType(u8),
    #[error("frame body of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    #[error("malformed {message} message: {reason}")]
    Malformed {
        message: &'static str,
        reason: String,
    },
    #[error("field {field} is {len} bytes, more than the {max} allowed")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("list {field} has {len} items, more than the {max} allowed")]
    TooManyItems {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("connection ended in the middle of a frame ({0} bytes left over)")]
    TruncatedFrame(usize),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl WireError {
    /// The error code to put in the error frame sent back for this error.
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            WireError::BadMagic { .. } | WireError::NonZeroFlags(_) => ErrorCode::Malformed,
            WireError::UnsupportedFrameVersion { .. } => ErrorCode::UnsupportedVersion,
            WireError::UnknownMessageType(_) => ErrorCode::UnknownMessage,
            WireError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            WireError::Malformed { .. }
            | WireError::FieldTooLong { .. }
            | WireError::TooManyItems { .. }
            | WireError::TruncatedFrame(_) => ErrorCode::Malformed,
            WireError::Io(_) => ErrorCode::Internal,
        }
    }
}
