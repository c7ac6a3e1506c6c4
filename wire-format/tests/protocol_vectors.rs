//! The spec and the code cannot drift: every ```hex vector in
//! docs/PROTOCOL.md decodes to the message type it is labelled with and
//! re-encodes byte for byte, and every message type has a vector.

use std::collections::BTreeSet;

use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::*;

fn vectors() -> Vec<(String, Vec<u8>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).expect("read docs/PROTOCOL.md");
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("```hex ") else {
            continue;
        };
        let mut hex_text = String::new();
        for body in lines.by_ref() {
            if body.starts_with("```") {
                break;
            }
            hex_text.extend(body.chars().filter(|c| !c.is_whitespace()));
        }
        let bytes =
            hex::decode(&hex_text).unwrap_or_else(|e| panic!("vector {label}: bad hex: {e}"));
        out.push((label.trim().to_owned(), bytes));
    }
    out
}

#[test]
fn every_vector_decodes_and_re_encodes_byte_for_byte() {
    let vectors = vectors();
    assert!(!vectors.is_empty(), "no vectors found in docs/PROTOCOL.md");
    for (label, bytes) in &vectors {
        let (frame, used) = decode_frame(bytes, DEFAULT_MAX_FRAME_BODY)
            .unwrap_or_else(|e| panic!("vector {label} does not decode: {e}"))
            .unwrap_or_else(|| panic!("vector {label} is incomplete"));
        assert_eq!(
            used,
            bytes.len(),
            "vector {label} has bytes after its frame"
        );
        assert_eq!(
            frame.message.message_type().name(),
            label,
            "vector {label} decodes as another type"
        );
        let again = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).unwrap();
        assert_eq!(
            &again[..],
            &bytes[..],
            "vector {label} re-encodes differently"
        );
    }
}

#[test]
fn every_message_type_has_a_vector() {
    let covered: BTreeSet<String> = vectors().into_iter().map(|(label, _)| label).collect();
    let missing: Vec<&str> = MessageType::ALL
        .iter()
        .map(|t| t.name())
        .filter(|n| !covered.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/PROTOCOL.md has no vector for {missing:?}"
    );
}
