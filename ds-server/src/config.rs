//! The DS server's TOML configuration (`--config FILE`): the file schema
//! is [`Config`], checked into the [`Settings`] the server runs with.
//!
//! ```toml
//! node = "H"                   # the keys every role has: see
//! network = "ACME"             # role_runtime::CommonConfig (and its
//! data_dir = "/var/lib/mhub/h-ds"  # optional [limits] table)
//! listen = "127.0.0.1:0"
//! operator_secret = "..."
//! chunk = 500
//! tombstone_lifetime_ms = 604800000
//!
//! [[requestors]]
//! name = "POA"
//! secret = "..."
//! post_offices = ["POA"]
//! export = ["*"]
//! bridge = false
//!
//! [site]                       # optional (H2)
//! endpoint = "127.0.0.1:7103"
//! secret = "..."
//! client = "H2"
//! folder_prefix = "FS-"
//! ```
//!
//! Every key (`operator_secret`, each `secret`) is at least 32 hex digits
//! (128 bits: `openssl rand -hex 16`); an empty, shorter or non-hex one is
//! refused by name when the file is loaded (`peer_link::check_strength`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dir_core::DirError;
use dir_core::server::RequestorPolicy;
use role_runtime::RuntimeError;
use role_runtime::config::{self, name};
use role_runtime::{CommonConfig, Limits, Secret};
use serde::{Deserialize, Serialize};
use wire_format::Name;

/// Largest chunk: about 700 entries of the largest possible size fit in the
/// 4 MiB frame limit.
pub const MAX_CHUNK: usize = 700;
const DEFAULT_CHUNK: usize = 500;
/// Seven days.
const DEFAULT_TOMBSTONE_LIFETIME_MS: u64 = 7 * 24 * 3600 * 1000;

/// The DS server's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `node`, `network`, `data_dir`, `listen`, `operator_secret`, `[limits]`.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// Updates per DirUpdates frame, 1 to [`MAX_CHUNK`] (default 500).
    pub chunk: Option<usize>,
    /// How long deletes are kept before they are collected (default seven
    /// days); a requestor that has not pulled since then gets a full resync.
    pub tombstone_lifetime_ms: Option<u64>,
    /// The requestors allowed to sync with this server.
    #[serde(default)]
    pub requestors: Vec<RequestorConfig>,
    /// Site mode (H2): the master list lives in the site directory of the
    /// local site replicator instead of a private store.
    pub site: Option<SiteConfig>,
}

/// One `[[requestors]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestorConfig {
    /// The node name it authenticates as.
    pub name: String,
    /// Its key on this server.
    pub secret: Secret<String>,
    /// Whose users it may write (default: its own name).
    pub post_offices: Option<Vec<String>>,
    /// Post offices it receives (default `["*"]`, all); in site mode, the
    /// folders it receives (a trailing `*` is a prefix).
    pub export: Option<Vec<String>>,
    /// The bridge (H3 on H): it may also write every post office that no
    /// live (registered, not removed) requestor owns here.
    #[serde(default)]
    pub bridge: bool,
}

/// The `[site]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The wire endpoint of the local site replicator.
    pub endpoint: String,
    /// This server's client key on the replicator.
    pub secret: Secret<String>,
    /// The name it connects as (default: `node`).
    pub client: Option<String>,
    /// Post office P's users go to folder `{folder_prefix}P` (default `FS-`).
    pub folder_prefix: Option<String>,
}

/// A registered requestor: its policy and its key.
#[derive(Debug, Clone)]
pub struct Registered {
    pub policy: RequestorPolicy,
    pub secret: Secret<String>,
    /// The bridge: also owns every post office no live requestor owns here.
    pub bridge: bool,
}

/// The configuration, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: Secret<String>,
    pub chunk: usize,
    pub tombstone_lifetime: Duration,
    pub requestors: Vec<Registered>,
    /// Site mode: where the master list lives instead of a private store.
    pub site: Option<SiteSettings>,
    /// The `[limits]` table: connection caps and the shutdown drain.
    pub limits: Limits,
}

/// The local site replicator of a site-mode server.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    pub endpoint: String,
    pub secret: Secret<String>,
    pub client: Name,
    pub folder_prefix: String,
}

