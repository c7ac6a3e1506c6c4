//! The live site directory in address order, kept up to date from the
//! replicator's log: the operator's listing (ListGal) and the live count
//! read it instead of scanning the whole log on every page, which made
//! listing a large site quadratic (each page of 1,000 rescanned 200,000
//! entries). It is built on first use and then only reads the log's tail.

use std::collections::BTreeMap;
use std::ops::Bound;

use wire_format::Entry;

/// Every live (address, folder) of the site at log position `usn`.
#[derive(Debug, Default)]
pub struct LiveView {
    epoch: u64,
    usn: u64,
    /// Keyed by the address' text, so that the order is the one ListGal
    /// pages in; at most a few folders hold one address (a handover has it
    /// in F1 and in the post office's own folder for a while).
    rows: BTreeMap<String, Vec<Entry>>,
    live: u64,
}

impl LiveView {
    pub fn new(epoch: u64) -> LiveView {
        LiveView {
            epoch,
            ..LiveView::default()
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The log position the view reflects: read the log after it.
    pub fn usn(&self) -> u64 {
        self.usn
    }

    /// Live (address, folder) pairs.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Applies a change of the log. The log holds each (address, folder)
    /// once at its latest change, so the change replaces that pair.
    pub fn apply(&mut self, usn: u64, entry: Entry) {
        self.usn = self.usn.max(usn);
        let key = entry.address.to_string();
        let copies = self.rows.entry(key.clone()).or_default();
        if let Some(at) = copies.iter().position(|e| e.folder == entry.folder) {
            copies.remove(at);
            self.live -= 1;
        }
        if !entry.tombstone {
            copies.push(entry);
            self.live += 1;
        }
        if copies.is_empty() {
            self.rows.remove(&key);
        }
    }

    /// Marks the view as reflecting the log up to `usn` (a read that
    /// ended there, whatever the last change's number).
    pub fn caught_up_to(&mut self, usn: u64) {
        self.usn = self.usn.max(usn);
    }

    /// Up to `limit` live entries after `after`, one per address: a folder
    /// whose name starts with `own_prefix` (the post office's own) wins
    /// over any other. The flag says whether more follow.
    pub fn page(&self, after: Option<&str>, limit: usize, own_prefix: &str) -> (Vec<Entry>, bool) {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut rows = self.rows.range::<str, _>((from, Bound::Unbounded));
        let own = |e: &&Entry| e.folder.is_some_and(|f| f.as_str().starts_with(own_prefix));
        let page = rows
            .by_ref()
            .take(limit)
            .filter_map(|(_, copies)| copies.iter().find(own).or(copies.first()).cloned())
            .collect();
        (page, rows.next().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire_format::{Address, EntryVersion, Name};

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    fn entry(po: &str, mailbox: &str, folder: &str, name: &str) -> Entry {
        Entry {
            address: Address::new(n("ACME"), n(po), n(mailbox)),
            display_name: name.into(),
            attributes: Vec::new(),
            owner: n(po),
            folder: Some(n(folder)),
            origin: n("H2"),
            version: EntryVersion::default(),
            tombstone: false,
        }
    }

    fn dead(mut e: Entry) -> Entry {
        e.tombstone = true;
        e
    }

    #[test]
    fn a_change_replaces_its_folder_copy_and_a_tombstone_removes_it() {
        let mut view = LiveView::new(7);
        view.apply(1, entry("POA", "X", "F1", "old"));
        view.apply(2, entry("POA", "X", "F1", "new"));
        assert_eq!(view.live(), 1);
        let (page, more) = view.page(None, 10, "FS-");
        assert_eq!(page[0].display_name, "new");
        assert!(!more);
        view.apply(3, dead(entry("POA", "X", "F1", "new")));
        assert_eq!(view.live(), 0);
        assert!(view.page(None, 10, "FS-").0.is_empty());
        assert_eq!(view.usn(), 3);
        // A tombstone of a pair never seen is harmless.
        view.apply(4, dead(entry("POB", "Y", "F1", "y")));
        assert_eq!(view.live(), 0);
    }

    #[test]
    fn the_post_offices_own_folder_wins_over_the_import_folder() {
        let mut view = LiveView::new(7);
        view.apply(1, entry("POC", "X", "FS-POC", "own"));
        view.apply(2, entry("POC", "X", "F1", "imported"));
        assert_eq!(view.live(), 2);
        assert_eq!(view.rows["ACME/POC/X"].len(), 2);
        let (page, _) = view.page(None, 10, "FS-");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].display_name, "own");
        view.apply(3, dead(entry("POC", "X", "FS-POC", "own")));
        assert_eq!(view.page(None, 10, "FS-").0[0].display_name, "imported");
    }

    #[test]
    fn pages_follow_address_order_and_say_when_more_follow() {
        let mut view = LiveView::new(7);
        for (i, mailbox) in ["D", "B", "A", "C", "E"].iter().enumerate() {
            view.apply(i as u64 + 1, entry("POA", mailbox, "F1", mailbox));
        }
        let (first, more) = view.page(None, 2, "FS-");
        let names: Vec<_> = first.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!((names, more), (vec!["A", "B"], true));
        let after = first[1].address.to_string();
        let (second, more) = view.page(Some(&after), 3, "FS-");
        let names: Vec<_> = second.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!((names, more), (vec!["C", "D", "E"], false));
    }
}
