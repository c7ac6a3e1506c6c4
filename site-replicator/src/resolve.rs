//! The replication rules, as plain functions: which of two versions of an
//! entry wins, what a local write stamps, and what a puller still needs.
//! Every server applies the same rules, so all converge to the same state
//! whatever order changes arrive in.

use std::collections::HashMap;

use wire_format::{Entry, EntryVersion, Name};

/// True if `incoming` must replace `current`: higher version, then later
/// change time, then the greater origin name. Total and the same everywhere.
pub fn incoming_wins(incoming: &Entry, current: &Entry) -> bool {
    let key = |e: &Entry| (e.version.version, e.version.changed_at_ms, e.origin);
    key(incoming) > key(current)
}

/// Stamps a local write as a change originating at `node`.
pub fn stamp_local(
    mut entry: Entry,
    node: Name,
    previous: Option<&Entry>,
    origin_seq: u64,
    now_ms: u64,
) -> Entry {
    let previous_version = previous.map_or(0, |p| p.version.version);
    // Never stamp a time before the version being replaced, so "later" stays
    // meaningful even if the clock stepped back.
    let previous_time = previous.map_or(0, |p| p.version.changed_at_ms);
    entry.origin = node;
    entry.version = EntryVersion {
        version: previous_version + 1,
        changed_at_ms: now_ms.max(previous_time),
        origin_seq,
    };
    entry
}

/// An up-to-dateness vector: for each origin, the highest origin sequence
/// number applied here. A change at or below it has been seen already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vector(pub HashMap<Name, u64>);

impl Vector {
    pub fn has_seen(&self, entry: &Entry) -> bool {
        self.0
            .get(&entry.origin)
            .is_some_and(|seen| *seen >= entry.version.origin_seq)
    }

    pub fn record(&mut self, entry: &Entry) {
        let seen = self.0.entry(entry.origin).or_insert(0);
        *seen = (*seen).max(entry.version.origin_seq);
    }

    pub fn to_wire(&self) -> Vec<wire_format::VectorEntry> {
        let mut v: Vec<_> = self
            .0
            .iter()
            .map(|(server, seq)| wire_format::VectorEntry {
                server: *server,
                seq: *seq,
            })
            .collect();
        v.sort_by_key(|e| e.server);
        v
    }

    pub fn from_wire(entries: &[wire_format::VectorEntry]) -> Vector {
        let mut v = Vector::default();
        for e in entries {
            let seen = v.0.entry(e.server).or_insert(0);
            *seen = (*seen).max(e.seq);
        }
        v
    }
}

/// What applying one replicated change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New, and it wins: stored under a fresh local USN.
    Applied,
    /// The vector says this change was applied before.
    AlreadySeen,
    /// New, but the stored version wins the conflict.
    Superseded,
}

/// Decides the fate of a replicated change given what is stored.
pub fn decide(incoming: &Entry, current: Option<&Entry>, vector: &Vector) -> Outcome {
    if vector.has_seen(incoming) {
        return Outcome::AlreadySeen;
    }
    match current {
        Some(current) if !incoming_wins(incoming, current) => Outcome::Superseded,
        _ => Outcome::Applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(origin: &str, version: u64, time: u64, seq: u64) -> Entry {
        Entry {
            address: "ACME/POA/JSMITH".parse().unwrap(),
            display_name: format!("{origin} v{version}"),
            attributes: vec![],
            owner: Name::new("POA").unwrap(),
            folder: Some(Name::new("F1").unwrap()),
            origin: Name::new(origin).unwrap(),
            version: EntryVersion {
                version,
                changed_at_ms: time,
                origin_seq: seq,
            },
            tombstone: false,
        }
    }

    #[test]
    fn the_winner_is_the_same_from_either_side() {
        let cases = [
            (entry("H2", 3, 0, 1), entry("H3", 2, 99, 1)),
            (entry("H2", 2, 10, 1), entry("H3", 2, 5, 1)),
            (entry("H3", 2, 10, 1), entry("H2", 2, 10, 1)),
        ];
        for (a, b) in cases {
            assert!(incoming_wins(&a, &b), "{a:?} should beat {b:?}");
            assert!(!incoming_wins(&b, &a));
        }
        let a = entry("H2", 2, 10, 1);
        assert!(
            !incoming_wins(&a, &a.clone()),
            "an identical version is not new"
        );
    }

    #[test]
    fn local_writes_bump_the_version_and_never_go_back_in_time() {
        let old = entry("H3", 4, 1000, 7);
        let new = stamp_local(
            entry("X", 0, 0, 0),
            Name::new("H2").unwrap(),
            Some(&old),
            12,
            500,
        );
        assert_eq!(
            new.version,
            EntryVersion {
                version: 5,
                changed_at_ms: 1000,
                origin_seq: 12
            }
        );
        assert_eq!(new.origin.as_str(), "H2");
        assert!(incoming_wins(&new, &old));
    }

    #[test]
    fn a_change_is_applied_once() {
        let mut vector = Vector::default();
        let change = entry("H3", 1, 1, 5);
        assert_eq!(decide(&change, None, &vector), Outcome::Applied);
        vector.record(&change);
        assert_eq!(
            decide(&change, Some(&change), &vector),
            Outcome::AlreadySeen
        );
        let older = entry("H3", 1, 1, 4);
        assert_eq!(decide(&older, None, &vector), Outcome::AlreadySeen);
    }

    #[test]
    fn a_losing_change_is_superseded_not_applied() {
        let stored = entry("H2", 5, 0, 1);
        let incoming = entry("H3", 4, 9, 1);
        assert_eq!(
            decide(&incoming, Some(&stored), &Vector::default()),
            Outcome::Superseded
        );
    }

    #[test]
    fn vectors_survive_the_wire() {
        let mut v = Vector::default();
        v.record(&entry("H3", 1, 1, 5));
        v.record(&entry("H2", 1, 1, 9));
        assert_eq!(Vector::from_wire(&v.to_wire()), v);
    }
}
