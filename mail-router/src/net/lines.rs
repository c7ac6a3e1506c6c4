//! Reading CRLF lines from a client with a length bound and a timeout.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

pub enum Line {
    /// The line is in the buffer given.
    Text,
    TooLong,
    Closed,
    TimedOut,
}

/// One line into `buf` (replacing what it held) without its CRLF (or LF),
/// at most `max` bytes. A session reuses one buffer for all its lines: a
/// 2 KiB message is some thirty lines.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    within: Duration,
) -> Line {
    buf.clear();
    let read = tokio::time::timeout(
        within,
        (&mut *reader).take(max as u64 + 2).read_until(b'\n', buf),
    )
    .await;
    match read {
        Err(_) => Line::TimedOut,
        Ok(Err(_)) | Ok(Ok(0)) => Line::Closed,
        Ok(Ok(_)) if !buf.ends_with(b"\n") => {
            if buf.len() as u64 >= max as u64 + 2 {
                Line::TooLong
            } else {
                Line::Closed
            }
        }
        Ok(Ok(_)) => {
            buf.pop();
            if buf.ends_with(b"\r") {
                buf.pop();
            }
            Line::Text
        }
    }
}
