//! `netctl down`: stop every process of the network (SIGTERM, then SIGKILL).

use std::path::Path;
use std::time::Duration;

use crate::NetctlError;
use crate::state::{NetworkState, state_path};
use crate::supervisor;

pub fn run(data_dir: &Path) -> Result<Vec<(String, bool)>, NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let mut stopped = Vec::new();
    for p in state.processes.iter().rev() {
        stopped.push((
            p.id.clone(),
            supervisor::stop(p.pid, Duration::from_secs(10)),
        ));
    }
    // The processes' data stays; only the record of running processes goes.
    std::fs::remove_file(state_path(data_dir)).map_err(|source| NetctlError::Write {
        path: state_path(data_dir).display().to_string(),
        source,
    })?;
    Ok(stopped)
}
