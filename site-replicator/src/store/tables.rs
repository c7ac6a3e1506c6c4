//! The redb tables and the small typed operations on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use wire_format::{Entry, Name, RepChange};

use super::{LogPage, SiteStore};
use crate::SiteError;
use crate::resolve::Vector;

/// key -> USN (8 bytes, big-endian) followed by the entry's wire encoding.
pub const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
/// USN -> key: the log. An entry appears once, at the USN of its latest change.
pub const LOG: TableDefinition<u64, &str> = TableDefinition::new("log");
/// origin -> highest origin sequence number applied here.
pub const VECTOR: TableDefinition<&str, u64> = TableDefinition::new("vector");
/// peer -> (peer epoch, last peer USN committed here).
pub const PEER_MARKS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("peer_marks");
/// folder -> live entries.
pub const FOLDER_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("folder_counts");
/// peer -> endpoint set at run time.
pub const ENDPOINTS: TableDefinition<&str, &str> = TableDefinition::new("endpoints");
/// Scalars and counters.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const META_EPOCH: &str = "epoch";
pub const META_LAST_USN: &str = "last_usn";
pub const META_LAST_SEQ: &str = "last_origin_seq";
pub const COUNTER_APPLIED: &str = "counter.applied";
pub const COUNTER_ALREADY_SEEN: &str = "counter.already_seen";
pub const COUNTER_SUPERSEDED: &str = "counter.superseded";
pub const COUNTER_COLLECTED: &str = "counter.collected";

fn decode_stored(key: &str, raw: &[u8]) -> Result<(u64, Entry), SiteError> {
    let corrupt = |reason: &str| SiteError::CorruptEntry {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let (usn_bytes, rest) = raw
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("shorter than its USN"))?;
    match Entry::decode(rest) {
        Ok(([], entry)) => Ok((u64::from_be_bytes(*usn_bytes), entry)),
        Ok(_) => Err(corrupt("trailing bytes")),
        Err(e) => Err(corrupt(&format!("{e:?}"))),
    }
}

/// A scalar from META, 0 when absent; works inside read and write transactions.
fn meta_value(
    meta: &impl ReadableTable<&'static str, u64>,
    key: &str,
    path: &Path,
) -> Result<u64, SiteError> {
    Ok(meta
        .get(key)
        .map_err(|e| SiteError::store(path, e))?
        .map_or(0, |v| v.value()))
}

fn vector_of(
    table: &impl ReadableTable<&'static str, u64>,
    path: &Path,
) -> Result<Vector, SiteError> {
    let mut v = Vector::default();
    for row in table.iter().map_err(|e| SiteError::store(path, e))? {
        let (origin, seq) = row.map_err(|e| SiteError::store(path, e))?;
        if let Ok(name) = Name::new(origin.value()) {
            v.0.insert(name, seq.value());
        }
    }
    Ok(v)
}

fn live_delta(entry: Option<&Entry>) -> i64 {
    i64::from(entry.is_some_and(|e| !e.tombstone))
}

pub struct WriteTables<'t> {
    path: PathBuf,
    entries: Table<'t, &'static str, &'static [u8]>,
    log: Table<'t, u64, &'static str>,
    vector: Table<'t, &'static str, u64>,
    marks: Table<'t, &'static str, (u64, u64)>,
    folders: Table<'t, &'static str, u64>,
    endpoints: Table<'t, &'static str, &'static str>,
    meta: Table<'t, &'static str, u64>,
}

