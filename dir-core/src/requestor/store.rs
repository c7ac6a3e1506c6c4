//! A post office's directory on redb. Tables:
//!
//! * `gal`: address -> (number, tag, entry). Tag `LOCAL`: a user of this post
//!   office (number = its last origin sequence number); tag `IMPORTED`: a
//!   user from the server (number = the full-resync generation that brought
//!   it, so a finished resync can drop what the server no longer has);
//! * `outbox`: origin sequence number -> local change not yet acknowledged;
//! * `meta`: outbound sequence, acknowledged sequence, the server's epoch and
//!   update-number mark, resync generation and flag, counters;
//! * `text`: the server this requestor syncs with (set by Repoint).

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use wire_format::{Address, DirUpdate, Entry, GalDigester, Name, PostOfficeDigest};

use super::outbox::{
    self, EPOCH, Ledger, MARK, META, OUT_SEQ, OUTBOX, RESTORE_PENDING, RESTORED, RESYNC_ACTIVE,
    SyncState, add, enqueue, get, set,
};
use crate::{DirError, stored};

const GAL: TableDefinition<&str, &[u8]> = TableDefinition::new("gal");
const TEXT: TableDefinition<&str, &str> = TableDefinition::new("text");

const LOCAL: u8 = 0;
const IMPORTED: u8 = 1;

const N_LOCAL: &str = "local_entries";
const N_IMPORTED: &str = "imported_entries";
const SEEDED: &str = "seeded";

/// The version of a seed user nobody has changed since the store wrote it
/// from its config; every change of a user (here or on a server) is 1 or
/// more. A restore lets the server's copy replace such a user: the seed is
/// older than whatever the operator did with that user before the store
/// was lost.
const SEED_VERSION: u64 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub local: u64,
    pub imported: u64,
    pub pending: u64,
}

pub struct RequestorStore {
    db: Database,
}

impl RequestorStore {
    pub fn open(dir: &Path) -> Result<RequestorStore, DirError> {
        let db = outbox::open(dir, "ds-requestor.redb", |txn, fresh| {
            txn.open_table(GAL).map_err(DirError::store)?;
            txn.open_table(TEXT).map_err(DirError::store)?;
            if fresh {
                // A new store may be the replacement of a lost one: the
                // network still holds this post office's users, and the
                // first pull takes them back (see `restore_own`).
                let mut m = txn.open_table(META).map_err(DirError::store)?;
                set(&mut m, RESTORE_PENDING, 1)?;
            }
            Ok(())
        })?;
        Ok(RequestorStore { db })
    }

    pub fn state(&self) -> Result<SyncState, DirError> {
        self.ledger().sync_state()
    }

    pub fn counts(&self) -> Result<Counts, DirError> {
        let pending = self.ledger().pending_count()?;
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let m = txn.open_table(META).map_err(DirError::store)?;
        Ok(Counts {
            local: get(&m, N_LOCAL)?,
            imported: get(&m, N_IMPORTED)?,
            pending,
        })
    }

    /// Adds or changes a local user: the GAL row and its outbound change are
    /// one transaction, so an acknowledged admin request is never lost.
    /// Returns the change's origin sequence number.
    pub fn upsert_local(&self, entry: Entry) -> Result<u64, DirError> {
        outbox::write(&self.db, |txn| upsert_in(txn, entry, false))
    }

