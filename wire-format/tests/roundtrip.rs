//! Every message survives encode -> decode unchanged, through the plain
//! functions and through the tokio codec, whole or byte by byte.

mod common;

use std::collections::BTreeSet;

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};
use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_frame_round_trips(frame in common::frame()) {
        let bytes = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).unwrap();
        let (decoded, used) = decode_frame(&bytes, DEFAULT_MAX_FRAME_BODY).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&decoded, &frame);
        // One encoding per message: re-encoding gives the same bytes.
        prop_assert_eq!(frame_to_bytes(&decoded, DEFAULT_MAX_FRAME_BODY).unwrap(), bytes);
    }

    #[test]
    fn the_codec_reassembles_frames_split_anywhere(
        frames in proptest::collection::vec(common::frame(), 1..4),
        cut in 1usize..64,
    ) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for f in &frames {
            codec.encode(f.clone(), &mut wire).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(cut) {
            buf.extend_from_slice(piece);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn every_entry_round_trips_on_its_own(entry in common::entry()) {
        let mut out = BytesMut::new();
        entry.encode(&mut out).unwrap();
        let (rest, decoded) = Entry::decode(&out).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(decoded, entry);
    }
}

/// The strategy reaches every message type, so the property above covers them all.
#[test]
fn the_strategy_generates_every_message_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = common::message();
    let mut seen = BTreeSet::new();
    for _ in 0..20_000 {
        seen.insert(
            strategy
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .message_type(),
        );
        if seen.len() == MessageType::ALL.len() {
            break;
        }
    }
    let missing: Vec<_> = MessageType::ALL
        .iter()
        .filter(|t| !seen.contains(t))
        .collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}
