//! Site mode: the DS requestor of the bridge H3 towards the old hub H, whose
//! directory is the site directory of H3's site replicator (a client of it
//! over the wire protocol).
//!
//! * Everything H sends goes into the import folder (F1). H never sends
//!   back what this bridge uploaded (it strips by origin), so F1 holds the
//!   old network only, and a full resync from H deletes from F1 what H no
//!   longer has.
//! * Changes in the export folders (FS-*, written by H2's DS server and
//!   replicated here) go up to H as this requestor's own changes. The F1
//!   entries it wrote itself are never exported: an entry never travels back
//!   to the side it came from.
//! * Only changes of content travel (the [`store`] remembers what is in F1
//!   and what went up), so a replay or a repeated full resync adds nothing.
//! * A cycle runs on the schedule, on SyncNow, when H notifies, and as soon
//!   as the site replicator says its log grew (replication from H2).

mod admin;
mod cycle;
pub mod store;

use std::sync::{Arc, Mutex};

use dir_core::DirError;
use peer_link::{Connection, Keyring, Timeouts};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, info, info_span, warn};
use wire_format::{Name, Role};

use crate::Settings;
use crate::config::SiteSettings;
use crate::net::{CycleInfo, OPERATOR};
use store::BridgeStore;

pub type Waiter = oneshot::Sender<Result<String, String>>;

pub struct Shared {
    pub settings: Settings,
    pub site: SiteSettings,
    pub store: BridgeStore,
    pub timeouts: Timeouts,
    pub sync: mpsc::Sender<Waiter>,
    pub info: Mutex<CycleInfo>,
}

impl Shared {
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&BridgeStore) -> Result<T, DirError> + Send + 'static,
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

pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), DirError> {
    let Some(site) = settings.site.clone() else {
        return Err(DirError::ConfigInvalid {
            path: "site".into(),
            reason: "site mode needs a [site] table".into(),
        });
    };
    let store = BridgeStore::open(&settings.data_dir)?;
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
        site,
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
    info!(node = %shared.settings.node, %local, site = %shared.site.endpoint, "bridge requestor serving");
    let sync_task = tokio::spawn(cycle::run(Arc::clone(&shared), rx));
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
