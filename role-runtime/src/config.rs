//! The keys every role's configuration file starts with, and the one way
//! all of them are read.
//!
//! Each role's file schema is one serde struct that takes [`CommonConfig`]
//! in with `#[serde(flatten)]`, so these keys stay at the top level:
//!
//! ```toml
//! node = "POA"                 # this process's node name
//! network = "ACME"
//! data_dir = "/var/lib/mhub/poa-ds"
//! listen = "127.0.0.1:0"       # the wire listener (port 0: any free port)
//! operator_secret = "..."      # key of the operator connecting as OPERATOR:
//!                              # 32+ random hex digits (`openssl rand -hex 16`)
//! metrics_listen = "127.0.0.1:0"  # optional: /metrics and /health (see
//! ready_lag_seconds = 300         # `crate::metrics`), and the ready bound
//!
//! [limits]                     # optional; see `Limits` for each default
//! wire_connections = 256
//! ```

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wire_format::Name;

use crate::{Limits, RuntimeError, Secret};

/// The part of the configuration file every role has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonConfig {
    /// This process's node name (a wire name: upper-case letters and
    /// digits, at most 8 bytes).
    pub node: String,
    /// The network's name, the same in every process of it.
    pub network: String,
    /// Where the process keeps its store.
    pub data_dir: PathBuf,
    /// `host:port` of the wire listener (peers and the operator); port 0
    /// takes any free port, announced on stdout.
    pub listen: String,
    /// The key of the operator (netctl), who connects as `OPERATOR`.
    pub operator_secret: Secret<String>,
    /// `host:port` of the HTTP listener serving `/metrics`, `/health/live`
    /// and `/health/ready` (see [`crate::metrics`]); loopback and any free
    /// port (announced on stdout) unless set.
    #[serde(default = "default_metrics_listen")]
    pub metrics_listen: String,
    /// How far behind, in seconds, a process may be and still answer
    /// `/health/ready` with 200 (a requestor's last successful cycle, a
    /// replication peer's lag, the oldest queued message).
    #[serde(default = "default_ready_lag_seconds")]
    pub ready_lag_seconds: u64,
    /// Connection caps and the shutdown drain; every key has a default.
    #[serde(default)]
    pub limits: Limits,
}

/// `metrics_listen` when the file has none: loopback only, since the
/// metrics name every peer and user count of the network.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:0";
/// `ready_lag_seconds` when the file has none: five minutes, several times
/// a requestor's usual cycle interval.
pub const DEFAULT_READY_LAG_SECONDS: u64 = 300;
/// The largest `ready_lag_seconds`: a week.
pub const MAX_READY_LAG_SECONDS: u64 = 7 * 24 * 3600;

fn default_metrics_listen() -> String {
    DEFAULT_METRICS_LISTEN.to_owned()
}

fn default_ready_lag_seconds() -> u64 {
    DEFAULT_READY_LAG_SECONDS
}

impl CommonConfig {
    /// Checks the shared keys: the node and network names, the operator's
    /// key (see [`secret`]), the metrics listener and ready bound, the
    /// limits. Returns the two names; the reason of a refusal names the key.
    pub fn validate(&self) -> Result<(Name, Name), String> {
        let node = name("node", &self.node)?;
        let network = name("network", &self.network)?;
        secret("operator_secret", &self.operator_secret)?;
        if self
            .metrics_listen
            .rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(format!(
                "metrics_listen {:?} is not host:port (e.g. \"127.0.0.1:0\")",
                self.metrics_listen
            ));
        }
        if self.ready_lag_seconds == 0 || self.ready_lag_seconds > MAX_READY_LAG_SECONDS {
            return Err(format!(
                "ready_lag_seconds must be between 1 and {MAX_READY_LAG_SECONDS}, not {}",
                self.ready_lag_seconds
            ));
        }
        self.limits.validate()?;
        Ok((node, network))
    }

    /// The metrics listener's settings, for the binary `binary`.
    pub fn metrics(
        &self,
        binary: &'static str,
        version: &'static str,
    ) -> crate::metrics::MetricsSettings {
        crate::metrics::MetricsSettings {
            listen: self.metrics_listen.clone(),
            ready_lag_seconds: self.ready_lag_seconds,
            binary,
            version,
        }
    }
}

/// One `[[peers]]` table: a process of the same role (a mail router, a
/// site replicator) this one exchanges with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's node name.
    pub name: String,
    /// The key, configured the same on both ends.
    pub secret: Secret<String>,
    /// Where the peer listens; may also be set at run time (Repoint).
    pub endpoint: Option<String>,
}

