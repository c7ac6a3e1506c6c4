//! `netctl dashboard`: a live web page of the network, served on loopback.
//!
//! One thread asks every process for its status once per interval (as
//! `netctl status` does) and turns the answers into a [`snapshot::Snapshot`];
//! the page (`page.html`, plain HTML and JavaScript compiled into netctl, no
//! CDN) polls `/api/state` and redraws without reloading. However many
//! browsers watch, the processes are asked once per interval.
//!
//! The page shows what `status` knows without authentication, so it is
//! served on loopback only: reach it from another machine through an SSH
//! tunnel (`ssh -L 8080:127.0.0.1:PORT host`).

mod http;
mod migration;
pub mod snapshot;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::NetctlError;
use crate::migrate::run::now_ms;
use crate::network::Network;

/// `netctl dashboard`: serve a live page of the network on loopback.
///
/// The first line printed is `dashboard http://HOST:PORT/`; then it serves
/// until Ctrl-C or SIGTERM. `/api/state` is the page's data as JSON (the
/// snapshot: nodes, edges, folders, queues, migration, latest events).
#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// Where to listen: a loopback address (127.0.0.1 or ::1); port 0
    /// takes a free port.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// How often the processes are asked for their status, in
    /// milliseconds (the page follows at the same pace).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval_ms: u64,
}

/// The latest snapshot as JSON, shared by the collector and the server.
pub type Latest = Arc<Mutex<String>>;

pub fn run(data_dir: &Path, _json: bool, args: &DashboardArgs) -> Result<(), NetctlError> {
    if !args.listen.ip().is_loopback() {
        return Err(NetctlError::Dashboard(format!(
            "--listen {}: the dashboard shows the network's state without a password, so it \
             listens on loopback only (127.0.0.1 or ::1); reach it from elsewhere through an \
             SSH tunnel",
            args.listen
        )));
    }
    // Fails now, with `run netctl up first`, rather than in the page.
    Network::open(data_dir)?;
    let latest: Latest = Arc::new(Mutex::new(collect_json(data_dir)));
    let interval = Duration::from_millis(args.interval_ms.max(100));
    {
        let latest = latest.clone();
        let data_dir = data_dir.to_path_buf();
        std::thread::spawn(move || collector(&data_dir, &latest, interval));
    }
    http::serve(args.listen, latest)
}

fn collector(data_dir: &Path, latest: &Latest, interval: Duration) {
    loop {
        std::thread::sleep(interval);
        let json = collect_json(data_dir);
        *latest.lock().unwrap_or_else(|p| p.into_inner()) = json;
    }
}

/// The snapshot now, or what went wrong reading it, as the page's JSON.
fn collect_json(data_dir: &Path) -> String {
    match collect(data_dir) {
        Ok(snapshot) => serde_json::to_string(&snapshot)
            .unwrap_or_else(|e| error_json(&format!("cannot encode the state: {e}"))),
        Err(e) => error_json(&e.to_string()),
    }
}

fn error_json(error: &str) -> String {
    serde_json::json!({ "error": error, "updated_ms": now_ms() }).to_string()
}

fn collect(data_dir: &Path) -> Result<snapshot::Snapshot, NetctlError> {
    let net = Network::open(data_dir)?;
    let (state, reports) = crate::commands::status::collect(data_dir)?;
    let summary = crate::commands::status::summary::summarize(&state, &reports, now_ms());
    let placement = crate::migrate::journal::Placement::load(data_dir)?;
    let (migration, last_migration) = migration::view(data_dir);
    Ok(snapshot::build(snapshot::Inputs {
        topology: &net.topology,
        placement: &placement.hubs,
        reports: &reports,
        summary: &summary,
        migration,
        last_migration,
        history: latest_events(data_dir),
    }))
}

/// The last few events of the processes and the migrations, newest first.
fn latest_events(data_dir: &Path) -> Vec<snapshot::EventView> {
    use crate::commands::history::{HistoryArgs, collect, describe};
    let args = HistoryArgs {
        node: None,
        since: None,
        limit: 8,
    };
    match collect(data_dir, &args, now_ms()) {
        Ok((_, lines, _)) => lines
            .iter()
            .map(|l| snapshot::EventView {
                at_ms: l.at_ms,
                source: l.source.clone(),
                text: describe(l),
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}
