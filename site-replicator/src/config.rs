//! The replicator's TOML configuration (`--config FILE`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use wire_format::Name;

use crate::SiteError;

/// ```toml
/// node = "H2"                  # this server's name
/// network = "ACME"
/// data_dir = "/var/lib/mhub/h2-site"
/// listen = "127.0.0.1:0"       # the wire listener (port 0: any free port)
/// operator_secret = "..."      # key of the operator (netctl) connecting as OPERATOR
/// pull_interval_ms = 2000      # pull each peer at least this often (notifications come sooner)
/// tombstone_lifetime_secs = 604800
///
/// [[peers]]                    # other servers of the site, replicated multi-master
/// name = "H3"
/// secret = "..."               # the same secret is configured on H3 for H2
/// endpoint = "127.0.0.1:7103"  # optional; may be set at run time (Repoint)
///
/// [[clients]]                  # local DS roles that keep their entries here
/// name = "H2DS"
/// secret = "..."
/// folders = ["FS*"]            # folders it may write; a trailing * is a prefix
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: String,
    pub network: String,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: String,
    #[serde(default = "default_pull_interval_ms")]
    pub pull_interval_ms: u64,
    #[serde(default = "default_tombstone_lifetime_secs")]
    pub tombstone_lifetime_secs: u64,
    #[serde(default = "default_max_chunk")]
    pub max_chunk: u32,
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub name: String,
    pub secret: String,
    pub endpoint: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub name: String,
    pub secret: String,
    #[serde(default)]
    pub folders: Vec<String>,
}

// Secrets stay out of Debug output, and so out of logs.
impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("folders", &self.folders)
            .finish_non_exhaustive()
    }
}

fn default_pull_interval_ms() -> u64 {
    2000
}
fn default_tombstone_lifetime_secs() -> u64 {
    7 * 24 * 3600
}
fn default_max_chunk() -> u32 {
    2000
}

/// The configuration, checked: names parsed, no peer that is this server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: String,
    pub pull_interval: Duration,
    pub tombstone_lifetime: Duration,
    pub max_chunk: u32,
    pub peers: Vec<(Name, PeerConfig)>,
    pub clients: Vec<(Name, ClientConfig)>,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SiteError> {
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::ConfigRead {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, SiteError> {
        let invalid = |reason: String| SiteError::ConfigInvalid {
            path: origin.to_owned(),
            reason,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name = |what: &str, raw: &str| {
            Name::new(raw).map_err(|e| invalid(format!("{what} {raw:?}: {e}")))
        };
        let node = name("node", &config.node)?;
        let mut peers = Vec::new();
        for peer in &config.peers {
            let peer_name = name("peer", &peer.name)?;
            // A server listed as its own peer would replicate from itself forever.
            if peer_name == node {
                return Err(invalid(format!("peer {peer_name} is this server itself")));
            }
            peers.push((peer_name, peer.clone()));
        }
        let mut clients = Vec::new();
        for client in &config.clients {
            clients.push((name("client", &client.name)?, client.clone()));
        }
        if config.max_chunk == 0 {
            return Err(invalid("max_chunk must be at least 1".into()));
        }
        Ok(Settings {
            node,
            network: name("network", &config.network)?,
            data_dir: config.data_dir,
            listen: config.listen,
            operator_secret: config.operator_secret,
            pull_interval: Duration::from_millis(config.pull_interval_ms.max(10)),
            tombstone_lifetime: Duration::from_secs(config.tombstone_lifetime_secs),
            max_chunk: config.max_chunk,
            peers,
            clients,
        })
    }
}

/// Does `pattern` (a folder name, or a prefix ending in `*`) allow `folder`?
pub fn folder_allowed(patterns: &[String], folder: &Name) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => folder.as_str().starts_with(&prefix.to_ascii_uppercase()),
        None => p.eq_ignore_ascii_case(folder.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        node = "H2"
        network = "ACME"
        data_dir = "/tmp/x"
        listen = "127.0.0.1:0"
        operator_secret = "op"
    "#;

    #[test]
    fn a_server_may_not_list_itself_as_a_peer() {
        let text = format!("{BASE}\n[[peers]]\nname = \"h2\"\nsecret = \"s\"\n");
        let err = Settings::parse(&text, "t").unwrap_err();
        assert!(err.to_string().contains("this server itself"), "{err}");
    }

    #[test]
    fn folder_patterns_match_names_and_prefixes() {
        let f = |s: &str| Name::new(s).unwrap();
        let patterns = vec!["FS*".to_owned(), "F1".to_owned()];
        assert!(folder_allowed(&patterns, &f("FS12")));
        assert!(folder_allowed(&patterns, &f("F1")));
        assert!(!folder_allowed(&patterns, &f("F2")));
        assert!(!folder_allowed(&[], &f("F1")));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let text = format!("{BASE}\n[[peers]]\nname = \"H3\"\nsecret = \"hunter2\"\n");
        let settings = Settings::parse(&text, "t").unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
