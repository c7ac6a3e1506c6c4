//! The topology file: the patent's network in one TOML document.
//!
//! ```toml
//! network = "ACME"
//! host = "127.0.0.1"          # every listener binds here (default 127.0.0.1)
//! base_port = 0               # 0: free ports chosen at `up`; else consecutive from here
//!
//! [old_hub]                   # H: DS server and mail hub of the old network
//! name = "H"
//! [new_hub]                   # H2: site directory, DS server, mail hub
//! name = "H2"
//! [bridge]                    # H3: site directory, DS requestor of H, mail gateway
//! name = "H3"
//! import_folder = "F1"
//!
//! [[post_offices]]
//! name = "POA"
//! hub = "H"                   # the hub it starts on
//! generate_users = 3          # USER1..USER3 (no POP3 password), and/or list them:
//! users = [{ mailbox = "JSMITH", display_name = "John Smith", password = "..." }]
//! exports = ["F1", "FS*"]     # on the new hub: folders it receives (default all)
//!
//! [secrets]                   # optional; others are generated at `up`
//! "POA@H" = "..."             # the key between POA and H (any pair, either order)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use role_runtime::Secret;
use serde::Deserialize;
use wire_format::Name;

use crate::NetctlError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    pub network: String,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default)]
    pub base_port: u16,
    pub old_hub: HubFile,
    pub new_hub: HubFile,
    pub bridge: BridgeFile,
    #[serde(default)]
    pub post_offices: Vec<PostOfficeFile>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret<String>>,
}

fn default_host() -> String {
    "127.0.0.1".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeFile {
    pub name: String,
    #[serde(default = "default_import_folder")]
    pub import_folder: String,
}

fn default_import_folder() -> String {
    "F1".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostOfficeFile {
    pub name: String,
    pub hub: String,
    #[serde(default)]
    pub generate_users: u32,
    #[serde(default)]
    pub users: Vec<UserFile>,
    pub exports: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    pub mailbox: String,
    pub display_name: String,
    pub password: Option<Secret<String>>,
}

/// A seed user, checked.
#[derive(Clone)]
pub struct User {
    pub mailbox: Name,
    pub display_name: String,
    /// The POP3 password. Generated users have none (hashing one per user
    /// would make large generated networks slow to start): they receive
    /// mail and log in once `netctl user add --password` gives them one.
    pub password: Option<String>,
}

/// What a node is in the patent's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    OldHub,
    NewHub,
    Bridge,
    PostOffice,
}

/// One role process of a node.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    SiteReplicator,
    DsServer,
    DsRequestor,
    MailRouter,
}

impl RoleKind {
    pub fn binary(self) -> &'static str {
        match self {
            RoleKind::SiteReplicator => "site-replicator",
            RoleKind::DsServer => "ds-server",
            RoleKind::DsRequestor => "ds-requestor",
            RoleKind::MailRouter => "mail-router",
        }
    }

    /// The listeners the process announces.
    pub fn services(self) -> &'static [&'static str] {
        match self {
            RoleKind::MailRouter => &["wire", "smtp", "pop3"],
            _ => &["wire"],
        }
    }
}

impl std::fmt::Display for RoleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.binary())
    }
}

#[derive(Clone)]
pub struct Node {
    pub name: Name,
    pub kind: NodeKind,
    /// For a post office: the hub it starts on.
    pub hub: Option<Name>,
    pub users: Vec<User>,
    pub exports: Vec<String>,
}

impl Node {
    /// The role processes of this node, in the order they are started.
    pub fn roles(&self) -> &'static [RoleKind] {
        match self.kind {
            NodeKind::OldHub => &[RoleKind::DsServer, RoleKind::MailRouter],
            NodeKind::NewHub => &[
                RoleKind::SiteReplicator,
                RoleKind::DsServer,
                RoleKind::MailRouter,
            ],
            NodeKind::Bridge => &[
                RoleKind::SiteReplicator,
                RoleKind::DsRequestor,
                RoleKind::MailRouter,
            ],
            NodeKind::PostOffice => &[RoleKind::DsRequestor, RoleKind::MailRouter],
        }
    }
}

/// The topology, checked: names valid and unique, hubs known, users valid.
#[derive(Clone)]
pub struct Topology {
    pub network: Name,
    pub host: String,
    pub base_port: u16,
    pub old_hub: Name,
    pub new_hub: Name,
    pub bridge: Name,
    pub import_folder: Name,
    pub nodes: Vec<Node>,
    pub secrets: BTreeMap<String, Secret<String>>,
}

