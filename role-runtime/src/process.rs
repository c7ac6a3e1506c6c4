//! A role's whole `main`: flags, logging, the runtime, signals, the drain
//! and exit codes, so that every binary behaves the same way.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, Command, value_parser};
use tracing::{info, warn};

use crate::Limits;
use crate::server::Shutdown;

/// Exit code for a configuration that cannot be read or is invalid.
pub const EXIT_CONFIG: u8 = 2;

/// One role binary (ds-server, ds-requestor, site-replicator,
/// mail-router): its help text, how it loads its configuration and how it
/// serves.
pub trait RoleProcess {
    /// The binary's name, as in messages (`ds-server: ...`).
    const NAME: &'static str;
    const VERSION: &'static str;
    /// `--help`: what the role does and how it is driven.
    const ABOUT: &'static str;
    /// `--help` for `--config FILE`: where its schema is documented.
    const CONFIG_HELP: &'static str;

    /// Its settings, which carry the `[limits]` every role has.
    type Settings: AsRef<Limits> + Send + 'static;
    type Error: Display + Send + 'static;

    /// Reads and validates `--config FILE`.
    const LOAD: fn(&Path) -> Result<Self::Settings, Self::Error>;
    /// Binds, prints the contract lines (see [`contract_line`]), serves,
    /// and returns once `shutdown` has begun and the role has stopped
    /// taking new work. Sessions it tracked with `shutdown` may still run:
    /// the drain waits for them.
    const RUN: fn(Self::Settings, Shutdown) -> Serving<Self::Error>;
    /// Whether the role reopens a store that failed an I/O operation by
    /// itself (the mail router does). Otherwise the shell restarts the
    /// process once the store's directory takes writes again (see
    /// [`store_recovered`]).
    const REOPENS_STORES: bool = false;
}

/// A role serving: what [`RoleProcess::RUN`] returns.
pub type Serving<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send>>;

/// Runs `R` as this process: the body of its `main`.
/// Everything this process creates from here on (stores, logs, directories)
/// is the owner's only: mailboxes and password hashes are not for every
/// local user, and a file created private never has a moment of being
/// readable, as one chmod-ed afterwards would.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

pub fn main<R: RoleProcess>() -> ExitCode {
    private_files();
    let flags = Command::new(R::NAME)
        .version(R::VERSION)
        .about(R::ABOUT.lines().next().unwrap_or(R::NAME))
        .long_about(R::ABOUT)
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help(R::CONFIG_HELP),
        )
        .get_matches();
    init_logging("info");
    let Some(config) = flags.get_one::<PathBuf>("config") else {
        eprintln!("{}: --config FILE is required", R::NAME);
        return ExitCode::from(EXIT_CONFIG);
    };
    let settings = match (R::LOAD)(config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{}: {e}", R::NAME);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // The metrics keys are the shell's: read from the same file's common
    // keys (the role checked them in LOAD), for `metrics::serve`.
    match crate::config::load(config, |common: crate::CommonConfig| {
        Ok(common.metrics(R::NAME, R::VERSION))
    }) {
        Ok(metrics) => crate::metrics::configure(metrics),
        Err(e) => {
            eprintln!("{}: {e}", R::NAME);
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", R::NAME);
            return ExitCode::FAILURE;
        }
    };
    let drain = settings.as_ref().drain();
    let result = runtime.block_on(serve_until_drained::<R>(settings, drain));
    // Blocking-pool work still running (a store read for a session that
    // the drain gave up on) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(Ending::Stopped) => ExitCode::SUCCESS,
        Ok(Ending::Restart) => restart(R::NAME),
        Err(e) => {
            eprintln!("{}: {e}", R::NAME);
            ExitCode::FAILURE
        }
    }
}

/// Why the role stopped serving without an error.
enum Ending {
    /// SIGTERM or Ctrl-C: exit.
    Stopped,
    /// A store failed and can be written again: start afresh.
    Restart,
}

/// Replaces this process with a fresh run of the same binary and flags:
/// same pid (so whoever started it still finds it), same config, every store
/// opened anew (redb latches an I/O error until its file is reopened). Every
/// file and socket was opened close-on-exec, so nothing is held twice.
fn restart(name: &str) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .exec(),
        Err(e) => e,
    };
    eprintln!("{name}: cannot restart itself to reopen its store: {error}");
    ExitCode::FAILURE
}

/// Resolves once a store of this process has failed an I/O operation and
/// the directory of every store that has takes a write again (a full disk
/// freed). Checked every 2 s, so a disk that stays full costs one small
/// write attempt per check.
async fn store_recovered() {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let faults = store_file::faults();
        if faults.is_empty() {
            continue;
        }
        let writable = tokio::task::spawn_blocking(move || {
            faults
                .iter()
                .all(store_file::takes_writes_again)
                .then_some(faults)
        })
        .await
        .ok()
        .flatten();
        if let Some(faults) = writable {
            for fault in faults {
                warn!(%fault, "the store's directory takes writes again: restarting to reopen it");
            }
            return;
        }
    }
}

async fn serve_until_drained<R: RoleProcess>(
    settings: R::Settings,
    drain: Duration,
) -> Result<Ending, R::Error> {
    let shutdown = Shutdown::new();
    let serving = (R::RUN)(settings, shutdown.clone());
    tokio::pin!(serving);
    let ending = tokio::select! {
        ended = &mut serving => {
            // The role stopped by itself (a failure): nothing to drain for.
            shutdown.begin();
            return ended.map(|()| Ending::Stopped);
        }
        () = termination() => Ending::Stopped,
        () = store_recovered(), if !R::REOPENS_STORES => Ending::Restart,
    };
    // Counted before the listeners stop: the sessions the drain must end.
    let sessions = shutdown.in_flight();
    shutdown.begin();
    info!(
        sessions,
        bound_ms = drain.as_millis() as u64,
        "shutting down: draining sessions"
    );
    let drained = async {
        let ended = serving.await;
        shutdown.finished().await;
        ended
    };
    tokio::select! {
        ended = tokio::time::timeout(drain, drained) => match ended {
            Ok(ended) => {
                info!("drained; exiting");
                ended.map(|()| ending)
            }
            Err(_) => {
                warn!(open = shutdown.in_flight(), "the drain bound passed; exiting with sessions still open");
                Ok(ending)
            }
        },
        () = termination() => {
            warn!(open = shutdown.in_flight(), "a signal: exiting without waiting");
            Ok(Ending::Stopped)
        }
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn termination() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (else `default`, e.g. `info`),
/// coloured only for a person at a terminal, never in log files.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .try_init();
}

/// Prints one line of the process contract on stdout (`listening <service>
/// <host:port>`, then `ready`) and flushes it at once: netctl and the tests
/// wait for these lines to find a process started on port 0.
pub fn contract_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The `ready` line: every listener is announced and the role serves.
pub fn ready() {
    contract_line("ready");
}
