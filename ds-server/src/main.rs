//! `ds-server`: MS Mail-style directory synchronization server (the DS server of hubs H and H2)
//!
//! Not implemented yet (issue #3). The binary exists so the workspace has
//! its final shape; it refuses to run rather than pretend to work.

use clap::Parser;

/// MS Mail-style directory synchronization server (the DS server of hubs H and H2)
///
/// NOT IMPLEMENTED YET: this role arrives with issue #3. Running it
/// prints this notice and exits with status 2.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("ds-server: not implemented yet (issue #3); see --help");
    std::process::ExitCode::from(2)
}
