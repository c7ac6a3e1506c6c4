//! The process's drain: one signal that every listener and session
//! watches, and the set of tasks the drain waits for.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cloned into every listener and session. [`Shutdown::begin`] starts the
/// drain: listeners stop accepting, sessions finish the request in hand
/// and say goodbye; [`Shutdown::finished`] resolves when they all have.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Starts the drain (idempotent).
    pub fn begin(&self) {
        self.token.cancel();
        self.tasks.close();
    }

    pub fn is_draining(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the drain has begun; cancel-safe, for `select!`.
    pub async fn draining(&self) {
        self.token.cancelled().await;
    }

    /// Runs `task` as one the drain waits for (a session, a commit in
    /// flight).
    pub fn track<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Resolves when the drain has begun and every tracked task has ended.
    pub async fn finished(&self) {
        self.draining().await;
        self.tasks.wait().await;
    }

    /// Tracked tasks still running.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_drain_waits_for_tracked_tasks_and_only_them() {
        let shutdown = Shutdown::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        shutdown.track(async move {
            let _ = rx.await;
        });
        tokio::spawn(std::future::pending::<()>());
        shutdown.begin();
        assert!(shutdown.is_draining());
        let early = tokio::time::timeout(Duration::from_millis(50), shutdown.finished()).await;
        assert!(early.is_err(), "a tracked task is still running");
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), shutdown.finished())
            .await
            .expect("the drain ends once the tracked task has");
        assert_eq!(shutdown.in_flight(), 0);
    }
}
