//! The master list on redb. Tables:
//!
//! * `entries`: address -> (update number, entry); deleted users stay as
//!   tombstones so incremental pulls carry the delete;
//! * `log`: update number -> address; an entry appears once, at its latest
//!   update number, so the log never holds more rows than the directory;
//! * per requestor, its upload mark, store epoch and removal (see
//!   [`requestor_marks`](super::requestor_marks));
//! * `tombstones`: update number of each tombstone -> when it was recorded;
//! * `meta`: epoch, last update number, log floor (the highest update
//!   number whose tombstone was collected: a requestor behind it must
//!   resync in full), live entry count.

use std::ops::Bound;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use wire_format::{Address, DirUpdate, Entry, Name};

use super::requestor_marks::{self as marks, StoreEpochRecord, UPLOAD_MARKS};
use super::rules::{PullPlan, StoreEpoch};
use crate::{DirError, stored};

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
const LOG: TableDefinition<u64, &str> = TableDefinition::new("log");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Update number of a tombstone -> when this server recorded it (ms), for
/// collecting tombstones past their lifetime.
const TOMBS: TableDefinition<u64, u64> = TableDefinition::new("tombstones");

const META_EPOCH: &str = "epoch";
const META_LAST: &str = "last_update_no";
const META_FLOOR: &str = "log_floor";
const META_LIVE: &str = "live_entries";

/// What one upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadOutcome {
    /// The requestor's highest sequence number now applied (the ack).
    pub applied_through: u64,
    pub applied: u64,
    /// Changes at or below the mark: replays of an upload already applied.
    pub skipped: u64,
    pub high_water: u64,
}

