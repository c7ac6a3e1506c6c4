//! The replicator's TOML configuration (`--config FILE`): the file schema
//! is [`Config`], checked into the [`Settings`] the replicator runs with.
//!
//! ```toml
//! node = "H2"                  # the keys every role has: see
//! network = "ACME"             # role_runtime::CommonConfig (and its
//! data_dir = "/var/lib/mhub/h2-site"  # optional [limits] table)
//! listen = "127.0.0.1:0"
//! operator_secret = "..."
//! pull_interval_ms = 2000
//! tombstone_lifetime_secs = 604800
//! max_chunk = 2000
//!
//! [[peers]]
//! name = "H3"
//! secret = "..."
//! endpoint = "127.0.0.1:7103"
//!
//! [[clients]]
//! name = "H2"
//! secret = "..."
//! folders = ["FS*"]
//! ```
//!
//! Every key (`operator_secret`, each `secret`) is at least 32 hex digits
//! (128 bits: `openssl rand -hex 16`); an empty, shorter or non-hex one is
//! refused by name when the file is loaded (`peer_link::check_strength`).

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use role_runtime::config::PeerConfig;
use role_runtime::config::{self, name};
use role_runtime::{CommonConfig, Limits, Secret};
use serde::{Deserialize, Serialize};
use wire_format::Name;

use crate::SiteError;

const DEFAULT_PULL_INTERVAL_MS: u64 = 2000;
const DEFAULT_TOMBSTONE_LIFETIME_SECS: u64 = 7 * 24 * 3600;
const DEFAULT_MAX_CHUNK: u32 = 2000;

/// The replicator's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `node`, `network`, `data_dir`, `listen`, `operator_secret` (of
    /// netctl, connecting as OPERATOR), `[limits]`.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// Pull each peer at least this often (default 2000, at least 10);
    /// notifications start a pull sooner.
    pub pull_interval_ms: Option<u64>,
    /// How long deletes are kept before they are collected (default seven
    /// days).
    pub tombstone_lifetime_secs: Option<u64>,
    /// Most changes per pull reply (default 2000, at least 1).
    pub max_chunk: Option<u32>,
    /// The other servers of the site, replicated multi-master.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// The local DS roles that keep their entries here.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

/// One `[[clients]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub name: String,
    pub secret: Secret<String>,
    /// Folders it may write; a trailing `*` is a prefix.
    #[serde(default)]
    pub folders: Vec<String>,
}

/// The configuration, checked: names parsed, no peer that is this server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: Secret<String>,
    pub pull_interval: Duration,
    pub tombstone_lifetime: Duration,
    pub max_chunk: u32,
    pub peers: Vec<(Name, PeerConfig)>,
    pub clients: Vec<(Name, ClientConfig)>,
    /// The `[limits]` table: connection caps and the shutdown drain.
    pub limits: Limits,
}

impl AsRef<Limits> for Settings {
    fn as_ref(&self) -> &Limits {
        &self.limits
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SiteError> {
        Ok(config::load(path, Settings::check)?)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, SiteError> {
        Ok(config::parse(text, origin, Settings::check)?)
    }

    /// Every rule of the file beyond its syntax; the reason names the key.
    fn check(config: Config) -> Result<Settings, String> {
        let (node, network) = config.common.validate()?;
        let mut peers = Vec::new();
        for peer in config.peers {
            let peer_name = peer.validate("peers")?;
            // A server listed as its own peer would replicate from itself forever.
            if peer_name == node {
                return Err(format!("peer {peer_name} is this server itself"));
            }
            peers.push((peer_name, peer));
        }
        let mut clients = Vec::new();
        for client in config.clients {
            let client_name = name("client", &client.name)?;
            config::secret(&format!("clients[{client_name}].secret"), &client.secret)?;
            clients.push((client_name, client));
        }
        let max_chunk = config.max_chunk.unwrap_or(DEFAULT_MAX_CHUNK);
        if max_chunk == 0 {
            return Err("max_chunk must be at least 1".into());
        }
        let pull_interval_ms = config.pull_interval_ms.unwrap_or(DEFAULT_PULL_INTERVAL_MS);
        let tombstone_lifetime_secs = config
            .tombstone_lifetime_secs
            .unwrap_or(DEFAULT_TOMBSTONE_LIFETIME_SECS);
        Ok(Settings {
            node,
            network,
            data_dir: config.common.data_dir,
            listen: config.common.listen,
            operator_secret: config.common.operator_secret,
            pull_interval: Duration::from_millis(pull_interval_ms.max(10)),
            tombstone_lifetime: Duration::from_secs(tombstone_lifetime_secs),
            max_chunk,
            peers,
            clients,
            limits: config.common.limits,
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
        operator_secret = "0c0ffee0c0ffee0c0ffee0c0ffee0c0f"
    "#;

    #[test]
    fn a_server_may_not_list_itself_as_a_peer() {
        let text = format!(
            "{BASE}\n[[peers]]\nname = \"h2\"\nsecret = \"55555555555555555555555555555555\"\n"
        );
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
        let text = format!(
            "{BASE}\n[[peers]]\nname = \"H3\"\nsecret = \"4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42\"\n"
        );
        let settings = Settings::parse(&text, "t").unwrap();
        assert!(!format!("{settings:?}").contains("4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42"));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let text = format!("{BASE}\npull_interval = 5\n");
        let err = Settings::parse(&text, "h2.toml").unwrap_err().to_string();
        assert!(
            err.contains("h2.toml") && err.contains("unknown field `pull_interval`"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_a_key() {
        let text = format!(
            "{BASE}\n[[peers]]\nname = \"H3\"\nsecret = \"bee4bee4bee4bee4bee4bee4bee4bee4\"\n\
             [[clients]]\nname = \"H2\"\nsecret = \"c11ec11ec11ec11ec11ec11ec11ec11e\"\n"
        );
        let shown = format!("{:?}", Settings::parse(&text, "t").unwrap());
        for key in [
            "bee4bee4bee4bee4bee4bee4bee4bee4",
            "c11ec11ec11ec11ec11ec11ec11ec11e",
            "\"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"",
        ] {
            assert!(!shown.contains(key), "{key} in {shown}");
        }
        assert!(shown.contains("H3"));
    }

    #[test]
    fn an_empty_or_short_key_is_refused_by_name() {
        for weak in ["", "0123456789"] {
            let text = format!("{BASE}\n[[peers]]\nname = \"H3\"\nsecret = \"{weak}\"\n");
            let err = Settings::parse(&text, "h2.toml").unwrap_err().to_string();
            assert!(err.contains("peers[H3].secret"), "{err}");
            let text = format!("{BASE}\n[[clients]]\nname = \"H2\"\nsecret = \"{weak}\"\n");
            let err = Settings::parse(&text, "h2.toml").unwrap_err().to_string();
            assert!(err.contains("clients[H2].secret"), "{err}");
        }
    }
}