impl PeerConfig {
    /// The peer's name, once it and its key are checked; a refusal names
    /// the key as `{table}[NAME].secret` (`table` is the array's key,
    /// `peers` for `[[peers]]`).
    pub fn validate(&self, table: &str) -> Result<Name, String> {
        let peer = name(&format!("{table} name"), &self.name)?;
        secret(&format!("{table}[{peer}].secret"), &self.secret)?;
        Ok(peer)
    }
}

/// Refuses a pre-shared key that is empty or weaker than 128 random bits
/// ([`peer_link::check_strength`]); the reason names the `key`. Every key
/// a role reads from its file passes here before it reaches a keyring:
/// the handshake lets an eavesdropper test guesses offline.
pub fn secret(key: &str, value: &Secret<String>) -> Result<(), String> {
    value.check_strength(key).map_err(|e| e.to_string())
}

/// `raw` as a wire name; a refusal names the `key` it came from.
pub fn name(key: &str, raw: &str) -> Result<Name, String> {
    Name::new(raw).map_err(|e| format!("{key} {raw:?}: {e}"))
}

/// Reads the file at `path` into its schema `T`, and `check`s it into the
/// settings the role runs with.
pub fn load<T: DeserializeOwned, S>(
    path: &Path,
    check: impl FnOnce(T) -> Result<S, String>,
) -> Result<S, RuntimeError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &origin, check),
        Err(source) => Err(RuntimeError::ConfigRead {
            path: origin,
            source,
        }),
    }
}

