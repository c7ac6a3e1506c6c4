//! Hostile and broken input: every case is a typed error (or "need more
//! bytes"), never a panic, and never an allocation the input asked for.

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;
use wire_format::frame::HEADER_LEN;
use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::*;

const MAX: usize = DEFAULT_MAX_FRAME_BODY;

fn header(kind: u8, body_len: u32) -> Vec<u8> {
    let mut h = b"MHUB".to_vec();
    h.push(1);
    h.push(kind);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&7u32.to_be_bytes());
    h.extend_from_slice(&body_len.to_be_bytes());
    h
}

fn sample() -> Frame {
    let entry = Entry {
        address: "ACME/POA/JSMITH".parse().unwrap(),
        display_name: "John Smith".into(),
        attributes: vec![],
        owner: Name::new("POA").unwrap(),
        folder: None,
        origin: Name::new("POA").unwrap(),
        version: EntryVersion {
            version: 1,
            changed_at_ms: 2,
            origin_seq: 3,
        },
        tombstone: false,
    };
    Frame::new(
        9,
        DirUpload {
            store_epoch: 0x0102_0304_0506_0708,
            changes: vec![entry.clone(), entry],
        },
    )
}

#[test]
fn every_truncation_asks_for_more_and_eof_reports_it() {
    let bytes = frame_to_bytes(&sample(), MAX).unwrap();
    for cut in 0..bytes.len() {
        assert!(
            decode_frame(&bytes[..cut], MAX).unwrap().is_none(),
            "cut at {cut}"
        );
        let mut buf = BytesMut::from(&bytes[..cut]);
        let result = FrameCodec::default().decode_eof(&mut buf);
        if cut == 0 {
            assert!(result.unwrap().is_none());
        } else {
            assert!(
                matches!(result, Err(WireError::TruncatedFrame(n)) if n == cut),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn a_body_shorter_than_its_message_is_malformed() {
    let bytes = frame_to_bytes(&sample(), MAX).unwrap();
    let body = &bytes[HEADER_LEN..bytes.len() - 5];
    let mut frame = header(0x10, body.len() as u32);
    frame.extend_from_slice(body);
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Malformed {
                message: "DirUpload",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::Malformed);
}

#[test]
fn trailing_bytes_are_refused() {
    let mut frame = header(0x05, 9);
    frame.extend_from_slice(&[0; 9]);
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert!(err.to_string().contains("1 trailing bytes"), "{err}");
}

#[test]
fn an_oversized_frame_is_refused_from_its_header_alone() {
    let frame = header(0x30, (MAX + 1) as u32);
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert!(matches!(err, WireError::FrameTooLarge { len, max } if len == MAX + 1 && max == MAX));
    assert_eq!(err.code(), ErrorCode::FrameTooLarge);
    // The codec must not reserve what the header asks for.
    let mut buf = BytesMut::from(&header(0x30, u32::MAX)[..]);
    assert!(FrameCodec::new(1024).decode(&mut buf).is_err());
    assert!(buf.capacity() < 1 << 20);
}

#[test]
fn the_codec_reserves_only_what_an_accepted_header_announces() {
    let mut buf = BytesMut::from(&header(0x30, 1000)[..]);
    assert!(FrameCodec::new(4096).decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= HEADER_LEN + 1000);
}

#[test]
fn unknown_types_bad_magic_version_and_flags_are_typed_errors() {
    let err = decode_frame(&header(0x99, 0), MAX).unwrap_err();
    assert!(matches!(err, WireError::UnknownMessageType(0x99)));
    assert_eq!(err.code(), ErrorCode::UnknownMessage);

    // Garbage is refused on its first byte, before a whole header arrives.
    assert!(matches!(
        decode_frame(b"G", MAX),
        Err(WireError::BadMagic { .. })
    ));
    assert!(matches!(
        decode_frame(b"GET / HTTP/1.1\r\n\r\n", MAX),
        Err(WireError::BadMagic { .. })
    ));

    let mut v2 = header(0x05, 8);
    v2[4] = 2;
    assert!(matches!(
        decode_frame(&v2, MAX),
        Err(WireError::UnsupportedFrameVersion {
            found: 2,
            supported: 1
        })
    ));
    let mut flagged = header(0x05, 8);
    flagged[7] = 1;
    assert!(matches!(
        decode_frame(&flagged, MAX),
        Err(WireError::NonZeroFlags(1))
    ));
}

#[test]
fn a_huge_list_count_in_a_small_body_fails_without_allocating_for_it() {
    // DirUpload: the store epoch (8 bytes), then the list's count.
    let mut frame = header(0x10, 12);
    frame.extend_from_slice(&7u64.to_be_bytes());
    frame.extend_from_slice(&u32::MAX.to_be_bytes());
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert!(err.to_string().contains("at most 65536"), "{err}");
    let mut frame = header(0x10, 12);
    frame.extend_from_slice(&7u64.to_be_bytes());
    frame.extend_from_slice(&60_000u32.to_be_bytes());
    assert!(matches!(
        decode_frame(&frame, MAX),
        Err(WireError::Malformed { .. })
    ));
}

#[test]
fn non_canonical_fields_are_refused() {
    // A lower-case name: names have one canonical (upper-case) encoding.
    let mut body = vec![1, 1, 1, 0, 3];
    body.extend_from_slice(b"poa");
    body.extend_from_slice(&[0; 32]);
    let mut frame = header(0x01, body.len() as u32);
    frame.extend_from_slice(&body);
    let err = decode_frame(&frame, MAX).unwrap_err();
    assert!(err.to_string().contains("hello.node"), "{err}");

    // A boolean byte other than 0 or 1.
    let mut frame = header(0x31, 17);
    frame.extend_from_slice(&[0; 16]);
    frame.push(2);
    assert!(
        decode_frame(&frame, MAX)
            .unwrap_err()
            .to_string()
            .contains("mail_ack.duplicate")
    );

    // Invalid UTF-8 in free text.
    let mut frame = header(0x4F, 4);
    frame.extend_from_slice(&[0, 2, 0xff, 0xfe]);
    assert!(
        decode_frame(&frame, MAX)
            .unwrap_err()
            .to_string()
            .contains("UTF-8")
    );

    // An unknown role.
    let mut body = vec![1, 1, 9, 0, 1, b'A'];
    body.extend_from_slice(&[0; 32]);
    let mut frame = header(0x01, body.len() as u32);
    frame.extend_from_slice(&body);
    assert!(
        decode_frame(&frame, MAX)
            .unwrap_err()
            .to_string()
            .contains("unknown role 9")
    );
}

#[test]
fn encoding_an_oversized_field_fails_and_leaves_the_buffer_as_it_was() {
    let mut out = BytesMut::from(&b"kept"[..]);
    let too_long = AdminOk {
        detail: "x".repeat(5000),
    };
    let err = encode_frame(&Frame::new(1, too_long), MAX, &mut out).unwrap_err();
    assert!(matches!(
        err,
        WireError::FieldTooLong {
            field: "admin_ok.detail",
            ..
        }
    ));
    assert_eq!(&out[..], b"kept");

    let big = MailTransfer {
        message_id: [0; 16],
        kind: MailKind::Normal,
        from: "ACME/POA/A".parse().unwrap(),
        recipients: vec![],
        hop_count: 0,
        submitted_at_ms: 0,
        body: vec![0u8; 2048].into(),
    };
    let err = encode_frame(&Frame::new(1, big), 1024, &mut out).unwrap_err();
    assert!(matches!(err, WireError::FrameTooLarge { max: 1024, .. }));
    assert_eq!(&out[..], b"kept");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    /// Arbitrary bytes, raw or behind a valid header, never panic.
    #[test]
    fn garbage_never_panics(kind in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_frame(&body, MAX);
        let mut frame = header(kind, body.len() as u32);
        frame.extend_from_slice(&body);
        let _ = decode_frame(&frame, MAX);
        let mut buf = BytesMut::from(&frame[..]);
        let _ = FrameCodec::default().decode_eof(&mut buf);
    }

    /// Flipping any byte of a valid frame gives a frame or a typed error.
    #[test]
    fn corrupted_frames_never_panic(frame in common::frame(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = frame_to_bytes(&frame, MAX).unwrap().to_vec();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_frame(&bytes, MAX);
    }
}
