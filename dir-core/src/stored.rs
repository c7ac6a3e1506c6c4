//! How an entry is kept in a redb value: an 8-byte big-endian number (the
//! server's update number, or the requestor's resync generation), one tag
//! byte, then the entry's wire encoding. Decoding is total: a damaged row is
//! an error, never a panic.

use bytes::BytesMut;
use wire_format::Entry;

use crate::DirError;

pub fn encode(number: u64, tag: u8, entry: &Entry) -> Result<Vec<u8>, DirError> {
    let mut out = BytesMut::with_capacity(160);
    out.extend_from_slice(&number.to_be_bytes());
    out.extend_from_slice(&[tag]);
    entry.encode(&mut out)?;
    Ok(out.to_vec())
}

/// The number and tag alone, without decoding the entry.
pub fn header(key: &str, raw: &[u8]) -> Result<(u64, u8), DirError> {
    match raw.split_first_chunk::<8>() {
        Some((n, [tag, ..])) => Ok((u64::from_be_bytes(*n), *tag)),
        _ => Err(corrupt(key, "shorter than its header")),
    }
}

pub fn decode(key: &str, raw: &[u8]) -> Result<(u64, u8, Entry), DirError> {
    let (number, tag) = header(key, raw)?;
    match Entry::decode(raw.get(9..).unwrap_or_default()) {
        Ok(([], entry)) => Ok((number, tag, entry)),
        Ok(_) => Err(corrupt(key, "trailing bytes")),
        Err(e) => Err(corrupt(key, &format!("{e:?}"))),
    }
}

fn corrupt(key: &str, reason: &str) -> DirError {
    DirError::Corrupt {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}