/// Reads `text` (from `origin`, named in the error) into its schema `T`:
/// a struct with `#[serde(deny_unknown_fields)]` that flattens
/// [`CommonConfig`]; then `check`s it into the role's settings.
///
/// serde refuses an unknown key of such a struct by name (the keys the
/// flattened struct does not take are left over, and `deny_unknown_fields`
/// checks the leftovers). But a flattened field reaches serde through a
/// buffer that forgets its key and line, so `node = 5` would only say
/// "expected a string": the shared keys are read alone first, where a
/// mistake keeps its key and line.
pub fn parse<T: DeserializeOwned, S>(
    text: &str,
    origin: &str,
    check: impl FnOnce(T) -> Result<S, String>,
) -> Result<S, RuntimeError> {
    let read = || {
        toml::from_str::<CommonConfig>(text).map_err(|e| e.to_string())?;
        toml::from_str(text).map_err(|e| e.to_string())
    };
    read()
        .and_then(check)
        .map_err(|reason| RuntimeError::ConfigInvalid {
            path: origin.to_owned(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A role schema as the roles write theirs.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Role {
        #[serde(flatten)]
        common: CommonConfig,
        chunk: Option<u32>,
        #[serde(default)]
        peers: Vec<Peer>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Peer {
        name: String,
        secret: Secret<String>,
    }

    /// Keys as a generator writes them: 32 hex digits.
    const OP_KEY: &str = "0c0ffee0c0ffee0c0ffee0c0ffee0c0f";
    const PEER_KEY: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75e";

    const BASE: &str = "node = \"POA\"\nnetwork = \"ACME\"\ndata_dir = \"/tmp/x\"\n\
                        listen = \"127.0.0.1:0\"\n\
                        operator_secret = \"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"\n";

    fn read(text: &str) -> Result<Role, RuntimeError> {
        parse(text, "role.toml", Ok)
    }

    fn refused(text: &str) -> String {
        match read(text) {
            Err(RuntimeError::ConfigInvalid { path, reason }) if path == "role.toml" => reason,
            Err(e) => panic!("another error: {e}"),
            Ok(role) => panic!("accepted: {role:?}"),
        }
    }

    #[test]
    fn the_shared_keys_stay_at_the_top_and_limits_default() {
        let role = read(&format!("{BASE}chunk = 5\n")).unwrap();
        assert_eq!(role.common.node, "POA");
        assert_eq!(role.common.operator_secret.as_bytes(), OP_KEY.as_bytes());
        assert_eq!(role.common.limits, Limits::default());
        assert_eq!(role.common.metrics_listen, "127.0.0.1:0");
        assert_eq!(role.common.ready_lag_seconds, 300);
        assert_eq!(role.chunk, Some(5));
        assert_eq!(role.common.validate().unwrap().0.as_str(), "POA");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name_at_every_level() {
        assert!(refused(&format!("{BASE}chunks = 5\n")).contains("unknown field `chunks`"));
        let nested = format!("{BASE}[[peers]]\nname = \"H\"\nsecret = \"s\"\nsecrte = \"s\"\n");
        assert!(refused(&nested).contains("unknown field `secrte`"));
        let limits = format!("{BASE}[limits]\nwire_conections = 3\n");
        assert!(refused(&limits).contains("unknown field `wire_conections`"));
    }

    #[test]
    fn a_mistake_in_a_shared_key_names_the_key() {
        let text = format!("{BASE}[limits]\ndrain_ms = \"soon\"\n");
        let reason = refused(&text);
        assert!(reason.contains("drain_ms = \"soon\""), "{reason}");
        let missing = BASE.replace("network = \"ACME\"\n", "");
        assert!(refused(&missing).contains("missing field `network`"));
        let role = read(&format!("{BASE}[limits]\nwire_connections = 0\n")).unwrap();
        assert!(
            role.common
                .validate()
                .unwrap_err()
                .contains("limits.wire_connections")
        );
    }

    #[test]
    fn written_configs_read_back_the_same_and_debug_hides_the_key() {
        let role = read(&format!(
            "{BASE}[[peers]]\nname = \"H\"\nsecret = \"{PEER_KEY}\"\n"
        ))
        .unwrap();
        let again = read(&toml::to_string(&role).unwrap()).unwrap();
        assert_eq!(again.common, role.common);
        assert_eq!(again.peers[0].secret, role.peers[0].secret);
        let shown = format!("{role:?}");
        assert!(
            !shown.contains(OP_KEY) && !shown.contains(PEER_KEY),
            "{shown}"
        );
    }

    #[test]
    fn the_metrics_keys_are_read_and_checked_by_name() {
        let set = format!("{BASE}metrics_listen = \"127.0.0.1:9464\"\nready_lag_seconds = 60\n");
        let role = read(&set).unwrap();
        assert_eq!(role.common.metrics_listen, "127.0.0.1:9464");
        assert_eq!(role.common.ready_lag_seconds, 60);
        role.common.validate().unwrap();
        for (key, bad) in [
            ("metrics_listen", "\"9464\""),
            ("metrics_listen", "\"localhost:http\""),
            ("ready_lag_seconds", "0"),
        ] {
            let role = read(&format!("{BASE}{key} = {bad}\n")).unwrap();
            let reason = role.common.validate().unwrap_err();
            assert!(reason.starts_with(key), "{reason}");
        }
    }

    #[test]
    fn an_empty_or_short_operator_secret_is_refused_by_name() {
        for weak in [
            "",
            "0123456789",
            "not hex but quite long enough to pass a count",
        ] {
            let text = BASE.replace(OP_KEY, weak);
            let role = read(&text).unwrap();
            let reason = role.common.validate().unwrap_err();
            assert!(reason.starts_with("operator_secret "), "{reason}");
            assert!(reason.contains("openssl rand -hex 16"), "{reason}");
            if !weak.is_empty() {
                assert!(!reason.contains(weak), "the key is shown: {reason}");
            }
        }
    }

    #[test]
    fn a_peer_is_checked_with_its_key_named_by_peer() {
        let peer = |secret: &str| PeerConfig {
            name: "H".into(),
            secret: Secret::from(secret),
            endpoint: None,
        };
        assert_eq!(peer(PEER_KEY).validate("peers").unwrap().as_str(), "H");
        let reason = peer("").validate("peers").unwrap_err();
        assert!(reason.starts_with("peers[H].secret is empty"), "{reason}");
        let reason = peer("s3cret").validate("peers").unwrap_err();
        assert!(reason.starts_with("peers[H].secret "), "{reason}");
        let bad_name = PeerConfig {
            name: "h h".into(),
            ..peer(PEER_KEY)
        };
        assert!(
            bad_name
                .validate("peers")
                .unwrap_err()
                .starts_with("peers name")
        );
    }

    #[test]
    fn a_missing_file_is_named_and_the_check_decides() {
        let missing = Path::new("/nonexistent/role.toml");
        match load::<Role, Role>(missing, Ok) {
            Err(RuntimeError::ConfigRead { path, .. }) => {
                assert_eq!(path, "/nonexistent/role.toml")
            }
            other => panic!("not a read error: {other:?}"),
        }
        let checked = parse(BASE, "role.toml", |_: Role| {
            Err::<(), _>("chunk is odd".into())
        });
        let shown = checked.unwrap_err().to_string();
        assert_eq!(shown, "config file role.toml is not valid: chunk is odd");
    }
}
