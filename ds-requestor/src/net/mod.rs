//! The Tokio shell of the DS requestor, one for both kinds of directory: the
//! operator's wire listener (`admin`) and one sync task (`sync`) that
//! owns the connections (to the server; for the bridge, to the site
//! replicator too) and drives the cycles.

mod admin;
mod status;
mod sync;
mod tally;

use std::sync::{Arc, Mutex};

use dir_core::DirError;
use dir_core::requestor::{Bridge, BridgeStore, Op, PostOffice, RequestorStore, Stored, perform};
use peer_link::Timeouts;
use role_runtime::history::History;
use role_runtime::now_ms;
use role_runtime::server::{Listener, Shutdown, WireIdentity, WireService};
use tokio::sync::{mpsc, oneshot};
use tracing::info;
use wire_format::Role;

use crate::Settings;
use crate::blocking;
use crate::config::SiteSettings;

/// Where the directory this requestor keeps in step lives.
pub enum Directory {
    /// A post office's: its own store.
    PostOffice(RequestorStore),
    /// The bridge's: the site replicator's import and export folders; the
    /// store keeps the bridge's bookkeeping.
    Bridge {
        store: Arc<BridgeStore>,
        site: SiteSettings,
    },
}

/// What the sync task is asked to do.
pub enum SyncCommand {
    /// Run a cycle; answer when it ends (None: nobody waits, e.g. after a
    /// local change).
    Run(Option<oneshot::Sender<Result<String, String>>>),
    /// The server changed (Repoint): drop the connection, then run a cycle.
    Reconnect(Option<oneshot::Sender<Result<String, String>>>),
}

/// The last cycles, for status.
#[derive(Debug, Clone, Default)]
pub struct CycleInfo {
    pub cycles: u64,
    pub failures: u64,
    /// Failed cycles since the last success.
    pub consecutive_failures: u64,
    pub connected: bool,
    pub last_cycle_ms: u64,
    pub last_success_ms: u64,
    pub last_duration_ms: u64,
    pub last_uploaded: u64,
    pub last_applied: u64,
    pub last_full: bool,
    pub last_error: String,
}

pub struct Shared {
    pub settings: Settings,
    pub directory: Directory,
    pub timeouts: Timeouts,
    pub sync: mpsc::Sender<SyncCommand>,
    pub info: Mutex<CycleInfo>,
    /// Where the sync cycle's store steps run (see `blocking::Worker`).
    pub store_thread: blocking::Worker,
    /// The cycles' run history (`history.log` in the data directory).
    pub history: History,
}

fn not_a_post_office() -> DirError {
    DirError::NotFound("a bridge keeps no users of its own".into())
}

impl Shared {
    /// A post office's store operation, on the blocking pool.
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&RequestorStore) -> Result<T, DirError> + Send + 'static,
    ) -> Result<T, DirError> {
        blocking::run(self, |shared| match &shared.directory {
            Directory::PostOffice(store) => op(store),
            Directory::Bridge { .. } => Err(not_a_post_office()),
        })
        .await
    }

    /// One of the cycle's store operations, on the store thread.
    pub async fn perform(self: &Arc<Self>, op: Op) -> Result<Stored, DirError> {
        let shared = Arc::clone(self);
        self.store_thread
            .run(move || match &shared.directory {
                Directory::PostOffice(store) => perform(
                    &PostOffice {
                        store,
                        own: &shared.settings.post_offices,
                    },
                    op,
                ),
                Directory::Bridge { store, site } => perform(
                    &Bridge {
                        store,
                        import_folder: site.import_folder,
                    },
                    op,
                ),
            })
            .await
    }

    pub fn info(&self, update: impl FnOnce(&mut CycleInfo)) {
        if let Ok(mut info) = self.info.lock() {
            update(&mut info);
        }
    }
}

/// The configured seed users as this post office's own entries.
fn seed_entries(settings: &Settings) -> Vec<wire_format::Entry> {
    settings
        .seed_users
        .iter()
        .map(|(mailbox, display_name)| wire_format::Entry {
            address: wire_format::Address::new(settings.network, settings.node, *mailbox),
            display_name: display_name.clone(),
            attributes: Vec::new(),
            owner: settings.node,
            folder: None,
            origin: settings.node,
            version: wire_format::EntryVersion {
                changed_at_ms: now_ms(),
                ..Default::default()
            },
            tombstone: false,
        })
        .collect()
}

fn open(settings: &Settings) -> Result<Directory, DirError> {
    if let Some(site) = &settings.site {
        return Ok(Directory::Bridge {
            store: Arc::new(BridgeStore::open(&settings.data_dir)?),
            site: site.clone(),
        });
    }
    let store = RequestorStore::open(&settings.data_dir)?;
    let seeded = store.seed_once(seed_entries(settings))?;
    if seeded > 0 {
        info!(users = seeded, "seed users added to a new directory");
    }
    Ok(Directory::PostOffice(store))
}

/// Opens the directory, binds the operator's listener, prints the process
/// contract lines and serves until the drain begins.
pub async fn run(settings: Settings, shutdown: Shutdown) -> Result<(), DirError> {
    let directory = open(&settings)?;
    let listener = Listener::bind("wire", &settings.listen, settings.limits.wire_connections)
        .await
        .map_err(crate::config::dir_error)?;
    let local = listener.local_addr();
    let (tx, rx) = mpsc::channel(64);
    let keyring = role_runtime::keyring_with_operator(settings.operator_secret.as_bytes());
    let shared = Arc::new(Shared {
        store_thread: blocking::Worker::start("store")?,
        history: History::open(&settings.data_dir),
        settings,
        directory,
        timeouts: Timeouts::default(),
        sync: tx,
        info: Mutex::new(CycleInfo::default()),
    });
    match &shared.directory {
        Directory::PostOffice(_) => {
            info!(node = %shared.settings.node, %local, "DS requestor serving")
        }
        Directory::Bridge { site, .. } => {
            info!(node = %shared.settings.node, %local, site = %site.endpoint, "bridge requestor serving");
        }
    }
    let sync_task = tokio::spawn(sync::run(Arc::clone(&shared), rx));
    listener.announce();
    crate::ldap::start(&shared, &shutdown).await?;
    let status = admin::Handler(Arc::clone(&shared));
    role_runtime::metrics::serve(status, &shutdown)
        .await
        .map_err(crate::config::dir_error)?;
    role_runtime::process::ready();
    let identity = WireIdentity::new(
        shared.settings.node,
        Role::Requestor,
        keyring,
        shared.timeouts,
    );
    let service = WireService::new(identity, admin::Handler(shared));
    listener.run(Arc::new(service), shutdown).await;
    // A cycle cut short is safe at any point (every step is committed
    // before it counts), as after a SIGKILL.
    sync_task.abort();
    Ok(())
}