impl SiteSettings {
    /// The folder holding `post_office`'s users: one folder per post office,
    /// so a post office's folder never needs a number agreed between sites.
    pub fn folder_of(&self, post_office: &Name) -> Result<Name, DirError> {
        Name::new(&format!("{}{post_office}", self.folder_prefix)).map_err(|e| {
            DirError::ConfigInvalid {
                path: "site.folder_prefix".into(),
                reason: format!("no folder name for {post_office}: {e}"),
            }
        })
    }
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
        let chunk = config.chunk.unwrap_or(DEFAULT_CHUNK);
        if !(1..=MAX_CHUNK).contains(&chunk) {
            return Err(format!("chunk must be 1 to {MAX_CHUNK}, not {chunk}"));
        }
        let mut requestors: Vec<Registered> = Vec::new();
        for r in config.requestors {
            let rname = name("requestor", &r.name)?;
            config::secret(&format!("requestors[{rname}].secret"), &r.secret)?;
            if rname == node || requestors.iter().any(|x| x.policy.name == rname) {
                return Err(format!(
                    "requestor {rname} is listed twice or is this server"
                ));
            }
            let post_offices = match r.post_offices {
                Some(list) => list
                    .iter()
                    .map(|p| name("post office", p))
                    .collect::<Result<_, _>>()?,
                None => vec![rname],
            };
            requestors.push(Registered {
                policy: RequestorPolicy {
                    name: rname,
                    post_offices,
                    export: r.export.unwrap_or_else(|| vec!["*".into()]),
                },
                secret: r.secret,
                bridge: r.bridge,
            });
        }
        let site = match config.site {
            Some(site) => {
                config::secret("site.secret", &site.secret)?;
                let client = match &site.client {
                    Some(c) => name("site.client", c)?,
                    None => node,
                };
                let prefix = site.folder_prefix.as_deref().unwrap_or("FS-");
                let settings = SiteSettings {
                    endpoint: site.endpoint,
                    secret: site.secret,
                    client,
                    folder_prefix: prefix.to_ascii_uppercase(),
                };
                // Every registered post office must have a valid folder name.
                for r in &requestors {
                    for po in &r.policy.post_offices {
                        settings.folder_of(po).map_err(|e| e.to_string())?;
                    }
                }
                Some(settings)
            }
            None => None,
        };
        Ok(Settings {
            node,
            network,
            data_dir: config.common.data_dir,
            listen: config.common.listen,
            operator_secret: config.common.operator_secret,
            chunk,
            tombstone_lifetime: Duration::from_millis(
                config
                    .tombstone_lifetime_ms
                    .unwrap_or(DEFAULT_TOMBSTONE_LIFETIME_MS),
            ),
            requestors,
            site,
            limits: config.common.limits,
        })
    }

    pub fn requestor(&self, name: &Name) -> Option<&Registered> {
        self.requestors.iter().find(|r| r.policy.name == *name)
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

    const BASE: &str = "node = \"H\"\nnetwork = \"ACME\"\ndata_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"\n";

    #[test]
    fn defaults_own_post_office_and_export_all() {
        let text = format!(
            "{BASE}[[requestors]]\nname = \"poa\"\nsecret = \"4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42\"\n"
        );
        let s = Settings::parse(&text, "t").unwrap();
        let r = &s.requestors[0].policy;
        assert_eq!(r.post_offices, vec![Name::new("POA").unwrap()]);
        assert_eq!(r.export, vec!["*".to_owned()]);
        assert!(!format!("{s:?}").contains("4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e42"));
    }

    #[test]
    fn site_mode_names_a_folder_per_post_office_and_hides_its_key() {
        let text = format!(
            "{BASE}[site]\nendpoint = \"127.0.0.1:1\"\nsecret = \"4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e43\"\n\
             [[requestors]]\nname = \"POD\"\nsecret = \"55555555555555555555555555555555\"\nbridge = false\n"
        );
        let s = Settings::parse(&text, "t").unwrap();
        let site = s.site.as_ref().unwrap();
        assert_eq!(site.client.as_str(), "H");
        let pod = Name::new("POD").unwrap();
        assert_eq!(site.folder_of(&pod).unwrap().as_str(), "FS-POD");
        assert!(!format!("{s:?}").contains("4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e43"));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let text = format!("{BASE}chunks = 5\n");
        let err = Settings::parse(&text, "h.toml").unwrap_err().to_string();
        assert!(
            err.contains("h.toml") && err.contains("unknown field `chunks`"),
            "{err}"
        );
        let nested = format!(
            "{BASE}[site]\nendpoint = \"e\"\nsecret = \"55555555555555555555555555555555\"\nprefix = \"F\"\n"
        );
        let err = Settings::parse(&nested, "h.toml").unwrap_err().to_string();
        assert!(err.contains("unknown field `prefix`"), "{err}");
    }

    #[test]
    fn debug_never_shows_a_key() {
        let text = format!(
            "{BASE}[site]\nendpoint = \"e\"\nsecret = \"517e517e517e517e517e517e517e517e\"\n\
             [[requestors]]\nname = \"POA\"\nsecret = \"7e9a7e9a7e9a7e9a7e9a7e9a7e9a7e9a\"\n"
        );
        let shown = format!("{:?}", Settings::parse(&text, "t").unwrap());
        for key in [
            "517e517e517e517e517e517e517e517e",
            "7e9a7e9a7e9a7e9a7e9a7e9a7e9a7e9a",
            "\"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"",
        ] {
            assert!(!shown.contains(key), "{key} in {shown}");
        }
        assert!(shown.contains("POA"));
    }

    #[test]
    fn the_server_cannot_be_its_own_requestor() {
        let text = format!(
            "{BASE}[[requestors]]\nname = \"H\"\nsecret = \"55555555555555555555555555555555\"\n"
        );
        assert!(Settings::parse(&text, "t").is_err());
    }

    #[test]
    fn an_empty_or_short_key_is_refused_by_name() {
        for (weak, key) in [("", "is empty"), ("s3cret", "is not a hex digit")] {
            let text = format!("{BASE}[[requestors]]\nname = \"POA\"\nsecret = \"{weak}\"\n");
            let err = Settings::parse(&text, "h.toml").unwrap_err().to_string();
            assert!(err.contains("requestors[POA].secret"), "{err}");
            assert!(err.contains(key), "{err}");
            let text = format!("{BASE}[site]\nendpoint = \"e\"\nsecret = \"{weak}\"\n");
            let err = Settings::parse(&text, "h.toml").unwrap_err().to_string();
            assert!(err.contains("site.secret"), "{err}");
        }
        let short = BASE.replace("0c0ffee0c0ffee0c0ffee0c0ffee0c0f", "0c0ffee0c0");
        let err = Settings::parse(&short, "h.toml").unwrap_err().to_string();
        assert!(err.contains("operator_secret has 10 hex digits"), "{err}");
    }
}
