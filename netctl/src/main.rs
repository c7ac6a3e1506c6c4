//! `netctl`: Operator CLI: start a network from a topology file and migrate post offices
//!
//! Not implemented yet (issue #6). The binary exists so the workspace has
//! its final shape; it refuses to run rather than pretend to work.

use clap::Parser;

/// Operator CLI: start a network from a topology file and migrate post offices
///
/// NOT IMPLEMENTED YET: this role arrives with issue #6. Running it
/// prints this notice and exits with status 2.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("netctl: not implemented yet (issue #6); see --help");
    std::process::ExitCode::from(2)
}
