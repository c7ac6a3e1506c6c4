//! The field-level building blocks shared by every message: big-endian
//! integers, length-prefixed strings and lists, options and booleans, each with
//! an encoder and a total `nom` decoder.

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};
use nom::error::{ErrorKind, ParseError};

use crate::WireError;

/// Why a message body failed to decode; becomes [`WireError::Malformed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeFailure {
    pub reason: Cow<'static, str>,
}

impl DecodeFailure {
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        DecodeFailure {
            reason: reason.into(),
        }
    }
}

impl<'a> ParseError<&'a [u8]> for DecodeFailure {
    fn from_error_kind(_input: &'a [u8], kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Eof => DecodeFailure::new("body ends too early"),
            other => DecodeFailure::new(format!("unexpected bytes ({other:?})")),
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub type PResult<'a, T> = nom::IResult<&'a [u8], T, DecodeFailure>;

/// A decode failure that stops parsing at once (no backtracking).
pub fn fail<'a, T>(reason: impl Into<Cow<'static, str>>) -> PResult<'a, T> {
    Err(nom::Err::Failure(DecodeFailure::new(reason)))
}

pub fn u8_(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}
pub fn u16_(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}
pub fn u32_(i: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u32(i)
}
pub fn u64_(i: &[u8]) -> PResult<'_, u64> {
    nom::number::complete::be_u64(i)
}

pub fn bool_<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, bool> {
    move |i| match u8_(i)? {
        (rest, 0) => Ok((rest, false)),
        (rest, 1) => Ok((rest, true)),
        (_, other) => fail(format!("{field}: boolean byte must be 0 or 1, got {other}")),
    }
}

pub fn array32(i: &[u8]) -> PResult<'_, [u8; 32]> {
    let (rest, bytes) = nom::bytes::complete::take(32usize)(i)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(bytes);
    Ok((rest, out))
}

pub fn array16(i: &[u8]) -> PResult<'_, [u8; 16]> {
    let (rest, bytes) = nom::bytes::complete::take(16usize)(i)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(bytes);
    Ok((rest, out))
}

/// A UTF-8 string with a u16 byte length, at most `max` bytes.
pub fn string<'a>(field: &'static str, max: usize) -> impl Fn(&'a [u8]) -> PResult<'a, String> {
    move |i| {
        let (i, len) = u16_(i)?;
        let len = usize::from(len);
        if len > max {
            return fail(format!("{field}: {len} bytes, at most {max} allowed"));
        }
        let (i, raw) = nom::bytes::complete::take(len)(i)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok((i, s.to_owned())),
            Err(_) => fail(format!("{field}: not valid UTF-8")),
        }
    }
}

/// Opaque bytes with a u32 length (mail bodies); the frame size bounds them.
pub fn blob(i: &[u8]) -> PResult<'_, bytes::Bytes> {
    let (i, len) = u32_(i)?;
    let (i, raw) = nom::bytes::complete::take(len as usize)(i)?;
    Ok((i, bytes::Bytes::copy_from_slice(raw)))
}

/// A list with a u32 item count, at most `max` items. Preallocation is
/// bounded by the bytes actually present, since every item takes at least one.
pub fn list<'a, T>(
    field: &'static str,
    max: usize,
    item: impl Fn(&'a [u8]) -> PResult<'a, T>,
) -> impl Fn(&'a [u8]) -> PResult<'a, Vec<T>> {
    move |i| {
        let (mut i, count) = u32_(i)?;
        let count = count as usize;
        if count > max {
            return fail(format!("{field}: {count} items, at most {max} allowed"));
        }
        let mut out = Vec::with_capacity(count.min(i.len()));
        for _ in 0..count {
            let (rest, value) = item(i)?;
            i = rest;
            out.push(value);
        }
        Ok((i, out))
    }
}

/// An optional value: a presence byte (0 or 1), then the value if present.
pub fn option<'a, T>(
    field: &'static str,
    item: impl Fn(&'a [u8]) -> PResult<'a, T>,
) -> impl Fn(&'a [u8]) -> PResult<'a, Option<T>> {
    move |i| {
        let (i, present) = bool_(field)(i)?;
        if present {
            let (i, value) = item(i)?;
            Ok((i, Some(value)))
        } else {
            Ok((i, None))
        }
    }
}

// ---- encoders ----

pub fn put_string(
    out: &mut BytesMut,
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), WireError> {
    let len = value.len();
    if len > max || len > usize::from(u16::MAX) {
        return Err(WireError::FieldTooLong { field, len, max });
    }
    out.put_u16(len as u16);
    out.put_slice(value.as_bytes());
    Ok(())
}

pub fn put_blob(out: &mut BytesMut, field: &'static str, value: &[u8]) -> Result<(), WireError> {
    let len = value.len();
    if len > u32::MAX as usize {
        return Err(WireError::FieldTooLong {
            field,
            len,
            max: u32::MAX as usize,
        });
    }
    out.put_u32(len as u32);
    out.put_slice(value);
    Ok(())
}

pub fn put_bool(out: &mut BytesMut, value: bool) {
    out.put_u8(u8::from(value));
}

pub fn put_list<T>(
    out: &mut BytesMut,
    field: &'static str,
    items: &[T],
    max: usize,
    mut item: impl FnMut(&mut BytesMut, &T) -> Result<(), WireError>,
) -> Result<(), WireError> {
    if items.len() > max {
        return Err(WireError::TooManyItems {
            field,
            len: items.len(),
            max,
        });
    }
    out.put_u32(items.len() as u32);
    for value in items {
        item(out, value)?;
    }
    Ok(())
}

pub fn put_option<T>(
    out: &mut BytesMut,
    value: Option<&T>,
    item: impl FnOnce(&mut BytesMut, &T) -> Result<(), WireError>,
) -> Result<(), WireError> {
    match value {
        Some(v) => {
            out.put_u8(1);
            item(out, v)
        }
        None => {
            out.put_u8(0);
            Ok(())
        }
    }
}
