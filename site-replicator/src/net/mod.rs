//! The Tokio shell: one wire listener serving peers, local DS clients and the
//! operator ([`server`]), one puller per peer ([`puller`]), and tombstone
//! collection. All decisions live in `resolve` and `store`.

mod puller;
mod server;
mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peer_link::{Keyring, Timeouts};
use role_runtime::history::History;
use role_runtime::now_ms;
use role_runtime::server::{Listener, Shutdown, WireIdentity, WireService};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};
use wire_format::{Name, Role};

use crate::{Settings, SiteError, SiteStore};

/// What one puller knows of its peer, for status.
#[derive(Debug, Clone, Default)]
pub struct PeerState {
    pub endpoint: Option<String>,
    pub connected: bool,
    /// The peer's log end, as it last told us.
    pub peer_usn: u64,
    pub last_success_ms: u64,
    /// When a connection or a pull was last tried (0: never).
    pub last_attempt_ms: u64,
    /// Failed connections and sessions since the last successful pull.
    pub consecutive_failures: u64,
    pub last_error: Option<String>,
}

/// A request to run a pull cycle now, answered when it ends.
pub type SyncRequest = oneshot::Sender<Result<u64, String>>;

pub struct Shared {
    pub settings: Settings,
    pub store: SiteStore,
    pub timeouts: Timeouts,
    /// This server's log end; connections serving pullers watch it to notify them.
    pub high_water: watch::Sender<u64>,
    pub peers: Mutex<HashMap<Name, PeerState>>,
    pub sync_now: HashMap<Name, mpsc::Sender<SyncRequest>>,
    pub endpoints: HashMap<Name, watch::Sender<Option<String>>>,
    /// The replication sessions' run history (`history.log` in the data
    /// directory).
    pub history: History,
}

impl Shared {
    /// Runs a store operation off the async threads (redb commits fsync).
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&SiteStore) -> Result<T, SiteError> + Send + 'static,
    ) -> Result<T, SiteError> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || op(&shared.store))
            .await
            .map_err(|e| SiteError::Task(e.to_string()))?
    }

    pub fn peer_state(&self, peer: &Name, update: impl FnOnce(&mut PeerState)) {
        if let Ok(mut peers) = self.peers.lock() {
            update(peers.entry(*peer).or_default());
        }
    }
}

fn keyring(settings: &Settings) -> Keyring {
    let mut keyring = role_runtime::keyring_with_operator(settings.operator_secret.as_bytes());
    for (name, peer) in &settings.peers {
        keyring.insert(*name, &[Role::SiteReplicator], peer.secret.as_bytes());
    }
    for (name, client) in &settings.clients {
        keyring.insert(
            *name,
            &[Role::DsServer, Role::Requestor],
            client.secret.as_bytes(),
        );
    }
    keyring
}

/// Opens the store, binds the listener, prints the process contract lines
/// (`listening wire ADDR`, `ready`) and serves until the drain begins.
pub async fn run(settings: Settings, shutdown: Shutdown) -> Result<(), SiteError> {
    let store = SiteStore::open(&settings.data_dir, settings.node)?;
    let listener =
        Listener::bind("wire", &settings.listen, settings.limits.wire_connections).await?;
    let high_water = watch::Sender::new(store.high_water()?);
    let mut sync_now = HashMap::new();
    let mut sync_receivers = Vec::new();
    let mut endpoints = HashMap::new();
    let mut peers = HashMap::new();
    for (name, peer) in &settings.peers {
        let (tx, rx) = mpsc::channel(16);
        sync_now.insert(*name, tx);
        let endpoint = store
            .endpoint_override(name)?
            .or_else(|| peer.endpoint.clone());
        endpoints.insert(*name, watch::Sender::new(endpoint.clone()));
        peers.insert(
            *name,
            PeerState {
                endpoint,
                ..PeerState::default()
            },
        );
        sync_receivers.push((*name, rx));
    }
    let shared = Arc::new(Shared {
        history: History::open(&settings.data_dir),
        timeouts: Timeouts::default(),
        store,
        high_water,
        peers: Mutex::new(peers),
        sync_now,
        endpoints,
        settings,
    });
    info!(node = %shared.settings.node, epoch = shared.store.epoch(), local = %listener.local_addr(), "site replicator serving");
    for (peer, rx) in sync_receivers {
        tokio::spawn(puller::run(Arc::clone(&shared), peer, rx));
    }
    tokio::spawn(collect_tombstones(Arc::clone(&shared)));
    listener.announce();
    role_runtime::metrics::serve(server::Handler(Arc::clone(&shared)), &shutdown).await?;
    role_runtime::process::ready();
    let identity = WireIdentity::new(
        shared.settings.node,
        Role::SiteReplicator,
        keyring(&shared.settings),
        shared.timeouts,
    );
    let service = WireService::new(identity, server::Handler(shared));
    listener.run(Arc::new(service), shutdown).await;
    Ok(())
}

async fn collect_tombstones(shared: Arc<Shared>) {
    let lifetime = shared.settings.tombstone_lifetime;
    let every = (lifetime / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        tokio::time::sleep(every).await;
        let before = now_ms().saturating_sub(lifetime.as_millis() as u64);
        match shared
            .with_store(move |s| s.collect_tombstones(before))
            .await
        {
            Ok(0) => {}
            Ok(n) => info!(collected = n, "tombstones past their lifetime removed"),
            Err(e) => warn!(error = %e, "tombstone collection failed"),
        }
    }
}