/// What a pull streams, in order: one `Start`, then chunks.
#[derive(Debug)]
pub enum PullEvent {
    Start { high_water: u64 },
    Updates(Vec<DirUpdate>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullSummary {
    pub high_water: u64,
    pub sent: u64,
}

pub struct ServerStore {
    db: Database,
    epoch: u64,
}

fn meta(t: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, DirError> {
    Ok(t.get(key)
        .map_err(DirError::store)?
        .map_or(0, |v| v.value()))
}

fn key_of(address: &Address) -> String {
    address.to_string()
}

impl ServerStore {
    /// Opens or creates the store in `dir`. A new store draws a random
    /// epoch: requestors holding marks of an earlier life resync in full.
    pub fn open(dir: &Path) -> Result<ServerStore, DirError> {
        let db = store_file::open(&dir.join("ds-server.redb"), &mut redb::Builder::new())?;
        let txn = db.begin_write().map_err(DirError::store)?;
        let epoch = {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            // Create every table so readers never meet a missing one.
            txn.open_table(ENTRIES).map_err(DirError::store)?;
            txn.open_table(LOG).map_err(DirError::store)?;
            txn.open_table(TOMBS).map_err(DirError::store)?;
            marks::create_tables(&txn)?;
            match meta(&m, META_EPOCH)? {
                0 => {
                    let mut bytes = [0u8; 8];
                    getrandom::fill(&mut bytes).map_err(DirError::store)?;
                    let epoch = u64::from_be_bytes(bytes).max(1);
                    m.insert(META_EPOCH, epoch).map_err(DirError::store)?;
                    epoch
                }
                e => e,
            }
        };
        txn.commit().map_err(DirError::store)?;
        Ok(ServerStore { db, epoch })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn read_meta(&self, key: &str) -> Result<u64, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        meta(&txn.open_table(META).map_err(DirError::store)?, key)
    }

    pub fn high_water(&self) -> Result<u64, DirError> {
        self.read_meta(META_LAST)
    }

    pub fn floor(&self) -> Result<u64, DirError> {
        self.read_meta(META_FLOOR)
    }

    pub fn live_entries(&self) -> Result<u64, DirError> {
        self.read_meta(META_LIVE)
    }

    pub fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError> {
        marks::upload_mark(&self.db, requestor)
    }

    pub fn store_epoch(&self, requestor: &Name) -> Result<StoreEpochRecord, DirError> {
        marks::store_epoch(&self.db, requestor)
    }

    /// See [`marks::note_store_epoch`]: before each upload is applied.
    pub fn note_store_epoch(&self, requestor: &Name, sent: u64) -> Result<StoreEpoch, DirError> {
        marks::note_store_epoch(&self.db, requestor, sent)
    }

    pub fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        marks::is_removed(&self.db, requestor)
    }

    /// Merges one upload of `requestor` (already checked against its policy)
    /// in one transaction: changes at or below its mark are replays and are
    /// skipped; each other change gets the next update number. The returned
    /// ack is durable when this returns.
    pub fn apply_upload(
        &self,
        requestor: &Name,
        changes: &[Entry],
        now_ms: u64,
    ) -> Result<UploadOutcome, DirError> {
        // An empty upload (a requestor asking for its ack in every cycle)
        // or a pure replay changes nothing: answer from a read, without a
        // write transaction and its fsync.
        let mark = self.upload_mark(requestor)?;
        if changes.iter().all(|c| c.version.origin_seq <= mark) {
            return Ok(UploadOutcome {
                applied_through: mark,
                applied: 0,
                skipped: changes.len() as u64,
                high_water: self.high_water()?,
            });
        }
        let txn = self.db.begin_write().map_err(DirError::store)?;
        let outcome = {
            let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
            let mut w = Writer::open(&txn, now_ms)?;
            let mut out = UploadOutcome {
                applied_through: marks
                    .get(requestor.as_str())
                    .map_err(DirError::store)?
                    .map_or(0, |v| v.value()),
                ..UploadOutcome::default()
            };
            for change in changes {
                if change.version.origin_seq <= out.applied_through {
                    out.skipped += 1;
                    continue;
                }
                let mut entry = change.clone();
                // The server, not the uploader, says where a change came
                // from: that is what keeps it from being echoed back.
                entry.origin = *requestor;
                w.put(&entry)?;
                out.applied_through = change.version.origin_seq;
                out.applied += 1;
            }
            marks
                .insert(requestor.as_str(), out.applied_through)
                .map_err(DirError::store)?;
            out.high_water = w.finish()?;
            out
        };
        txn.commit().map_err(DirError::store)?;
        Ok(outcome)
    }

    /// Patent step B (see [`marks::remove`]).
    pub fn remove_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        marks::remove(&self.db, requestor)
    }

    /// The rollback of step B: the requestor may sync again, from a mark of 0.
    pub fn restore_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        marks::restore(&self.db, requestor)
    }

    /// Counts a requestor's changes through `seq` as applied without storing
    /// them (a bridge's changes of post offices it no longer owns), so its
    /// acknowledgement never goes backwards.
    pub fn raise_upload_mark(&self, requestor: &Name, seq: u64) -> Result<u64, DirError> {
        let txn = self.db.begin_write().map_err(DirError::store)?;
        let mark = {
            let mut marks = txn.open_table(UPLOAD_MARKS).map_err(DirError::store)?;
            let now = marks
                .get(requestor.as_str())
                .map_err(DirError::store)?
                .map_or(0, |v| v.value())
                .max(seq);
            marks
                .insert(requestor.as_str(), now)
                .map_err(DirError::store)?;
            now
        };
        txn.commit().map_err(DirError::store)?;
        Ok(mark)
    }

