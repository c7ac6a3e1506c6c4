//! What an admitted connection knows of its listener: when to end (the
//! process drains, or the listener, full, gives its place to a newcomer
//! while it sat idle), and how it tells the listener it is idle.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shutdown;
use crate::now_ms;

/// Why [`Session::wait_for_client`] gave up waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupted {
    /// The process is shutting down.
    Draining,
    /// The listener is full and this session had been idle the longest:
    /// its place went to a new client.
    Evicted,
}

/// One admitted connection.
pub struct Session {
    pub remote: SocketAddr,
    /// Counts up from 1 per listener, for log lines.
    pub id: u64,
    pub shutdown: Shutdown,
    idle: Arc<IdleMark>,
    registry: Arc<Registry>,
}

impl Session {
    pub(super) fn new(
        remote: SocketAddr,
        id: u64,
        shutdown: Shutdown,
        registry: Arc<Registry>,
    ) -> Session {
        let idle = Arc::new(IdleMark::default());
        registry.insert(id, Arc::clone(&idle));
        Session {
            remote,
            id,
            shutdown,
            idle,
            registry,
        }
    }

    /// Waits for `read` (the client's next command) unless the process
    /// drains or the session is evicted first. While it waits the session
    /// counts as idle: a full listener may take its place for a newcomer.
    /// Use it only where ending the session loses nothing (between
    /// commands), never in the middle of a message.
    pub async fn wait_for_client<T>(
        &self,
        read: impl Future<Output = T>,
    ) -> Result<T, Interrupted> {
        if self.shutdown.is_draining() {
            return Err(Interrupted::Draining);
        }
        if self.idle.evict.is_cancelled() {
            return Err(Interrupted::Evicted);
        }
        self.idle.since_ms.store(now_ms().max(1), Ordering::Relaxed);
        let outcome = tokio::select! {
            value = read => Ok(value),
            () = self.shutdown.draining() => Err(Interrupted::Draining),
            () = self.idle.evict.cancelled() => Err(Interrupted::Evicted),
        };
        self.idle.since_ms.store(0, Ordering::Relaxed);
        outcome
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// Since when a session waits for its client (0: busy), and the switch
/// that evicts it.
#[derive(Default)]
pub(super) struct IdleMark {
    since_ms: AtomicU64,
    evict: CancellationToken,
}

/// The live sessions of one listener, so a full listener can find the one
/// idle the longest.
#[derive(Default)]
pub(super) struct Registry {
    sessions: Mutex<HashMap<u64, Arc<IdleMark>>>,
}

impl Registry {
    fn insert(&self, id: u64, mark: Arc<IdleMark>) {
        self.lock().insert(id, mark);
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<IdleMark>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Evicts the session that has waited for its client the longest, if
    /// it has waited at least `idle_for`; returns whether one was.
    pub(super) fn evict_longest_idle(&self, idle_for: Duration) -> bool {
        let latest = now_ms().saturating_sub(u64::try_from(idle_for.as_millis()).unwrap_or(0));
        let sessions = self.lock();
        let victim = sessions
            .values()
            .filter(|m| !m.evict.is_cancelled())
            .map(|m| (m.since_ms.load(Ordering::Relaxed), m))
            .filter(|(since, _)| *since != 0 && *since <= latest)
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, mark)) => {
                mark.evict.cancel();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(registry: &Arc<Registry>, id: u64) -> Session {
        let remote = SocketAddr::from(([127, 0, 0, 1], 1));
        Session::new(remote, id, Shutdown::new(), Arc::clone(registry))
    }

    #[tokio::test]
    async fn the_session_idle_the_longest_is_evicted_and_a_busy_one_never() {
        let registry = Arc::new(Registry::default());
        let (oldest, newer, busy) = (
            session(&registry, 1),
            session(&registry, 2),
            session(&registry, 3),
        );
        let waits = async {
            let first = oldest.wait_for_client(std::future::pending::<()>());
            let second = async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                newer.wait_for_client(std::future::pending::<()>()).await
            };
            tokio::join!(first, second)
        };
        let evictions = async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert!(registry.evict_longest_idle(Duration::from_millis(10)));
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert!(registry.evict_longest_idle(Duration::from_millis(10)));
            // The third never waits for its client: nothing left to evict.
            assert!(!registry.evict_longest_idle(Duration::ZERO));
        };
        let ((first, second), ()) = tokio::join!(waits, evictions);
        assert_eq!(first, Err(Interrupted::Evicted));
        assert_eq!(second, Err(Interrupted::Evicted));
        drop(busy);
        assert!(
            registry.lock().len() == 2,
            "a dropped session leaves the registry"
        );
    }

    #[tokio::test]
    async fn a_session_idle_for_less_than_the_bound_stays() {
        let registry = Arc::new(Registry::default());
        let waiting = session(&registry, 1);
        let wait = waiting.wait_for_client(tokio::time::sleep(Duration::from_millis(100)));
        let evict = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            registry.evict_longest_idle(Duration::from_secs(10))
        };
        let (outcome, evicted) = tokio::join!(wait, evict);
        assert!(!evicted);
        assert_eq!(outcome, Ok(()));
    }

    #[tokio::test]
    async fn a_drain_interrupts_a_wait_for_the_client() {
        let registry = Arc::new(Registry::default());
        let waiting = session(&registry, 1);
        waiting.shutdown.begin();
        let outcome = waiting.wait_for_client(std::future::pending::<()>()).await;
        assert_eq!(outcome, Err(Interrupted::Draining));
    }
}
