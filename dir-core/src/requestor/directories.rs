//! The two directories a [`Cycle`](super::Cycle) runs against.
//!
//! * [`PostOffice`]: a post office's store is its directory; a batch is
//!   applied to its GAL (never over its own users).
//! * [`Bridge`]: the bridge's directory is the site replicator's import
//!   folder; a batch's real changes are written there first (the shell's
//!   site client does it), then the bridge's store records them.

use wire_format::{Entry, Name};

use super::bridge::BridgeStore;
use super::cycle::{Batch, CycleStore};
use super::outbox::Ledger;
use super::store::RequestorStore;
use crate::DirError;

pub struct PostOffice<'a> {
    pub store: &'a RequestorStore,
    /// The post offices whose users this requestor owns.
    pub own: &'a [Name],
}

impl CycleStore for PostOffice<'_> {
    const STAGES: bool = false;

    fn ledger(&self) -> Ledger<'_> {
        self.store.ledger()
    }

    fn stage(&self, _: &Batch) -> Result<Vec<Entry>, DirError> {
        Ok(Vec::new())
    }

    fn commit(&self, batch: &Batch) -> Result<u64, DirError> {
        match batch.end {
            None => self
                .store
                .apply_chunk(self.own, batch.full_gen, &batch.updates),
            Some(end) => {
                let (applied, dropped) = self.store.apply_and_finish(
                    self.own,
                    batch.full_gen,
                    &batch.updates,
                    end.epoch,
                    end.high_water,
                )?;
                Ok(applied + dropped)
            }
        }
    }
}

pub struct Bridge<'a> {
    pub store: &'a BridgeStore,
    /// Where everything the server sends lands in the site directory.
    pub import_folder: Name,
}

impl Bridge<'_> {
    fn in_import_folder(&self, mut entry: Entry) -> Entry {
        entry.folder = Some(self.import_folder);
        entry
    }
}

impl CycleStore for Bridge<'_> {
    fn ledger(&self) -> Ledger<'_> {
        self.store.ledger()
    }

    /// The batch's real changes for the import folder; at the end of a full
    /// resync, also the deletes of what the server no longer has, so they
    /// leave the folder before the resync is recorded as finished.
    fn stage(&self, batch: &Batch) -> Result<Vec<Entry>, DirError> {
        let flags = self.store.to_write(&batch.updates)?;
        let mut writes: Vec<Entry> = batch
            .updates
            .iter()
            .zip(flags)
            .filter(|(_, write)| *write)
            .map(|(u, _)| self.in_import_folder(u.entry.clone()))
            .collect();
        if let (Some(generation), Some(_)) = (batch.full_gen, batch.end) {
            for mut gone in self.store.stale(generation, &batch.updates)? {
                gone.tombstone = true;
                writes.push(self.in_import_folder(gone));
            }
        }
        Ok(writes)
    }

    /// Records the batch as the import folder's content; its changes to the
    /// directory were the staged writes, so none are counted here.
    fn commit(&self, batch: &Batch) -> Result<u64, DirError> {
        self.store
            .record_imported(batch.full_gen, &batch.updates, batch.end)?;
        Ok(0)
    }
}
