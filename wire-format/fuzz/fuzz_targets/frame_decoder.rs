//! Feeds arbitrary bytes to the frame decoder, plainly and through the tokio
//! codec in two pieces. Any panic, or a decoded frame that does not re-encode
//! to the bytes it came from, is a bug.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;
use wire_format::{FrameCodec, decode_frame, frame_to_bytes};

const MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((frame, used))) = decode_frame(data, MAX) {
        let again = frame_to_bytes(&frame, MAX).expect("a decoded frame re-encodes");
        assert_eq!(&again[..], &data[..used], "one encoding per frame");
    }
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut codec = FrameCodec::new(MAX);
    let mut buf = BytesMut::from(&data[..split]);
    let mut ok = true;
    while ok {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => ok = false,
        }
    }
    if ok {
        buf.extend_from_slice(&data[split..]);
        while let Ok(Some(_)) = codec.decode_eof(&mut buf) {}
    }
});
