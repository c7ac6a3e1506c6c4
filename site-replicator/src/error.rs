use thiserror::Error;

#[derive(Debug, Error)]
pub enum SiteError {
    #[error("directory store {path}: {reason}")]
    Store { path: String, reason: String },
    #[error("stored entry {key} is corrupt: {reason}")]
    CorruptEntry { key: String, reason: String },
    #[error("entry {address} names no folder; every site directory entry lives in a folder")]
    NoFolder { address: String },
    #[error("{client} may not write folder {folder}")]
    FolderNotAllowed { client: String, folder: String },
    #[error(transparent)]
    Runtime(#[from] role_runtime::RuntimeError),
    #[error("a storage task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Link(#[from] peer_link::LinkError),
    #[error(transparent)]
    StoreFile(#[from] store_file::StoreFileError),
}

impl SiteError {
    pub fn store(path: &std::path::Path, e: impl std::fmt::Display) -> SiteError {
        SiteError::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