impl<'t> WriteTables<'t> {
    pub fn open(txn: &'t WriteTransaction, path: &Path) -> Result<WriteTables<'t>, SiteError> {
        let e = |err: redb::TableError| SiteError::store(path, err);
        Ok(WriteTables {
            path: path.to_path_buf(),
            entries: txn.open_table(ENTRIES).map_err(e)?,
            log: txn.open_table(LOG).map_err(e)?,
            vector: txn.open_table(VECTOR).map_err(e)?,
            marks: txn.open_table(PEER_MARKS).map_err(e)?,
            folders: txn.open_table(FOLDER_COUNTS).map_err(e)?,
            endpoints: txn.open_table(ENDPOINTS).map_err(e)?,
            meta: txn.open_table(META).map_err(e)?,
        })
    }

    pub fn err(&self, e: impl std::fmt::Display) -> SiteError {
        SiteError::store(&self.path, e)
    }

    pub fn meta_get(&self, key: &str) -> Result<u64, SiteError> {
        meta_value(&self.meta, key, &self.path)
    }

    pub fn meta_set(&mut self, key: &str, value: u64) -> Result<(), SiteError> {
        self.meta
            .insert(key, value)
            .map_err(|e| SiteError::store(&self.path, e))?;
        Ok(())
    }

    pub fn counter_add(&mut self, key: &str, n: u64) -> Result<(), SiteError> {
        if n > 0 {
            let current = self.meta_get(key)?;
            self.meta_set(key, current + n)?;
        }
        Ok(())
    }

    pub fn entry(&self, key: &str) -> Result<Option<(u64, Entry)>, SiteError> {
        match self.entries.get(key).map_err(|e| self.err(e))? {
            Some(raw) => decode_stored(key, raw.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `entry` under a fresh USN, dropping the log record of the
    /// version it replaces, and keeps the folder's live count.
    pub fn put(
        &mut self,
        key: &str,
        entry: &Entry,
        previous: Option<(u64, Entry)>,
    ) -> Result<(), SiteError> {
        let usn = self.meta_get(META_LAST_USN)? + 1;
        self.meta_set(META_LAST_USN, usn)?;
        let delta = live_delta(Some(entry)) - live_delta(previous.as_ref().map(|(_, e)| e));
        if let Some((old_usn, _)) = previous {
            self.log
                .remove(old_usn)
                .map_err(|e| SiteError::store(&self.path, e))?;
        }
        let bytes = SiteStore::encode_entry(usn, entry, &self.path)?;
        self.entries
            .insert(key, bytes.as_slice())
            .map_err(|e| SiteError::store(&self.path, e))?;
        self.log
            .insert(usn, key)
            .map_err(|e| SiteError::store(&self.path, e))?;
        if let (true, Some(folder)) = (delta != 0, entry.folder) {
            self.folder_add(folder.as_str(), delta)?;
        }
        Ok(())
    }

    pub fn remove(&mut self, key: &str, usn: u64) -> Result<(), SiteError> {
        self.entries
            .remove(key)
            .map_err(|e| SiteError::store(&self.path, e))?;
        self.log
            .remove(usn)
            .map_err(|e| SiteError::store(&self.path, e))?;
        Ok(())
    }

    fn folder_add(&mut self, folder: &str, delta: i64) -> Result<(), SiteError> {
        let current = self
            .folders
            .get(folder)
            .map_err(|e| self.err(e))?
            .map_or(0, |v| v.value());
        let next = current.saturating_add_signed(delta);
        self.folders
            .insert(folder, next)
            .map_err(|e| SiteError::store(&self.path, e))?;
        Ok(())
    }

    pub fn vector(&self) -> Result<Vector, SiteError> {
        vector_of(&self.vector, &self.path)
    }

    pub fn vector_record(&mut self, entry: &Entry) -> Result<(), SiteError> {
        let origin = entry.origin.as_str();
        let seen = self
            .vector
            .get(origin)
            .map_err(|e| self.err(e))?
            .map_or(0, |v| v.value());
        if entry.version.origin_seq > seen {
            self.vector
                .insert(origin, entry.version.origin_seq)
                .map_err(|e| SiteError::store(&self.path, e))?;
        }
        Ok(())
    }

    pub fn peer_mark_set(&mut self, peer: &Name, mark: (u64, u64)) -> Result<(), SiteError> {
        self.marks
            .insert(peer.as_str(), mark)
            .map_err(|e| SiteError::store(&self.path, e))?;
        Ok(())
    }

    pub fn endpoint_set(&mut self, peer: &Name, endpoint: &str) -> Result<(), SiteError> {
        self.endpoints
            .insert(peer.as_str(), endpoint)
            .map_err(|e| SiteError::store(&self.path, e))?;
        Ok(())
    }
}

pub struct ReadTables {
    path: PathBuf,
    entries: ReadOnlyTable<&'static str, &'static [u8]>,
    log: ReadOnlyTable<u64, &'static str>,
    vector: ReadOnlyTable<&'static str, u64>,
    marks: ReadOnlyTable<&'static str, (u64, u64)>,
    folders: ReadOnlyTable<&'static str, u64>,
    endpoints: ReadOnlyTable<&'static str, &'static str>,
    meta: ReadOnlyTable<&'static str, u64>,
}

impl ReadTables {
    pub fn open(txn: ReadTransaction, path: &Path) -> Result<ReadTables, SiteError> {
        let e = |err: redb::TableError| SiteError::store(path, err);
        Ok(ReadTables {
            path: path.to_path_buf(),
            entries: txn.open_table(ENTRIES).map_err(e)?,
            log: txn.open_table(LOG).map_err(e)?,
            vector: txn.open_table(VECTOR).map_err(e)?,
            marks: txn.open_table(PEER_MARKS).map_err(e)?,
            folders: txn.open_table(FOLDER_COUNTS).map_err(e)?,
            endpoints: txn.open_table(ENDPOINTS).map_err(e)?,
            meta: txn.open_table(META).map_err(e)?,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> SiteError {
        SiteError::store(&self.path, e)
    }

    pub fn meta_get(&self, key: &str) -> Result<u64, SiteError> {
        meta_value(&self.meta, key, &self.path)
    }

    pub fn peer_mark(&self, peer: &Name) -> Result<(u64, u64), SiteError> {
        Ok(self
            .marks
            .get(peer.as_str())
            .map_err(|e| self.err(e))?
            .map_or((0, 0), |v| v.value()))
    }

    pub fn endpoint(&self, peer: &Name) -> Result<Option<String>, SiteError> {
        Ok(self
            .endpoints
            .get(peer.as_str())
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_owned()))
    }

    pub fn vector(&self) -> Result<Vector, SiteError> {
        vector_of(&self.vector, &self.path)
    }

    pub fn changes_after(
        &self,
        after_usn: u64,
        vector: &Vector,
        max: usize,
    ) -> Result<LogPage, SiteError> {
        let mut changes = Vec::new();
        let mut scanned_to = after_usn;
        let mut more = false;
        let range = self
            .log
            .range(after_usn.saturating_add(1)..)
            .map_err(|e| self.err(e))?;
        for row in range {
            let (usn, key) = row.map_err(|e| self.err(e))?;
            if changes.len() >= max {
                more = true;
                break;
            }
            let key = key.value();
            let raw = self
                .entries
                .get(key)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| SiteError::CorruptEntry {
                    key: key.to_owned(),
                    reason: "in the log but not stored".into(),
                })?;
            let (_, entry) = decode_stored(key, raw.value())?;
            scanned_to = usn.value();
            if !vector.has_seen(&entry) {
                changes.push(RepChange {
                    usn: scanned_to,
                    entry,
                });
            }
        }
        Ok(LogPage {
            changes,
            scanned_to,
            more,
        })
    }

    pub fn page(
        &self,
        from: Option<&str>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), SiteError> {
        let rows = match from {
            Some(from) => self.entries.range::<&str>(from..),
            None => self.entries.range::<&str>(..),
        }
        .map_err(|e| self.err(e))?;
        let mut out: Vec<Entry> = Vec::new();
        for row in rows {
            let (key, raw) = row.map_err(|e| self.err(e))?;
            let (_, entry) = decode_stored(key.value(), raw.value())?;
            if entry.tombstone || post_office.is_some_and(|po| entry.address.post_office != *po) {
                continue;
            }
            if out.len() >= limit.max(1)
                && out.last().is_some_and(|last| last.address != entry.address)
            {
                return Ok((out, true));
            }
            out.push(entry);
        }
        Ok((out, false))
    }

    pub fn folder_counts(&self) -> Result<BTreeMap<String, u64>, SiteError> {
        let mut out = BTreeMap::new();
        for row in self.folders.iter().map_err(|e| self.err(e))? {
            let (folder, count) = row.map_err(|e| self.err(e))?;
            out.insert(folder.value().to_owned(), count.value());
        }
        Ok(out)
    }

    pub fn counters(&self) -> Result<BTreeMap<String, u64>, SiteError> {
        let mut out = BTreeMap::new();
        for key in [
            COUNTER_APPLIED,
            COUNTER_ALREADY_SEEN,
            COUNTER_SUPERSEDED,
            COUNTER_COLLECTED,
        ] {
            let short = key.trim_start_matches("counter.");
            out.insert(short.to_owned(), self.meta_get(key)?);
        }
        Ok(out)
    }

    pub fn stale_tombstones(&self, before_ms: u64) -> Result<Vec<(String, u64)>, SiteError> {
        let mut out = Vec::new();
        for row in self.entries.iter().map_err(|e| self.err(e))? {
            let (key, raw) = row.map_err(|e| self.err(e))?;
            let (usn, entry) = decode_stored(key.value(), raw.value())?;
            if entry.tombstone && entry.version.changed_at_ms < before_ms {
                out.push((key.value().to_owned(), usn));
            }
        }
        Ok(out)
    }
}
