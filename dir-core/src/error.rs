use thiserror::Error;

/// Everything that can go wrong in the directory roles (core and shells).
#[derive(Debug, Error)]
pub enum DirError {
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {reason}")]
    ConfigInvalid { path: String, reason: String },
    #[error("directory store: {0}")]
    Store(String),
    #[error("stored entry {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("{requestor} may not write {address}: it belongs to another post office")]
    Forbidden { requestor: String, address: String },
    #[error("the server broke the pull exchange: {0}")]
    Protocol(String),
    #[error("no such entry: {0}")]
    NotFound(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("talking to the peer failed: {0}")]
    Link(String),
    #[error("a storage task failed: {0}")]
    Task(String),
    /// A shell fed the sync cycle something it did not ask for: a bug in
    /// the requestor, not in the server or the data.
    #[error("the sync cycle was driven out of order: {0}")]
    Cycle(String),
    #[error(transparent)]
    Wire(#[from] wire_format::WireError),
    #[error(transparent)]
    StoreFile(#[from] store_file::StoreFileError),
}

impl DirError {
    pub fn store(e: impl std::fmt::Display) -> DirError {
        DirError::Store(e.to_string())
    }
}
