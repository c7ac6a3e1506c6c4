//! The `ds-server` binary: what `--help` says, and how the shared shell
//! loads and runs it.

use std::path::Path;

use role_runtime::RoleProcess;
use role_runtime::process::Serving;
use role_runtime::server::Shutdown;

use crate::{DirError, Settings};

pub struct DsServer;

impl RoleProcess for DsServer {
    const NAME: &'static str = "ds-server";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ABOUT: &'static str = "\
The DS server of a hub (H, H2 in the patent): keeps the master directory list \
of its post offices (the DS requestors).

Each requestor authenticates with its own secret, uploads its post office's \
changes (refused whole if any names another post office) and pulls the \
updates after its high-water mark, filtered by its export configuration and \
never echoing its own entries. A requestor with a mark from another epoch gets \
a full resync. Connected requestors are notified as soon as updates exist. \
Every change is committed to disk before it is acknowledged.

On start it prints `listening wire <addr>` and then `ready` on stdout; logs go \
to stderr (filter with RUST_LOG, e.g. RUST_LOG=ds_server=debug). At most \
limits.wire_connections connections are served at once; one more gets an \
Unavailable error frame. SIGTERM or Ctrl-C drains it: no new connections, \
each connection's request in hand is finished, then it exits (within \
limits.drain_ms; a second signal exits at once).";
    const CONFIG_HELP: &'static str = "The TOML configuration: node, network, data_dir (the redb \
store), listen (host:port, port 0 for any), operator_secret, chunk (updates \
per frame, default 500), tombstone_lifetime_ms (how long deletes are kept for \
incremental pulls, default 7 days), one [[requestors]] table per post office \
with name, secret, post_offices (whose users it may write, default its name) \
and export (post office patterns it receives, default [\"*\"]), and [limits] \
(connection cap, drain bound). See the documentation of `ds_server::config`.";

    type Settings = Settings;
    type Error = DirError;
    const LOAD: fn(&Path) -> Result<Settings, DirError> = Settings::load;
    const RUN: fn(Settings, Shutdown) -> Serving<DirError> =
        |settings, shutdown| Box::pin(crate::net::run(settings, shutdown));
}
