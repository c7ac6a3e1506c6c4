use thiserror::Error;

#[derive(Debug, Error)]
pub enum NetctlError {
    #[error("cannot read topology {path}: {source}")]
    TopologyRead {
        path: String,
        source: std::io::Error,
    },
    #[error("topology {path} is not valid: {reason}")]
    TopologyInvalid { path: String, reason: String },
    #[error("no network in {0}: run `netctl up` first (or pass the --data-dir it used)")]
    NoNetwork(String),
    #[error("a network is already running from {0}; run `netctl down` first")]
    AlreadyUp(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path} is damaged: {reason}")]
    BadState { path: String, reason: String },
    #[error("cannot start {process}: {reason}")]
    Start { process: String, reason: String },
    #[error("{process} did not become ready within {seconds} s; its log is {log}")]
    NotReady {
        process: String,
        seconds: u64,
        log: String,
    },
    #[error("no free port on {host}: {source}")]
    NoPort {
        host: String,
        source: std::io::Error,
    },
    #[error("role {role} of {node} is not available yet: {why}")]
    RoleUnavailable {
        node: String,
        role: String,
        why: &'static str,
    },
    #[error("{process}: {source}")]
    Link {
        process: String,
        source: peer_link::LinkError,
    },
    #[error(
        "secrets.toml has no operator key for {0}: an older netctl started this network \
         with one key for every process; run `netctl down`, then `netctl up` again"
    )]
    NoOperatorKey(String),
    #[error("cannot read the password: {0}")]
    Password(String),
    #[error(
        "{holder} is working on the network in {data_dir}; wait until it ends \
         (or stop that process) and run this command again"
    )]
    Locked { data_dir: String, holder: String },
    #[error(
        "port {port} of {process} ({service}) is in use by another program; this network keeps \
         the ports it was first started with (moved post offices were pointed at them), so free \
         that port and run `netctl up` again"
    )]
    PortTaken {
        process: String,
        service: String,
        port: u16,
    },
    #[error("TLS certificate {path}: {reason}")]
    Tls { path: String, reason: String },
    #[error("migration: {0}")]
    Migration(String),
    #[error("dashboard: {0}")]
    Dashboard(String),
    #[error("verification failed: {0}")]
    Verification(String),
}
