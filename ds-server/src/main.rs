use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ds_server::Settings;

/// The DS server of a hub (H, H2 in the patent): keeps the master directory
/// list of its post offices (the DS requestors).
///
/// Each requestor authenticates with its own secret, uploads its post
/// office's changes (refused whole if any names another post office) and
/// pulls the updates after its high-water mark, filtered by its export
/// configuration and never echoing its own entries. A requestor with a mark
/// from another epoch gets a full resync. Connected requestors are notified
/// as soon as updates exist. Every change is committed to disk before it is
/// acknowledged.
///
/// On start it prints `listening wire <addr>` and then `ready` on stdout;
/// logs go to stderr (filter with RUST_LOG, e.g. RUST_LOG=ds_server=debug).
/// SIGTERM or Ctrl-C shuts it down.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The TOML configuration: node, network, data_dir (the redb store),
    /// listen (host:port, port 0 for any), operator_secret, chunk (updates
    /// per frame, default 500), tombstone_lifetime_ms (how long deletes are
    /// kept for incremental pulls, default 7 days), and one [[requestors]] table per post office
    /// with name, secret, post_offices (whose users it may write, default
    /// its name) and export (post office patterns it receives, default
    /// ["*"]). See the documentation of `ds_server::config`.
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
            eprintln!("ds-server: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ds-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ds_server::net::run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ds-server: {e}");
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
