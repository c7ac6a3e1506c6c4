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
//! export = ["*"]               # post offices it receives (default: all)
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestorConfig {
    name: String,
    secret: String,
    post_offices: Option<Vec<String>>,
    export: Option<Vec<String>>,
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
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("policy", &self.policy)
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
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("requestors", &self.requestors)
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
            });
        }
        Ok(Settings {
            node,
            network: name("network", &config.network)?,
            data_dir: config.data_dir,
            listen: config.listen,
            operator_secret: config.operator_secret,
            chunk: config.chunk,
            tombstone_lifetime: std::time::Duration::from_millis(config.tombstone_lifetime_ms),
            requestors,
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
    fn the_server_cannot_be_its_own_requestor() {
        let text = format!("{BASE}[[requestors]]\nname = \"H\"\nsecret = \"s\"\n");
        assert!(Settings::parse(&text, "t").is_err());
    }
}
