//! The topology file: the patent's network in one TOML document.
//!
//! ```toml
//! network = "ACME"
//! host = "127.0.0.1"          # every listener binds here (default 127.0.0.1)
//! base_port = 0               # 0: free ports chosen at `up`; else consecutive from here
//! trusted_networks = []       # SMTP clients from these networks (CIDR) send to
//!                             # other post offices without AUTH (Postfix's
//!                             # mynetworks); default none: clients authenticate
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
//! generate_users = 3          # USER1..USER3 (no POP3 password; at most 1,000,000)
//! users = [{ mailbox = "JSMITH", display_name = "John Smith", password = "..." }]
//! exports = ["F1", "FS*"]     # on the new hub: folders it receives (default all)
//! tls_cert = "/etc/mhub/poa.pem"    # optional, with tls_key: the operator's own
//! tls_key = "/etc/mhub/poa-key.pem" # PEM certificate chain and key for POP3/SMTP
//!                             # TLS; without them `up` issues one from the
//!                             # network CA (DATA_DIR/tls/ca.pem)
//!
//! [secrets]                   # optional; others are generated at `up`
//! "POA@H" = "..."             # the key between POA and H (either order)
//! ```
//!
//! A user without a `password` has no POP3 access until
//! `netctl user add --password-file` (or `--password-stdin`) gives one:
//! there is no default password. A `[secrets]` key must name two nodes that
//! talk to each other (see [`Topology::links`]), and its value must be at
//! least 32 random hex digits (128 bits: `openssl rand -hex 16`), because a
//! captured handshake lets a weaker key be guessed offline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use role_runtime::Secret;
use serde::Deserialize;
use wire_format::Name;

use crate::NetctlError;
use crate::state::pair_key;