    /// The seed users of a store's first start, in one transaction, once:
    /// a restart never brings back a seed user the operator deleted since.
    /// Returns how many were added (0 on every later start).
    pub fn seed_once(&self, entries: Vec<Entry>) -> Result<u64, DirError> {
        outbox::write(&self.db, |txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            if get(&m, SEEDED)? != 0 {
                return Ok(0);
            }
            set(&mut m, SEEDED, 1)?;
            drop(m);
            let n = entries.len() as u64;
            for entry in entries {
                upsert_in(txn, entry, true)?;
            }
            Ok(n)
        })
    }

    /// Deletes a local user: the GAL row goes, a tombstone is queued.
    pub fn delete_local(&self, address: &Address, changed_at_ms: u64) -> Result<u64, DirError> {
        outbox::write(&self.db, |txn| {
            let mut gal = txn.open_table(GAL).map_err(DirError::store)?;
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let key = address.to_string();
            let found = match gal.get(key.as_str()).map_err(DirError::store)? {
                Some(v) => stored::decode(&key, v.value())?,
                None => return Err(DirError::NotFound(key)),
            };
            let (_, tag, mut entry) = found;
            if tag != LOCAL {
                return Err(DirError::NotFound(key));
            }
            gal.remove(key.as_str()).map_err(DirError::store)?;
            add(&mut m, N_LOCAL, -1)?;
            let seq = get(&m, OUT_SEQ)? + 1;
            entry.tombstone = true;
            entry.version.version += 1;
            entry.version.origin_seq = seq;
            entry.version.changed_at_ms = changed_at_ms;
            enqueue(txn, seq, &entry)?;
            set(&mut m, OUT_SEQ, seq)?;
            Ok(seq)
        })
    }

    /// The own changes on their way to the server (pending, acknowledged,
    /// queued again for a server that lost them) and the resync generation.
    pub fn ledger(&self) -> Ledger<'_> {
        Ledger::new(&self.db, requeue_all, true)
    }

    /// Applies one chunk in one transaction. Incremental (`full_gen` None):
    /// the mark moves to the chunk's last update number in the same
    /// transaction. Full: entries are stamped with the generation and the
    /// mark waits for [`RequestorStore::finish_pull`]. Entries of this post
    /// office are never imported over local ones.
    ///
    /// The commit is not flushed to disk: nobody is told a chunk arrived,
    /// and the pull's end ([`Self::apply_and_finish`], [`Self::finish_pull`])
    /// is a durable commit that flushes every chunk before it. A crash in
    /// between falls back to the last durable state, whose mark (or active
    /// resync) makes the next pull ask for the same changes again. One
    /// fsync per pull instead of one per chunk is most of a full resync's
    /// speed.
    pub fn apply_chunk(
        &self,
        own: &[Name],
        full_gen: Option<u64>,
        updates: &[DirUpdate],
    ) -> Result<u64, DirError> {
        let mut txn = self.db.begin_write().map_err(DirError::store)?;
        txn.set_durability(Durability::None)
            .map_err(DirError::store)?;
        let applied = apply_in(&txn, own, full_gen, updates)?;
        txn.commit().map_err(DirError::store)?;
        Ok(applied)
    }

    /// Ends a pull: records the server's epoch and high water. After a full
    /// resync, in the same transaction, drops every imported entry that the
    /// resync did not bring: the GAL is then exactly the server's set.
    pub fn finish_pull(
        &self,
        epoch: u64,
        high_water: u64,
        full_gen: Option<u64>,
    ) -> Result<u64, DirError> {
        outbox::write(&self.db, |txn| finish_in(txn, epoch, high_water, full_gen))
    }

    /// The last chunk of a pull and its end in one transaction: one commit
    /// (one fsync) instead of two, which is most of a quiet requestor's
    /// latency when a single change arrives.
    pub fn apply_and_finish(
        &self,
        own: &[Name],
        full_gen: Option<u64>,
        updates: &[DirUpdate],
        epoch: u64,
        high_water: u64,
    ) -> Result<(u64, u64), DirError> {
        outbox::write(&self.db, |txn| {
            let applied = apply_in(txn, own, full_gen, updates)?;
            Ok((applied, finish_in(txn, epoch, high_water, full_gen)?))
        })
    }

    /// Patent step E: syncs with `server` at `endpoint` from now on. The
    /// mark is forgotten (the next pull is a full resync, which replaces the
    /// old server's entries rather than merging with them) and every local
    /// user is queued again for the new server.
    pub fn repoint(&self, server: &Name, endpoint: &str) -> Result<(), DirError> {
        outbox::write(&self.db, |txn| {
            {
                let mut text = txn.open_table(TEXT).map_err(DirError::store)?;
                text.insert("server", server.as_str())
                    .map_err(DirError::store)?;
                text.insert("endpoint", endpoint).map_err(DirError::store)?;
                let mut m = txn.open_table(META).map_err(DirError::store)?;
                set(&mut m, EPOCH, 0)?;
                set(&mut m, MARK, 0)?;
            }
            requeue_all(txn, 0)
        })
    }

    /// The server set by the last Repoint, if any: (name, endpoint).
    pub fn current_server(&self) -> Result<Option<(String, String)>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let text = txn.open_table(TEXT).map_err(DirError::store)?;
        let server = text.get("server").map_err(DirError::store)?;
        let endpoint = text.get("endpoint").map_err(DirError::store)?;
        Ok(match (server, endpoint) {
            (Some(s), Some(e)) => Some((s.value().to_owned(), e.value().to_owned())),
            _ => None,
        })
    }

    /// GAL entries (local and imported) in address order after `after`,
    /// only `post_office`'s when one is named.
    pub fn page(
        &self,
        after: Option<&Address>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let gal = txn.open_table(GAL).map_err(DirError::store)?;
        let from = after.map(ToString::to_string);
        let lower = match &from {
            Some(k) => Bound::Excluded(k.as_str()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for row in gal
            .range::<&str>((lower, Bound::Unbounded))
            .map_err(DirError::store)?
        {
            let (k, v) = row.map_err(DirError::store)?;
            let entry = stored::decode(k.value(), v.value())?.2;
            if post_office.is_some_and(|po| entry.address.post_office != *po) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(entry);
        }
        Ok((out, false))
    }

    /// The GAL's digest per post office (`GalSummary`), from one read
    /// transaction: a consistent view, however busy the requestor is.
    pub fn gal_summary(&self) -> Result<Vec<PostOfficeDigest>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let gal = txn.open_table(GAL).map_err(DirError::store)?;
        let mut digester = GalDigester::new();
        for row in gal.iter().map_err(DirError::store)? {
            let (k, v) = row.map_err(DirError::store)?;
            digester.add(&stored::decode(k.value(), v.value())?.2);
        }
        Ok(digester.finish())
    }
}

