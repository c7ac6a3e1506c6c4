//! The Tokio shell of the mail router: the wire listener (peers hand over
//! mail; the operator administers), one forwarder per peer, and for a post
//! office the SMTP and POP3 listeners. Decisions live in `routing`, `smtp`,
//! `pop3`; durability in `store`.

mod commit;
mod counts;
mod forward;
mod lines;
mod outbox;
mod pop3;
mod smtp;
mod status;
mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use peer_link::Timeouts;
pub use role_runtime::now_ms;
use role_runtime::server::{Listener, Shutdown, WireIdentity, WireService};
use tokio::sync::Notify;
use tracing::{info, warn};
use wire_format::{Name, Role};

use crate::MailError;
use crate::config::{Mode, Settings};
use crate::routing::{Disposition, postmaster, route};
use crate::store::{MailStore, Router};

#[derive(Debug, Clone, Default)]
pub struct PeerState {
    pub connected: bool,
    pub last_error: Option<String>,
    /// Failed hand-over rounds since the last one that handed mail over.
    pub consecutive_failures: u64,
    /// When the peer last took mail from here; 0: not since the start.
    pub last_success_ms: u64,
}

pub struct Shared {
    pub settings: Settings,
    pub store: MailStore,
    pub timeouts: Timeouts,
    pub routes: RwLock<BTreeMap<Name, Name>>,
    pub endpoints: Mutex<HashMap<Name, String>>,
    /// Forwarders wake on new mail, a route change or a new endpoint.
    pub wake: Notify,
    /// Messages a forwarder is handing over right now, so that after a route
    /// change two forwarders never send the same one at once.
    pub in_flight: Mutex<HashSet<[u8; 16]>>,
    pub peers: Mutex<HashMap<Name, PeerState>>,
    /// Just-queued messages for the forwarders (see `outbox`).
    pub outbox: outbox::Outbox,
    /// Bumped when queued mail may have changed hands without passing the
    /// outbox (a route or endpoint change, returned mail): each forwarder
    /// then scans the store.
    pub rescans: AtomicU64,
    /// Custody changes, folded into group commits (see `commit`).
    pub commits: tokio::sync::mpsc::Sender<commit::Job>,
    /// SMTP sessions receiving a message: a commit a client waits on waits
    /// briefly for them.
    pub arrivals: commit::Arrivals,
    /// Ids for messages taken over SMTP.
    pub message_ids: smtp::MessageIds,
    /// Client connections and SMTP refusals, for status.
    pub clients: counts::ClientCounts,
}

impl Router for Shared {
    fn disposition(&self, post_office: &Name) -> Disposition {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        route(
            self.settings.node,
            self.settings.mode,
            self.settings.hub,
            &routes,
            post_office,
        )
    }
}

impl Shared {
    pub fn local(&self) -> (Name, Name) {
        (self.settings.node, self.settings.network)
    }

    /// Runs a store operation off the async threads (commits sync the disk).
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        op: impl FnOnce(&Shared) -> Result<T, MailError> + Send + 'static,
    ) -> Result<T, MailError> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || op(&shared))
            .await
            .map_err(|e| MailError::Task(e.to_string()))?
    }

    /// Asks every forwarder to scan the store, and wakes them.
    pub fn rescan(&self) {
        self.rescans.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    pub fn peer_state(&self, peer: &Name, update: impl FnOnce(&mut PeerState)) {
        if let Ok(mut peers) = self.peers.lock() {
            update(peers.entry(*peer).or_default());
        }
    }
}

/// Message ids past their retention are forgotten a tenth of it apart (at
/// most hourly), in batches: the table of ids would otherwise grow with
/// every message the router ever took.
async fn forget_old_ids(shared: Arc<Shared>) {
    const BATCH: usize = 10_000;
    let retention = shared.settings.seen_retention;
    let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
    loop {
        tokio::time::sleep(every).await;
        let before = now_ms().saturating_sub(retention.as_millis() as u64);
        let mut forgotten = 0;
        loop {
            match shared
                .blocking(move |s| s.store.forget_seen_before(before, BATCH))
                .await
            {
                Ok(n) => {
                    forgotten += n;
                    if n < BATCH as u64 {
                        break;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "could not forget old message ids; trying later");
                    break;
                }
            }
        }
        if forgotten > 0 {
            info!(forgotten, "forgot message ids past their retention");
        }
    }
}

/// A degraded store (see `store::health`) is retried every second even when
/// no mail comes, so that once the disk has room again the router serves,
/// and reports so, without waiting for a client to try.
async fn recover_store(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if shared.store.degraded().is_none() {
            continue;
        }
        let healthy = shared
            .blocking(|s| {
                s.store.recover();
                Ok(s.store.degraded().is_none())
            })
            .await;
        if let Ok(true) = healthy {
            // Forwarders that failed to read the queue meanwhile look again.
            shared.rescan();
        }
    }
}

