//! The DS requestor's TOML configuration (`--config FILE`): the file schema
//! is [`Config`], checked into the [`Settings`] the requestor runs with.
//!
//! ```toml
//! node = "POA"                 # the keys every role has: see
//! network = "ACME"             # role_runtime::CommonConfig (and its
//! data_dir = "/var/lib/mhub/poa-ds"  # optional [limits] table)
//! listen = "127.0.0.1:0"
//! operator_secret = "..."
//! server = "H"
//! interval_ms = 60000
//! upload_chunk = 5000
//! post_offices = ["POA"]
//!
//! [[servers]]
//! name = "H"
//! endpoint = "127.0.0.1:7000"
//! secret = "..."
//!
//! [[seed_users]]
//! mailbox = "JSMITH"
//! display_name = "John Smith"
//!
//! [site]                       # optional: the bridge (H3); see `crate::bridge`
//! endpoint = "127.0.0.1:7103"
//! secret = "..."
//! client = "H3"
//! import_folder = "F1"
//! export = ["FS*"]
//!
//! [ldap]                       # optional: the LDAP address book, see
//! listen = "127.0.0.1:389"     # `crate::ldap::config` and docs/LDAP.md
//! ```
//!
//! Every key (`operator_secret`, each `secret`) is at least 32 hex digits
//! (128 bits: `openssl rand -hex 16`); an empty, shorter or non-hex one is
//! refused by name when the file is loaded (`peer_link::check_strength`).
//!
//! The scheduled cycle is the patent's T1/T2/T3 rhythm folded into one
//! period: each cycle sends the local changes (T1), the server merges them
//! as they arrive (T2), and the same cycle fetches the updates (T3).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dir_core::DirError;
use role_runtime::RuntimeError;
use role_runtime::config::{self, name};
use role_runtime::{CommonConfig, Limits, Secret};
use serde::{Deserialize, Serialize};
use wire_format::Name;

/// Each upload frame is a round trip and a commit at the server: 500 made
/// a 10,000-user upload to a site-mode server take a second.
const DEFAULT_UPLOAD_CHUNK: usize = 5000;
const DEFAULT_INTERVAL_MS: u64 = 60_000;

/// The DS requestor's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `node`, `network`, `data_dir`, `listen` (the operator's wire
    /// listener), `operator_secret`, `[limits]`.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// The server synced with until a Repoint; it needs a `[[servers]]` table.
    pub server: String,
    /// The scheduled cycle (default a minute, at least 10 ms);
    /// notifications from the server start one sooner.
    pub interval_ms: Option<u64>,
    /// Local changes per upload frame (default 5000, and at most about
    /// 1 MiB of them); each frame is a round trip.
    pub upload_chunk: Option<usize>,
    /// Whose users this requestor owns (default: `[node]`).
    pub post_offices: Option<Vec<String>>,
    /// Every server it may be pointed at.
    #[serde(default)]
    pub servers: Vec<ServerConfig>,
    /// The bridge (H3): the directory lives in the local site replicator.
    pub site: Option<SiteConfig>,
    /// Users of the store's first start, applied once in one transaction;
    /// later changes go through UserUpsert/UserDelete.
    #[serde(default)]
    pub seed_users: Vec<SeedUser>,
    /// The read-only LDAP address book of the GAL (`crate::ldap`); none
    /// without the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<crate::ldap::LdapConfig>,
}

/// One `[[seed_users]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub mailbox: String,
    pub display_name: String,
}

/// The `[site]` table of the bridge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The wire endpoint of the local site replicator.
    pub endpoint: String,
    /// This node's client key there.
    pub secret: Secret<String>,
    /// The name it connects as (default: `node`).
    pub client: Option<String>,
    /// Where everything the server sends lands (default `F1`).
    pub import_folder: Option<String>,
    /// Folders whose entries go up to the server (default `["FS*"]`).
    pub export: Option<Vec<String>>,
}

/// Site mode (the bridge): the directory lives in the local site replicator.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub endpoint: String,
    pub secret: Secret<String>,
    pub client: Name,
    pub import_folder: Name,
    pub export: Vec<String>,
}

/// One `[[servers]]` table: a server this requestor may be pointed at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub name: String,
    pub endpoint: String,
    /// This requestor's key on that server.
    pub secret: Secret<String>,
}

/// The configuration, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: Secret<String>,
    pub server: Name,
    pub interval: Duration,
    /// Local changes per upload frame (the store also bounds its bytes).
    pub upload_chunk: usize,
    pub post_offices: Vec<Name>,
    pub servers: Vec<(Name, ServerConfig)>,
    pub site: Option<SiteSettings>,
    /// Mailbox and display name of each seed user.
    pub seed_users: Vec<(Name, String)>,
    /// The `[limits]` table: connection caps and the shutdown drain.
    pub limits: Limits,
    /// The LDAP address book's listeners and policy, if it has one.
    pub ldap: Option<crate::ldap::LdapSettings>,
}