fn apply_in(
    txn: &WriteTransaction,
    own: &[Name],
    full_gen: Option<u64>,
    updates: &[DirUpdate],
) -> Result<u64, DirError> {
    let mut gal = txn.open_table(GAL).map_err(DirError::store)?;
    let mut m = txn.open_table(META).map_err(DirError::store)?;
    // A new store's first full pull carries its own users back too.
    let restoring = full_gen.is_some() && get(&m, RESTORE_PENDING)? != 0;
    let changed_here = if restoring {
        changed_here(txn)?
    } else {
        HashSet::new()
    };
    let mut imported = 0i64;
    let mut applied = 0;
    for u in updates {
        let entry = &u.entry;
        if own.contains(&entry.address.post_office) {
            if restoring && restore_own(txn, &mut gal, &mut m, entry, &changed_here)? {
                applied += 1;
            }
            continue;
        }
        let key = entry.address.to_string();
        let tag = match gal.get(key.as_str()).map_err(DirError::store)? {
            Some(v) => Some(stored::header(&key, v.value())?.1),
            None => None,
        };
        if tag == Some(LOCAL) {
            continue;
        }
        if entry.tombstone {
            if tag.is_some() && !held_in_another_folder(&gal, &key, entry)? {
                gal.remove(key.as_str()).map_err(DirError::store)?;
                imported -= 1;
            }
        } else {
            let value = stored::encode(full_gen.unwrap_or(0), IMPORTED, entry)?;
            gal.insert(key.as_str(), value.as_slice())
                .map_err(DirError::store)?;
            if tag.is_none() {
                imported += 1;
            }
        }
        applied += 1;
    }
    add(&mut m, N_IMPORTED, imported)?;
    if full_gen.is_none()
        && let Some(last) = updates.last()
    {
        set(&mut m, MARK, last.update_no)?;
    }
    Ok(applied)
}

/// Addresses this store changed itself (queued with a version above
/// [`SEED_VERSION`]): made after it was created, so newer than anything
/// the server holds of an earlier store.
fn changed_here(txn: &WriteTransaction) -> Result<HashSet<String>, DirError> {
    let outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
    let mut out = HashSet::new();
    for row in outbox.iter().map_err(DirError::store)? {
        let (seq, v) = row.map_err(DirError::store)?;
        let (_, _, entry) = stored::decode(&format!("outbox {}", seq.value()), v.value())?;
        if entry.version.version != SEED_VERSION {
            out.insert(entry.address.to_string());
        }
    }
    Ok(out)
}

/// One of the post office's own users, sent back by the server to a new
/// store (a restore): taken as a local user, unless this store changed that
/// address itself since it was created, deletes included; those changes are
/// newer, made after the old store was lost, and win. A seed user nobody
/// changed yields to the server's copy, and its queued upload is dropped so
/// that it does not overwrite that copy. Returns whether the user was taken.
fn restore_own(
    txn: &WriteTransaction,
    gal: &mut redb::Table<&str, &[u8]>,
    m: &mut redb::Table<&'static str, u64>,
    entry: &Entry,
    changed_here: &HashSet<String>,
) -> Result<bool, DirError> {
    let key = entry.address.to_string();
    if entry.tombstone || changed_here.contains(&key) {
        return Ok(false);
    }
    let previous = match gal.get(key.as_str()).map_err(DirError::store)? {
        Some(v) => Some(stored::decode(&key, v.value())?),
        None => None,
    };
    match previous {
        Some((_, LOCAL, local)) if local.version.version != SEED_VERSION => return Ok(false),
        Some((seq, LOCAL, _)) => {
            let mut outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
            outbox.remove(seq).map_err(DirError::store)?;
        }
        Some(_) => {
            add(m, N_IMPORTED, -1)?;
            add(m, N_LOCAL, 1)?;
        }
        None => add(m, N_LOCAL, 1)?,
    }
    // As a local user: in no folder (the server's own folder for it, in
    // site mode, is the server's business), with the server's version, so
    // that a change made here later is numbered above it.
    let mut mine = entry.clone();
    mine.folder = None;
    gal.insert(key.as_str(), stored::encode(0, LOCAL, &mine)?.as_slice())
        .map_err(DirError::store)?;
    add(m, RESTORED, 1)?;
    Ok(true)
}

