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

/// One piece of the client's input into `buf` (replacing what it held):
/// the bytes up to and including the next LF, at most `max` bytes and its
/// line end, which stays (CRLF or a bare LF: the SMTP session refuses the
/// bare one, RFC 5321 2.3.8). A session reuses one buffer for all its
/// lines: a 2 KiB message is some thirty lines.
pub async fn read_piece<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    within: Duration,
) -> Line {
    buf.clear();
    let limit = max as u64 + 2;
    let mut bounded = (&mut *reader).take(limit);
    let read = tokio::time::timeout(within, bounded.read_until(b'\n', buf)).await;
    match read {
        Err(_) => Line::TimedOut,
        Ok(Err(_)) | Ok(Ok(0)) => Line::Closed,
        Ok(Ok(_)) if buf.ends_with(b"\n") => Line::Text,
        Ok(Ok(_)) if buf.len() as u64 >= limit => Line::TooLong,
        Ok(Ok(_)) => Line::Closed,
    }
}

/// As [`read_piece`], without the line's CRLF (or LF).
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    within: Duration,
) -> Line {
    let read = read_piece(reader, buf, max, within).await;
    if let Line::Text = read {
        buf.pop();
        if buf.ends_with(b"\r") {
            buf.pop();
        }
    }
    read
}
