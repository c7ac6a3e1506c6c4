//! Store operations run on Tokio's blocking pool: a redb commit waits for
//! the disk, which must not stall the tasks serving connections.

use std::sync::Arc;

use dir_core::DirError;

pub async fn run<S, T>(
    owner: &Arc<S>,
    op: impl FnOnce(&S) -> Result<T, DirError> + Send + 'static,
) -> Result<T, DirError>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
{
    let owner = Arc::clone(owner);
    tokio::task::spawn_blocking(move || op(&owner))
        .await
        .map_err(|e| DirError::Task(e.to_string()))?
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread for the sync cycle's store steps. A resync's commits then
/// run back to back on one thread whose caches hold the store's pages, as
/// a dedicated applier did; spread over the blocking pool's threads, the
/// same commits made a 1,000,000-entry resync about a tenth slower.
pub struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread; it ends when the `Worker` is dropped.
    pub fn start(name: &str) -> Result<Worker, DirError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })
            .map_err(|e| DirError::Task(format!("cannot start the {name} thread: {e}")))?;
        Ok(Worker { jobs })
    }

    /// Runs `op` on the worker's thread, after the jobs sent before it.
    pub async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce() -> Result<T, DirError> + Send + 'static,
    ) -> Result<T, DirError> {
        let stopped = || DirError::Task("the store thread stopped".into());
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(op());
            }))
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}
