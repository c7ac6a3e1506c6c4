//! `site-replicator`: Exchange-style multi-master site directory replicator (H2 and H3)
//!
//! Not implemented yet (issue #4). The binary exists so the workspace has
//! its final shape; it refuses to run rather than pretend to work.

use clap::Parser;

/// Exchange-style multi-master site directory replicator (H2 and H3)
///
/// NOT IMPLEMENTED YET: this role arrives with issue #4. Running it
/// prints this notice and exits with status 2.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!("site-replicator: not implemented yet (issue #4); see --help");
    std::process::ExitCode::from(2)
}
