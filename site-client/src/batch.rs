//! Splits a site write into `SiteWrite` frames of bounded size. A frame may
//! carry at most 4 MiB; a big upload or import (a whole post office) must
//! not come near it, yet each frame should carry many entries, since the
//! replicator commits (fsync) once per frame.

use wire_format::Entry;

/// Bytes of entries per `SiteWrite`, well under the 4 MiB frame limit.
pub const WRITE_BYTES: usize = 1 << 20;

/// An upper bound of an entry's encoded size: the fixed fields (address,
/// owner, folder, origin, version, times) fit in 128 bytes; each attribute
/// adds its key and value and their length prefixes.
pub fn size_bound(entry: &Entry) -> usize {
    128 + entry.display_name.len()
        + entry
            .attributes
            .iter()
            .map(|a| 8 + a.key.as_str().len() + a.value.len())
            .sum::<usize>()
}

/// The entries in order, in batches that each stop at the first entry that
/// takes them to `max_bytes` or beyond (so a batch is never empty, and one
/// entry bigger than the bound still goes, alone).
pub fn batches(entries: impl IntoIterator<Item = Entry>, max_bytes: usize) -> Batches {
    Batches {
        entries: entries.into_iter().collect::<Vec<_>>().into_iter(),
        max_bytes,
    }
}

pub struct Batches {
    entries: std::vec::IntoIter<Entry>,
    max_bytes: usize,
}

impl Iterator for Batches {
    type Item = Vec<Entry>;

    fn next(&mut self) -> Option<Vec<Entry>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in self.entries.by_ref() {
            bytes += size_bound(&entry);
            batch.push(entry);
            if bytes >= self.max_bytes {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire_format::{Address, Attribute, EntryVersion, Name};

    fn entry(user: &str, value_len: usize) -> Entry {
        let n = |s: &str| Name::new(s).unwrap();
        Entry {
            address: Address::new(n("ACME"), n("POA"), n(user)),
            display_name: user.to_owned(),
            attributes: vec![Attribute {
                key: n("NOTE"),
                value: "x".repeat(value_len),
            }],
            owner: n("POA"),
            tombstone: false,
            folder: Some(n("F1")),
            origin: n("H2"),
            version: EntryVersion::default(),
        }
    }

    fn users(count: usize, value_len: usize) -> Vec<Entry> {
        (0..count)
            .map(|i| entry(&format!("U{i}"), value_len))
            .collect()
    }

    #[test]
    fn nothing_to_write_is_no_batch() {
        assert_eq!(batches(Vec::new(), WRITE_BYTES).count(), 0);
    }

    #[test]
    fn small_writes_go_in_one_batch() {
        let all = users(50, 10);
        let out: Vec<_> = batches(all.clone(), WRITE_BYTES).collect();
        assert_eq!(out, vec![all]);
    }

    #[test]
    fn batches_keep_order_and_stay_near_the_bound() {
        let all = users(100, 1000);
        let one = size_bound(&all[0]);
        let max = 10 * one + one / 2;
        let out: Vec<_> = batches(all.clone(), max).collect();
        // Each full batch reaches the bound with its last entry, no sooner.
        for b in &out[..out.len() - 1] {
            let bytes: usize = b.iter().map(size_bound).sum();
            assert!(bytes >= max && bytes - size_bound(b.last().unwrap()) < max);
        }
        assert_eq!(out[0].len(), 11);
        assert_eq!(out.concat(), all);
    }

    #[test]
    fn an_entry_over_the_bound_goes_alone() {
        let all = vec![entry("SMALL", 1), entry("HUGE", 5000), entry("NEXT", 1)];
        let max = size_bound(&all[0]) + 100;
        let out: Vec<_> = batches(all, max).collect();
        let names: Vec<Vec<&str>> = out
            .iter()
            .map(|b| b.iter().map(|e| e.display_name.as_str()).collect())
            .collect();
        assert_eq!(names, vec![vec!["SMALL", "HUGE"], vec!["NEXT"]]);
    }

    #[test]
    fn the_bound_covers_the_encoding() {
        let e = entry("JSMITH", 250);
        let mut out = bytes::BytesMut::new();
        e.encode(&mut out).unwrap();
        assert!(out.len() <= size_bound(&e));
        assert!(size_bound(&e) - out.len() < 128, "the bound stays close");
    }
}
