use thiserror::Error;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("mail store {path}: {reason}")]
    Store { path: String, reason: String },
    /// An I/O error (a full disk, say): the store is degraded and reopened
    /// (see `store::health`).
    #[error("mail store {path}: {reason}")]
    StoreIo { path: String, reason: String },
    /// The store is degraded and not reopened yet.
    #[error("mail store {path} is unavailable until it can be reopened: {reason}")]
    Unavailable { path: String, reason: String },
    #[error("stored message {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error(transparent)]
    Runtime(#[from] role_runtime::RuntimeError),
    #[error(transparent)]
    StoreFile(#[from] store_file::StoreFileError),
    #[error("a storage task failed: {0}")]
    Task(String),
}

impl MailError {
    pub fn store(path: &std::path::Path, e: impl std::fmt::Display) -> MailError {
        MailError::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
