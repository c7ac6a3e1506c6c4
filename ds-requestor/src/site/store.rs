//! The bridge's own bookkeeping on redb (the directory itself is in the site
//! replicator). Tables:
//!
//! * `imported`: address -> (resync generation, entry): what this bridge
//!   put into the import folder from the server, so a full resync can delete
//!   what the server no longer has and unchanged entries are not rewritten;
//! * `exported`: address -> entry: what it sent up from the export folders,
//!   so only real changes go up and a server that lost them gets them again;
//! * `outbox`: origin sequence number -> change not yet acknowledged;
//! * `meta`: the server's epoch and mark, the site log cursor, sequence
//!   numbers, resync state.
//!
//! Every method is one transaction: a mark or a cursor is committed with
//! the bookkeeping it covers.

use std::ops::Bound;
use std::path::Path;

use bytes::BytesMut;
use dir_core::DirError;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use site_replicator::client::ReadCursor;
use wire_format::{DirUpdate, Entry, RepChange};

const IMPORTED: TableDefinition<&str, &[u8]> = TableDefinition::new("imported");
const EXPORTED: TableDefinition<&str, &[u8]> = TableDefinition::new("exported");
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const EPOCH: &str = "server_epoch";
const MARK: &str = "server_mark";
const GEN: &str = "resync_gen";
const RESYNC_ACTIVE: &str = "resync_active";
const OUT_SEQ: &str = "out_seq";
const ACKED: &str = "acked";
const SITE_EPOCH: &str = "site_epoch";
const SITE_USN: &str = "site_usn";

/// Where the bridge stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeState {
    pub server_epoch: u64,
    pub server_mark: u64,
    pub resync_active: bool,
    pub out_seq: u64,
    pub acked: u64,
    pub site: ReadCursor,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCounts {
    pub imported: u64,
    pub exported: u64,
    pub pending: u64,
}

/// Same user, same content: nothing to send again.
pub fn same_content(a: &Entry, b: &Entry) -> bool {
    a.display_name == b.display_name
        && a.attributes == b.attributes
        && a.tombstone == b.tombstone
        && a.owner == b.owner
}

fn encode(number: u64, entry: &Entry) -> Result<Vec<u8>, DirError> {
    let mut out = BytesMut::with_capacity(160);
    out.extend_from_slice(&number.to_be_bytes());
    entry.encode(&mut out)?;
    Ok(out.to_vec())
}

fn decode(key: &str, raw: &[u8]) -> Result<(u64, Entry), DirError> {
    let corrupt = |reason: String| DirError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let (n, rest) = raw
        .split_first_chunk::<8>()
        .ok_or_else(|| corrupt("shorter than its header".into()))?;
    match Entry::decode(rest) {
        Ok(([], entry)) => Ok((u64::from_be_bytes(*n), entry)),
        Ok(_) => Err(corrupt("trailing bytes".into())),
        Err(e) => Err(corrupt(format!("{e:?}"))),
    }
}