    /// Patent step C: every live entry of `post_office` becomes a tombstone
    /// with a new update number, so every requestor drops it on its next
    /// pull. Returns (entries deleted, new high water).
    pub fn purge_post_office(
        &self,
        post_office: &Name,
        by: &Name,
        now_ms: u64,
    ) -> Result<(u64, u64), DirError> {
        let txn = self.db.begin_write().map_err(DirError::store)?;
        let result = {
            let mut w = Writer::open(&txn, now_ms)?;
            let mut victims = Vec::new();
            for row in w.entries.iter().map_err(DirError::store)? {
                let (k, v) = row.map_err(DirError::store)?;
                let (_, _, entry) = stored::decode(k.value(), v.value())?;
                if entry.address.post_office == *post_office && !entry.tombstone {
                    victims.push(entry);
                }
            }
            for mut entry in victims.iter().cloned() {
                entry.tombstone = true;
                entry.origin = *by;
                entry.version.version += 1;
                w.put(&entry)?;
            }
            (victims.len() as u64, w.finish()?)
        };
        txn.commit().map_err(DirError::store)?;
        Ok(result)
    }

    /// Removes tombstones recorded before `before_ms`, with their log rows,
    /// and raises the log floor past them: a requestor whose mark is below
    /// the floor might have missed one of those deletes, so it is answered
    /// with a full resync instead. Returns how many were collected.
    pub fn collect_tombstones(&self, before_ms: u64) -> Result<u64, DirError> {
        let txn = self.db.begin_write().map_err(DirError::store)?;
        let collected = {
            let mut tombs = txn.open_table(TOMBS).map_err(DirError::store)?;
            let mut stale = Vec::new();
            for row in tombs.iter().map_err(DirError::store)? {
                let (no, at) = row.map_err(DirError::store)?;
                // In update-number order; stop at the first young one so
                // the floor never passes a tombstone still kept.
                if at.value() >= before_ms {
                    break;
                }
                stale.push(no.value());
            }
            let mut log = txn.open_table(LOG).map_err(DirError::store)?;
            let mut entries = txn.open_table(ENTRIES).map_err(DirError::store)?;
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let mut floor = meta(&m, META_FLOOR)?;
            for no in &stale {
                tombs.remove(*no).map_err(DirError::store)?;
                let key = log
                    .remove(*no)
                    .map_err(DirError::store)?
                    .map(|k| k.value().to_owned());
                if let Some(key) = key {
                    entries.remove(key.as_str()).map_err(DirError::store)?;
                }
                floor = floor.max(*no);
            }
            m.insert(META_FLOOR, floor).map_err(DirError::store)?;
            stale.len() as u64
        };
        txn.commit().map_err(DirError::store)?;
        Ok(collected)
    }

    /// Streams a pull from one consistent snapshot: `Start` with the high
    /// water of that snapshot, then chunks of at most `chunk` updates that
    /// `receives` lets through. A full pull carries every live entry (the
    /// complete present set); an incremental one every change after the
    /// mark, deletes included. Changes committed after the snapshot are
    /// above its high water, so the next pull gets them: nothing falls
    /// between a full refresh and the log.
    pub fn pull(
        &self,
        plan: PullPlan,
        chunk: usize,
        receives: impl Fn(&Entry) -> bool,
        mut sink: impl FnMut(PullEvent) -> Result<(), DirError>,
    ) -> Result<PullSummary, DirError> {
        let chunk = chunk.max(1);
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let entries = txn.open_table(ENTRIES).map_err(DirError::store)?;
        let high_water = meta(&txn.open_table(META).map_err(DirError::store)?, META_LAST)?;
        sink(PullEvent::Start { high_water })?;
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        let mut emit = |update: DirUpdate, batch: &mut Vec<DirUpdate>| {
            batch.push(update);
            sent += 1;
            if batch.len() >= chunk {
                sink(PullEvent::Updates(std::mem::take(batch)))
            } else {
                Ok(())
            }
        };
        if plan.full {
            for row in entries.iter().map_err(DirError::store)? {
                let (k, v) = row.map_err(DirError::store)?;
                let (update_no, _, entry) = stored::decode(k.value(), v.value())?;
                if !entry.tombstone && receives(&entry) {
                    emit(DirUpdate { update_no, entry }, &mut batch)?;
                }
            }
        } else {
            let log = txn.open_table(LOG).map_err(DirError::store)?;
            let range = (Bound::Excluded(plan.after), Bound::Included(high_water));
            for row in log.range::<u64>(range).map_err(DirError::store)? {
                let (_, k) = row.map_err(DirError::store)?;
                let key = k.value();
                let Some(v) = entries.get(key).map_err(DirError::store)? else {
                    return Err(DirError::Corrupt {
                        key: key.to_owned(),
                        reason: "in the log but not in the directory".into(),
                    });
                };
                let (update_no, _, entry) = stored::decode(key, v.value())?;
                if receives(&entry) {
                    emit(DirUpdate { update_no, entry }, &mut batch)?;
                }
            }
        }
        if !batch.is_empty() {
            sink(PullEvent::Updates(batch))?;
        }
        Ok(PullSummary { high_water, sent })
    }