/// Writes a local user and queues its change. A seed user (`seed`) gets
/// [`SEED_VERSION`], every other change the next version.
fn upsert_in(txn: &WriteTransaction, mut entry: Entry, seed: bool) -> Result<u64, DirError> {
    let mut gal = txn.open_table(GAL).map_err(DirError::store)?;
    let mut m = txn.open_table(META).map_err(DirError::store)?;
    let key = entry.address.to_string();
    let previous = match gal.get(key.as_str()).map_err(DirError::store)? {
        Some(v) => Some(stored::decode(&key, v.value())?),
        None => None,
    };
    let seq = get(&m, OUT_SEQ)? + 1;
    entry.version.version = if seed {
        SEED_VERSION
    } else {
        previous.as_ref().map_or(0, |(_, _, e)| e.version.version) + 1
    };
    entry.version.origin_seq = seq;
    entry.tombstone = false;
    match previous.as_ref().map(|(_, tag, _)| *tag) {
        Some(LOCAL) => {}
        Some(_) => {
            add(&mut m, N_IMPORTED, -1)?;
            add(&mut m, N_LOCAL, 1)?;
        }
        None => add(&mut m, N_LOCAL, 1)?,
    }
    gal.insert(key.as_str(), stored::encode(seq, LOCAL, &entry)?.as_slice())
        .map_err(DirError::store)?;
    enqueue(txn, seq, &entry)?;
    set(&mut m, OUT_SEQ, seq)?;
    Ok(seq)
}

/// A site directory can hold one address in two folders for a while (a
/// handover migration: the old copy in F1 until the post office's own folder
/// holds it). The delete of one copy must not remove the entry this GAL
/// shows from the other.
fn held_in_another_folder(
    gal: &redb::Table<&str, &[u8]>,
    key: &str,
    delete: &Entry,
) -> Result<bool, DirError> {
    let Some(folder) = delete.folder else {
        return Ok(false);
    };
    let Some(v) = gal.get(key).map_err(DirError::store)? else {
        return Ok(false);
    };
    let (_, _, shown) = stored::decode(key, v.value())?;
    Ok(shown.folder.is_some_and(|f| f != folder))
}

fn finish_in(
    txn: &WriteTransaction,
    epoch: u64,
    high_water: u64,
    full_gen: Option<u64>,
) -> Result<u64, DirError> {
    let mut m = txn.open_table(META).map_err(DirError::store)?;
    let mut dropped = 0u64;
    if let Some(generation) = full_gen {
        let mut gal = txn.open_table(GAL).map_err(DirError::store)?;
        gal.retain(|_, v| {
            let keep = match v.split_first_chunk::<8>() {
                Some((n, [tag, ..])) => *tag == LOCAL || u64::from_be_bytes(*n) == generation,
                _ => false,
            };
            dropped += u64::from(!keep);
            keep
        })
        .map_err(DirError::store)?;
        add(&mut m, N_IMPORTED, -(dropped as i64))?;
        set(&mut m, RESYNC_ACTIVE, 0)?;
        // The restore asked for with this full pull is complete.
        set(&mut m, RESTORE_PENDING, 0)?;
    }
    set(&mut m, EPOCH, epoch)?;
    set(&mut m, MARK, high_water)?;
    Ok(dropped)
}

/// Clears the outbox and queues every live local user again with fresh
/// sequence numbers; the acknowledged mark becomes `acked`.
fn requeue_all(txn: &WriteTransaction, acked: u64) -> Result<(), DirError> {
    let mut local = Vec::new();
    let mut gal = txn.open_table(GAL).map_err(DirError::store)?;
    for row in gal.iter().map_err(DirError::store)? {
        let (k, v) = row.map_err(DirError::store)?;
        let (_, tag, entry) = stored::decode(k.value(), v.value())?;
        if tag == LOCAL {
            local.push(entry);
        }
    }
    outbox::requeue(txn, acked, local, |seq, entry| {
        gal.insert(
            entry.address.to_string().as_str(),
            stored::encode(seq, LOCAL, entry)?.as_slice(),
        )
        .map_err(DirError::store)?;
        Ok(())
    })
}
