//! [`Arbitrary`] for every frame and message (feature `arbitrary`), for the
//! fuzz targets in `fuzz/`. Only valid values come out: names of 1 to 32 name
//! characters, text and lists within their field's bound (see [`crate::limits`]),
//! error codes in their one canonical form. So a generated message that does
//! not encode, or does not decode back to itself, is a codec bug, not noise.

use ::arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;

use crate::limits::{
    MAX_ATTRIBUTES, MAX_CHUNK_ITEMS, MAX_DETAIL_LEN, MAX_ENDPOINT_LEN, MAX_HISTORY_EVENTS,
    MAX_HISTORY_TEXT_LEN, MAX_NAME_LEN, MAX_PASSWORD_LEN, MAX_RECIPIENTS, MAX_STATUS_ITEMS,
    MAX_STATUS_TEXT_LEN, MAX_SUMMARY_POST_OFFICES, MAX_TEXT_LEN, MAX_VECTOR_LEN,
};
use crate::*;

const NAME_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// Any UTF-8 text of at most `max` bytes, cut at a character boundary.
fn text<'a>(max: usize) -> impl Fn(&mut Unstructured<'a>) -> Result<String> {
    move |u| {
        let mut s = String::arbitrary(u)?;
        let mut cut = s.len().min(max);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        Ok(s)
    }
}

/// At most `max` items.
fn list<'a, T: Arbitrary<'a>>(max: usize) -> impl Fn(&mut Unstructured<'a>) -> Result<Vec<T>> {
    move |u| u.arbitrary_iter()?.take(max).collect()
}

impl<'a> Arbitrary<'a> for Name {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let len = u.int_in_range(1..=MAX_NAME_LEN)?;
        let mut raw = String::with_capacity(len);
        for _ in 0..len {
            raw.push(char::from(*u.choose(NAME_CHARS)?));
        }
        Name::new(&raw).map_err(|_| ::arbitrary::Error::IncorrectFormat)
    }
}

impl<'a> Arbitrary<'a> for Role {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&Role::ALL).copied()
    }
}

impl<'a> Arbitrary<'a> for MailKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&[MailKind::Normal, MailKind::NonDelivery])
            .copied()
    }
}

impl<'a> Arbitrary<'a> for ErrorCode {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ErrorCode::from_u16(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for StatusValue {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=2u8)? {
            0 => StatusValue::Count(u.arbitrary()?),
            1 => StatusValue::Text(text(MAX_STATUS_TEXT_LEN)(u)?),
            _ => StatusValue::Flag(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for HistoryKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        u.choose(&HistoryKind::ALL).copied()
    }
}

impl<'a> Arbitrary<'a> for Health {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            Health::Degraded(text(MAX_STATUS_TEXT_LEN)(u)?)
        } else {
            Health::Ok
        })
    }
}

/// A field's value: `Arbitrary` of its type, or the given bounded generator.
macro_rules! field {
    ($u:ident) => {
        $u.arbitrary()?
    };
    ($u:ident, $gen:expr) => {
        $gen($u)?
    };
}

/// `Arbitrary` for structs, field by field; `field = generator` for the
/// fields with a bound.
macro_rules! arbitrary_structs {
    ($( $ty:ident { $( $field:ident $(= $gen:expr)? ),* $(,)? } )*) => {
        $(
            impl<'a> Arbitrary<'a> for $ty {
                #[allow(unused_variables)]
                fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                    Ok($ty { $( $field: field!(u $(, $gen)?), )* })
                }
            }
        )*
    };
}

