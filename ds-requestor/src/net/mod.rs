//! The Tokio shell of the DS requestor: the operator's wire listener
//! ([`admin`]) and one sync task ([`sync`]) that owns the connection to the
//! server and runs the cycles.

mod admin;
mod status;
mod sync;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use dir_core::DirError;
use dir_core::requestor::RequestorStore;
use peer_link::{Connection, Keyring, Timeouts};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, info, info_span, warn};
use wire_format::{Name, Role};

use crate::Settings;

pub const OPERATOR: &str = "OPERATOR";

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
    pub store: RequestorStore,
    pub timeouts: Timeouts,
    pub sync: mpsc::Sender<SyncCommand>,
    pub info: Mutex<CycleInfo>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Shared {
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&RequestorStore) -> Result<T, DirError> + Send + 'static,
    ) -> Result<T, DirError> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || op(&shared.store))
            .await
            .map_err(|e| DirError::Task(e.to_string()))?
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

pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), DirError> {
    if settings.site.is_some() {
        return crate::site::run(settings, shutdown).await;
    }
    let store = RequestorStore::open(&settings.data_dir)?;
    let seeded = store.seed_once(seed_entries(&settings))?;
    if seeded > 0 {
        info!(users = seeded, "seed users added to a new directory");
    }
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
    let (tx, rx) = mpsc::channel(64);
    let shared = Arc::new(Shared {
        settings,
        store,
        timeouts: Timeouts::default(),
        sync: tx,
        info: Mutex::new(CycleInfo::default()),
    });
    let mut keyring = Keyring::new();
    if let Ok(operator) = Name::new(OPERATOR) {
        keyring.insert(
            operator,
            &[Role::Operator],
            shared.settings.operator_secret.as_bytes().to_vec(),
        );
    }
    info!(node = %shared.settings.node, %local, "DS requestor serving");
    let sync_task = tokio::spawn(sync::run(Arc::clone(&shared), rx));
    println!("listening wire {local}");
    println!("ready");
    tokio::select! {
        () = accept_loop(Arc::clone(&shared), listener, keyring) => {}
        () = shutdown => info!("shutting down"),
    }
    sync_task.abort();
    Ok(())
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, keyring: Keyring) {
    let mut session = 0u64;
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        session += 1;
        let shared = Arc::clone(&shared);
        let keyring = keyring.clone();
        let span = info_span!("connection", session, %remote);
        tokio::spawn(
            async move {
                let me = shared.settings.node;
                match Connection::accept(
                    stream,
                    &me,
                    Role::Requestor,
                    &keyring,
                    session,
                    shared.timeouts,
                )
                .await
                {
                    Ok(conn) => admin::serve(shared, conn).await,
                    Err(e) => info!(error = %e, "handshake failed"),
                }
            }
            .instrument(span),
        );
    }
}
