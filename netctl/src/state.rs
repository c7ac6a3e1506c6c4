//! What `up` leaves in the data directory for the later commands: the
//! processes (pid, listeners, files) in `network.toml`, and the keys in
//! `secrets.toml` (never printed).
//!
//! Everything netctl writes is the operator's alone: files are created mode
//! 0600 and directories 0700 from the start, never widened and narrowed by a
//! chmod afterwards (a local user reading at the wrong moment would win the
//! race). Not every file holds a key (`network.toml` holds pids and ports),
//! but one rule for the whole data directory is the one an operator can
//! check with `ls -l`, and the directory holds stores with every mailbox.

use std::collections::BTreeMap;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use role_runtime::Secret;
use serde::{Deserialize, Serialize};

use crate::NetctlError;
use crate::topology::RoleKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkState {
    pub topology: PathBuf,
    pub network: String,
    pub processes: Vec<ProcessState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessState {
    /// `NODE.role`, e.g. `H2.site-replicator`.
    pub id: String,
    pub node: String,
    pub role: RoleKind,
    pub pid: u32,
    /// Service name (`wire`, `smtp`, `pop3`) to `host:port`.
    pub endpoints: BTreeMap<String, String>,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl ProcessState {
    pub fn wire(&self) -> Option<&str> {
        self.endpoints.get("wire").map(String::as_str)
    }
}

const STATE_FILE: &str = "network.toml";
const SECRETS_FILE: &str = "secrets.toml";

pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join(STATE_FILE)
}

/// Creates `dir` and every missing directory above it, each mode 0700: the
/// data directory holds keys, password hashes and mail.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `text` to `path` whole: into a new file beside it, renamed over
/// it, so a killed netctl never leaves half a file. The file is created
/// readable by the owner only (0600), never readable by others for a moment
/// before a chmod; missing directories are created 0700.
pub fn write_file(path: &Path, text: &str) -> Result<(), NetctlError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let werr = |source| NetctlError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(werr)?;
    }
    let tmp = path.with_extension("tmp");
    // A file left by a killed run keeps its mode when opened again.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(werr(e)),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(werr)?;
    file.write_all(text.as_bytes()).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Reads a TOML file written by [`save_toml`]; a missing file means no network.
pub fn load_toml<T: serde::de::DeserializeOwned>(
    data_dir: &Path,
    path: &Path,
) -> Result<T, NetctlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| NetctlError::NoNetwork(data_dir.display().to_string()))?;
    toml::from_str(&text).map_err(|e| NetctlError::BadState {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

pub fn save_toml<T: Serialize>(value: &T, path: &Path) -> Result<(), NetctlError> {
    let text = toml::to_string_pretty(value).map_err(|e| NetctlError::BadState {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    write_file(path, &text)
}

impl NetworkState {
    pub fn load(data_dir: &Path) -> Result<NetworkState, NetctlError> {
        load_toml(data_dir, &state_path(data_dir))
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), NetctlError> {
        save_toml(self, &state_path(data_dir))
    }

    pub fn process(&self, node: &str, role: RoleKind) -> Option<&ProcessState> {
        self.processes
            .iter()
            .find(|p| p.node == node && p.role == role)
    }
}

/// The pre-shared keys of the network: one per pair of nodes that talk, and
/// one operator key per process, so the config of one process (which holds
/// its own operator key) does not administer any other.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    /// The operator's key of each process, by process id (`NODE.role`).
    /// Absent from the file of a network an older netctl started, whose
    /// processes all share one key: [`Secrets::operator`] then says what to do.
    #[serde(default)]
    pub operators: BTreeMap<String, Secret<String>>,
    pub pairs: BTreeMap<String, Secret<String>>,
}

fn random_secret() -> Secret<String> {
    let mut bytes = [0u8; 24];
    // The OS random source failing is not recoverable here.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("OS random source failed: {e}"));
    Secret::new(hex::encode(bytes))
}

/// `A@B` with the two names in order, so either side finds the same key.
pub fn pair_key(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}@{b}")
    } else {
        format!("{b}@{a}")
    }
}

impl Secrets {
    /// Keys from the topology where it gives them (checked by
    /// `Topology::parse`), new random ones otherwise.
    pub fn new(given: &BTreeMap<String, Secret<String>>) -> Secrets {
        let mut pairs = BTreeMap::new();
        for (key, secret) in given {
            if let Some((a, b)) = key.split_once('@') {
                pairs.insert(
                    pair_key(&a.to_ascii_uppercase(), &b.to_ascii_uppercase()),
                    secret.clone(),
                );
            }
        }
        Secrets {
            operators: BTreeMap::new(),
            pairs,
        }
    }

    /// The key shared by `a` and `b`, made on first use.
    pub fn pair(&mut self, a: &str, b: &str) -> Secret<String> {
        self.pairs
            .entry(pair_key(a, b))
            .or_insert_with(random_secret)
            .clone()
    }

    /// The operator's key of process `id` (`NODE.role`), made on first use:
    /// for writing that process's config.
    pub fn new_operator(&mut self, id: &str) -> Secret<String> {
        self.operators
            .entry(id.to_owned())
            .or_insert_with(random_secret)
            .clone()
    }

    /// The operator's key of process `id`, for connecting to it.
    pub fn operator(&self, id: &str) -> Result<&str, NetctlError> {
        self.operators
            .get(id)
            .map(|s| s.expose().as_str())
            .ok_or_else(|| NetctlError::NoOperatorKey(id.to_owned()))
    }

    pub fn load(data_dir: &Path) -> Result<Secrets, NetctlError> {
        load_toml(data_dir, &data_dir.join(SECRETS_FILE))
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), NetctlError> {
        save_toml(self, &data_dir.join(SECRETS_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_key_whichever_side_asks() {
        let mut s = Secrets::new(&BTreeMap::new());
        assert_eq!(s.pair("H", "POA"), s.pair("POA", "H"));
        assert_ne!(s.pair("H", "POA"), s.pair("H", "POB"));
    }

    #[test]
    fn given_keys_are_used_and_never_debug_printed() {
        let given = BTreeMap::from([("poa@h".to_owned(), Secret::from("hunter2"))]);
        let mut s = Secrets::new(&given);
        assert_eq!(s.pair("H", "POA").expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn secrets_are_saved_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Secrets::new(&BTreeMap::new()).save(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(SECRETS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn each_process_has_its_own_operator_key() {
        let mut s = Secrets::new(&BTreeMap::new());
        let poa = s.new_operator("POA.mail-router");
        assert_eq!(s.new_operator("POA.mail-router"), poa, "made once");
        let h = s.new_operator("H.ds-server");
        assert_ne!(poa, h);
        assert_eq!(s.operator("H.ds-server").unwrap(), h.expose());
        assert_eq!(poa.expose().len(), 48, "192 bits, in hex");
        let err = s.operator("H.mail-router").unwrap_err().to_string();
        assert!(
            err.contains("H.mail-router") && err.contains("netctl up"),
            "{err}"
        );
    }

    #[test]
    fn files_and_directories_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/network.toml");
        write_file(&path, "x = 1\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    }
}
