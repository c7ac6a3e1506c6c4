//! The durable site directory: entries by (folder, address), the change log by
//! local USN, the up-to-dateness vector, each peer's mark and persistent
//! counters, in one redb database. Every method is one ACID transaction, so a
//! mark is never recorded past a change that is not committed.

mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use redb::{Database, ReadableDatabase};
use wire_format::{Entry, Name, RepChange};

use crate::SiteError;
use crate::resolve::{Outcome, Vector, decide, stamp_local};
use tables::*;

/// Counts of what applying one chunk of replicated changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyCounts {
    pub applied: u64,
    pub already_seen: u64,
    pub superseded: u64,
}

/// One page of the log for a puller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    pub changes: Vec<RepChange>,
    /// The last USN looked at (sent or filtered out): the puller's next mark.
    pub scanned_to: u64,
    pub more: bool,
}

pub struct SiteStore {
    db: Database,
    path: PathBuf,
    node: Name,
    epoch: u64,
}

/// The store key of an entry: `NETWORK/POSTOFFICE/MAILBOX|FOLDER`. Names hold
/// no '|', so the key is unambiguous, and all folders' copies of one address
/// sit together, which lets the GAL be paged by address.
pub fn entry_key(folder: &Name, entry: &Entry) -> String {
    format!("{}|{folder}", entry.address)
}

/// The first key after every key of `address`: '}' sorts after '|' and after
/// every character a name may hold.
pub fn key_after_address(address: &wire_format::Address) -> String {
    format!("{address}}}")
}

