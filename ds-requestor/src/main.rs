use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ds_requestor::Settings;

/// The DS requestor of a post office: owns the post office's users and
/// keeps its global address list (GAL) in step with its DS server.
///
/// Local users are added, changed and deleted by the operator (UserUpsert,
/// UserDelete over the wire protocol, e.g. with netctl). Each sync cycle
/// uploads the local changes not yet acknowledged (a replay after a crash
/// duplicates nothing), then pulls the server's updates after its high-water
/// mark and applies them. Cycles run every interval_ms, on SyncNow, after a
/// local change, and as soon as the server notifies new updates. Repoint
/// switches to another configured server and resyncs in full.
///
/// On start it prints `listening wire <addr>` and then `ready` on stdout;
/// logs go to stderr (filter with RUST_LOG, e.g. RUST_LOG=ds_requestor=debug).
/// SIGTERM or Ctrl-C shuts it down.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The TOML configuration: node, network, data_dir (the redb store),
    /// listen (the operator's host:port, port 0 for any), operator_secret,
    /// server (the server to sync with until a Repoint), interval_ms
    /// (scheduled cycle, default 60000), post_offices (whose users it owns,
    /// default its node name) and one [[servers]] table per server it may
    /// be pointed at, with name, endpoint and secret. See the documentation
    /// of `ds_requestor::config`.
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
            eprintln!("ds-requestor: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ds-requestor: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ds_requestor::net::run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ds-requestor: {e}");
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
