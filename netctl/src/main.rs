use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netctl::commands;
use wire_format::{Address, Name};

/// Operator CLI for the mail network of patent US 6,298,375: start every role
/// of a topology as its own background process on this machine, inspect it,
/// and stop it.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Where the network's processes keep their data, logs and configs, and
    /// where later commands find the network that `up` started. `up`,
    /// `down`, `migrate` and `rollback` lock it while they run: a second one
    /// is refused at once, naming the one running.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "./netctl-data"
    )]
    data_dir: PathBuf,
    /// Machine-readable output (documented in each command's help).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start every process of TOPOLOGY in the background; returns when all are
    /// ready and prints where each listens (SMTP and POP3 included). A data
    /// directory started before gets the same ports again (DATA_DIR/ports.toml).
    /// Post offices serve TLS with certificates from the network CA,
    /// DATA_DIR/tls/ca.pem (made once, kept), or the topology's own
    /// tls_cert/tls_key; they take no password in clear.
    Up {
        /// The topology file.
        #[arg(default_value = "examples/patent.toml")]
        topology: PathBuf,
    },
    /// The network on one screen: a first line of counts, then one line per
    /// process and per link (dirsync, replication, mail next hop), worst
    /// first, with lag, queues, last success ("3 s ago"), consecutive
    /// failures and the last error. --errors-only, --verbose (every status
    /// key); --json is described at the end of `netctl status --help`.
    Status(commands::status::StatusArgs),
    /// What each process did lately: dirsync cycles, replication sessions,
    /// migration steps; newest first.
    History(commands::history::HistoryArgs),
    /// Serve a live web page of the network on loopback; the first line
    /// printed is `dashboard http://HOST:PORT/`.
    Dashboard(commands::dashboard::DashboardArgs),
    /// Follow a migration started elsewhere (another terminal or a script)
    /// until it ends.
    Watch(commands::watch::WatchArgs),
    /// Stop every process of the network (SIGTERM, then SIGKILL after 10 s).
    Down,
    /// The global address list as post office PO sees it. --json: an array of
    /// {"address", "display_name", "owner", "folder"}.
    Gal {
        /// The post office, e.g. POA.
        po: Name,
        /// Only the users of this post office (the filter runs in the
        /// process, so a large GAL is not carried over the wire).
        #[arg(long, value_name = "OWNER")]
        of: Option<Name>,
    },
    /// Add, change or delete a user of a post office.
    #[command(subcommand)]
    User(UserCommand),
    /// Move post offices to HUB through the patent's steps A-G, in one wave:
    /// prints the plan, runs each step and checks that it took effect, then
    /// verifies every GAL and sends a test mail each way. Journaled in
    /// DATA_DIR/migration.toml until the verification passes: if netctl or
    /// any process is killed, or the verification fails, run the same command
    /// again and it resumes (dead processes are restarted).
    /// --json: {"moved", "to", "resumed", "steps": [{"step", "ms"}],
    /// "gals_complete_ms", "test_mails": [{"from", "to", "ms"}], "total_ms"}.
    Migrate {
        /// The post offices to move, e.g. POC (or POA POB for a wave of two).
        #[arg(required = true)]
        post_offices: Vec<Name>,
        /// The hub they move to, e.g. H2.
        #[arg(long, value_name = "HUB")]
        to: Name,
        #[command(flatten)]
        migration: MigrationFlags,
    },
    /// The whole story: `up` on the built-in example topology in a temporary
    /// directory, mail traffic and directory changes running throughout,
    /// migrate POC to H2 by the patent's method, roll it back, migrate it by
    /// the handover method, verify, print a report (steps and their
    /// durations; mails sent, delivered, lost, duplicated; each method's GAL
    /// gap), `down`. Exits non-zero if a mail was lost or duplicated. The
    /// role binaries must sit beside netctl (`cargo build --release`).
    Demo {
        /// Mails per second during the run.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Seconds of traffic before the migration starts.
        #[arg(long, default_value_t = 3, value_name = "SECONDS")]
        warm_up: u64,
        /// How the users move.
        #[arg(long, value_enum, default_value_t = MethodArg::Handover)]
        method: MethodArg,
        /// Keep the temporary data directory (logs, stores) afterwards.
        #[arg(long)]
        keep: bool,
        /// Skip the comparison: by default POC first moves by the patent's
        /// method and back, so the report shows both methods' GAL gaps.
        #[arg(long)]
        no_compare: bool,
    },
    /// Move a migrated post office back to the hub the topology puts it on,
    /// the same careful way (steps A-G in the other direction).
    Rollback {
        /// The post office, e.g. POC.
        po: Name,
        #[command(flatten)]
        migration: MigrationFlags,
    },
}