impl SiteStore {
    /// Opens (or creates) the store in `dir`. A new store gets a random epoch:
    /// a server rebuilt from scratch is a new log that peers must re-read.
    pub fn open(dir: &Path, node: Name) -> Result<SiteStore, SiteError> {
        let path = dir.join("site.redb");
        let db = store_file::open(&path, &mut redb::Builder::new())?;
        let store = SiteStore {
            db,
            path,
            node,
            epoch: 0,
        };
        let epoch = store.write(|t| {
            let current = t.meta_get(META_EPOCH)?;
            if current != 0 {
                return Ok(current);
            }
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| t.err(e))?;
            let epoch = u64::from_be_bytes(bytes).max(1);
            t.meta_set(META_EPOCH, epoch)?;
            // A rebuilt server reuses its name. Starting its origin sequence at
            // the current time in microseconds puts every change it makes above
            // those of its earlier life, which peers' vectors already hold;
            // otherwise they would take its new changes for old ones and drop them.
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            t.meta_set(META_LAST_SEQ, now_us)?;
            Ok(epoch)
        })?;
        Ok(SiteStore { epoch, ..store })
    }

    pub fn node(&self) -> Name {
        self.node
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn write<T>(
        &self,
        body: impl FnOnce(&mut WriteTables<'_>) -> Result<T, SiteError>,
    ) -> Result<T, SiteError> {
        let txn = self
            .db
            .begin_write()
            .map_err(|e| SiteError::store(&self.path, e))?;
        let result = {
            let mut tables = WriteTables::open(&txn, &self.path)?;
            body(&mut tables)?
        };
        txn.commit().map_err(|e| SiteError::store(&self.path, e))?;
        Ok(result)
    }

    fn read(&self) -> Result<ReadTables, SiteError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| SiteError::store(&self.path, e))?;
        ReadTables::open(txn, &self.path)
    }

    pub fn high_water(&self) -> Result<u64, SiteError> {
        self.read()?.meta_get(META_LAST_USN)
    }

    /// Writes local changes (from a local DS role), stamping each as
    /// originating here. Returns the new high-water USN.
    pub fn local_write(&self, changes: &[Entry], now_ms: u64) -> Result<u64, SiteError> {
        // An empty write is how a client asks for the log end: a read, no commit.
        if changes.is_empty() {
            return self.high_water();
        }
        for change in changes {
            if change.folder.is_none() {
                return Err(SiteError::NoFolder {
                    address: change.address.to_string(),
                });
            }
        }
        self.write(|t| {
            for change in changes {
                let Some(folder) = change.folder else {
                    continue;
                };
                let key = entry_key(&folder, change);
                let previous = t.entry(&key)?;
                // Also above anything of ours that came back through a peer.
                let seen_of_ours = t.vector()?.0.get(&self.node).copied().unwrap_or(0);
                let seq = t.meta_get(META_LAST_SEQ)?.max(seen_of_ours) + 1;
                t.meta_set(META_LAST_SEQ, seq)?;
                let stamped = stamp_local(
                    change.clone(),
                    self.node,
                    previous.as_ref().map(|(_, e)| e),
                    seq,
                    now_ms,
                );
                t.vector_record(&stamped)?;
                t.put(&key, &stamped, previous)?;
            }
            t.meta_get(META_LAST_USN)
        })
    }

    /// Applies one chunk pulled from `peer` and records `mark` (the peer's
    /// epoch and the last USN of theirs this chunk covers) in the same
    /// transaction.
    pub fn apply_remote(
        &self,
        peer: &Name,
        mark: (u64, u64),
        changes: &[RepChange],
    ) -> Result<ApplyCounts, SiteError> {
        self.write(|t| {
            let mut counts = ApplyCounts::default();
            let mut vector = t.vector()?;
            for change in changes {
                let entry = &change.entry;
                let Some(folder) = entry.folder else {
                    return Err(SiteError::NoFolder {
                        address: entry.address.to_string(),
                    });
                };
                let key = entry_key(&folder, entry);
                let current = t.entry(&key)?;
                match decide(entry, current.as_ref().map(|(_, e)| e), &vector) {
                    Outcome::Applied => {
                        counts.applied += 1;
                        t.put(&key, entry, current)?;
                    }
                    Outcome::AlreadySeen => counts.already_seen += 1,
                    Outcome::Superseded => counts.superseded += 1,
                }
                if !vector.has_seen(entry) {
                    vector.record(entry);
                    t.vector_record(entry)?;
                }
            }
            t.peer_mark_set(peer, mark)?;
            t.counter_add(COUNTER_APPLIED, counts.applied)?;
            t.counter_add(COUNTER_ALREADY_SEEN, counts.already_seen)?;
            t.counter_add(COUNTER_SUPERSEDED, counts.superseded)?;
            Ok(counts)
        })
    }

    /// The peer's (epoch, USN) mark this server has committed; (0, 0) if none.
    pub fn peer_mark(&self, peer: &Name) -> Result<(u64, u64), SiteError> {
        self.read()?.peer_mark(peer)
    }

    pub fn vector(&self) -> Result<Vector, SiteError> {
        self.read()?.vector()
    }

    /// Changes after `after_usn` that a puller with `vector` has not seen, at
    /// most `max` of them.
    pub fn changes_after(
        &self,
        after_usn: u64,
        vector: &Vector,
        max: usize,
    ) -> Result<LogPage, SiteError> {
        self.read()?.changes_after(after_usn, vector, max)
    }

    /// Live entries in key order from `from` (a key, inclusive), and whether
    /// more follow. Stops after `limit` entries, but never between two
    /// folders' copies of one address. Only `post_office`'s users when
    /// one is named.
    pub fn page(
        &self,
        from: Option<&str>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), SiteError> {
        self.read()?.page(from, limit, post_office)
    }

    /// Live entries per folder.
    pub fn folder_counts(&self) -> Result<BTreeMap<String, u64>, SiteError> {
        self.read()?.folder_counts()
    }

    /// Persistent counters (`applied`, `already_seen`, `superseded`, `collected`).
    pub fn counters(&self) -> Result<BTreeMap<String, u64>, SiteError> {
        self.read()?.counters()
    }

    /// Deletes tombstones changed before `before_ms`; returns how many.
    pub fn collect_tombstones(&self, before_ms: u64) -> Result<u64, SiteError> {
        let stale: Vec<(String, u64)> = self.read()?.stale_tombstones(before_ms)?;
        if stale.is_empty() {
            return Ok(0);
        }
        self.write(|t| {
            for (key, usn) in &stale {
                t.remove(key, *usn)?;
            }
            t.counter_add(COUNTER_COLLECTED, stale.len() as u64)?;
            Ok(stale.len() as u64)
        })
    }

    pub fn endpoint_override(&self, peer: &Name) -> Result<Option<String>, SiteError> {
        self.read()?.endpoint(peer)
    }

    pub fn set_endpoint_override(&self, peer: &Name, endpoint: &str) -> Result<(), SiteError> {
        self.write(|t| t.endpoint_set(peer, endpoint))
    }

    pub(crate) fn encode_entry(usn: u64, entry: &Entry, path: &Path) -> Result<Vec<u8>, SiteError> {
        let mut out = BytesMut::with_capacity(128);
        out.extend_from_slice(&usn.to_be_bytes());
        entry
            .encode(&mut out)
            .map_err(|e| SiteError::store(path, e))?;
        Ok(out.to_vec())
    }
}

#[cfg(test)]
mod tests;
