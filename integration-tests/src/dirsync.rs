//! Helpers for the dirsync tests: start a DS server and DS requestors as
//! real processes with generated configs, and drive them as the operator.
//!
//! A process is first started on port 0; its announced port is then written
//! into its config, so a restart after SIGKILL listens where its peers
//! already point.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wire_format::{Address, AdminOk, Entry, Message, Name, UserDelete, UserUpsert};

use crate::RoleProcess;
use crate::operator::Operator;

pub const NETWORK: &str = "ACME";
/// `keys::key("operator-secret")`: 32 hex digits, as the roles require.
pub const OPERATOR_SECRET: &str = "6f70657261746f722d73656372657400";
pub const READY: Duration = Duration::from_secs(60);

/// The secret a requestor uses with every server in these tests.
pub fn requestor_secret(po: &str) -> String {
    crate::keys::key(&format!("key-of-{po}"))
}

/// A role process plus what it takes to restart it.
pub struct Role {
    pub process: RoleProcess,
    pub config: PathBuf,
    bin: &'static str,
    label: String,
    dir: PathBuf,
}

impl Role {
    fn start(label: &str, bin: &'static str, dir: &Path, config_text: &str) -> Role {
        std::fs::create_dir_all(dir).expect("process directory");
        let config = dir.join("config.toml");
        std::fs::write(&config, config_text).expect("write config");
        let process = Self::launch(label, bin, dir, &config);
        // Pin the port for restarts.
        let addr = process.endpoint("wire");
        let pinned =
            config_text.replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
        std::fs::write(&config, pinned).expect("rewrite config");
        Role {
            process,
            config,
            bin,
            label: label.to_owned(),
            dir: dir.to_path_buf(),
        }
    }

    fn launch(label: &str, bin: &'static str, dir: &Path, config: &Path) -> RoleProcess {
        let log = dir.join("log.txt");
        let config = config.to_string_lossy().into_owned();
        RoleProcess::start(label, bin, &["--config", &config], &log, READY)
    }

    pub fn endpoint(&self) -> SocketAddr {
        self.process.endpoint("wire")
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the process again on the same data directory and port.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Self::launch(&self.label, self.bin, &self.dir, &self.config);
    }

    pub fn operator(&self) -> Operator {
        Operator::connect(self.endpoint(), OPERATOR_SECRET).expect("operator connects")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }
}

/// Starts a DS server `node` whose requestors are `post_offices` (each
/// owning itself and receiving everything).
pub fn start_server(root: &Path, node: &str, post_offices: &[&str]) -> Role {
    start_server_with(root, node, post_offices, "")
}

/// Like [`start_server`], with `extra` TOML lines (top-level settings).
pub fn start_server_with(root: &Path, node: &str, post_offices: &[&str], extra: &str) -> Role {
    let dir = root.join(node);
    let mut text = format!(
        "node = \"{node}\"\nnetwork = \"{NETWORK}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"{OPERATOR_SECRET}\"\n",
        dir.join("data").display()
    );
    text.push_str(extra);
    text.push('\n');
    for po in post_offices {
        text.push_str(&format!(
            "\n[[requestors]]\nname = \"{po}\"\nsecret = \"{}\"\n",
            requestor_secret(po)
        ));
    }
    Role::start(&format!("ds-server {node}"), "ds-server", &dir, &text)
}

/// Starts the requestor of post office `po`, syncing with `servers[0]`;
/// every server in `servers` (name, endpoint) is one it may be pointed at.
pub fn start_requestor(
    root: &Path,
    po: &str,
    servers: &[(&str, SocketAddr)],
    interval_ms: u64,
) -> Role {
    start_requestor_with(root, po, servers, interval_ms, "")
}

/// [`start_requestor`] with more top-level config lines (`extra`).
pub fn start_requestor_with(
    root: &Path,
    po: &str,
    servers: &[(&str, SocketAddr)],
    interval_ms: u64,
    extra: &str,
) -> Role {
    let dir = root.join(po);
    let mut text = format!(
        "node = \"{po}\"\nnetwork = \"{NETWORK}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\noperator_secret = \"{OPERATOR_SECRET}\"\nserver = \"{}\"\ninterval_ms = {interval_ms}\n{extra}",
        dir.join("data").display(),
        servers[0].0
    );
    for (name, endpoint) in servers {
        text.push_str(&format!(
            "\n[[servers]]\nname = \"{name}\"\nendpoint = \"{endpoint}\"\nsecret = \"{}\"\n",
            requestor_secret(po)
        ));
    }
    Role::start(&format!("ds-requestor {po}"), "ds-requestor", &dir, &text)
}

pub fn address(po: &str, mailbox: &str) -> Address {
    Address::new(
        Name::new(NETWORK).expect("network name"),
        Name::new(po).expect("post office name"),
        Name::new(mailbox).expect("mailbox name"),
    )
}

/// Adds or changes a user at its post office; panics unless acknowledged.
pub fn upsert(client: &mut Operator, po: &str, mailbox: &str, display: &str) {
    let reply = client
        .request(UserUpsert {
            address: address(po, mailbox),
            display_name: display.to_owned(),
            attributes: Vec::new(),
            password: Some("never-in-the-directory".into()),
        })
        .expect("UserUpsert answered");
    assert!(
        matches!(reply, Message::AdminOk(AdminOk { .. })),
        "{reply:?}"
    );
}

pub fn delete(client: &mut Operator, po: &str, mailbox: &str) {
    let reply = client
        .request(UserDelete {
            address: address(po, mailbox),
        })
        .expect("UserDelete answered");
    assert!(matches!(reply, Message::AdminOk(_)), "{reply:?}");
}

/// The directory as sorted `address|display name` lines: what two GALs
/// must agree on (versions and origins differ legitimately between a
/// post office's own copy and the imported ones).
pub fn view(entries: &[Entry]) -> Vec<String> {
    let mut lines: Vec<String> = entries
        .iter()
        .filter(|e| !e.tombstone)
        .map(|e| format!("{}|{}", e.address, e.display_name))
        .collect();
    lines.sort();
    lines
}

/// The GAL of a process, in view form; empty if it cannot be read right now.
pub fn gal_view(role: &Role) -> Vec<String> {
    match Operator::connect(role.endpoint(), OPERATOR_SECRET).and_then(|mut c| c.list_gal(None)) {
        Ok(entries) => view(&entries),
        Err(_) => Vec::new(),
    }
}
