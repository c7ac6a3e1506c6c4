//! The `site-replicator` binary: what `--help` says, and how the shared
//! shell loads and runs it.

use std::path::Path;

use role_runtime::RoleProcess;
use role_runtime::process::Serving;
use role_runtime::server::Shutdown;

use crate::{Settings, SiteError};

pub struct SiteReplicator;

impl RoleProcess for SiteReplicator {
    const NAME: &'static str = "site-replicator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ABOUT: &'static str = "\
The site directory of an Exchange-style site (H2 and H3 in the patent): named \
folders (F1 for the old network, FSn per migrated post office), replicated \
multi-master between the servers of the site.

Every local write is stamped (origin server, sequence number); each server \
pulls its peers' changes after a per-peer mark, skipping what its \
up-to-dateness vector says it has seen, and is notified when a peer has \
something new. Conflicts resolve the same way everywhere (higher version, \
then later time, then greater server name).

On start it prints `listening wire <addr>` and then `ready` on stdout; logs go \
to stderr (filter with RUST_LOG, e.g. RUST_LOG=site_replicator=debug). SIGTERM \
or Ctrl-C drains it: no new connections, each connection's request in hand \
is finished, then it exits (within limits.drain_ms; a second signal exits at \
once).";
    const CONFIG_HELP: &'static str = "The TOML configuration: node, network, data_dir, listen, \
operator_secret, pull_interval_ms, tombstone_lifetime_secs, max_chunk, \
[[peers]] (name, secret, endpoint), [[clients]] (name, secret, folders) and \
[limits] (connection caps, drain bound). See the documentation of \
`site_replicator::config`.";

    type Settings = Settings;
    type Error = SiteError;
    const LOAD: fn(&Path) -> Result<Settings, SiteError> = Settings::load;
    const RUN: fn(Settings, Shutdown) -> Serving<SiteError> =
        |settings, shutdown| Box::pin(crate::net::run(settings, shutdown));
}
