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
