//! The DS requestor's TOML configuration (`--config FILE`).
//!
//! ```toml
//! node = "POA"                 # this post office's node name
//! network = "ACME"
//! data_dir = "/var/lib/mhub/poa-ds"
//! listen = "127.0.0.1:0"       # the operator's wire listener
//! operator_secret = "..."
//! server = "H"                 # the server synced with until a Repoint
//! interval_ms = 60000          # scheduled cycle; notifications come sooner
//! upload_chunk = 5000          # local changes per upload frame (and at most
//!                              # about 1 MiB of them); each is a round trip
//! post_offices = ["POA"]       # whose users this requestor owns (default: [node])
//!
//! [[servers]]                  # every server it may be pointed at
//! name = "H"
//! endpoint = "127.0.0.1:7000"
//! secret = "..."               # this requestor's key on that server
//!
//! [[seed_users]]               # users of the store's first start (applied
//! mailbox = "JSMITH"           # once, in one transaction; later changes go
//! display_name = "John Smith"  # through UserUpsert/UserDelete)
//!
//! [site]                       # optional: the bridge (H3); see `crate::site`
//! endpoint = "127.0.0.1:7103"  # the local site replicator
//! secret = "..."               # this node's client key there
//! client = "H3"                # the name it connects as (default: node)
//! import_folder = "F1"         # everything the server sends lands here
//! export = ["FS*"]             # folders whose entries go up to the server
//! ```
//!
//! The scheduled cycle is the patent's T1/T2/T3 rhythm folded into one
//! period: each cycle sends the local changes (T1), the server merges them
//! as they arrive (T2), and the same cycle fetches the updates (T3).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dir_core::DirError;
use serde::Deserialize;
use wire_format::Name;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    node: String,
    network: String,
    data_dir: PathBuf,
    listen: String,
    operator_secret: String,
    server: String,
    #[serde(default = "default_interval_ms")]
    interval_ms: u64,
    #[serde(default = "default_upload_chunk")]
    upload_chunk: usize,
    post_offices: Option<Vec<String>>,
    #[serde(default)]
    servers: Vec<ServerConfig>,
    site: Option<SiteConfig>,
    #[serde(default)]
    seed_users: Vec<SeedUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    mailbox: String,
    display_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteConfig {
    endpoint: String,
    secret: String,
    client: Option<String>,
    import_folder: Option<String>,
    export: Option<Vec<String>>,
}

/// Site mode (the bridge): the directory lives in the local site replicator.
/// `Debug` hides the key.
#[derive(Clone)]
pub struct SiteSettings {
    pub endpoint: String,
    pub secret: String,
    pub client: Name,
    pub import_folder: Name,
    pub export: Vec<String>,
}

impl std::fmt::Debug for SiteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteSettings")
            .field("endpoint", &self.endpoint)
            .field("client", &self.client)
            .field("import_folder", &self.import_folder)
            .field("export", &self.export)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub name: String,
    pub endpoint: String,
    pub secret: String,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Each upload frame is a round trip and a commit at the server: 500 made
/// a 10,000-user upload to a site-mode server take a second.
fn default_upload_chunk() -> usize {
    5000
}

fn default_interval_ms() -> u64 {
    60_000
}

#[derive(Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: String,
    pub server: Name,
    pub interval: Duration,
    /// Local changes per upload frame (the store also bounds its bytes).
    pub upload_chunk: usize,
    pub post_offices: Vec<Name>,
    pub servers: Vec<(Name, ServerConfig)>,
    pub site: Option<SiteSettings>,
    /// Mailbox and display name of each seed user.
    pub seed_users: Vec<(Name, String)>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("server", &self.server)
            .field("servers", &self.servers)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, DirError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirError::ConfigRead {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, DirError> {
        let invalid = |reason: String| DirError::ConfigInvalid {
            path: origin.to_owned(),
            reason,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name = |what: &str, raw: &str| {
            Name::new(raw).map_err(|e| invalid(format!("{what} {raw:?}: {e}")))
        };
        let node = name("node", &config.node)?;
        let server = name("server", &config.server)?;
        let mut servers = Vec::new();
        for s in config.servers {
            let n = name("server", &s.name)?;
            if n == node {
                return Err(invalid(format!("server {n} is this requestor itself")));
            }
            servers.push((n, s));
        }
        if !servers.iter().any(|(n, _)| *n == server) {
            return Err(invalid(format!("server {server} has no [[servers]] table")));
        }
        let post_offices = match config.post_offices {
            Some(list) => list
                .iter()
                .map(|p| name("post office", p))
                .collect::<Result<_, _>>()?,
            None => vec![node],
        };
        let site = match config.site {
            Some(site) => Some(SiteSettings {
                client: match &site.client {
                    Some(c) => name("site.client", c)?,
                    None => node,
                },
                import_folder: name(
                    "site.import_folder",
                    site.import_folder.as_deref().unwrap_or("F1"),
                )?,
                export: site.export.unwrap_or_else(|| vec!["FS*".into()]),
                endpoint: site.endpoint,
                secret: site.secret,
            }),
            None => None,
        };
        if site.is_some() && !config.seed_users.is_empty() {
            return Err(invalid(
                "a bridge ([site]) owns no users of its own: remove seed_users".into(),
            ));
        }
        let mut seed_users = Vec::with_capacity(config.seed_users.len());
        for u in config.seed_users {
            if u.display_name.len() > wire_format::limits::MAX_TEXT_LEN {
                return Err(invalid(format!(
                    "display name of {} is too long",
                    u.mailbox
                )));
            }
            seed_users.push((name("seed user", &u.mailbox)?, u.display_name));
        }
        Ok(Settings {
            site,
            seed_users,
            node,
            network: name("network", &config.network)?,
            data_dir: config.data_dir,
            listen: config.listen,
            operator_secret: config.operator_secret,
            server,
            interval: Duration::from_millis(config.interval_ms.max(10)),
            upload_chunk: config
                .upload_chunk
                .clamp(1, wire_format::limits::MAX_CHUNK_ITEMS),
            post_offices,
            servers,
        })
    }

    pub fn server(&self, name: &Name) -> Option<&ServerConfig> {
        self.servers.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "node = \"POA\"\nnetwork = \"ACME\"\ndata_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"op\"\nserver = \"H\"\n";

    #[test]
    fn the_initial_server_needs_a_table_and_secrets_stay_hidden() {
        assert!(Settings::parse(BASE, "t").is_err());
        let text = format!(
            "{BASE}[[servers]]\nname = \"H\"\nendpoint = \"127.0.0.1:1\"\nsecret = \"hunter2\"\n"
        );
        let s = Settings::parse(&text, "t").unwrap();
        assert_eq!(s.post_offices, vec![Name::new("POA").unwrap()]);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
