use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use site_replicator::Settings;

/// The site directory of an Exchange-style site (H2 and H3 in the patent):
/// named folders (F1 for the old network, FSn per migrated post office),
/// replicated multi-master between the servers of the site.
///
/// Every local write is stamped (origin server, sequence number); each server
/// pulls its peers' changes after a per-peer mark, skipping what its
/// up-to-dateness vector says it has seen, and is notified when a peer has
/// something new. Conflicts resolve the same way everywhere (higher version,
/// then later time, then greater server name).
///
/// On start it prints `listening wire <addr>` and then `ready` on stdout; logs
/// go to stderr (filter with RUST_LOG, e.g. RUST_LOG=site_replicator=debug).
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The TOML configuration: node, network, data_dir, listen,
    /// operator_secret, pull_interval_ms, tombstone_lifetime_secs, max_chunk,
    /// [[peers]] (name, secret, endpoint) and [[clients]] (name, secret,
    /// folders). See the crate documentation of `site_replicator::config`.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = match Settings::load(&cli.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("site-replicator: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("site-replicator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(site_replicator::net::run(settings, shutdown_signal()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("site-replicator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
