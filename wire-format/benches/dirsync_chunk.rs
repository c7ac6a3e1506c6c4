//! Encode and decode throughput of one dirsync update chunk of 1,000 entries,
//! in entries per second (criterion's "elements"). Issue #2's target: at least
//! 2 million entries/s decoded on one core.
//!
//! `cargo bench -p wire-format --bench dirsync_chunk`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wire_format::limits::DEFAULT_MAX_FRAME_BODY;
use wire_format::*;

const ENTRIES: usize = 1000;

fn chunk() -> Frame {
    let name = |s: &str| Name::new(s).expect("valid bench name");
    let updates = (0..ENTRIES)
        .map(|i| DirUpdate {
            update_no: 1_000_000 + i as u64,
            entry: Entry {
                address: Address::new(
                    name("ACME"),
                    name(&format!("PO{}", i % 20)),
                    name(&format!("USER{i:06}")),
                ),
                display_name: format!("User Number {i:06}"),
                attributes: vec![Attribute {
                    key: name("PHONE"),
                    value: format!("+44 1243 {i:06}"),
                }],
                owner: name(&format!("PO{}", i % 20)),
                folder: Some(name("F1")),
                origin: name("H3"),
                version: EntryVersion {
                    version: 3,
                    changed_at_ms: 1_700_000_000_000 + i as u64,
                    origin_seq: i as u64,
                },
                tombstone: i % 50 == 0,
            },
        })
        .collect();
    Frame::new(1, DirUpdates { updates })
}

fn bench(c: &mut Criterion) {
    let frame = chunk();
    let bytes = frame_to_bytes(&frame, DEFAULT_MAX_FRAME_BODY).expect("chunk encodes");
    let mut group = c.benchmark_group("dirsync_chunk_1000_entries");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("encode", |b| {
        let mut out = bytes::BytesMut::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            encode_frame(black_box(&frame), DEFAULT_MAX_FRAME_BODY, &mut out).expect("encodes");
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let decoded = decode_frame(black_box(&bytes), DEFAULT_MAX_FRAME_BODY).expect("decodes");
            black_box(decoded)
        })
    });
    group.finish();
    println!(
        "chunk size on the wire: {} bytes for {ENTRIES} entries",
        bytes.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
