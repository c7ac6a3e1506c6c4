//! The live site directory in address order, kept up to date from the
//! replicator's log: the operator's listing (ListGal) and the live count
//! read it instead of scanning the whole log on every page, which made
//! listing a large site quadratic (each page of 1,000 rescanned 200,000
//! entries). It is built on first use and then only reads the log's tail.

use std::collections::BTreeMap;
use std::ops::Bound;

use wire_format::{DirUpdate, Entry, Name};

/// Every live (address, folder) of the site at log position `usn`.
#[derive(Debug, Default)]
pub struct LiveView {
    epoch: u64,
    usn: u64,
    /// Keyed by the address' text, so that the order is the one ListGal
    /// pages in; at most a few folders hold one address (a handover has it
    /// in F1 and in the post office's own folder for a while). Each copy
    /// keeps the log position of its change, its update number in a pull.
    rows: BTreeMap<String, Vec<DirUpdate>>,
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
        // Room for exactly one copy, the usual case: an empty Vec's first
        // push reserves four, and at 300 bytes a copy that was most of the
        // view's memory (1.4 KB an address).
        let copies = self
            .rows
            .entry(key.clone())
            .or_insert_with(|| Vec::with_capacity(1));
        if let Some(at) = copies.iter().position(|c| c.entry.folder == entry.folder) {
            copies.remove(at);
            self.live -= 1;
        }
        if !entry.tombstone {
            copies.push(DirUpdate {
                update_no: usn,
                entry,
            });
            self.live += 1;
        }
        if copies.is_empty() {
            self.rows.remove(&key);
        } else if copies.capacity() > copies.len() {
            // A handover's second copy (F1) grew it; gone again, give the
            // room back.
            copies.shrink_to_fit();
        }
    }

    /// Marks the view as reflecting the log up to `usn` (a read that
    /// ended there, whatever the last change's number).
    pub fn caught_up_to(&mut self, usn: u64) {
        self.usn = self.usn.max(usn);
    }

    /// Up to `limit` live entries after `after`, one per address: a folder
    /// whose name starts with `own_prefix` (the post office's own) wins
    /// over any other. Only `post_office`'s users when one is named. The
    /// flag says whether more follow.
    pub fn page(
        &self,
        after: Option<&str>,
        limit: usize,
        own_prefix: &str,
        post_office: Option<&Name>,
    ) -> (Vec<Entry>, bool) {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let own = |c: &&DirUpdate| {
            c.entry
                .folder
                .is_some_and(|f| f.as_str().starts_with(own_prefix))
        };
        let mut shown = self
            .rows
            .range::<str, _>((from, Bound::Unbounded))
            .filter_map(|(_, copies)| copies.iter().find(own).or(copies.first()))
            .map(|c| &c.entry)
            .filter(|e| post_office.is_none_or(|po| e.address.post_office == *po));
        let page = shown.by_ref().take(limit).cloned().collect();
        (page, shown.next().is_some())
    }

    /// A slice of a full pull: every live copy (all folders) that `receives`
    /// lets through, of at most `addresses` addresses after `after`, with
    /// their log positions. Copies changed after `high_water` are left out:
    /// the pull that follows carries them. Returns the last address read,
    /// `None` once the view is exhausted.
    pub fn full_slice(
        &self,
        after: Option<&str>,
        addresses: usize,
        high_water: u64,
        receives: &dyn Fn(&Entry) -> bool,
        out: &mut Vec<DirUpdate>,
    ) -> Option<String> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut last = None;
        for (key, copies) in self
            .rows
            .range::<str, _>((from, Bound::Unbounded))
            .take(addresses)
        {
            out.extend(
                copies
                    .iter()
                    .filter(|c| c.update_no <= high_water && receives(&c.entry))
                    .cloned(),
            );
            last = Some(key);
        }
        last.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire_format::{Address, EntryVersion};

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
        let (page, more) = view.page(None, 10, "FS-", None);
        assert_eq!(page[0].display_name, "new");
        assert!(!more);
        view.apply(3, dead(entry("POA", "X", "F1", "new")));
        assert_eq!(view.live(), 0);
        assert!(view.page(None, 10, "FS-", None).0.is_empty());
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
        let (page, _) = view.page(None, 10, "FS-", None);
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].display_name, "own");
        view.apply(3, dead(entry("POC", "X", "FS-POC", "own")));
        assert_eq!(
            view.page(None, 10, "FS-", None).0[0].display_name,
            "imported"
        );
    }

    #[test]
    fn an_address_holds_room_for_the_copies_it_has_only() {
        let mut view = LiveView::new(7);
        let room = |view: &LiveView| view.rows["ACME/POC/X"].capacity();
        view.apply(1, entry("POC", "X", "FS-POC", "own"));
        view.apply(2, entry("POC", "X", "FS-POC", "renamed"));
        assert_eq!(room(&view), 1);
        // A handover: the F1 copy comes, then goes.
        view.apply(3, entry("POC", "X", "F1", "imported"));
        assert!(room(&view) >= 2);
        view.apply(4, dead(entry("POC", "X", "F1", "imported")));
        assert_eq!(room(&view), 1);
    }

    #[test]
    fn pages_follow_address_order_and_say_when_more_follow() {
        let mut view = LiveView::new(7);
        for (i, mailbox) in ["D", "B", "A", "C", "E"].iter().enumerate() {
            view.apply(i as u64 + 1, entry("POA", mailbox, "F1", mailbox));
        }
        let (first, more) = view.page(None, 2, "FS-", None);
        let names: Vec<_> = first.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!((names, more), (vec!["A", "B"], true));
        let after = first[1].address.to_string();
        let (second, more) = view.page(Some(&after), 3, "FS-", None);
        let names: Vec<_> = second.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!((names, more), (vec!["C", "D", "E"], false));
    }

    #[test]
    fn a_post_office_filter_pages_through_that_post_offices_users_only() {
        let mut view = LiveView::new(7);
        for (i, (po, mailbox)) in [("POA", "A"), ("POB", "B"), ("POA", "C"), ("POB", "D")]
            .iter()
            .enumerate()
        {
            view.apply(i as u64 + 1, entry(po, mailbox, "F1", mailbox));
        }
        let pob = n("POB");
        let (first, more) = view.page(None, 1, "FS-", Some(&pob));
        assert_eq!((first[0].display_name.as_str(), more), ("B", true));
        let after = first[0].address.to_string();
        let (rest, more) = view.page(Some(&after), 5, "FS-", Some(&pob));
        let names: Vec<_> = rest.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!((names, more), (vec!["D"], false));
    }

    #[test]
    fn a_full_pull_reads_every_received_copy_up_to_its_high_water_in_slices() {
        let mut view = LiveView::new(7);
        view.apply(1, entry("POC", "A", "FS-POC", "a own"));
        view.apply(2, entry("POC", "A", "F1", "a imported"));
        view.apply(3, entry("POA", "B", "F1", "b"));
        view.apply(4, entry("POA", "C", "F1", "c"));
        view.apply(5, entry("POD", "D", "FS-POD", "d"));
        view.apply(6, entry("POA", "B", "F1", "b changed"));
        let not_d = |e: &Entry| e.address.post_office != n("POD");
        let mut out = Vec::new();
        // Read at high water 5: B's copy was changed after it, and D is not received.
        let mut after = None;
        let mut slices = 0;
        while let Some(last) = view.full_slice(after.as_deref(), 2, 5, &not_d, &mut out) {
            after = Some(last);
            slices += 1;
        }
        assert_eq!(slices, 2);
        let got: Vec<_> = out
            .iter()
            .map(|u| (u.update_no, u.entry.display_name.as_str()))
            .collect();
        assert_eq!(got, vec![(4, "c"), (1, "a own"), (2, "a imported")]);
    }
}
