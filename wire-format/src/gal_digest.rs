//! The per-post-office digest of a GAL that [`GalSummary`] carries, so an
//! operator can check that two GALs hold the same users without reading
//! either whole (20 GALs of 200,000 entries are 4 million entries to list).
//!
//! For each post office, SHA-256 over its live entries in ascending order
//! of the address' text form, each as: u16 length + address text,
//! u16 length + display name, u16 attribute count, then per attribute
//! (sorted by key, then value) u16 length + key, u16 length + value; all
//! lengths big-endian, all text UTF-8. Owner, folder, version and origin
//! are replication metadata and stay out: two GALs that show the same
//! users are equal however the entries reached them.
//!
//! [`GalSummary`]: crate::GalSummary

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::entry::{Entry, Name};
use crate::message::PostOfficeDigest;

/// Feeds entries, in ascending address order, into one digest per post office.
#[derive(Default)]
pub struct GalDigester {
    post_offices: BTreeMap<Name, (u64, Sha256)>,
}

impl GalDigester {
    pub fn new() -> GalDigester {
        GalDigester::default()
    }

    /// Adds a live entry; tombstones are not users and are skipped.
    pub fn add(&mut self, entry: &Entry) {
        if entry.tombstone {
            return;
        }
        let (count, hasher) = self
            .post_offices
            .entry(entry.address.post_office)
            .or_insert_with(|| (0, Sha256::new()));
        *count += 1;
        let put = |hasher: &mut Sha256, text: &str| {
            // Every text field is bounded far below u16::MAX by the limits.
            let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
            hasher.update(len.to_be_bytes());
            hasher.update(text.as_bytes());
        };
        put(hasher, &entry.address.to_string());
        put(hasher, &entry.display_name);
        let mut attributes: Vec<_> = entry.attributes.iter().collect();
        attributes.sort();
        let n = u16::try_from(attributes.len()).unwrap_or(u16::MAX);
        hasher.update(n.to_be_bytes());
        for a in attributes {
            put(hasher, a.key.as_str());
            put(hasher, &a.value);
        }
    }

    /// One digest per post office that has a live entry, by name.
    pub fn finish(self) -> Vec<PostOfficeDigest> {
        self.post_offices
            .into_iter()
            .map(|(post_office, (entries, hasher))| PostOfficeDigest {
                post_office,
                entries,
                digest: hasher.finalize().into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Address, Attribute, EntryVersion};

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    fn user(po: &str, mailbox: &str, name: &str) -> Entry {
        Entry {
            address: Address::new(n("ACME"), n(po), n(mailbox)),
            display_name: name.into(),
            attributes: Vec::new(),
            owner: n(po),
            folder: None,
            origin: n(po),
            version: EntryVersion::default(),
            tombstone: false,
        }
    }

    fn digest(entries: &[Entry]) -> Vec<PostOfficeDigest> {
        let mut d = GalDigester::new();
        entries.iter().for_each(|e| d.add(e));
        d.finish()
    }

    #[test]
    fn metadata_does_not_count_but_every_shown_field_does() {
        let a = user("POA", "X", "Ann");
        let mut moved = a.clone();
        moved.owner = n("H3");
        moved.folder = Some(n("F1"));
        moved.version.version = 9;
        assert_eq!(digest(std::slice::from_ref(&a)), digest(&[moved]));
        let mut renamed = a.clone();
        renamed.display_name = "Anne".into();
        assert_ne!(digest(std::slice::from_ref(&a)), digest(&[renamed]));
        let mut phoned = a.clone();
        phoned.attributes.push(Attribute {
            key: n("PHONE"),
            value: "1".into(),
        });
        assert_ne!(digest(&[a]), digest(&[phoned]));
    }

    #[test]
    fn one_digest_per_post_office_and_tombstones_are_not_users() {
        let mut gone = user("POB", "Z", "Zed");
        gone.tombstone = true;
        let both = digest(&[
            user("POA", "X", "Ann"),
            user("POA", "Y", "Bob"),
            gone,
            user("POC", "W", "Cy"),
        ]);
        let names: Vec<_> = both
            .iter()
            .map(|d| (d.post_office.as_str(), d.entries))
            .collect();
        assert_eq!(names, [("POA", 2), ("POC", 1)]);
        // POA's digest does not depend on the other post offices.
        let alone = digest(&[user("POA", "X", "Ann"), user("POA", "Y", "Bob")]);
        assert_eq!(both[0], alone[0]);
    }

    #[test]
    fn the_digest_hashes_the_bytes_the_protocol_names() {
        let mut e = user("POA", "JSMITH", "John Smith");
        e.attributes.push(Attribute {
            key: n("PHONE"),
            value: "x1234".into(),
        });
        let mut bytes = Vec::new();
        for text in ["ACME/POA/JSMITH", "John Smith"] {
            bytes.extend_from_slice(&(text.len() as u16).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes.extend_from_slice(&[0, 1]);
        for text in ["PHONE", "x1234"] {
            bytes.extend_from_slice(&(text.len() as u16).to_be_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        let expected: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(digest(&[e])[0].digest, expected);
        // The digest of docs/PROTOCOL.md's GalSummary vector.
        assert_eq!(expected[..4], [0x29, 0xee, 0xc7, 0x1e]);
    }

    #[test]
    fn field_boundaries_are_part_of_the_digest() {
        // "AB" + "C" must not hash like "A" + "BC".
        assert_ne!(
            digest(&[user("POA", "X", "AB"), user("POA", "Y", "C")]),
            digest(&[user("POA", "X", "A"), user("POA", "Y", "BC")])
        );
    }
}