/// Opens the store, binds the listeners, prints the process contract lines
/// (`listening wire|smtp|pop3|pop3s|smtps|submission ADDR`, `ready`) and
/// serves until the drain begins.
pub async fn run(settings: Settings, shutdown: Shutdown) -> Result<(), MailError> {
    let store = MailStore::open_with_cache(&settings.data_dir, settings.cache_bytes)?;
    let seeds: Vec<_> = (settings.users.iter())
        .map(|(mailbox, password)| (*mailbox, password.as_ref().map(|p| p.expose().clone())))
        .collect();
    store.seed_users_once(&seeds)?;
    if settings.mode == Mode::PostOffice {
        store.ensure_user(&postmaster())?;
    }
    let mut routes = settings.routes.clone();
    routes.extend(store.routes()?);
    let mut endpoints: HashMap<Name, String> = settings
        .peers
        .iter()
        .filter_map(|p| Some((p.name, p.endpoint.clone()?)))
        .collect();
    endpoints.extend(store.endpoints()?);
    let mut keyring = role_runtime::keyring_with_operator(settings.operator_secret.as_bytes());
    for peer in &settings.peers {
        keyring.insert(peer.name, &[Role::MailRouter], peer.secret.as_bytes());
    }
    let limits = settings.limits;
    let wire_listener = Listener::bind("wire", &settings.listen, limits.wire_connections).await?;
    let mut client_listeners = None;
    if let (Mode::PostOffice, Some(smtp), Some(pop3)) =
        (settings.mode, &settings.smtp_listen, &settings.pop3_listen)
    {
        client_listeners = Some((
            Listener::bind("smtp", smtp, limits.smtp_connections).await?,
            Listener::bind("pop3", pop3, limits.pop3_connections).await?,
        ));
    }
    // TLS files are read before anything is announced: a wrong path or key
    // stops the start with the file named, not the first client.
    let tls = match (settings.mode, &settings.tls) {
        (Mode::PostOffice, Some(files)) => Some(role_runtime::tls::acceptor(files)?),
        _ => None,
    };
    let mut pop3s_listener = None;
    if let (Mode::PostOffice, Some(pop3s), Some(_)) = (settings.mode, &settings.pop3s_listen, &tls)
    {
        pop3s_listener = Some(Listener::bind("pop3s", pop3s, limits.pop3_connections).await?);
    }
    // The implicit-TLS and submission SMTP listeners (settings refuse them
    // without TLS), each capped at `limits.smtp_connections`.
    let mut smtp_tls_listeners = Vec::new();
    if let (Mode::PostOffice, Some(_)) = (settings.mode, &tls) {
        for (name, listen, listening) in [
            ("smtps", &settings.smtps_listen, smtp::Listening::Smtps),
            (
                "submission",
                &settings.submission_listen,
                smtp::Listening::Submission,
            ),
        ] {
            if let Some(listen) = listen {
                let listener = Listener::bind(name, listen, limits.smtp_connections).await?;
                smtp_tls_listeners.push((listener, listening));
            }
        }
    }
    let (commits, jobs) = commit::channel();
    let shared = Arc::new(Shared {
        store,
        timeouts: Timeouts::default(),
        routes: RwLock::new(routes),
        endpoints: Mutex::new(endpoints),
        wake: Notify::new(),
        in_flight: Mutex::new(HashSet::new()),
        peers: Mutex::new(HashMap::new()),
        outbox: outbox::Outbox::default(),
        rescans: AtomicU64::new(0),
        commits,
        arrivals: commit::Arrivals::default(),
        message_ids: smtp::MessageIds::new()
            .map_err(|e| MailError::Task(format!("no randomness for message ids: {e}")))?,
        clients: counts::ClientCounts::default(),
        settings,
    });
    commit::start(Arc::clone(&shared), jobs).map_err(|e| MailError::Task(e.to_string()))?;
    for peer in shared.settings.peers.clone() {
        tokio::spawn(forward::run(Arc::clone(&shared), peer));
    }
    tokio::spawn(forget_old_ids(Arc::clone(&shared)));
    tokio::spawn(recover_store(Arc::clone(&shared)));
    info!(node = %shared.settings.node, mode = ?shared.settings.mode, wire = %wire_listener.local_addr(), "mail router serving");
    wire_listener.announce();
    let mut client_accepts = Vec::new();
    if let Some((smtp, pop3)) = client_listeners {
        smtp.announce();
        pop3.announce();
        let pop3_service = pop3::Pop3Service::plain(Arc::clone(&shared), tls.clone());
        // SMTP AUTH checks the POP3 password: failures count in POP3's tables.
        let smtp_service =
            smtp::SmtpService::new(Arc::clone(&shared), tls.clone(), pop3_service.logins());
        for (listener, listening) in smtp_tls_listeners {
            listener.announce();
            let service = Arc::new(smtp_service.also(listening));
            client_accepts.push(tokio::spawn(listener.run(service, shutdown.clone())));
        }
        let smtp_service = Arc::new(smtp_service);
        if let (Some(pop3s), Some(tls)) = (pop3s_listener, &tls) {
            pop3s.announce();
            let pop3s_service = Arc::new(pop3::Pop3Service::implicit(&pop3_service, tls.clone()));
            client_accepts.push(tokio::spawn(pop3s.run(pop3s_service, shutdown.clone())));
        }
        let pop3_service = Arc::new(pop3_service);
        client_accepts.push(tokio::spawn(smtp.run(smtp_service, shutdown.clone())));
        client_accepts.push(tokio::spawn(pop3.run(pop3_service, shutdown.clone())));
    }
    role_runtime::metrics::serve(wire::Handler(Arc::clone(&shared)), &shutdown).await?;
    role_runtime::process::ready();
    let identity = WireIdentity::new(
        shared.settings.node,
        Role::MailRouter,
        keyring,
        shared.timeouts,
    );
    let service = WireService::new(identity, wire::Handler(shared));
    wire_listener.run(Arc::new(service), shutdown).await;
    // Every listener stops at the drain; their sessions are the drain's.
    for accepts in client_accepts {
        let _ = accepts.await;
    }
    Ok(())
}
