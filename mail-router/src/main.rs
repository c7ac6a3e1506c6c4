use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mail_router::Settings;

/// The mail transfer role of a node of the network: a post office (users'
/// mailboxes, SMTP submission, POP3 collection, everything else to its hub),
/// a hub (H, H2: routes by destination post office) or the gateway (H3:
/// relays between the two hubs).
///
/// Store-and-forward with custody transfer: a message is acknowledged to the
/// sender (SMTP 250, or a MailAck to a peer router) only after it is on disk
/// here; a resent message is stored once; a message that passes too many
/// routers or cannot be delivered is returned to its sender.
///
/// On start it prints `listening wire <addr>` (and for a post office
/// `listening smtp <addr>`, `listening pop3 <addr>`), then `ready`, on stdout;
/// logs go to stderr (filter with RUST_LOG).
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// The TOML configuration: node, network, mode (post-office, hub,
    /// gateway), data_dir, listen, smtp_listen, pop3_listen, operator_secret,
    /// hub, max_hops, expiry_secs, seen_retention_secs (how long a message id
    /// is remembered so a re-sent copy is stored once; at least expiry_secs,
    /// default a week), max_message_bytes, cache_mib (memory for the store's
    /// page cache, default 64), [[peers]] (name, secret, endpoint), [routes]
    /// (post office = next hop), [[users]] (mailbox, password). See the
    /// documentation of `mail_router::config`.
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
            eprintln!("mail-router: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mail-router: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(mail_router::net::run(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mail-router: {e}");
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