impl Topology {
    pub fn load(path: &Path) -> Result<Topology, NetctlError> {
        let text = std::fs::read_to_string(path).map_err(|source| NetctlError::TopologyRead {
            path: path.display().to_string(),
            source,
        })?;
        Topology::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Topology, NetctlError> {
        let invalid = |reason: String| NetctlError::TopologyInvalid {
            path: origin.to_owned(),
            reason,
        };
        let file: TopologyFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name = |what: &str, raw: &str| {
            Name::new(raw).map_err(|e| invalid(format!("{what} {raw:?}: {e}")))
        };
        let network = name("network", &file.network)?;
        let old_hub = name("old_hub.name", &file.old_hub.name)?;
        let new_hub = name("new_hub.name", &file.new_hub.name)?;
        let bridge = name("bridge.name", &file.bridge.name)?;
        let import_folder = name("bridge.import_folder", &file.bridge.import_folder)?;
        let mut nodes = vec![
            Node {
                name: old_hub,
                kind: NodeKind::OldHub,
                hub: None,
                users: vec![],
                exports: vec![],
            },
            Node {
                name: new_hub,
                kind: NodeKind::NewHub,
                hub: None,
                users: vec![],
                exports: vec![],
            },
            Node {
                name: bridge,
                kind: NodeKind::Bridge,
                hub: None,
                users: vec![],
                exports: vec![],
            },
        ];
        for po in &file.post_offices {
            let po_name = name("post office", &po.name)?;
            let hub = name(&format!("hub of {po_name}"), &po.hub)?;
            if hub != old_hub && hub != new_hub {
                return Err(invalid(format!(
                    "{po_name} is on hub {hub}, which is neither {old_hub} nor {new_hub}"
                )));
            }
            let mut users = Vec::new();
            for u in &po.users {
                users.push(User {
                    mailbox: name(&format!("a mailbox of {po_name}"), &u.mailbox)?,
                    display_name: u.display_name.clone(),
                    password: Some(
                        (u.password.clone().map(Secret::into_inner))
                            .unwrap_or_else(|| format!("{}-pw", u.mailbox.to_ascii_lowercase())),
                    ),
                });
            }
            for i in 1..=po.generate_users {
                let mailbox = format!("USER{i}");
                users.push(User {
                    mailbox: name("generated mailbox", &mailbox)?,
                    display_name: format!("{po_name} User {i}"),
                    password: None,
                });
            }
            let mut seen = BTreeSet::new();
            for u in &users {
                if !seen.insert(u.mailbox) {
                    return Err(invalid(format!(
                        "mailbox {} appears twice in {po_name}",
                        u.mailbox
                    )));
                }
                if u.display_name.len() > wire_format::limits::MAX_TEXT_LEN {
                    return Err(invalid(format!(
                        "display name of {po_name}/{} is too long",
                        u.mailbox
                    )));
                }
            }
            nodes.push(Node {
                name: po_name,
                kind: NodeKind::PostOffice,
                hub: Some(hub),
                users,
                exports: po.exports.clone().unwrap_or_else(|| vec!["*".into()]),
            });
        }
        let mut names = BTreeSet::new();
        for node in &nodes {
            if !names.insert(node.name) {
                return Err(invalid(format!("node name {} is used twice", node.name)));
            }
        }
        Ok(Topology {
            network,
            host: file.host,
            base_port: file.base_port,
            old_hub,
            new_hub,
            bridge,
            import_folder,
            nodes,
            secrets: file.secrets,
        })
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == *name)
    }

    pub fn post_offices(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::PostOffice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATENT: &str = include_str!("../../examples/patent.toml");

    #[test]
    fn the_example_is_the_patent_network() {
        let t = Topology::parse(PATENT, "examples/patent.toml").unwrap();
        assert_eq!(t.network.as_str(), "ACME");
        assert_eq!(
            (t.old_hub.as_str(), t.new_hub.as_str(), t.bridge.as_str()),
            ("H", "H2", "H3")
        );
        let pos: Vec<_> = t
            .post_offices()
            .map(|n| (n.name.to_string(), n.hub.map(|h| h.to_string())))
            .collect();
        assert!(pos.contains(&("POA".into(), Some("H".into()))));
        assert!(pos.contains(&("POB".into(), Some("H".into()))));
        assert!(pos.contains(&("POC".into(), Some("H".into()))));
        assert!(pos.contains(&("POD".into(), Some("H2".into()))));
    }

    #[test]
    fn roles_follow_the_node_kind() {
        let t = Topology::parse(PATENT, "p").unwrap();
        let roles = |n: &str| t.node(&Name::new(n).unwrap()).unwrap().roles().to_vec();
        assert_eq!(roles("H"), [RoleKind::DsServer, RoleKind::MailRouter]);
        assert_eq!(
            roles("H2"),
            [
                RoleKind::SiteReplicator,
                RoleKind::DsServer,
                RoleKind::MailRouter
            ]
        );
        assert_eq!(
            roles("H3"),
            [
                RoleKind::SiteReplicator,
                RoleKind::DsRequestor,
                RoleKind::MailRouter
            ]
        );
        assert_eq!(roles("POA"), [RoleKind::DsRequestor, RoleKind::MailRouter]);
    }

    #[test]
    fn debug_of_the_file_never_shows_a_key() {
        let text = format!("{PATENT}\n[secrets]\n\"POA@H\" = \"pair-key\"\n");
        let file: TopologyFile = toml::from_str(&text).unwrap();
        let shown = format!("{file:?}");
        assert!(shown.contains("JSMITH"));
        for key in ["pair-key", "jsmith-pw"] {
            assert!(!shown.contains(key), "{key} in {shown}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let bad_hub = PATENT.replace("hub = \"H2\"", "hub = \"H9\"");
        let err = Topology::parse(&bad_hub, "p").err().unwrap().to_string();
        assert!(err.contains("neither H nor H2"), "{err}");
        let twice = PATENT.replace("name = \"POB\"", "name = \"POA\"");
        let err = Topology::parse(&twice, "p").err().unwrap().to_string();
        assert!(err.contains("POA is used twice"), "{err}");
    }
}
