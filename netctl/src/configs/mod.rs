//! Writes each role process's TOML config from the topology, the port plan
//! and the secrets. One module per role builds that role's own file schema
//! (`ds_server::config::Config`, ...), which is serialised: the roles' parsers
//! and these writers share one definition of every file.

mod dirsync;
mod mail;
mod site;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use role_runtime::CommonConfig;

use crate::NetctlError;
use crate::state::{Secrets, write_file};
use crate::topology::{Node, RoleKind, Topology};

/// Every listener's port, decided before anything starts, so every config can
/// name every endpoint and a restarted process gets its port back.
#[derive(Debug, Clone, Default)]
pub struct PortPlan {
    pub host: String,
    pub ports: BTreeMap<(String, RoleKind, String), u16>,
}

impl PortPlan {
    pub fn new(topology: &Topology) -> Result<PortPlan, NetctlError> {
        let mut plan = PortPlan {
            host: topology.host.clone(),
            ports: BTreeMap::new(),
        };
        let mut next = topology.base_port;
        // Held until every port is chosen: a port released at once could be
        // handed out again for the next listener of the same plan.
        let mut held = Vec::new();
        for node in &topology.nodes {
            for role in node.roles() {
                for service in role.services() {
                    let port = if topology.base_port == 0 {
                        let listener = crate::supervisor::free_port(&topology.host)?;
                        let port = listener.local_addr().map(|a| a.port()).map_err(|source| {
                            NetctlError::NoPort {
                                host: topology.host.clone(),
                                source,
                            }
                        })?;
                        held.push(listener);
                        port
                    } else {
                        let p = next;
                        next = next.checked_add(1).ok_or_else(|| NetctlError::NoPort {
                            host: topology.host.clone(),
                            source: std::io::Error::other("base_port leaves too few ports"),
                        })?;
                        p
                    };
                    plan.ports
                        .insert((node.name.to_string(), *role, (*service).to_owned()), port);
                }
            }
        }
        Ok(plan)
    }

    pub fn endpoint(&self, node: &str, role: RoleKind, service: &str) -> String {
        let port = self
            .ports
            .get(&(node.to_owned(), role, service.to_owned()))
            .copied()
            .unwrap_or(0);
        format!("{}:{port}", self.host)
    }
}

/// Everything a config writer may need.
pub struct Context<'a> {
    pub topology: &'a Topology,
    pub plan: &'a PortPlan,
    pub secrets: &'a mut Secrets,
    pub data_dir: &'a Path,
}

impl Context<'_> {
    /// The keys every role's file starts with, for `role` on `node`.
    pub fn common(&mut self, node: &str, role: RoleKind, dir: &Path) -> CommonConfig {
        CommonConfig {
            node: node.to_owned(),
            network: self.topology.network.to_string(),
            data_dir: dir.to_owned(),
            listen: self.plan.endpoint(node, role, "wire"),
            operator_secret: self.secrets.new_operator(&format!("{node}.{role}")),
            limits: role_runtime::Limits::default(),
        }
    }
}

/// Writes the config of `role` on `node` into its data directory, readable
/// by the owner only: every config holds keys.
pub fn write(ctx: &mut Context<'_>, node: &Node, role: RoleKind) -> Result<PathBuf, NetctlError> {
    let dir = process_dir(ctx.data_dir, &node.name.to_string(), role);
    let path = dir.join("config.toml");
    let text = match role {
        RoleKind::SiteReplicator => toml::to_string(&site::config(ctx, node, &dir)),
        RoleKind::DsServer => toml::to_string(&dirsync::server(ctx, node, &dir)),
        RoleKind::DsRequestor => toml::to_string(&dirsync::requestor(ctx, node, &dir)),
        RoleKind::MailRouter => toml::to_string(&mail::config(ctx, node, &dir)),
    }
    .map_err(|e| NetctlError::Write {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    write_file(&path, &text)?;
    Ok(path)
}

/// `DATA_DIR/NODE/ROLE`: the data directory of one process.
pub fn process_dir(data_dir: &Path, node: &str, role: RoleKind) -> PathBuf {
    data_dir.join(node).join(role.binary())
}
