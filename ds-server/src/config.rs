//! The DS server's TOML configuration (`--config FILE`).
//!
//! ```toml
//! node = "H"                   # this server's node name
//! network = "ACME"
//! data_dir = "/var/lib/mhub/h-ds"
//! listen = "127.0.0.1:0"       # the wire listener (port 0: any free port)
//! operator_secret = "..."      # key of the operator connecting as OPERATOR
//! chunk = 500                  # updates per DirUpdates frame (1..=700)
//! tombstone_lifetime_ms = 604800000  # deletes are kept this long (7 days),
//!                              # then collected; a requestor that has not
//!                              # pulled since then gets a full resync
//!
//! [[requestors]]
//! name = "POA"                 # the node name it authenticates as
//! secret = "..."
//! post_offices = ["POA"]       # whose users it may write (default: [name])
//! export = ["*"]               # post offices it receives (default: all);
//!                              # in site mode: the folders it receives
//! bridge = false               # true for the bridge (H3 on H): it may also
//!                              # write every post office that no live
//!                              # (registered, not removed) requestor owns here
//!
//! [site]                       # optional (H2): the master list lives in the
//!                              # site directory of the local site replicator
//! endpoint = "127.0.0.1:7103"
//! secret = "..."               # this server's client key on the replicator
//! client = "H2"                # the name it connects as (default: node)
//! folder_prefix = "FS-"        # post office P's users go to folder FS-P
//! ```

use std::path::{Path, PathBuf};

use dir_core::DirError;
use dir_core::server::RequestorPolicy;
use serde::Deserialize;
use wire_format::Name;

/// Largest chunk: about 700 entries of the largest possible size fit in the
/// 4 MiB frame limit.
pub const MAX_CHUNK: usize = 700;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    node: String,
    network: String,
    data_dir: PathBuf,
    listen: String,
    operator_secret: String,
    #[serde(default = "default_chunk")]
    chunk: usize,
    #[serde(default = "default_tombstone_lifetime_ms")]
    tombstone_lifetime_ms: u64,
    #[serde(default)]
    requestors: Vec<RequestorConfig>,
    site: Option<SiteConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteConfig {
    endpoint: String,
    secret: String,
    client: Option<String>,
    #[serde(default = "default_folder_prefix")]
    folder_prefix: String,
}

fn default_folder_prefix() -> String {
    "FS-".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestorConfig {
    name: String,
    secret: String,
    post_offices: Option<Vec<String>>,
    export: Option<Vec<String>>,
    #[serde(default)]
    bridge: bool,
}

fn default_chunk() -> usize {
    500
}

fn default_tombstone_lifetime_ms() -> u64 {
    7 * 24 * 3600 * 1000
}

/// A registered requestor: its policy and its key. `Debug` hides the key.
#[derive(Clone)]
pub struct Registered {
    pub policy: RequestorPolicy,
    pub secret: String,
    /// The bridge: also owns every post office no live requestor owns here.
    pub bridge: bool,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("policy", &self.policy)
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub data_dir: PathBuf,
    pub listen: String,
    pub operator_secret: String,
    pub chunk: usize,
    pub tombstone_lifetime: std::time::Duration,
    pub requestors: Vec<Registered>,
    /// Site mode: where the master list lives instead of a private store.
    pub site: Option<SiteSettings>,
}

/// The local site replicator of a site-mode server. `Debug` hides the key.
#[derive(Clone)]
pub struct SiteSettings {
    pub endpoint: String,
    pub secret: String,
    pub client: Name,
    pub folder_prefix: String,
}

impl std::fmt::Debug for SiteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteSettings")
            .field("endpoint", &self.endpoint)
            .field("client", &self.client)
            .field("folder_prefix", &self.folder_prefix)
            .finish_non_exhaustive()
    }
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

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("requestors", &self.requestors)
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
        if !(1..=MAX_CHUNK).contains(&config.chunk) {
            return Err(invalid(format!("chunk must be 1 to {MAX_CHUNK}")));
        }
        let mut requestors: Vec<Registered> = Vec::new();
        for r in config.requestors {
            let rname = name("requestor", &r.name)?;
            if rname == node || requestors.iter().any(|x| x.policy.name == rname) {
                return Err(invalid(format!(
                    "requestor {rname} is listed twice or is this server"
                )));
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
                let client = match &site.client {
                    Some(c) => name("site.client", c)?,
                    None => node,
                };
                let settings = SiteSettings {
                    endpoint: site.endpoint,
                    secret: site.secret,
                    client,
                    folder_prefix: site.folder_prefix.to_ascii_uppercase(),
                };
                // Every registered post office must have a valid folder name.
                for r in &requestors {
                    for po in &r.policy.post_offices {
                        settings.folder_of(po).map_err(|e| invalid(e.to_string()))?;
                    }
                }
                Some(settings)
            }
            None => None,
        };
        Ok(Settings {
            node,
            network: name("network", &config.network)?,
            data_dir: config.data_dir,
            listen: config.listen,
            operator_secret: config.operator_secret,
            chunk: config.chunk,
            tombstone_lifetime: std::time::Duration::from_millis(config.tombstone_lifetime_ms),
            requestors,
            site,
        })
    }

    pub fn requestor(&self, name: &Name) -> Option<&Registered> {
        self.requestors.iter().find(|r| r.policy.name == *name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "node = \"H\"\nnetwork = \"ACME\"\ndata_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"op\"\n";

    #[test]
    fn defaults_own_post_office_and_export_all() {
        let text = format!("{BASE}[[requestors]]\nname = \"poa\"\nsecret = \"hunter2\"\n");
        let s = Settings::parse(&text, "t").unwrap();
        let r = &s.requestors[0].policy;
        assert_eq!(r.post_offices, vec![Name::new("POA").unwrap()]);
        assert_eq!(r.export, vec!["*".to_owned()]);
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn site_mode_names_a_folder_per_post_office_and_hides_its_key() {
        let text = format!(
            "{BASE}[site]\nendpoint = \"127.0.0.1:1\"\nsecret = \"hunter3\"\n\
             [[requestors]]\nname = \"POD\"\nsecret = \"s\"\nbridge = false\n"
        );
        let s = Settings::parse(&text, "t").unwrap();
        let site = s.site.as_ref().unwrap();
        assert_eq!(site.client.as_str(), "H");
        let pod = Name::new("POD").unwrap();
        assert_eq!(site.folder_of(&pod).unwrap().as_str(), "FS-POD");
        assert!(!format!("{s:?}").contains("hunter3"));
    }

    #[test]
    fn the_server_cannot_be_its_own_requestor() {
        let text = format!("{BASE}[[requestors]]\nname = \"H\"\nsecret = \"s\"\n");
        assert!(Settings::parse(&text, "t").is_err());
    }
}