fn get(t: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, DirError> {
    Ok(t.get(key)
        .map_err(DirError::store)?
        .map_or(0, |v| v.value()))
}

fn set(t: &mut redb::Table<'_, &'static str, u64>, key: &str, v: u64) -> Result<(), DirError> {
    t.insert(key, v).map_err(DirError::store)?;
    Ok(())
}

pub struct BridgeStore {
    db: Database,
}

impl BridgeStore {
    pub fn open(dir: &Path) -> Result<BridgeStore, DirError> {
        std::fs::create_dir_all(dir).map_err(DirError::store)?;
        let db = Database::create(dir.join("ds-bridge.redb")).map_err(DirError::store)?;
        let store = BridgeStore { db };
        store.write(|txn| {
            txn.open_table(IMPORTED).map_err(DirError::store)?;
            txn.open_table(EXPORTED).map_err(DirError::store)?;
            txn.open_table(OUTBOX).map_err(DirError::store)?;
            txn.open_table(META).map_err(DirError::store)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn write<T>(
        &self,
        body: impl FnOnce(&WriteTransaction) -> Result<T, DirError>,
    ) -> Result<T, DirError> {
        let txn = self.db.begin_write().map_err(DirError::store)?;
        let out = body(&txn)?;
        txn.commit().map_err(DirError::store)?;
        Ok(out)
    }

    pub fn state(&self) -> Result<BridgeState, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let m = txn.open_table(META).map_err(DirError::store)?;
        Ok(BridgeState {
            server_epoch: get(&m, EPOCH)?,
            server_mark: get(&m, MARK)?,
            resync_active: get(&m, RESYNC_ACTIVE)? != 0,
            out_seq: get(&m, OUT_SEQ)?,
            acked: get(&m, ACKED)?,
            site: ReadCursor {
                epoch: get(&m, SITE_EPOCH)?,
                usn: get(&m, SITE_USN)?,
            },
        })
    }

    pub fn counts(&self) -> Result<BridgeCounts, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let acked = get(&txn.open_table(META).map_err(DirError::store)?, ACKED)?;
        let outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
        Ok(BridgeCounts {
            imported: txn
                .open_table(IMPORTED)
                .map_err(DirError::store)?
                .len()
                .map_err(DirError::store)?,
            exported: txn
                .open_table(EXPORTED)
                .map_err(DirError::store)?
                .len()
                .map_err(DirError::store)?,
            pending: outbox
                .range((Bound::Excluded(acked), Bound::Unbounded))
                .map_err(DirError::store)?
                .count() as u64,
        })
    }

    /// Takes one read of the site log: each change of an export folder whose
    /// content differs from what was last sent up is queued for the server,
    /// and the cursor moves, in one transaction. `export` says which
    /// changes count; the caller shapes them for the server.
    pub fn intake(
        &self,
        changes: &[RepChange],
        next: ReadCursor,
        export: impl Fn(&Entry) -> Option<Entry>,
    ) -> Result<u64, DirError> {
        self.write(|txn| {
            let mut exported = txn.open_table(EXPORTED).map_err(DirError::store)?;
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let mut seq = get(&m, OUT_SEQ)?;
            let mut queued = Vec::new();
            for change in changes {
                let Some(mut entry) = export(&change.entry) else {
                    continue;
                };
                let key = entry.address.to_string();
                let before = match exported.get(key.as_str()).map_err(DirError::store)? {
                    Some(v) => Some(decode(&key, v.value())?.1),
                    None => None,
                };
                let unchanged = match &before {
                    Some(b) => same_content(b, &entry),
                    // A delete of something never sent up needs no message.
                    None => entry.tombstone,
                };
                if unchanged {
                    continue;
                }
                seq += 1;
                entry.version.version = before.map_or(0, |b| b.version.version) + 1;
                entry.version.origin_seq = seq;
                if entry.tombstone {
                    exported.remove(key.as_str()).map_err(DirError::store)?;
                } else {
                    exported
                        .insert(key.as_str(), encode(seq, &entry)?.as_slice())
                        .map_err(DirError::store)?;
                }
                queued.push((seq, entry));
            }
            drop(exported);
            let mut imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
            for change in changes {
                if let Some(entry) = export(&change.entry).filter(|e| !e.tombstone) {
                    imported
                        .remove(entry.address.to_string().as_str())
                        .map_err(DirError::store)?;
                }
            }
            drop(imported);
            let mut outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
            for (seq, entry) in &queued {
                outbox
                    .insert(*seq, encode(*seq, entry)?.as_slice())
                    .map_err(DirError::store)?;
            }
            set(&mut m, OUT_SEQ, seq)?;
            set(&mut m, SITE_EPOCH, next.epoch)?;
            set(&mut m, SITE_USN, next.usn)?;
            Ok(queued.len() as u64)
        })
    }

    /// The import folder's copies of users that an export folder now holds
    /// (a post office handed over to the new hub): they must leave the import
    /// folder before [`intake`](Self::intake) forgets them, so the address is
    /// held once, by its own post office's folder.
    pub fn superseded(
        &self,
        changes: &[RepChange],
        export: impl Fn(&Entry) -> Option<Entry>,
    ) -> Result<Vec<Entry>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
        let mut out = Vec::new();
        for change in changes {
            let Some(entry) = export(&change.entry).filter(|e| !e.tombstone) else {
                continue;
            };
            let key = entry.address.to_string();
            if let Some(v) = imported.get(key.as_str()).map_err(DirError::store)? {
                out.push(decode(&key, v.value())?.1);
            }
        }
        Ok(out)
    }

    /// Changes not yet acknowledged, oldest first, at most `max`.
    pub fn pending(&self, max: usize) -> Result<Vec<Entry>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let acked = get(&txn.open_table(META).map_err(DirError::store)?, ACKED)?;
        let outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
        let mut out = Vec::new();
        for row in outbox
            .range((Bound::Excluded(acked), Bound::Unbounded))
            .map_err(DirError::store)?
            .take(max)
        {
            let (seq, v) = row.map_err(DirError::store)?;
            out.push(decode(&format!("outbox {}", seq.value()), v.value())?.1);
        }
        Ok(out)
    }

    /// Records the server's acknowledgement. Less than before means the
    /// server lost what it had from us: everything exported goes up again
    /// with fresh numbers.
    pub fn record_ack(&self, applied_through: u64) -> Result<(), DirError> {
        if self.state()?.acked == applied_through {
            return Ok(());
        }
        self.write(|txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let mut outbox = txn.open_table(OUTBOX).map_err(DirError::store)?;
            let acked = get(&m, ACKED)?;
            let out_seq = get(&m, OUT_SEQ)?;
            if applied_through >= acked {
                outbox
                    .retain_in(..=applied_through, |_, _| false)
                    .map_err(DirError::store)?;
                set(&mut m, ACKED, applied_through.min(out_seq))?;
                return Ok(());
            }
            outbox.retain(|_, _| false).map_err(DirError::store)?;
            let mut exported = txn.open_table(EXPORTED).map_err(DirError::store)?;
            let mut all = Vec::new();
            for row in exported.iter().map_err(DirError::store)? {
                let (k, v) = row.map_err(DirError::store)?;
                all.push(decode(k.value(), v.value())?.1);
            }
            let mut seq = out_seq.max(applied_through);
            for mut entry in all {
                seq += 1;
                entry.version.origin_seq = seq;
                let value = encode(seq, &entry)?;
                exported
                    .insert(entry.address.to_string().as_str(), value.as_slice())
                    .map_err(DirError::store)?;
                outbox
                    .insert(seq, value.as_slice())
                    .map_err(DirError::store)?;
            }
            set(&mut m, OUT_SEQ, seq)?;
            set(&mut m, ACKED, applied_through)?;
            Ok(())
        })
    }

    /// Begins a full resync from the server: a new generation, remembered
    /// as unfinished until [`BridgeStore::finish_full`].
    pub fn begin_full(&self) -> Result<u64, DirError> {
        self.write(|txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            let generation = get(&m, GEN)? + 1;
            set(&mut m, GEN, generation)?;
            set(&mut m, RESYNC_ACTIVE, 1)?;
            Ok(generation)
        })
    }

    /// Which of `updates` must be written to the import folder: those whose
    /// content differs from what is there (deletes only of what is there).
    pub fn to_write(&self, updates: &[DirUpdate]) -> Result<Vec<bool>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
        let exported = txn.open_table(EXPORTED).map_err(DirError::store)?;
        updates
            .iter()
            .map(|u| {
                let key = u.entry.address.to_string();
                // Held by an export folder: the user lives beyond the bridge
                // now, and the server's copy is the one being replaced.
                if !u.entry.tombstone
                    && exported
                        .get(key.as_str())
                        .map_err(DirError::store)?
                        .is_some()
                {
                    return Ok(false);
                }
                Ok(match imported.get(key.as_str()).map_err(DirError::store)? {
                    Some(v) => !same_content(&decode(&key, v.value())?.1, &u.entry),
                    None => !u.entry.tombstone,
                })
            })
            .collect()
    }

    /// Records `updates` as the import folder's content (after they were
    /// written there). Incremental (`full_gen` None): the mark moves to the
    /// last one in the same transaction; full: the mark waits for the end.
    pub fn record_imported(
        &self,
        full_gen: Option<u64>,
        updates: &[DirUpdate],
    ) -> Result<(), DirError> {
        self.write(|txn| {
            let mut imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
            for u in updates {
                let key = u.entry.address.to_string();
                if u.entry.tombstone {
                    imported.remove(key.as_str()).map_err(DirError::store)?;
                } else {
                    let value = encode(full_gen.unwrap_or(0), &u.entry)?;
                    imported
                        .insert(key.as_str(), value.as_slice())
                        .map_err(DirError::store)?;
                }
            }
            if full_gen.is_none()
                && let Some(last) = updates.last()
            {
                let mut m = txn.open_table(META).map_err(DirError::store)?;
                set(&mut m, MARK, last.update_no)?;
            }
            Ok(())
        })
    }

    /// Entries imported before this resync's generation: the server no
    /// longer has them, so they must leave the import folder.
    pub fn stale(&self, generation: u64) -> Result<Vec<Entry>, DirError> {
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
        let mut out = Vec::new();
        for row in imported.iter().map_err(DirError::store)? {
            let (k, v) = row.map_err(DirError::store)?;
            let (g, entry) = decode(k.value(), v.value())?;
            if g != generation {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Ends a pull: the server's epoch and mark; after a full resync, the
    /// stale entries (already deleted from the folder) are forgotten too.
    pub fn finish_pull(
        &self,
        epoch: u64,
        high_water: u64,
        full_gen: Option<u64>,
    ) -> Result<(), DirError> {
        self.write(|txn| {
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            if let Some(generation) = full_gen {
                let mut imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
                imported
                    .retain(|_, v| {
                        v.split_first_chunk::<8>()
                            .is_some_and(|(n, _)| u64::from_be_bytes(*n) == generation)
                    })
                    .map_err(DirError::store)?;
                set(&mut m, RESYNC_ACTIVE, 0)?;
            }
            set(&mut m, EPOCH, epoch)?;
            set(&mut m, MARK, high_water)?;
            Ok(())
        })
    }
}
