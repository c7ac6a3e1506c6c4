use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netctl::commands;
use wire_format::{Address, Name};

/// Operator CLI for the mail network of patent US 6,298,375: start every role
/// of a topology as its own background process on this machine, inspect it,
/// and stop it.
///
/// The migration commands (migrate, rollback, demo) arrive with issue #6,
/// once the directory and mail roles exist.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Where the network's processes keep their data, logs and configs, and
    /// where later commands find the network that `up` started.
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
    /// ready and prints where each listens (SMTP and POP3 included).
    Up {
        /// The topology file.
        #[arg(default_value = "examples/patent.toml")]
        topology: PathBuf,
    },
    /// Every process: alive or not, and its status report (directory counts,
    /// replication lag, queues). --json: {"network", "processes": [{"id",
    /// "node", "role", "pid", "alive", "endpoints", "smtp", "pop3", "status",
    /// "error"}]}.
    Status,
    /// Stop every process of the network (SIGTERM, then SIGKILL after 10 s).
    Down,
    /// The global address list as post office PO sees it. --json: an array of
    /// {"address", "display_name", "owner", "folder"}.
    Gal {
        /// The post office, e.g. POA.
        po: Name,
    },
    /// Add, change or delete a user of a post office.
    #[command(subcommand)]
    User(UserCommand),
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
        /// The user's POP3 password (kept only by the post office's mail router).
        #[arg(long)]
        password: Option<String>,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let result = match cli.command {
        Command::Up { topology } => {
            commands::up::run(&topology, &cli.data_dir).map(|s| commands::up::print(&s, cli.json))
        }
        Command::Status => commands::status::collect(&cli.data_dir).map(|(state, reports)| {
            if cli.json {
                println!(
                    "{}",
                    commands::status::processes_json(&state, Some(&reports))
                );
            } else {
                commands::status::print(&state, &reports);
            }
        }),
        Command::Down => commands::down::run(&cli.data_dir).map(|stopped| {
            for (id, graceful) in stopped {
                println!("stopped {id}{}", if graceful { "" } else { " (killed)" });
            }
        }),
        Command::Gal { po } => commands::users::gal(&cli.data_dir, &po)
            .map(|e| commands::users::print_gal(&e, cli.json)),
        Command::User(UserCommand::Add {
            po,
            mailbox,
            display_name,
            password,
        }) => address(&cli.data_dir, po, mailbox)
            .and_then(|a| {
                commands::users::add(&cli.data_dir, &a, &display_name, password.as_deref())
                    .map(|()| a)
            })
            .map(|a| println!("added {a}")),
        Command::User(UserCommand::Del { po, mailbox }) => address(&cli.data_dir, po, mailbox)
            .and_then(|a| commands::users::delete(&cli.data_dir, &a).map(|()| a))
            .map(|a| println!("deleted {a}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netctl: {e}");
            ExitCode::FAILURE
        }
    }
}
