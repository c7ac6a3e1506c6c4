//! Writes each role process's TOML config from the topology, the port plan
//! and the secrets. One module per role builds that role's own file schema
//! (`ds_server::config::Config`, ...), which is serialised: the roles' parsers
//! and these writers share one definition of every file.

mod dirsync;
mod mail;
mod site;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use role_runtime::CommonConfig;
use serde::{Deserialize, Serialize};

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

/// Listeners every process has beside those of its role: the metrics and
/// health endpoint (`role_runtime::metrics`). Planned like the others, so a
/// restarted process keeps its metrics port and a scraper its target.
const ALSO_PLANNED: &[&str] = &["metrics"];

/// One listener of `DATA_DIR/ports.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptPort {
    node: String,
    role: RoleKind,
    service: String,
    port: u16,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PortsFile {
    ports: Vec<KeptPort>,
}

/// `DATA_DIR/ports.toml`: the ports of the network last started there.
pub fn ports_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ports.toml")
}

impl PortPlan {
    /// The plan of a network started from `data_dir`: the ports it had the
    /// last time (`DATA_DIR/ports.toml`, which `down` leaves), new ones for
    /// listeners it did not have. Kept because the processes keep endpoints
    /// in their stores: a migration re-points a requestor at the new hub's
    /// port, and new ports at a later `up` would leave it pointing at nothing.
    pub fn for_data_dir(topology: &Topology, data_dir: &Path) -> Result<PortPlan, NetctlError> {
        let path = ports_path(data_dir);
        let kept = if path.exists() {
            crate::state::load_toml::<PortsFile>(data_dir, &path)?
                .ports
                .into_iter()
                .map(|p| ((p.node, p.role, p.service), p.port))
                .collect()
        } else {
            BTreeMap::new()
        };
        PortPlan::with_kept(topology, &kept)
    }

    /// Records the plan for the next `up` of the same data directory.
    pub fn save(&self, data_dir: &Path) -> Result<(), NetctlError> {
        let file = PortsFile {
            ports: (self.ports.iter())
                .map(|((node, role, service), port)| KeptPort {
                    node: node.clone(),
                    role: *role,
                    service: service.clone(),
                    port: *port,
                })
                .collect(),
        };
        crate::state::save_toml(&file, &ports_path(data_dir))
    }

    pub fn new(topology: &Topology) -> Result<PortPlan, NetctlError> {
        PortPlan::with_kept(topology, &BTreeMap::new())
    }

    /// A plan giving each listener its `kept` port where it has one.
    pub fn with_kept(
        topology: &Topology,
        kept: &BTreeMap<(String, RoleKind, String), u16>,
    ) -> Result<PortPlan, NetctlError> {
        let mut plan = PortPlan {
            host: topology.host.clone(),
            ports: BTreeMap::new(),
        };
        let mut next = topology.base_port;
        let taken: BTreeSet<u16> = kept.values().copied().collect();
        // Held until every port is chosen: a port released at once could be
        // handed out again for the next listener of the same plan.
        let mut held = Vec::new();
        for node in &topology.nodes {
            for role in node.roles() {
                for service in role.services().iter().chain(ALSO_PLANNED) {
                    let key = (node.name.to_string(), *role, (*service).to_owned());
                    if let Some(port) = kept.get(&key) {
                        plan.ports.insert(key, *port);
                        continue;
                    }
                    let port = if topology.base_port == 0 {
                        loop {
                            let listener = crate::supervisor::free_port(&topology.host)?;
                            let port =
                                listener.local_addr().map(|a| a.port()).map_err(|source| {
                                    NetctlError::NoPort {
                                        host: topology.host.clone(),
                                        source,
                                    }
                                })?;
                            held.push(listener);
                            if !taken.contains(&port) {
                                break port;
                            }
                        }
                    } else {
                        loop {
                            let p = next;
                            next = next.checked_add(1).ok_or_else(|| NetctlError::NoPort {
                                host: topology.host.clone(),
                                source: std::io::Error::other("base_port leaves too few ports"),
                            })?;
                            if !taken.contains(&p) {
                                break p;
                            }
                        }
                    };
                    plan.ports.insert(key, port);
                }
            }
        }
        Ok(plan)
    }

    /// Fails, naming the process, if a port of the plan is in use: a kept
    /// port may have been taken while the network was down, and a process
    /// that cannot bind would only say so in its own log.
    pub fn check_free(&self) -> Result<(), NetctlError> {
        let mut held = Vec::new();
        for ((node, role, service), port) in &self.ports {
            match std::net::TcpListener::bind((self.host.as_str(), *port)) {
                Ok(listener) => held.push(listener),
                Err(_) => {
                    return Err(NetctlError::PortTaken {
                        process: format!("{node}.{role}"),
                        service: service.clone(),
                        port: *port,
                    });
                }
            }
        }
        Ok(())
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
            metrics_listen: self.plan.endpoint(node, role, "metrics"),
            ready_lag_seconds: role_runtime::config::DEFAULT_READY_LAG_SECONDS,
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

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "network = \"ACME\"\n[old_hub]\nname = \"H\"\n[new_hub]\nname = \"H2\"\n\
        [bridge]\nname = \"H3\"\n[[post_offices]]\nname = \"POC\"\nhub = \"H\"\n";

    #[test]
    fn a_data_dir_gets_the_ports_of_its_last_run_back() {
        let topology = Topology::parse(SMALL, "small").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let first = PortPlan::for_data_dir(&topology, dir.path()).unwrap();
        first.save(dir.path()).unwrap();
        let again = PortPlan::for_data_dir(&topology, dir.path()).unwrap();
        assert_eq!(again.ports, first.ports);
        assert_ne!(
            PortPlan::new(&topology).unwrap().ports,
            first.ports,
            "without the record, ports are chosen afresh"
        );
    }

    #[test]
    fn every_process_has_a_metrics_port_kept_like_the_others() {
        let topology = Topology::parse(SMALL, "small").unwrap();
        let mut kept = PortPlan::new(&topology).unwrap().ports;
        // A network started before the metrics listener existed.
        kept.retain(|(_, _, service), _| service != "metrics");
        let plan = PortPlan::with_kept(&topology, &kept).unwrap();
        for node in &topology.nodes {
            for role in node.roles() {
                let key = (node.name.to_string(), *role, "metrics".to_owned());
                let port = plan.ports[&key];
                assert!(
                    !kept.values().any(|p| *p == port),
                    "{key:?} got a kept port"
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        plan.save(dir.path()).unwrap();
        let again = PortPlan::for_data_dir(&topology, dir.path()).unwrap();
        assert_eq!(again.ports, plan.ports);
    }

    #[test]
    fn a_listener_new_since_the_last_run_gets_a_port_no_kept_one_has() {
        let topology = Topology::parse(SMALL, "small").unwrap();
        let mut kept = PortPlan::new(&topology).unwrap().ports;
        let dropped = ("POC".to_owned(), RoleKind::MailRouter, "smtp".to_owned());
        kept.remove(&dropped);
        let plan = PortPlan::with_kept(&topology, &kept).unwrap();
        for (key, port) in &kept {
            assert_eq!(plan.ports.get(key), Some(port));
        }
        let new = plan.ports[&dropped];
        assert!(!kept.values().any(|p| *p == new), "{new} is already kept");
    }
}