/// The most users `generate_users` makes for one post office: enough for
/// any benchmark, and a mistyped count fails at once with the post office's
/// name instead of filling the memory at `up`.
pub const MAX_GENERATED_USERS: u32 = 1_000_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    pub network: String,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default)]
    pub base_port: u16,
    /// Every post office's `trusted_networks` (see mail_router::config).
    #[serde(default)]
    pub trusted_networks: Vec<String>,
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
    /// The operator's own PEM certificate chain for the client listeners.
    pub tls_cert: Option<PathBuf>,
    /// Its PEM private key.
    pub tls_key: Option<PathBuf>,
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
    /// The POP3 password, if the topology gives one. Without one the user
    /// receives mail but cannot collect it until `netctl user add
    /// --password-file` gives one: a default password anybody can guess
    /// would be worse than none. Generated users never have one.
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
            // Every mail router has them planned; only a post office listens
            // on the client ones (pop3s: RFC 8314 implicit TLS; smtps and
            // submission: the SMTP side's).
            RoleKind::MailRouter => &["wire", "smtp", "pop3", "pop3s", "smtps", "submission"],
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
    /// A post office's own certificate and key from the topology; None:
    /// `up` issues one from the network CA.
    pub tls: Option<role_runtime::tls::TlsFiles>,
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
    /// SMTP clients that send to other post offices without AUTH.
    pub trusted_networks: Vec<String>,
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
                tls: None,
            },
            Node {
                name: new_hub,
                kind: NodeKind::NewHub,
                hub: None,
                users: vec![],
                exports: vec![],
                tls: None,
            },
            Node {
                name: bridge,
                kind: NodeKind::Bridge,
                hub: None,
                users: vec![],
                exports: vec![],
                tls: None,
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
            if po.generate_users > MAX_GENERATED_USERS {
                return Err(invalid(format!(
                    "post office {po_name}: generate_users = {} is more than the \
                     {MAX_GENERATED_USERS} one post office may have generated",
                    po.generate_users
                )));
            }
            let mut users = Vec::new();
            for u in &po.users {
                users.push(User {
                    mailbox: name(&format!("a mailbox of {po_name}"), &u.mailbox)?,
                    display_name: u.display_name.clone(),
                    password: u.password.clone().map(Secret::into_inner),
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
            let tls = role_runtime::tls::TlsFiles::from_keys(
                po.tls_cert.as_deref(),
                po.tls_key.as_deref(),
            )
            .map_err(|e| invalid(format!("post office {po_name}: {e}")))?;
            // The router runs in its own directory: a relative path is
            // taken from where netctl runs, as the operator typed it.
            let tls = tls.map(|f| role_runtime::tls::TlsFiles {
                cert: std::path::absolute(&f.cert).unwrap_or(f.cert),
                key: std::path::absolute(&f.key).unwrap_or(f.key),
            });
            if let Some(files) = &tls {
                // Checked here, not when the router starts: `up` then fails
                // before anything runs, naming the key and the file.
                for (key, path) in [("tls_cert", &files.cert), ("tls_key", &files.key)] {
                    if !path.is_file() {
                        return Err(invalid(format!(
                            "post office {po_name}: {key} {} is not a readable file",
                            path.display()
                        )));
                    }
                }
            }
            nodes.push(Node {
                name: po_name,
                kind: NodeKind::PostOffice,
                hub: Some(hub),
                users,
                exports: po.exports.clone().unwrap_or_else(|| vec!["*".into()]),
                tls,
            });
        }
        let mut names = BTreeSet::new();
        for node in &nodes {
            if !names.insert(node.name) {
                return Err(invalid(format!("node name {} is used twice", node.name)));
            }
        }
        for raw in &file.trusted_networks {
            if trusted_network(raw).is_none() {
                return Err(invalid(format!(
                    "trusted_networks entry {raw:?} is not a network (like \"127.0.0.0/8\") \
                     nor an IP address"
                )));
            }
        }
        let mut topology = Topology {
            network,
            host: file.host,
            base_port: file.base_port,
            trusted_networks: file.trusted_networks,
            old_hub,
            new_hub,
            bridge,
            import_folder,
            nodes,
            secrets: BTreeMap::new(),
        };
        topology.secrets = topology.check_secrets(file.secrets).map_err(invalid)?;
        Ok(topology)
    }

    /// The node pairs that share a key (`A@B`, names in order): each post
    /// office with both hubs (mail, and dirsync with the hub it is on or
    /// moves to), the bridge with both hubs (dirsync with the old, site
    /// replication with the new, mail with both), and the new hub and the
    /// bridge each with itself (its DS role as a client of its own site
    /// replicator).
    pub fn links(&self) -> BTreeSet<String> {
        let (h, h2, h3) = (
            self.old_hub.as_str(),
            self.new_hub.as_str(),
            self.bridge.as_str(),
        );
        let mut links = BTreeSet::from([
            pair_key(h3, h),
            pair_key(h3, h2),
            pair_key(h2, h2),
            pair_key(h3, h3),
        ]);
        for po in self.post_offices() {
            links.insert(pair_key(po.name.as_str(), h));
            links.insert(pair_key(po.name.as_str(), h2));
        }
        links
    }

    /// The topology's `[secrets]`, each under its pair's key: a key naming
    /// no link, given twice, or too weak to be used is refused by name, so
    /// a typo never leaves a link on a key the operator did not choose.
    /// Whether SMTP clients on the network's own host (netctl's mail
    /// client: the demo's traffic, the migration's test mails) may send
    /// without AUTH: then they do not log in.
    pub fn trusts_its_host(&self) -> bool {
        let Ok(host) = self.host.parse::<std::net::IpAddr>() else {
            return false;
        };
        (self.trusted_networks.iter())
            .filter_map(|n| trusted_network(n))
            .any(|n| n.contains(&host))
    }

    fn check_secrets(
        &self,
        given: BTreeMap<String, Secret<String>>,
    ) -> Result<BTreeMap<String, Secret<String>>, String> {
        let links = self.links();
        let mut checked = BTreeMap::new();
        for (key, secret) in given {
            let shown = format!("[secrets] {key:?}");
            let Some((a, b)) = key.split_once('@') else {
                return Err(format!(
                    "{shown} is not a pair of nodes: write it NODE@NODE, e.g. \"POA@H\""
                ));
            };
            let pair = pair_key(&a.to_ascii_uppercase(), &b.to_ascii_uppercase());
            if !links.contains(&pair) {
                let known: Vec<&str> = links.iter().map(String::as_str).collect();
                return Err(format!(
                    "{shown} names no link of this topology (nodes that share a key: {})",
                    known.join(", ")
                ));
            }
            secret.check_strength(&shown).map_err(|e| e.to_string())?;
            if checked.insert(pair, secret).is_some() {
                return Err(format!("{shown}: the key of this pair is given twice"));
            }
        }
        Ok(checked)
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == *name)
    }

    pub fn post_offices(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.kind == NodeKind::PostOffice)
    }
}

