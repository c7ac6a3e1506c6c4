//! The Tokio shell of the DS server: one wire listener for requestors and the
//! operator. Store calls run on the blocking pool (redb commits fsync).

mod admin;
mod ownership;
mod pull;
mod serve;
mod status;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use dir_core::DirError;
use dir_core::server::{MasterList, ServerStore};
use peer_link::{Keyring, Timeouts};
use tokio::sync::watch;
use tracing::info;
use wire_format::{Name, Role};

use crate::Settings;
use crate::site::SiteMaster;

/// The operator (netctl) connects under this name.
pub const OPERATOR: &str = "OPERATOR";

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
    pub keyring: Keyring,
    pub timeouts: Timeouts,
    /// The last update number; connections of requestors watch it to notify.
    pub high_water: watch::Sender<u64>,
    pub removed: Mutex<HashSet<Name>>,
    pub seen: Mutex<BTreeMap<Name, RequestorSeen>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Shared {
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&dyn MasterList) -> Result<T, DirError> + Send + 'static,
    ) -> Result<T, DirError> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || op(shared.store.as_ref()))
            .await
            .map_err(|e| DirError::Task(e.to_string()))?
    }

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
    let mut keyring = Keyring::new();
    for r in &settings.requestors {
        keyring.insert(
            r.policy.name,
            &[Role::Requestor],
            r.secret.as_bytes().to_vec(),
        );
    }
    if let Ok(operator) = Name::new(OPERATOR) {
        keyring.insert(
            operator,
            &[Role::Operator],
            settings.operator_secret.as_bytes().to_vec(),
        );
    }
    keyring
}

/// Opens the store, listens, prints the process contract lines and serves
/// until `shutdown` resolves.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), DirError> {
    let timeouts = Timeouts::default();
    let mut site_watch = None;
    let store: Box<dyn MasterList> = match &settings.site {
        Some(site) => {
            let master = SiteMaster::open(&settings.data_dir, site.clone(), timeouts).await?;
            site_watch = Some((site.clone(), master.epoch_cell()));
            Box::new(master)
        }
        None => Box::new(ServerStore::open(&settings.data_dir)?),
    };
    let listener = peer_link::listen(&settings.listen)
        .await
        .map_err(|source| DirError::Listen {
            addr: settings.listen.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| DirError::Listen {
        addr: settings.listen.clone(),
        source,
    })?;
    let mut removed = HashSet::new();
    for r in &settings.requestors {
        if store.is_removed(&r.policy.name)? {
            removed.insert(r.policy.name);
        }
    }
    // In site mode the log end is a request to the replicator, which must
    // not block this async thread; the watcher sets it at once.
    let initial = if site_watch.is_some() {
        0
    } else {
        store.high_water()?
    };
    let shared = Arc::new(Shared {
        keyring: keyring(&settings),
        timeouts,
        high_water: watch::Sender::new(initial),
        store,
        removed: Mutex::new(removed),
        seen: Mutex::new(BTreeMap::new()),
        settings,
    });
    info!(node = %shared.settings.node, epoch = shared.store.epoch(), %local, "DS server serving");
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
    println!("listening wire {local}");
    println!("ready");
    tokio::select! {
        () = serve::accept_loop(Arc::clone(&shared), listener) => {}
        () = shutdown => info!("shutting down"),
    }
    Ok(())
}

/// Site mode: builds the live view of the site directory at start and
/// catches it up every second, so a listing or a count (a migration's
/// checks, `netctl status`) never waits for the whole log to be read.
async fn keep_site_view_current(shared: Arc<Shared>) {
    loop {
        if let Err(e) = shared.with_store(|s| s.live_entries()).await {
            tracing::debug!(error = %e, "the site view could not catch up; trying again");
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
        match shared
            .with_store(move |s| s.collect_tombstones(before))
            .await
        {
            Ok(0) => {}
            Ok(n) => info!(collected = n, "tombstones past their lifetime removed"),
            Err(e) => tracing::warn!(error = %e, "tombstone collection failed"),
        }
    }
}