#[derive(clap::Args)]
struct MigrationFlags {
    /// How the users move: `patent` (steps A-G as the patent gives them; the
    /// old network does not see the users between steps C and G) or
    /// `handover` (H hands them to the bridge instead of deleting them; no
    /// post office ever loses sight of a user; to the new hub only; a
    /// rollback always deletes and re-imports, the patent's way).
    #[arg(long, value_enum, default_value_t = MethodArg::Handover)]
    method: MethodArg,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Seconds one step may take before the wave stops (it can be resumed).
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    step_timeout: u64,
    /// Seconds the final verification may take.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    verify_timeout: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MethodArg {
    Patent,
    Handover,
}

impl MethodArg {
    fn method(self) -> netctl::migrate::journal::Method {
        match self {
            MethodArg::Patent => netctl::migrate::journal::Method::Patent,
            MethodArg::Handover => netctl::migrate::journal::Method::Handover,
        }
    }
}

impl MigrationFlags {
    fn args<'a>(
        &self,
        post_offices: &'a [Name],
        to: Option<Name>,
        json: bool,
    ) -> commands::migrate::MigrateArgs<'a> {
        commands::migrate::MigrateArgs {
            post_offices,
            to,
            method: self.method.method(),
            dry_run: self.dry_run,
            step_timeout: std::time::Duration::from_secs(self.step_timeout),
            verify_timeout: std::time::Duration::from_secs(self.verify_timeout),
            json,
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add (or change) MAILBOX at post office PO.
    Add {
        /// The post office, e.g. POA.
        po: Name,
        /// The mailbox name, e.g. JSMITH (ACME/POA/JSMITH; jsmith@poa.acme).
        mailbox: Name,
        /// As shown in every GAL, e.g. "John Smith".
        display_name: String,
        #[command(flatten)]
        password: commands::users::PasswordArgs,
    },
    /// Delete MAILBOX from post office PO.
    Del {
        /// The post office, e.g. POA.
        po: Name,
        /// The mailbox name, e.g. JSMITH.
        mailbox: Name,
    },
}

