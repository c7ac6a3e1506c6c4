//! Accepting connections: a cap per listener, a span per connection, and
//! no new connection once the process drains.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{Instrument, debug, info_span, warn};

use super::Shutdown;
use super::session::{Registry, Session};
use crate::RuntimeError;

/// What a listener does with each connection it admits.
pub trait Service: Send + Sync + 'static {
    /// The bytes a connection past the cap is sent before it is closed
    /// (an SMTP `421`, a POP3 `-ERR`, a wire error frame), so a client
    /// hears why instead of hanging.
    fn busy_reply(&self) -> Vec<u8>;

    /// When the listener is full, a session that has waited this long for
    /// its client (see [`Session::wait_for_client`]) gives its place to a
    /// new client; `None`: never (peers keep idle connections on purpose).
    fn evict_idle_after(&self) -> Option<Duration> {
        None
    }

    /// Serves one admitted connection until it ends. `session.shutdown`
    /// says when the process drains: finish the work in hand, say goodbye,
    /// return.
    fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        session: Session,
    ) -> impl Future<Output = ()> + Send;
}

/// A bound listening socket, its service name (`wire`, `smtp`, `pop3`)
/// and the most connections it serves at once.
pub struct Listener {
    service: &'static str,
    socket: TcpListener,
    local: SocketAddr,
    cap: usize,
}

impl Listener {
    /// Binds `addr` (`host:port`, port 0 for any free one) with the long
    /// accept queue of [`peer_link::listen`].
    pub async fn bind(
        service: &'static str,
        addr: &str,
        cap: usize,
    ) -> Result<Listener, RuntimeError> {
        let failed = |source: io::Error| RuntimeError::Listen {
            service,
            addr: addr.to_owned(),
            source,
        };
        let socket = peer_link::listen(addr).await.map_err(failed)?;
        let local = socket.local_addr().map_err(failed)?;
        Ok(Listener {
            service,
            socket,
            local,
            cap: cap.max(1),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The process contract line `listening <service> <host:port>` that
    /// netctl and the tests read to find a process started on port 0.
    pub fn announce(&self) {
        crate::process::contract_line(&format!("listening {} {}", self.service, self.local));
    }

    /// Accepts until the process drains, then closes the socket (so new
    /// clients are refused by the kernel, not queued) and returns. Each
    /// admitted connection runs as a task the drain waits for.
    pub async fn run<S: Service>(self, service: Arc<S>, shutdown: Shutdown) {
        let slots = Arc::new(Semaphore::new(self.cap));
        let refusals = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
        let registry = Arc::new(Registry::default());
        let refused = AtomicU64::new(0);
        let sessions = AtomicU64::new(1);
        let name = self.service;
        loop {
            let accepted = tokio::select! {
                accepted = self.socket.accept() => accepted,
                () = shutdown.draining() => break,
            };
            let (stream, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a reset before accept:
                    // pause rather than spin, then carry on.
                    warn!(service = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let id = sessions.fetch_add(1, Ordering::Relaxed);
            let session = Session::new(remote, id, shutdown.clone(), Arc::clone(&registry));
            let span = info_span!("connection", service = name, session = id, %remote, peer = tracing::field::Empty);
            if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                let served = Arc::clone(&service).serve(stream, session);
                shutdown.track(
                    async move {
                        served.await;
                        drop(slot);
                    }
                    .instrument(span),
                );
                continue;
            }
            // Full. A client idle long enough gives its place (it is told
            // 421 or -ERR, as at an idle timeout); otherwise, or while
            // too many newcomers already wait, the newcomer is refused.
            let evicted = service
                .evict_idle_after()
                .is_some_and(|after| registry.evict_longest_idle(after));
            let waiting = Arc::clone(&refusals).try_acquire_owned().ok();
            if !evicted || waiting.is_none() {
                let count = refused.fetch_add(1, Ordering::Relaxed) + 1;
                if count.is_power_of_two() {
                    warn!(service = name, %remote, refused = count, cap = self.cap, "connection refused: the listener is at its cap");
                }
                // A few bytes into the fresh socket's empty buffer: the
                // reply never waits, even in a flood.
                let _ = stream.try_write(&service.busy_reply());
                if let Some(waiting) = waiting {
                    tokio::spawn(async move {
                        linger(stream).await;
                        drop(waiting);
                    });
                }
                continue;
            }
            let (service, slots) = (Arc::clone(&service), Arc::clone(&slots));
            shutdown.track(
                async move {
                    let slot = tokio::time::timeout(EVICTION_GRACE, slots.acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok);
                    drop(waiting);
                    match slot {
                        Some(slot) => {
                            debug!("an idle session gave its place");
                            service.serve(stream, session).await;
                            drop(slot);
                        }
                        None => {
                            let _ = stream.try_write(&service.busy_reply());
                            linger(stream).await;
                        }
                    }
                }
                .instrument(span),
            );
        }
        debug!(service = name, "listener closed");
    }
}

/// Connections past the cap that are being told so, or wait for an
/// evicted session's place, at one time; past this, in a flood, they are
/// closed without a word.
const REFUSING_AT_ONCE: usize = 64;
/// How long a newcomer waits for the place of the session it evicted.
const EVICTION_GRACE: Duration = Duration::from_secs(1);
/// How long a refused client is given to read why.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Closes a refused connection once the client has had a moment to read
/// why. What the client already sent is read and dropped first: closing a
/// socket with unread bytes resets it, and the reset can overtake the
/// reply (a wire peer sends its Hello without waiting).
async fn linger(mut stream: TcpStream) {
    let linger = async {
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut dropped = 0usize;
        while dropped < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => dropped += n,
            }
        }
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, linger).await;
}
