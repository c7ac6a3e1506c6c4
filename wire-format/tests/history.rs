//! Run history's bounds (docs/PROTOCOL.md, "Run history"): a page holds at
//! most 1000 events, an error text at most 1024 bytes, a kind one of three;
//! and an event's stored form is its wire form.

use wire_format::limits::{DEFAULT_MAX_FRAME_BODY, MAX_HISTORY_EVENTS, MAX_HISTORY_TEXT_LEN};
use wire_format::*;

fn event(seq: u64) -> HistoryEvent {
    HistoryEvent {
        seq,
        kind: HistoryKind::Replication,
        peer: Some(Name::new("H3").unwrap()),
        started_ms: 1,
        ended_ms: 2,
        full: true,
        sent: 3,
        received: 4,
        applied: 5,
        added: 6,
        updated: 7,
        deleted: 8,
        refused: 9,
        quiet_before: 10,
        error: Some("é".repeat(MAX_HISTORY_TEXT_LEN / 2)),
    }
}

#[test]
fn a_full_page_round_trips_and_one_more_event_is_refused() {
    let page = HistoryPage {
        events: (0..MAX_HISTORY_EVENTS as u64).rev().map(event).collect(),
    };
    let frame = Frame::new(9, page.clone());
    let wire = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).unwrap();
    let (back, _) = decode_frame(&wire, DEFAULT_MAX_FRAME_BODY)
        .unwrap()
        .unwrap();
    assert_eq!(back.message, Message::HistoryPage(page.clone()));

    let mut over = page;
    over.events.push(event(0));
    let err = frame_to_bytes(&Frame::new(9, over), DEFAULT_MAX_FRAME_BODY).unwrap_err();
    assert!(matches!(
        err,
        WireError::TooManyItems {
            field: "history.events",
            ..
        }
    ));
    // The same count announced on the wire is refused before any event is read.
    let mut body = ((MAX_HISTORY_EVENTS + 1) as u32).to_be_bytes().to_vec();
    body.extend_from_slice(&[0; 8]);
    let err = Message::decode_body(MessageType::HistoryPage, &body).unwrap_err();
    assert!(err.to_string().contains("at most 1000"), "{err}");
}

#[test]
fn an_error_text_past_its_bound_and_an_unknown_kind_are_refused() {
    let mut long = event(1);
    long.error = Some("x".repeat(MAX_HISTORY_TEXT_LEN + 1));
    assert!(matches!(
        long.to_bytes(),
        Err(WireError::FieldTooLong {
            field: "history.error",
            ..
        })
    ));
    let mut bytes = event(1).to_bytes().unwrap();
    bytes[8] = 4; // the kind byte follows the u64 seq
    let err = HistoryEvent::from_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("unknown kind 4"), "{err}");
}

#[test]
fn the_stored_form_is_the_wire_form_and_uses_every_byte() {
    let e = event(42);
    let bytes = e.to_bytes().unwrap();
    assert_eq!(HistoryEvent::from_bytes(&bytes).unwrap(), e);
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(HistoryEvent::from_bytes(&longer).is_err());
    assert!(HistoryEvent::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    // In a page the event is the same bytes after the list's count.
    let mut body = bytes::BytesMut::new();
    Message::from(HistoryPage { events: vec![e] })
        .encode_body(&mut body)
        .unwrap();
    assert_eq!(&body[4..], &bytes[..]);
}