fn address(
    data_dir: &std::path::Path,
    po: Name,
    mailbox: Name,
) -> Result<Address, netctl::NetctlError> {
    let state = netctl::state::NetworkState::load(data_dir)?;
    let network = Name::new(&state.network).map_err(|e| netctl::NetctlError::BadState {
        path: data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Address::new(network, po, mailbox))
}

fn name(s: &'static str) -> Name {
    Name::new(s).unwrap_or_else(|_| unreachable!("a valid constant name"))
}

/// How a command that changes the network is named in the data directory's
/// lock; `None` for the commands that only read or ask the processes.
fn locked_command(command: &Command) -> Option<String> {
    let names = |pos: &[Name]| {
        pos.iter()
            .map(Name::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    match command {
        Command::Up { topology } => Some(format!("up {}", topology.display())),
        Command::Down => Some("down".into()),
        Command::Migrate {
            post_offices, to, ..
        } => Some(format!("migrate {} --to {to}", names(post_offices))),
        Command::Rollback { po, .. } => Some(format!("rollback {po}")),
        Command::Status(_)
        | Command::History(_)
        | Command::Dashboard(_)
        | Command::Watch(_)
        | Command::Gal { .. }
        | Command::User(_)
        | Command::Demo { .. } => None,
    }
}

/// `netctl gal POA | head -1`: once the reader is gone, end as every Unix
/// filter does (killed by SIGPIPE, nothing on stderr) rather than panic in
/// `println!`. Sockets are unaffected: Rust writes to them with
/// MSG_NOSIGNAL and still sees EPIPE as an error.
fn quiet_on_closed_pipe() {
    // SAFETY: called first thing in main, before any thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    role_runtime::process::private_files();
    role_runtime::process::init_logging("warn");
    // Absolute once, here: every path `up` writes into network.toml and the
    // configs derives from it, and later commands (restarting a process from
    // another working directory) must find the same files.
    let data_dir = match std::path::absolute(&cli.data_dir) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("netctl: --data-dir {}: {e}", cli.data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    // Held until netctl exits: the commands that change the network's files.
    let _lock = match locked_command(&cli.command) {
        Some(what) => match netctl::lock::acquire(&data_dir, &what) {
            Ok(lock) => Some(lock),
            Err(e) => {
                eprintln!("netctl: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let result = match cli.command {
        Command::Up { topology } => {
            commands::up::run(&topology, &data_dir).map(|s| commands::up::print(&s, cli.json))
        }
        Command::Status(args) => commands::status::run(&data_dir, cli.json, &args),
        Command::History(args) => commands::history::run(&data_dir, cli.json, &args),
        Command::Dashboard(args) => commands::dashboard::run(&data_dir, cli.json, &args),
        Command::Watch(args) => commands::watch::run(&data_dir, cli.json, &args),
        Command::Down => commands::down::run(&data_dir).map(|stopped| {
            for (id, graceful) in stopped {
                println!("stopped {id}{}", if graceful { "" } else { " (killed)" });
            }
        }),
        Command::Gal { po, of } => commands::users::gal(&data_dir, &po, of)
            .map(|e| commands::users::print_gal(&e, cli.json)),
        Command::User(UserCommand::Add {
            po,
            mailbox,
            display_name,
            password,
        }) => address(&data_dir, po, mailbox)
            .and_then(|a| {
                let password = password.read()?;
                commands::users::add(&data_dir, &a, &display_name, password.as_deref()).map(|()| a)
            })
            .map(|a| println!("added {a}")),
        Command::User(UserCommand::Del { po, mailbox }) => address(&data_dir, po, mailbox)
            .and_then(|a| commands::users::delete(&data_dir, &a).map(|()| a))
            .map(|a| println!("deleted {a}")),
        Command::Migrate {
            post_offices,
            to,
            migration,
        } => commands::migrate::migrate(
            &data_dir,
            &migration.args(&post_offices, Some(to), cli.json),
        ),
        Command::Demo {
            rate,
            warm_up,
            method,
            keep,
            no_compare,
        } => netctl::demo::run(&netctl::demo::DemoOptions {
            post_offices: vec![name("POC")],
            to: name("H2"),
            method: method.method(),
            compare: !no_compare,
            rate,
            warm_up: std::time::Duration::from_secs(warm_up),
            drain: std::time::Duration::from_secs(120),
            keep,
        })
        .and_then(|report| {
            netctl::demo::print(&report);
            if report.lost.is_empty() && report.duplicated.is_empty() {
                Ok(())
            } else {
                Err(netctl::NetctlError::Verification(format!(
                    "{} mails lost and {} duplicated",
                    report.lost.len(),
                    report.duplicated.len()
                )))
            }
        }),
        Command::Rollback { po, migration } => {
            commands::migrate::rollback(&data_dir, po, &migration.args(&[], None, cli.json))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netctl: {e}");
            ExitCode::FAILURE
        }
    }
}
