//! Builds a valid frame (any message type) from the fuzz input, encodes it
//! and decodes it back: the result must equal the original and use every
//! byte. An encode error, a decode error or a difference is a codec bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::{Frame, decode_frame, frame_to_bytes};

fuzz_target!(|frame: Frame| {
    let wire = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).expect("a valid frame encodes");
    let (back, used) = decode_frame(&wire, DEFAULT_MAX_FRAME_BODY)
        .expect("an encoded frame decodes")
        .expect("an encoded frame is complete");
    assert_eq!(used, wire.len(), "the decoder used every byte");
    assert_eq!(back, frame);
});
