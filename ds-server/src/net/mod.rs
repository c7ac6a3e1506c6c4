//! The Tokio shell of the DS server: one wire listener for requestors and the
//! operator. The master list is the private store ([`private`], run on the
//! blocking pool) or the site directory ([`crate::site`]).

mod admin;
mod ownership;
mod private;
mod pull;
mod serve;
mod status;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use dir_core::DirError;
use dir_core::server::{MasterList, ServerStore};
use peer_link::{Keyring, Timeouts};
use private::PrivateMaster;
use role_runtime::history::History;
use role_runtime::server::{Listener, Shutdown, WireIdentity, WireService};
use tokio::sync::watch;
use tracing::info;
use wire_format::{Name, Role};

use crate::Settings;
use crate::site::SiteMaster;

/// What the server last saw of one requestor, for status.
#[derive(Debug, Clone, Default)]
pub struct RequestorSeen {
    pub connections: u64,
    /// The mark it pulled after, and the high water it was given.
    pub pulled_after: u64,
    pub served_high_water: u64,
    pub last_pull_ms: u64,
    pub refused_writes: u64,
}

pub struct Shared {
    pub settings: Settings,
    /// Where the directory lives: a private redb store, or (site mode) the
    /// site directory through the local site replicator.
    pub store: Box<dyn MasterList>,
    pub timeouts: Timeouts,
    /// The last update number; connections of requestors watch it to notify.
    pub high_water: watch::Sender<u64>,
    pub removed: Mutex<HashSet<Name>>,
    pub seen: Mutex<BTreeMap<Name, RequestorSeen>>,
    /// The uploads applied, per requestor (`history.log` in the data
    /// directory).
    pub history: History,
}

pub use role_runtime::now_ms;

impl Shared {
    pub fn is_removed(&self, name: &Name) -> bool {
        self.removed
            .lock()
            .map(|r| r.contains(name))
            .unwrap_or(true)
    }

    pub fn seen(&self, name: &Name, update: impl FnOnce(&mut RequestorSeen)) {
        if let Ok(mut seen) = self.seen.lock() {
            update(seen.entry(*name).or_default());
        }
    }
}

fn keyring(settings: &Settings) -> Keyring {
    let mut keyring = role_runtime::keyring_with_operator(settings.operator_secret.as_bytes());
    for r in &settings.requestors {
        keyring.insert(r.policy.name, &[Role::Requestor], r.secret.as_bytes());
    }
    keyring
}

/// Opens the store, listens, prints the process contract lines and serves
/// until the drain begins.
pub async fn run(settings: Settings, shutdown: Shutdown) -> Result<(), DirError> {
    let timeouts = Timeouts::default();
    let mut site_watch = None;
    let store: Box<dyn MasterList> = match &settings.site {
        Some(site) => {
            let master = SiteMaster::open(&settings.data_dir, site.clone(), timeouts).await?;
            site_watch = Some((site.clone(), master.epoch_cell()));
            Box::new(master)
        }
        None => Box::new(PrivateMaster::new(ServerStore::open(&settings.data_dir)?)),
    };
    let listener = Listener::bind("wire", &settings.listen, settings.limits.wire_connections)
        .await
        .map_err(crate::config::dir_error)?;
    let mut removed = HashSet::new();
    for r in &settings.requestors {
        if store.is_removed(r.policy.name).await? {
            removed.insert(r.policy.name);
        }
    }
    // In site mode reading the log end builds the live view (the whole log
    // is read), which is left to its follower so that the server is ready
    // at once; the follower sets the high water as soon as it is built.
    let initial = if site_watch.is_some() {
        0
    } else {
        store.high_water().await?
    };
    let shared = Arc::new(Shared {
        history: History::open(&settings.data_dir),
        timeouts,
        high_water: watch::Sender::new(initial),
        store,
        removed: Mutex::new(removed),
        seen: Mutex::new(BTreeMap::new()),
        settings,
    });
    info!(node = %shared.settings.node, epoch = shared.store.epoch(), local = %listener.local_addr(), "DS server serving");
    tokio::spawn(collect_tombstones(Arc::clone(&shared)));
    if let Some((site, epoch)) = site_watch {
        tokio::spawn(keep_site_view_current(Arc::clone(&shared)));
        tokio::spawn(crate::site::watch::run(
            site,
            timeouts,
            epoch,
            shared.high_water.clone(),
        ));
    }
    listener.announce();
    let status = serve::Handler(Arc::clone(&shared));
    role_runtime::metrics::serve(status, &shutdown)
        .await
        .map_err(crate::config::dir_error)?;
    role_runtime::process::ready();
    let identity = WireIdentity::new(
        shared.settings.node,
        Role::DsServer,
        keyring(&shared.settings),
        timeouts,
    );
    let service = WireService::new(identity, serve::Handler(shared));
    listener.run(Arc::new(service), shutdown).await;
    Ok(())
}

/// Site mode: catches the live view of the site directory up every
/// second, so a listing or a count (a migration's checks, `netctl status`)
/// never waits for much of the log to be read, and brings the high water
/// requestors are notified of to the log's end (notifications of the
/// replicator can be missed while the watcher reconnects).
async fn keep_site_view_current(shared: Arc<Shared>) {
    loop {
        match shared.store.high_water().await {
            Ok(end) => {
                shared.high_water.send_if_modified(|hw| {
                    let grew = end > *hw;
                    *hw = (*hw).max(end);
                    grew
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "the site view could not catch up; trying again");
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Collects tombstones past their lifetime, a tenth of the lifetime apart.
async fn collect_tombstones(shared: Arc<Shared>) {
    let lifetime = shared.settings.tombstone_lifetime;
    let every = (lifetime / 10).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    );
    loop {
        tokio::time::sleep(every).await;
        let before = now_ms().saturating_sub(lifetime.as_millis() as u64);
        match shared.store.collect_tombstones(before).await {
            Ok(0) => {}
            Ok(n) => info!(collected = n, "tombstones past their lifetime removed"),
            Err(e) => tracing::warn!(error = %e, "tombstone collection failed"),
        }
    }
}
