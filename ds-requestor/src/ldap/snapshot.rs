//! The GAL the address book serves: a [`Directory`] built from the
//! requestor's store, rebuilt when the store changes. A cheap mark of the
//! store (its sync state and counts) is read every [`POLL`]; only when it
//! moved is the GAL read again, on the blocking pool, and swapped in
//! whole, so a search never sees half a sync cycle's changes.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use dir_core::DirError;
use dir_core::requestor::RequestorStore;
use role_runtime::server::Shutdown;
use tracing::{debug, warn};
use wire_format::{Address, Name};

use super::directory::Directory;
use crate::net::Shared;

/// How soon a change of the GAL shows in the address book.
pub const POLL: Duration = Duration::from_millis(500);
const PAGE: usize = 10_000;

pub struct Snapshot {
    current: RwLock<Arc<Directory>>,
}

impl Snapshot {
    pub fn new(dir: Directory) -> Snapshot {
        Snapshot {
            current: RwLock::new(Arc::new(dir)),
        }
    }

    pub fn get(&self) -> Arc<Directory> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn set(&self, dir: Directory) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(dir);
    }
}

/// What changes whenever the GAL does: an import moves the server's mark
/// (or the epoch, or a resync's counts), a local change the outbound
/// sequence.
type Mark = [u64; 8];

fn mark(store: &RequestorStore) -> Result<Mark, DirError> {
    let s = store.state()?;
    let c = store.counts()?;
    Ok([
        s.epoch,
        s.mark,
        s.out_seq,
        s.store_epoch,
        s.restored,
        s.renewals,
        c.local,
        c.imported,
    ])
}

/// The whole GAL, read page by page.
pub fn load(store: &RequestorStore, network: Name) -> Result<(Mark, Directory), DirError> {
    let before = mark(store)?;
    let mut entries = Vec::new();
    let mut after: Option<Address> = None;
    loop {
        let (page, more) = store.page(after.as_ref(), PAGE, None)?;
        after = page.last().map(|e| e.address.clone());
        entries.extend(page);
        if !more {
            break;
        }
    }
    Ok((before, Directory::build(network, entries)))
}

/// Rebuilds the snapshot whenever the store's mark moves, until the drain.
pub async fn keep_fresh(
    shared: Arc<Shared>,
    snapshot: Arc<Snapshot>,
    mut seen: Mark,
    shutdown: Shutdown,
) {
    let network = shared.settings.network;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.draining() => return,
        }
        let now = match shared.with_store(mark).await {
            Ok(now) => now,
            Err(e) => {
                warn!(error = %e, "LDAP: cannot read the store's state");
                continue;
            }
        };
        if now == seen {
            continue;
        }
        match shared.with_store(move |s| load(s, network)).await {
            Ok((at, dir)) => {
                debug!(entries = dir.people.len(), "LDAP: address book rebuilt");
                snapshot.set(dir);
                seen = at;
            }
            Err(e) => warn!(error = %e, "LDAP: cannot read the GAL"),
        }
    }
}