    /// Live entries in address order after `after`, at most `limit`, and
    /// whether more follow.
    pub fn page(
        &self,
        after: Option<&Address>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let entries = txn.open_table(ENTRIES).map_err(DirError::store)?;
        let from = after.map(key_of);
        let lower = match &from {
            Some(k) => Bound::Excluded(k.as_str()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for row in entries
            .range::<&str>((lower, Bound::Unbounded))
            .map_err(DirError::store)?
        {
            let (k, v) = row.map_err(DirError::store)?;
            let (_, _, entry) = stored::decode(k.value(), v.value())?;
            if entry.tombstone || post_office.is_some_and(|po| entry.address.post_office != *po) {
                continue;
            }
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(entry);
        }
        Ok((out, false))
    }
}

/// The tables one writing transaction touches to record a change.
struct Writer<'t> {
    entries: redb::Table<'t, &'static str, &'static [u8]>,
    log: redb::Table<'t, u64, &'static str>,
    meta: redb::Table<'t, &'static str, u64>,
    tombs: redb::Table<'t, u64, u64>,
    now_ms: u64,
    last: u64,
    live: i64,
}

impl<'t> Writer<'t> {
    fn open(txn: &'t redb::WriteTransaction, now_ms: u64) -> Result<Writer<'t>, DirError> {
        let meta_t = txn.open_table(META).map_err(DirError::store)?;
        let last = meta(&meta_t, META_LAST)?;
        let live = meta(&meta_t, META_LIVE)? as i64;
        Ok(Writer {
            entries: txn.open_table(ENTRIES).map_err(DirError::store)?,
            log: txn.open_table(LOG).map_err(DirError::store)?,
            meta: meta_t,
            tombs: txn.open_table(TOMBS).map_err(DirError::store)?,
            now_ms,
            last,
            live,
        })
    }

    /// Stores `entry` at the next update number, moving its log row.
    fn put(&mut self, entry: &Entry) -> Result<(), DirError> {
        let key = key_of(&entry.address);
        let was_live = match self.entries.get(key.as_str()).map_err(DirError::store)? {
            Some(old) => {
                let (old_no, _, old_entry) = stored::decode(&key, old.value())?;
                drop(old);
                self.log.remove(old_no).map_err(DirError::store)?;
                if old_entry.tombstone {
                    self.tombs.remove(old_no).map_err(DirError::store)?;
                }
                !old_entry.tombstone
            }
            None => false,
        };
        self.last += 1;
        let value = stored::encode(self.last, 0, entry)?;
        self.entries
            .insert(key.as_str(), value.as_slice())
            .map_err(DirError::store)?;
        self.log
            .insert(self.last, key.as_str())
            .map_err(DirError::store)?;
        if entry.tombstone {
            self.tombs
                .insert(self.last, self.now_ms)
                .map_err(DirError::store)?;
        }
        self.live += i64::from(!entry.tombstone) - i64::from(was_live);
        Ok(())
    }

    fn finish(mut self) -> Result<u64, DirError> {
        self.meta
            .insert(META_LAST, self.last)
            .map_err(DirError::store)?;
        self.meta
            .insert(META_LIVE, self.live.max(0) as u64)
            .map_err(DirError::store)?;
        Ok(self.last)
    }
}