arbitrary_structs! {
    Address { network, post_office, mailbox }
    Attribute { key, value = text(MAX_TEXT_LEN) }
    EntryVersion { version, changed_at_ms, origin_seq }
    Entry {
        address,
        display_name = text(MAX_TEXT_LEN),
        attributes = list(MAX_ATTRIBUTES),
        owner,
        folder,
        origin,
        version,
        tombstone,
    }
    Frame { request_id, message }

    Hello { min_version, max_version, role, node, nonce }
    Challenge { version, role, node, nonce, proof }
    Authenticate { proof }
    Welcome { session }
    Ping { token }
    Pong { token }

    DirUpload { store_epoch, changes = list(MAX_CHUNK_ITEMS) }
    DirUploadAck { applied_through }
    DirPull { epoch, after, force_full, restore }
    DirPullStart { epoch, full, high_water }
    DirUpdate { update_no, entry }
    DirUpdates { updates = list(MAX_CHUNK_ITEMS) }
    DirPullEnd { epoch, high_water, sent }
    DirNotify { epoch, high_water }

    VectorEntry { server, seq }
    RepPull { epoch, after_usn, vector = list(MAX_VECTOR_LEN), max_changes }
    RepChange { usn, entry }
    RepChanges { changes = list(MAX_CHUNK_ITEMS) }
    RepPullEnd { epoch, high_water_usn, more }
    RepNotify { epoch, high_water_usn }
    SiteWrite { changes = list(MAX_CHUNK_ITEMS) }
    SiteWriteAck { high_water_usn }

    MailTransfer {
        message_id,
        kind,
        from,
        recipients = list(MAX_RECIPIENTS),
        hop_count,
        submitted_at_ms,
        body = |u: &mut Unstructured<'a>| Vec::<u8>::arbitrary(u).map(Bytes::from),
    }
    MailAck { message_id, duplicate }

    StatusRequest {}
    StatusItem { key = text(MAX_STATUS_TEXT_LEN), value }
    StatusReport { node, role, items = list(MAX_STATUS_ITEMS), health }
    UserUpsert {
        address,
        display_name = text(MAX_TEXT_LEN),
        attributes = list(MAX_ATTRIBUTES),
        password = |u: &mut Unstructured<'a>| {
            Ok(if u.arbitrary()? { Some(text(MAX_PASSWORD_LEN)(u)?) } else { None })
        },
    }
    UserDelete { address }
    SyncNow {}
    SetRoute { post_office, next_hop }
    ListGal { after, limit, post_office }
    GalPage { entries = list(MAX_CHUNK_ITEMS), next }
    RemoveRequestor { post_office }
    PurgePostOffice { post_office }
    Repoint { server, endpoint = text(MAX_ENDPOINT_LEN) }
    RestoreRequestor { post_office }
    GalSummaryRequest {}
    PostOfficeDigest { post_office, entries, digest }
    GalSummary { post_offices = list(MAX_SUMMARY_POST_OFFICES) }
    AdminOk { detail = text(MAX_DETAIL_LEN) }
    HistoryRequest { since_ms, max }
    HistoryEvent {
        seq,
        kind,
        peer,
        started_ms,
        ended_ms,
        full,
        sent,
        received,
        applied,
        added,
        updated,
        deleted,
        refused,
        quiet_before,
        error = |u: &mut Unstructured<'a>| {
            Ok(if u.arbitrary()? { Some(text(MAX_HISTORY_TEXT_LEN)(u)?) } else { None })
        },
    }
    HistoryPage { events = list(MAX_HISTORY_EVENTS) }

    ErrorReply { code, text = text(MAX_DETAIL_LEN) }
}

/// The match is exhaustive, so a new message type does not compile until it
/// is listed here (and so reached by the fuzzer).
macro_rules! arbitrary_message {
    ($($variant:ident),* $(,)?) => {
        impl<'a> Arbitrary<'a> for Message {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                Ok(match *u.choose(MessageType::ALL)? {
                    $( MessageType::$variant => Message::$variant(u.arbitrary()?), )*
                })
            }
        }
    };
}

arbitrary_message! {
    Hello, Challenge, Authenticate, Welcome, Ping, Pong,
    DirUpload, DirUploadAck, DirPull, DirPullStart, DirUpdates, DirPullEnd, DirNotify,
    RepPull, RepChanges, RepPullEnd, RepNotify, SiteWrite, SiteWriteAck,
    MailTransfer, MailAck,
    StatusRequest, StatusReport, UserUpsert, UserDelete, SyncNow, SetRoute, ListGal, GalPage,
    RemoveRequestor, PurgePostOffice, Repoint, RestoreRequestor, GalSummaryRequest, GalSummary,
    AdminOk, HistoryRequest, HistoryPage, ErrorReply,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::limits::DEFAULT_MAX_FRAME_BODY;

    /// Deterministic pseudo-random input, so the test needs no fuzzer.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn generated_frames_round_trip_and_reach_every_message_type() {
        let mut seen = BTreeSet::new();
        for seed in 0..4000 {
            let data = bytes(seed, 600);
            let frame = Frame::arbitrary(&mut Unstructured::new(&data)).unwrap();
            seen.insert(frame.message.message_type().code());
            let wire = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).unwrap();
            let (back, used) = decode_frame(&wire, DEFAULT_MAX_FRAME_BODY)
                .unwrap()
                .unwrap();
            assert_eq!(used, wire.len());
            assert_eq!(back, frame);
        }
        assert_eq!(seen.len(), MessageType::ALL.len());
    }

    #[test]
    fn exhausted_input_still_gives_a_valid_value() {
        let frame = Frame::arbitrary(&mut Unstructured::new(&[])).unwrap();
        assert!(frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).is_ok());
    }
}
