use thiserror::Error;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {reason}")]
    ConfigInvalid { path: String, reason: String },
    #[error("mail store {path}: {reason}")]
    Store { path: String, reason: String },
    #[error("stored message {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
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
