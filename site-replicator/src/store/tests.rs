//! Replication between stores without sockets: a "pull" is changes_after on
//! one store and apply_remote on the other, exactly as the network shell does.

use proptest::prelude::*;
use wire_format::{Address, Entry, EntryVersion, Name};

use super::*;

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

struct Server {
    store: SiteStore,
    _dir: tempfile::TempDir,
}

fn server(node: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    Server {
        store: SiteStore::open(dir.path(), name(node)).unwrap(),
        _dir: dir,
    }
}

fn user(folder: &str, mailbox: &str, display: &str) -> Entry {
    Entry {
        address: Address::new(name("ACME"), name("POA"), name(mailbox)),
        display_name: display.into(),
        attributes: vec![],
        owner: name("POA"),
        folder: Some(name(folder)),
        origin: name("UNSET"),
        version: EntryVersion::default(),
        tombstone: false,
    }
}

/// `to` pulls everything new from `from`, in chunks of `chunk`.
fn pull(from: &SiteStore, to: &SiteStore, chunk: usize) -> ApplyCounts {
    let mut total = ApplyCounts::default();
    loop {
        let (epoch, after) = to.peer_mark(&from.node()).unwrap();
        let after = if epoch == from.epoch() { after } else { 0 };
        let page = from
            .changes_after(after, &to.vector().unwrap(), chunk)
            .unwrap();
        let counts = to
            .apply_remote(&from.node(), (from.epoch(), page.scanned_to), &page.changes)
            .unwrap();
        total.applied += counts.applied;
        total.already_seen += counts.already_seen;
        total.superseded += counts.superseded;
        if !page.more {
            return total;
        }
    }
}

fn dump(store: &SiteStore) -> Vec<Entry> {
    store.page(None, usize::MAX, None).unwrap().0
}

#[test]
fn a_write_replicates_once_and_not_back() {
    let (h2, h3) = (server("H2"), server("H3"));
    h3.store
        .local_write(&[user("F1", "JSMITH", "John")], 1000)
        .unwrap();
    assert_eq!(pull(&h3.store, &h2.store, 10).applied, 1);
    assert_eq!(dump(&h2.store), dump(&h3.store));
    // Nothing comes back to its origin, and nothing is applied twice.
    assert_eq!(pull(&h2.store, &h3.store, 10), ApplyCounts::default());
    assert_eq!(pull(&h3.store, &h2.store, 10), ApplyCounts::default());
    assert_eq!(h2.store.folder_counts().unwrap().get("F1"), Some(&1));
}

#[test]
fn three_servers_each_apply_every_other_change_exactly_once() {
    let servers = [server("H1"), server("H2"), server("H3")];
    for (i, s) in servers.iter().enumerate() {
        s.store
            .local_write(&[user("F1", &format!("U{i}"), "x")], 1000)
            .unwrap();
    }
    // Full mesh, several rounds, in an order where relayed copies arrive too.
    for _ in 0..3 {
        for a in &servers {
            for b in &servers {
                if a.store.node() != b.store.node() {
                    pull(&a.store, &b.store, 1);
                }
            }
        }
    }
    for s in &servers {
        assert_eq!(
            s.store.counters().unwrap()["applied"],
            2,
            "{}",
            s.store.node()
        );
        assert_eq!(dump(&s.store).len(), 3);
        assert_eq!(dump(&s.store), dump(&servers[0].store));
    }
}

#[test]
fn concurrent_changes_of_one_entry_converge_on_both_sides() {
    let (h2, h3) = (server("H2"), server("H3"));
    h2.store
        .local_write(&[user("FS1", "JSMITH", "base")], 1000)
        .unwrap();
    pull(&h2.store, &h3.store, 10);
    // Replication "paused": both change the same entry.
    h2.store
        .local_write(&[user("FS1", "JSMITH", "changed at H2")], 2000)
        .unwrap();
    h3.store
        .local_write(&[user("FS1", "JSMITH", "changed at H3")], 2000)
        .unwrap();
    pull(&h2.store, &h3.store, 10);
    pull(&h3.store, &h2.store, 10);
    assert_eq!(dump(&h2.store), dump(&h3.store));
    // Same version and time: the greater origin name wins everywhere.
    assert_eq!(dump(&h2.store)[0].display_name, "changed at H3");
}

#[test]
fn deletes_replicate_as_tombstones_and_are_collected_later() {
    let (h2, h3) = (server("H2"), server("H3"));
    h3.store
        .local_write(&[user("F1", "A", "a"), user("F1", "B", "b")], 1000)
        .unwrap();
    pull(&h3.store, &h2.store, 10);
    let mut gone = user("F1", "A", "a");
    gone.tombstone = true;
    h3.store.local_write(&[gone], 2000).unwrap();
    pull(&h3.store, &h2.store, 10);
    assert_eq!(dump(&h2.store).len(), 1);
    assert_eq!(h2.store.folder_counts().unwrap()["F1"], 1);
    assert_eq!(h2.store.collect_tombstones(1500).unwrap(), 0, "too young");
    assert_eq!(h2.store.collect_tombstones(2500).unwrap(), 1);
    assert_eq!(
        h2.store
            .changes_after(0, &Default::default(), 10)
            .unwrap()
            .changes
            .len(),
        1
    );
}

