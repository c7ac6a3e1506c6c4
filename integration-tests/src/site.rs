//! Starting site replicators for tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wire_format::{Address, Entry, EntryVersion, Message, Name, Role, SiteWrite};

use crate::RoleProcess;
use crate::mail::name;
use crate::operator::Operator;

/// `keys::key("operator-secret")`: 32 hex digits, as the roles require.
pub const OPERATOR_SECRET: &str = "6f70657261746f722d73656372657400";
/// The local DS client every test replicator accepts, allowed all F* folders.
pub const CLIENT: &str = "DS";
/// `keys::key("ds-secret")`.
pub const CLIENT_SECRET: &str = "64732d73656372657400000000000000";

/// Both sides of a pair use the same secret.
pub fn pair_secret(a: &str, b: &str) -> String {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    crate::keys::key(&format!("site-{x}-{y}"))
}

pub struct SiteNode {
    pub name: String,
    pub process: RoleProcess,
    pub data_dir: PathBuf,
    pub peers: Vec<String>,
    pub root: PathBuf,
}

impl SiteNode {
    /// Starts `name` with data under `root/name`, knowing `peers` (endpoints
    /// are set later with [`SiteNode::point_at`]), listening on `listen`.
    pub fn start(root: &Path, name: &str, peers: &[&str], listen: &str) -> SiteNode {
        let data_dir = root.join(name);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let mut config = format!(
            "node = \"{name}\"\nnetwork = \"ACME\"\ndata_dir = \"{}\"\nlisten = \"{listen}\"\n\
             operator_secret = \"{OPERATOR_SECRET}\"\npull_interval_ms = 500\n\
             [[clients]]\nname = \"{CLIENT}\"\nsecret = \"{CLIENT_SECRET}\"\nfolders = [\"F*\"]\n",
            data_dir.display()
        );
        for peer in peers {
            config.push_str(&format!(
                "[[peers]]\nname = \"{peer}\"\nsecret = \"{}\"\n",
                pair_secret(name, peer)
            ));
        }
        let config_path = data_dir.join("site.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = root.join(format!("{name}.log"));
        let process = RoleProcess::start(
            name,
            "site-replicator",
            &["--config", config_path.to_str().expect("utf-8 path")],
            &log,
            Duration::from_secs(30),
        );
        SiteNode {
            name: name.to_owned(),
            process,
            data_dir,
            peers: peers.iter().map(|p| p.to_string()).collect(),
            root: root.to_path_buf(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.process.endpoint("wire")
    }

    /// SIGKILL, then start again on the same address with the same data.
    pub fn kill_and_restart(&mut self) {
        let addr = self.addr().to_string();
        self.process.kill();
        let peers: Vec<&str> = self.peers.iter().map(String::as_str).collect();
        *self = SiteNode::start(&self.root, &self.name, &peers, &addr);
    }

    pub fn operator(&self) -> Operator {
        Operator::connect(self.addr(), OPERATOR_SECRET).expect("operator connects")
    }

    pub fn client(&self) -> Operator {
        Operator::connect_as(self.addr(), &name(CLIENT), Role::DsServer, CLIENT_SECRET)
            .expect("client connects")
    }

    /// Tells this node where `peer` listens.
    pub fn point_at(&self, peer: &SiteNode) {
        self.point_at_endpoint(&peer.name, &peer.addr().to_string());
    }

    pub fn point_at_endpoint(&self, peer: &str, endpoint: &str) {
        let repoint = wire_format::Repoint {
            server: Name::new(peer).expect("peer name"),
            endpoint: endpoint.to_owned(),
        };
        match self.operator().request(repoint) {
            Ok(Message::AdminOk(_)) => {}
            other => panic!("repoint {} -> {peer} failed: {other:?}", self.name),
        }
    }
}

/// A user entry in `folder` for a local write.
pub fn user(folder: &str, post_office: &str, mailbox: &str, display: &str) -> Entry {
    let name = |s: &str| Name::new(s).expect("valid name");
    Entry {
        address: Address::new(name("ACME"), name(post_office), name(mailbox)),
        display_name: display.to_owned(),
        attributes: vec![],
        owner: name(post_office),
        folder: Some(name(folder)),
        origin: name("UNSET"),
        version: EntryVersion::default(),
        tombstone: false,
    }
}

/// Writes entries through the local client, returning the new high water.
pub fn write(client: &mut Operator, changes: Vec<Entry>) -> u64 {
    match client.request(SiteWrite { changes }) {
        Ok(Message::SiteWriteAck(ack)) => ack.high_water_usn,
        other => panic!("site write failed: {other:?}"),
    }
}
