//! `mail-router`: Store-and-forward mail router for post offices, hubs and the bridge gateway
//!
//! Not implemented yet (issue #5). The binary exists so the workspace has
//! its final shape; it refuses to run rather than pretend to work.

use clap::Parser;

/// Store-and-forward mail router for post offices, hubs and the bridge gateway
///
/// NOT IMPLEMENTED YET: this role arrives with issue #5. Running it
/// prints this notice and exits with status 2.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("mail-router: not implemented yet (issue #5); see --help");
    std::process::ExitCode::from(2)
}