#[test]
fn a_rebuilt_peer_is_read_again_from_the_start_without_duplicates() {
    let (h2, h3) = (server("H2"), server("H3"));
    h3.store.local_write(&[user("F1", "A", "a")], 1000).unwrap();
    pull(&h3.store, &h2.store, 10);
    // H3 rebuilt: a new store (new epoch) holding what it gets back from H2.
    let rebuilt = server("H3");
    assert_ne!(rebuilt.store.epoch(), h3.store.epoch());
    pull(&h2.store, &rebuilt.store, 10);
    rebuilt
        .store
        .local_write(&[user("F1", "B", "b")], 3000)
        .unwrap();
    let counts = pull(&rebuilt.store, &h2.store, 10);
    assert_eq!(counts.applied, 1);
    assert_eq!(dump(&h2.store), dump(&rebuilt.store));
}

#[test]
fn the_epoch_and_state_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (epoch, hw) = {
        let s = SiteStore::open(dir.path(), name("H2")).unwrap();
        let hw = s.local_write(&[user("F1", "A", "a")], 1).unwrap();
        (s.epoch(), hw)
    };
    let s = SiteStore::open(dir.path(), name("H2")).unwrap();
    assert_eq!((s.epoch(), s.high_water().unwrap()), (epoch, hw));
    assert_eq!(dump(&s).len(), 1);
}

#[test]
fn pages_follow_addresses_and_never_split_one() {
    let s = server("H2");
    s.store
        .local_write(
            &[
                user("F1", "A", "a"),
                user("FS1", "A", "a2"),
                user("F1", "B", "b"),
                user("F1", "C", "c"),
            ],
            1,
        )
        .unwrap();
    let (first, more) = s.store.page(None, 1, None).unwrap();
    assert!(more);
    assert_eq!(first.len(), 2, "both folders' copies of A stay together");
    let from = key_after_address(&first[1].address);
    let (rest, more) = s.store.page(Some(&from), 10, None).unwrap();
    assert!(!more);
    let names: Vec<_> = rest.iter().map(|e| e.address.mailbox.to_string()).collect();
    assert_eq!(names, ["B", "C"]);
}

#[test]
fn entries_without_a_folder_are_refused() {
    let s = server("H2");
    let mut e = user("F1", "A", "a");
    e.folder = None;
    assert!(matches!(
        s.store.local_write(&[e], 1),
        Err(SiteError::NoFolder { .. })
    ));
    assert_eq!(s.store.high_water().unwrap(), 0);
}

#[derive(Debug, Clone)]
enum Op {
    Write {
        at: usize,
        mailbox: u8,
        display: u8,
        delete: bool,
    },
    Pull {
        from: usize,
        to: usize,
        chunk: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..4u8, any::<u8>(), any::<bool>()).prop_map(
            |(at, mailbox, display, delete)| Op::Write {
                at,
                mailbox,
                display,
                delete
            }
        ),
        (0..3usize, 0..3usize, 1..4usize).prop_map(|(from, to, chunk)| Op::Pull {
            from,
            to,
            chunk
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any interleaving of writes and partial pulls, then a full mesh of
    /// pulls: all three servers hold the same directory, and each change was
    /// applied at most once per server.
    #[test]
    fn any_interleaving_converges(ops in proptest::collection::vec(op(), 1..40)) {
        let servers = [server("H1"), server("H2"), server("H3")];
        let mut writes = 0u64;
        for (t, op) in ops.iter().enumerate() {
            match *op {
                Op::Write { at, mailbox, display, delete } => {
                    let mut e = user("F1", &format!("U{mailbox}"), &format!("v{display}"));
                    e.tombstone = delete;
                    servers[at].store.local_write(&[e], 1000 + t as u64).unwrap();
                    writes += 1;
                }
                Op::Pull { from, to, chunk } if from != to => {
                    pull(&servers[from].store, &servers[to].store, chunk);
                }
                Op::Pull { .. } => {}
            }
        }
        for _ in 0..2 {
            for a in 0..3 {
                for b in 0..3 {
                    if a != b {
                        pull(&servers[a].store, &servers[b].store, 2);
                    }
                }
            }
        }
        let reference = dump(&servers[0].store);
        for s in &servers {
            prop_assert_eq!(&dump(&s.store), &reference);
            let c = s.store.counters().unwrap();
            prop_assert!(c["applied"] + c["superseded"] <= writes);
        }
    }
}