impl AsRef<Limits> for Settings {
    fn as_ref(&self) -> &Limits {
        &self.limits
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, DirError> {
        config::load(path, Settings::check).map_err(dir_error)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, DirError> {
        config::parse(text, origin, Settings::check).map_err(dir_error)
    }

    /// Every rule of the file beyond its syntax; the reason names the key.
    fn check(config: Config) -> Result<Settings, String> {
        let (node, network) = config.common.validate()?;
        let server = name("server", &config.server)?;
        let mut servers = Vec::new();
        for s in config.servers {
            let n = name("server", &s.name)?;
            config::secret(&format!("servers[{n}].secret"), &s.secret)?;
            if n == node {
                return Err(format!("server {n} is this requestor itself"));
            }
            servers.push((n, s));
        }
        if !servers.iter().any(|(n, _)| *n == server) {
            return Err(format!("server {server} has no [[servers]] table"));
        }
        let post_offices = match config.post_offices {
            Some(list) => list
                .iter()
                .map(|p| name("post office", p))
                .collect::<Result<_, _>>()?,
            None => vec![node],
        };
        if let Some(site) = &config.site {
            config::secret("site.secret", &site.secret)?;
        }
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
            return Err("a bridge ([site]) owns no users of its own: remove seed_users".into());
        }
        if site.is_some() && config.ldap.is_some() {
            return Err("a bridge ([site]) keeps no GAL of its own: remove [ldap]".into());
        }
        let ldap = config
            .ldap
            .map(crate::ldap::LdapConfig::check)
            .transpose()?;
        let mut seed_users = Vec::with_capacity(config.seed_users.len());
        for u in config.seed_users {
            if u.display_name.len() > wire_format::limits::MAX_TEXT_LEN {
                return Err(format!("display name of {} is too long", u.mailbox));
            }
            seed_users.push((name("seed user", &u.mailbox)?, u.display_name));
        }
        Ok(Settings {
            site,
            seed_users,
            node,
            network,
            data_dir: config.common.data_dir,
            listen: config.common.listen,
            operator_secret: config.common.operator_secret,
            server,
            interval: Duration::from_millis(
                config.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS).max(10),
            ),
            upload_chunk: config
                .upload_chunk
                .unwrap_or(DEFAULT_UPLOAD_CHUNK)
                .clamp(1, wire_format::limits::MAX_CHUNK_ITEMS),
            post_offices,
            servers,
            limits: config.common.limits,
            ldap,
        })
    }

    pub fn server(&self, name: &Name) -> Option<&ServerConfig> {
        self.servers.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

/// The shell's errors as the directory's (dir-core cannot know role-runtime).
pub(crate) fn dir_error(error: RuntimeError) -> DirError {
    match error {
        RuntimeError::ConfigRead { path, source } => DirError::ConfigRead { path, source },
        RuntimeError::ConfigInvalid { path, reason } => DirError::ConfigInvalid { path, reason },
        RuntimeError::Listen { addr, source, .. } => DirError::Listen { addr, source },
        // Directory roles configure no TLS; the shell's TLS error reads as
        // a bad config naming the file.
        RuntimeError::Tls { path, reason } => DirError::ConfigInvalid { path, reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "node = \"POA\"\nnetwork = \"ACME\"\ndata_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"\nserver = \"H\"\n";

    #[test]
    fn the_initial_server_needs_a_table_and_secrets_stay_hidden() {
        assert!(Settings::parse(BASE, "t").is_err());
        let text = format!(
            "{BASE}[[servers]]\nname = \"H\"\nendpoint = \"127.0.0.1:1\"\nsecret = \"4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42\"\n"
        );
        let s = Settings::parse(&text, "t").unwrap();
        assert_eq!(s.post_offices, vec![Name::new("POA").unwrap()]);
        assert!(!format!("{s:?}").contains("4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42"));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let text = format!("{BASE}intervall_ms = 5\n");
        let err = Settings::parse(&text, "poa.toml").unwrap_err().to_string();
        assert!(
            err.contains("poa.toml") && err.contains("unknown field `intervall_ms`"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_a_key() {
        let text = format!(
            "{BASE}[[servers]]\nname = \"H\"\nendpoint = \"e\"\nsecret = \"5e4fe45e4fe45e4fe45e4fe45e4fe45e\"\n\
             [site]\nendpoint = \"e\"\nsecret = \"517e517e517e517e517e517e517e517e\"\n"
        );
        let shown = format!("{:?}", Settings::parse(&text, "t").unwrap());
        for key in [
            "5e4fe45e4fe45e4fe45e4fe45e4fe45e",
            "517e517e517e517e517e517e517e517e",
            "\"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"",
        ] {
            assert!(!shown.contains(key), "{key} in {shown}");
        }
        assert!(shown.contains("POA"));
    }

    #[test]
    fn an_empty_or_short_key_is_refused_by_name() {
        for weak in ["", "0123456789"] {
            let text =
                format!("{BASE}[[servers]]\nname = \"H\"\nendpoint = \"e\"\nsecret = \"{weak}\"\n");
            let err = Settings::parse(&text, "poa.toml").unwrap_err().to_string();
            assert!(err.contains("servers[H].secret"), "{err}");
            let text = format!(
                "{BASE}[[servers]]\nname = \"H\"\nendpoint = \"e\"\n\
                 secret = \"5e4fe45e4fe45e4fe45e4fe45e4fe45e\"\n\
                 [site]\nendpoint = \"e\"\nsecret = \"{weak}\"\n"
            );
            let err = Settings::parse(&text, "poa.toml").unwrap_err().to_string();
            assert!(err.contains("site.secret"), "{err}");
        }
    }
}
