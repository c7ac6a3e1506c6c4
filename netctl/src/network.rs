//! A running network as the operator reaches it: its processes (from the
//! state `up` left), its keys, its topology, and where each post office is now.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wire_format::{Entry, Name, PostOfficeDigest};

use crate::NetctlError;
use crate::client::Operator;
use crate::migrate::journal::Placement;
use crate::migrate::plan::Target;
use crate::state::{NetworkState, ProcessState, Secrets};
use crate::supervisor;
use crate::topology::{NodeKind, RoleKind, Topology, User};

const RESTART_READY_WITHIN: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Network {
    pub data_dir: PathBuf,
    pub state: NetworkState,
    pub secrets: Secrets,
    pub topology: Topology,
}

impl Network {
    pub fn open(data_dir: &Path) -> Result<Network, NetctlError> {
        let state = NetworkState::load(data_dir)?;
        let secrets = Secrets::load(data_dir)?;
        let topology = Topology::load(&state.topology)?;
        Ok(Network {
            data_dir: data_dir.to_path_buf(),
            state,
            secrets,
            topology,
        })
    }

    pub fn process(&self, t: Target) -> Result<&ProcessState, NetctlError> {
        self.state
            .process(t.node.as_str(), t.role)
            .ok_or_else(|| NetctlError::RoleUnavailable {
                node: t.node.to_string(),
                role: t.role.to_string(),
                why: "no such process in this network",
            })
    }

    pub fn connect(&self, t: Target) -> Result<Operator, NetctlError> {
        let p = self.process(t)?;
        let wire = p.wire().ok_or_else(|| NetctlError::Start {
            process: p.id.clone(),
            reason: "announced no wire listener".into(),
        })?;
        Operator::connect(wire, self.secrets.operator(&p.id)?).map_err(|source| NetctlError::Link {
            process: p.id.clone(),
            source,
        })
    }

    /// The live entries of the directory `t` serves (a requestor's GAL, a
    /// server's master list, a site directory), in address order.
    pub fn directory(&self, t: Target) -> Result<Vec<Entry>, NetctlError> {
        self.directory_of(t, None)
    }

    /// [`Self::directory`], only `post_office`'s users when one is named:
    /// the process filters, so a check of one post office's users does not
    /// carry the whole directory over the wire.
    pub fn directory_of(
        &self,
        t: Target,
        post_office: Option<Name>,
    ) -> Result<Vec<Entry>, NetctlError> {
        let mut op = self.connect(t)?;
        let entries = op
            .list_gal(post_office)
            .map_err(|source| NetctlError::Link {
                process: t.to_string(),
                source,
            })?;
        Ok(entries.into_iter().filter(|e| !e.tombstone).collect())
    }

    /// A requestor's GAL summarised per post office (`GalSummary`).
    pub fn gal_summary(&self, t: Target) -> Result<Vec<PostOfficeDigest>, NetctlError> {
        let mut op = self.connect(t)?;
        op.gal_summary().map_err(|source| NetctlError::Link {
            process: t.to_string(),
            source,
        })
    }

    /// Restarts every process that is not running (same config, same ports,
    /// same data), and records the new pids. Returns the ids restarted.
    pub fn heal(&mut self) -> Result<Vec<String>, NetctlError> {
        let mut restarted = Vec::new();
        for i in 0..self.state.processes.len() {
            let p = &self.state.processes[i];
            if supervisor::alive(p.pid) {
                continue;
            }
            tracing::warn!(process = %p.id, "not running; restarting it");
            let started = supervisor::start(
                &p.id,
                &supervisor::bin_dir().join(p.role.binary()),
                &p.config,
                &p.stdout,
                &p.stderr,
                RESTART_READY_WITHIN,
            )?;
            let p = &mut self.state.processes[i];
            p.pid = started.pid;
            p.endpoints = started.endpoints;
            restarted.push(p.id.clone());
            self.state.save(&self.data_dir)?;
        }
        Ok(restarted)
    }

    /// The hub each post office is on now.
    pub fn hub_of(&self, placement: &Placement, po: &Name) -> Option<Name> {
        if let Some(hub) = placement.hubs.get(po.as_str()) {
            return Name::new(hub).ok();
        }
        self.topology.node(po).and_then(|n| n.hub)
    }

    pub fn post_offices(&self) -> Vec<Name> {
        self.topology.post_offices().map(|n| n.name).collect()
    }

    pub fn is_hub(&self, name: &Name) -> bool {
        self.topology
            .node(name)
            .is_some_and(|n| matches!(n.kind, NodeKind::OldHub | NodeKind::NewHub))
    }

    /// A seed user of the post office that has a POP3 password.
    pub fn seed_user(&self, po: &Name) -> Option<&User> {
        self.topology
            .node(po)
            .and_then(|n| n.users.iter().find(|u| u.password.is_some()))
    }

    pub fn mail_endpoint(&self, po: &Name, service: &str) -> Result<String, NetctlError> {
        let p = self.process(Target::new(*po, RoleKind::MailRouter))?;
        p.endpoints
            .get(service)
            .cloned()
            .ok_or_else(|| NetctlError::Start {
                process: p.id.clone(),
                reason: format!("announced no {service} listener"),
            })
    }
}
