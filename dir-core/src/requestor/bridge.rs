//! The bridge's own bookkeeping on redb (the directory itself is in the site
//! replicator). Tables:
//!
//! * `imported`: address -> (resync generation, entry): what this bridge
//!   put into the import folder from the server, so a full resync can delete
//!   what the server no longer has and unchanged entries are not rewritten;
//! * `exported`: address -> entry: what it sent up from the export folders,
//!   so only real changes go up and a server that lost them gets them again;
//! * `outbox`, `meta`: as a post office's store keeps them ([`outbox`]),
//!   and in `meta` also the site log cursor.
//!
//! Rows are in the [`stored`] encoding: the number is the resync generation
//! (imported) or the origin sequence number (exported). Every method is one
//! transaction: a mark or a cursor is committed with the bookkeeping it
//! covers.

use std::collections::HashSet;
use std::path::Path;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use wire_format::{Address, DirUpdate, Entry, RepChange};

use super::outbox::{self, EPOCH, Ledger, MARK, META, OUT_SEQ, RESYNC_ACTIVE, enqueue, get, set};
use super::{PullEnd, SyncState};
use crate::{DirError, stored};

const IMPORTED: TableDefinition<&str, &[u8]> = TableDefinition::new("imported");
const EXPORTED: TableDefinition<&str, &[u8]> = TableDefinition::new("exported");

/// Row tags: what came from the server, what went up to it.
const FROM_SERVER: u8 = 1;
const OWN: u8 = 0;

const SITE_EPOCH: &str = "site_epoch";
const SITE_USN: &str = "site_usn";

/// Where the bridge stands in the site replicator's log: the replicator's
/// epoch and the last USN taken in (the site client's read cursor, kept here
/// so it commits with what was done with the changes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteCursor {
    pub epoch: u64,
    pub usn: u64,
}

/// Where the bridge stands: with the server, and in the site log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeState {
    pub sync: SyncState,
    pub site: SiteCursor,
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

fn decode(key: &str, raw: &[u8]) -> Result<(u64, Entry), DirError> {
    let (number, _, entry) = stored::decode(key, raw)?;
    Ok((number, entry))
}

pub struct BridgeStore {
    db: Database,
}

impl BridgeStore {
    pub fn open(dir: &Path) -> Result<BridgeStore, DirError> {
        // The bridge owns no users of its own: a new bridge store never
        // restores any (its exports are read again from the site log).
        let db = outbox::open(dir, "ds-bridge.redb", |txn, _fresh| {
            txn.open_table(IMPORTED).map_err(DirError::store)?;
            txn.open_table(EXPORTED).map_err(DirError::store)?;
            Ok(())
        })?;
        Ok(BridgeStore { db })
    }

    pub fn state(&self) -> Result<BridgeState, DirError> {
        let sync = self.ledger().sync_state()?;
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let m = txn.open_table(META).map_err(DirError::store)?;
        Ok(BridgeState {
            sync,
            site: SiteCursor {
                epoch: get(&m, SITE_EPOCH)?,
                usn: get(&m, SITE_USN)?,
            },
        })
    }

    pub fn counts(&self) -> Result<BridgeCounts, DirError> {
        let pending = self.ledger().pending_count()?;
        let txn = self.db.begin_read().map_err(DirError::store)?;
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
            pending,
        })
    }

    /// Takes one read of the site log: each change of an export folder whose
    /// content differs from what was last sent up is queued for the server,
    /// and the cursor moves, in one transaction. `export` says which
    /// changes count; the caller shapes them for the server.
    pub fn intake(
        &self,
        changes: &[RepChange],
        next: SiteCursor,
        export: impl Fn(&Entry) -> Option<Entry>,
    ) -> Result<u64, DirError> {
        outbox::write(&self.db, |txn| {
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
                        .insert(key.as_str(), stored::encode(seq, OWN, &entry)?.as_slice())
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
            for (seq, entry) in &queued {
                enqueue(txn, *seq, entry)?;
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

    /// The own changes on their way to the server (pending, acknowledged,
    /// queued again for a server that lost them) and the resync generation.
    pub fn ledger(&self) -> Ledger<'_> {
        Ledger::new(&self.db, requeue_exported, false)
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
    /// With the pull's `end`, the same transaction records the server's
    /// epoch and high water; after a full resync it also forgets the
    /// [`stale`](Self::stale) entries (already deleted from the folder).
    pub fn record_imported(
        &self,
        full_gen: Option<u64>,
        updates: &[DirUpdate],
        end: Option<PullEnd>,
    ) -> Result<(), DirError> {
        outbox::write(&self.db, |txn| {
            let mut imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
            for u in updates {
                let key = u.entry.address.to_string();
                if u.entry.tombstone {
                    imported.remove(key.as_str()).map_err(DirError::store)?;
                } else {
                    let value = stored::encode(full_gen.unwrap_or(0), FROM_SERVER, &u.entry)?;
                    imported
                        .insert(key.as_str(), value.as_slice())
                        .map_err(DirError::store)?;
                }
            }
            let mut m = txn.open_table(META).map_err(DirError::store)?;
            if full_gen.is_none()
                && let Some(last) = updates.last()
            {
                set(&mut m, MARK, last.update_no)?;
            }
            let Some(end) = end else {
                return Ok(());
            };
            if let Some(generation) = full_gen {
                imported
                    .retain(|_, v| {
                        v.split_first_chunk::<8>()
                            .is_some_and(|(n, _)| u64::from_be_bytes(*n) == generation)
                    })
                    .map_err(DirError::store)?;
                set(&mut m, RESYNC_ACTIVE, 0)?;
            }
            set(&mut m, EPOCH, end.epoch)?;
            set(&mut m, MARK, end.high_water)
        })
    }

    /// Entries imported before this resync's generation, but for those
    /// `last` (the resync's last updates, not yet recorded) brings again:
    /// the server no longer has them, so they must leave the import folder.
    pub fn stale(&self, generation: u64, last: &[DirUpdate]) -> Result<Vec<Entry>, DirError> {
        let again: HashSet<&Address> = last.iter().map(|u| &u.entry.address).collect();
        let txn = self.db.begin_read().map_err(DirError::store)?;
        let imported = txn.open_table(IMPORTED).map_err(DirError::store)?;
        let mut out = Vec::new();
        for row in imported.iter().map_err(DirError::store)? {
            let (k, v) = row.map_err(DirError::store)?;
            let (g, entry) = decode(k.value(), v.value())?;
            if g != generation && !again.contains(&entry.address) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

/// Queues everything exported again with fresh numbers: the server lost it.
fn requeue_exported(txn: &WriteTransaction, acked: u64) -> Result<(), DirError> {
    let mut exported = txn.open_table(EXPORTED).map_err(DirError::store)?;
    let mut all = Vec::new();
    for row in exported.iter().map_err(DirError::store)? {
        let (k, v) = row.map_err(DirError::store)?;
        all.push(decode(k.value(), v.value())?.1);
    }
    outbox::requeue(txn, acked, all, |seq, entry| {
        exported
            .insert(
                entry.address.to_string().as_str(),
                stored::encode(seq, OWN, entry)?.as_slice(),
            )
            .map_err(DirError::store)?;
        Ok(())
    })
}