/// One `trusted_networks` entry: a CIDR network or a single address (the
/// mail router reads it the same way).
fn trusted_network(raw: &str) -> Option<ipnet::IpNet> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| raw.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
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

    const STRONG: &str = "00112233445566778899aabbccddeeff";

    fn with_secrets(lines: &str) -> Result<Topology, String> {
        Topology::parse(&format!("{PATENT}\n[secrets]\n{lines}\n"), "p").map_err(|e| e.to_string())
    }

    #[test]
    fn a_given_key_of_a_link_is_kept_under_its_pair() {
        let t = with_secrets(&format!("\"poa@h\" = \"{STRONG}\"")).unwrap();
        assert_eq!(t.secrets.len(), 1);
        assert_eq!(t.secrets["H@POA"].expose(), STRONG);
    }

    #[test]
    fn an_empty_key_is_refused_by_name() {
        let err = with_secrets("\"POA@H\" = \"\"").err().unwrap();
        assert!(err.contains("\"POA@H\"") && err.contains("empty"), "{err}");
        assert!(err.contains("openssl rand -hex 16"), "{err}");
    }

    #[test]
    fn a_weak_key_is_refused_by_name_without_showing_it() {
        for weak in ["hunter2hunter2hunter2hunter2hunter2", &STRONG[..31]] {
            let err = with_secrets(&format!("\"POB@H2\" = \"{weak}\""))
                .err()
                .unwrap();
            assert!(err.contains("\"POB@H2\""), "{err}");
            assert!(err.contains("openssl rand -hex 16"), "{err}");
            assert!(!err.contains(weak), "the key is shown: {err}");
        }
    }

    #[test]
    fn a_key_of_no_link_is_refused_by_name() {
        for key in ["POA@POB", "POA@NOWHERE", "POA", "POA@H@H2"] {
            let err = with_secrets(&format!("\"{key}\" = \"{STRONG}\""))
                .err()
                .unwrap();
            assert!(err.contains(&format!("{key:?}")), "{key}: {err}");
        }
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let err = with_secrets(&format!(
            "\"POA@H\" = \"{STRONG}\"\n\"H@POA\" = \"{STRONG}\""
        ))
        .err()
        .unwrap();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn a_user_without_a_password_has_none() {
        let text = PATENT.replace(", password = \"jsmith-pw\"", "");
        let t = Topology::parse(&text, "p").unwrap();
        let poa = t.node(&Name::new("POA").unwrap()).unwrap();
        let jsmith = poa.users.iter().find(|u| u.mailbox.as_str() == "JSMITH");
        assert!(jsmith.unwrap().password.is_none());
    }

    #[test]
    fn a_post_offices_own_certificate_needs_both_files_and_they_must_exist() {
        // Any file that exists: only its presence is checked at load.
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let with = |lines: &str| {
            let text =
                PATENT.replacen("name = \"POA\"\n", &format!("name = \"POA\"\n{lines}\n"), 1);
            Topology::parse(&text, "p").map_err(|e| e.to_string())
        };
        let err = with(&format!("tls_cert = {file:?}")).err().unwrap();
        assert!(err.contains("POA") && err.contains("tls_key"), "{err}");
        let err = with(&format!(
            "tls_cert = \"/nonexistent/c.pem\"\ntls_key = {file:?}"
        ))
        .err()
        .unwrap();
        assert!(err.contains("tls_cert /nonexistent/c.pem"), "{err}");
        let t = with(&format!("tls_cert = {file:?}\ntls_key = {file:?}")).unwrap();
        let poa = t.node(&Name::new("POA").unwrap()).unwrap();
        assert!(poa.tls.is_some());
        let pob = t.node(&Name::new("POB").unwrap()).unwrap();
        assert!(
            pob.tls.is_none(),
            "POB's certificate comes from the network CA"
        );
    }

    #[test]
    fn trusted_networks_are_checked_and_say_whether_the_host_is_trusted() {
        let with = |line: &str| Topology::parse(&format!("{line}\n{PATENT}"), "p");
        assert!(!Topology::parse(PATENT, "p").unwrap().trusts_its_host());
        let t = with("trusted_networks = [\"127.0.0.0/8\"]").unwrap();
        assert!(t.trusts_its_host());
        assert!(
            !with("trusted_networks = [\"10.0.0.0/8\", \"::1\"]")
                .unwrap()
                .trusts_its_host()
        );
        let err = with("trusted_networks = [\"10.0.0.0/33\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("trusted_networks") && err.contains("10.0.0.0/33"),
            "{err}"
        );
    }

    #[test]
    fn generated_users_are_bounded_per_post_office() {
        let text = PATENT.replace("generate_users = 4", "generate_users = 4294967295");
        let err = Topology::parse(&text, "p").err().unwrap().to_string();
        assert!(err.contains("POB") && err.contains("1000000"), "{err}");
        let over = format!("generate_users = {}", MAX_GENERATED_USERS + 1);
        let err = Topology::parse(&PATENT.replace("generate_users = 4", &over), "p");
        assert!(err.is_err(), "one more than the maximum is refused");
    }
}
