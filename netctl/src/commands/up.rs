//! `netctl up`: every role process of the topology, in the background.

use std::path::Path;
use std::time::Duration;

use crate::NetctlError;
use crate::configs::{self, Context, PortPlan};
use crate::state::{NetworkState, ProcessState, Secrets};
use crate::supervisor;
use crate::topology::{RoleKind, Topology};

const READY_WITHIN: Duration = Duration::from_secs(30);
/// Dependencies first: the site directories, then the DS servers, the
/// requestors that sync with them, and the mail routers.
const START_ORDER: [RoleKind; 4] = [
    RoleKind::SiteReplicator,
    RoleKind::DsServer,
    RoleKind::DsRequestor,
    RoleKind::MailRouter,
];

pub fn run(topology_path: &Path, data_dir: &Path) -> Result<NetworkState, NetctlError> {
    let running = NetworkState::load(data_dir)
        .is_ok_and(|s| s.processes.iter().any(|p| supervisor::alive(p.pid)));
    if running {
        return Err(NetctlError::AlreadyUp(data_dir.display().to_string()));
    }
    let topology = Topology::load(topology_path)?;
    // The ports of the last run, if this data directory had one: the
    // processes' stores keep endpoints (a moved post office's requestor is
    // re-pointed at the new hub's port), so a restarted network must answer
    // on the same ports.
    let first_start = !configs::ports_path(data_dir).exists();
    let plan = PortPlan::for_data_dir(&topology, data_dir)?;
    plan.check_free()?;
    // Saved before anything starts, so a netctl killed halfway through
    // leaves the record of the ports its processes took.
    plan.save(data_dir)?;
    // The network CA (kept from an earlier `up`) and each post office's
    // certificate, before any config names them.
    crate::tls::issue(&topology, data_dir)?;
    let mut secrets = Secrets::new(&topology.secrets);
    // Every config is written before anything starts, so a topology this build
    // cannot run fails without leaving half a network behind.
    let mut planned = Vec::new();
    {
        let mut ctx = Context {
            topology: &topology,
            plan: &plan,
            secrets: &mut secrets,
            data_dir,
        };
        for role in START_ORDER {
            for node in topology.nodes.iter().filter(|n| n.roles().contains(&role)) {
                let config = configs::write(&mut ctx, node, role)?;
                planned.push((node.name.to_string(), role, config));
            }
        }
    }
    secrets.save(data_dir)?;
    let mut state = NetworkState {
        topology: topology_path
            .canonicalize()
            .unwrap_or_else(|_| topology_path.to_path_buf()),
        network: topology.network.to_string(),
        processes: Vec::new(),
    };
    for (node, role, config) in planned {
        let id = format!("{node}.{role}");
        let dir = configs::process_dir(data_dir, &node, role);
        let (stdout, stderr) = (dir.join("stdout.log"), dir.join("stderr.log"));
        match supervisor::start(
            &id,
            &supervisor::bin_dir().join(role.binary()),
            &config,
            &stdout,
            &stderr,
            READY_WITHIN,
        ) {
            Ok(started) => {
                state.processes.push(ProcessState {
                    id,
                    node,
                    role,
                    pid: started.pid,
                    endpoints: started.endpoints,
                    config,
                    data_dir: dir,
                    stdout,
                    stderr,
                });
                // Saved after each start: `down` can clean up whatever happens to netctl.
                state.save(data_dir)?;
            }
            Err(e) => {
                for p in state.processes.iter().rev() {
                    supervisor::stop(p.pid, Duration::from_secs(5));
                }
                let _ = std::fs::remove_file(crate::state::state_path(data_dir));
                // Nothing ever ran on a first start's ports: another
                // program may have taken one meanwhile (the cause of this
                // failure, perhaps), and the next `up` should choose afresh.
                if first_start {
                    let _ = std::fs::remove_file(configs::ports_path(data_dir));
                }
                return Err(e);
            }
        }
    }
    Ok(state)
}

pub fn print(state: &NetworkState, json: bool) {
    if json {
        println!("{}", crate::commands::status::processes_json(state, None));
        return;
    }
    println!(
        "network {} is up ({} processes)",
        state.network,
        state.processes.len()
    );
    for p in &state.processes {
        let endpoints: Vec<String> = p
            .endpoints
            .iter()
            .map(|(s, a)| format!("{s} {a}"))
            .collect();
        println!("  {:<24} pid {:<8} {}", p.id, p.pid, endpoints.join(", "));
    }
}
