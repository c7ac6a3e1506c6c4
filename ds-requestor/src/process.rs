//! The `ds-requestor` binary: what `--help` says, and how the shared shell
//! loads and runs it.

use std::path::Path;

use role_runtime::RoleProcess;
use role_runtime::process::Serving;
use role_runtime::server::Shutdown;

use crate::{DirError, Settings};

pub struct DsRequestor;

impl RoleProcess for DsRequestor {
    const NAME: &'static str = "ds-requestor";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ABOUT: &'static str = "\
The DS requestor of a post office: owns the post office's users and keeps its \
global address list (GAL) in step with its DS server. With a [site] table it \
is the bridge H3's requestor towards the old hub: H's directory goes into the \
site directory's import folder F1, and the FS folders go up to H.

Local users are added, changed and deleted by the operator (UserUpsert, \
UserDelete over the wire protocol, e.g. with netctl). Each sync cycle uploads \
the local changes not yet acknowledged (a replay after a crash duplicates \
nothing), then pulls the server's updates after its high-water mark and \
applies them. Cycles run every interval_ms, on SyncNow, after a local change, \
and as soon as the server notifies new updates. Repoint switches to another \
configured server and resyncs in full.

On start it prints `listening wire <addr>` and then `ready` on stdout; logs go \
to stderr (filter with RUST_LOG, e.g. RUST_LOG=ds_requestor=debug). SIGTERM or \
Ctrl-C drains it: no new operator connections, the request in hand is \
answered, then it exits (within limits.drain_ms; a second signal exits at \
once). A sync cycle cut short is taken up again at the next start.";
    const CONFIG_HELP: &'static str = "The TOML configuration: node, network, data_dir (the redb \
store), listen (the operator's host:port, port 0 for any), operator_secret, \
server (the server to sync with until a Repoint), interval_ms (scheduled \
cycle, default 60000), post_offices (whose users it owns, default its node \
name), one [[servers]] table per server it may be pointed at (name, endpoint, \
secret), [site] for the bridge, [ldap] for a read-only LDAP address book of \
the GAL (docs/LDAP.md), and [limits] (connection cap, drain bound). \
See the documentation of `ds_requestor::config`.";

    type Settings = Settings;
    type Error = DirError;
    const LOAD: fn(&Path) -> Result<Settings, DirError> = Settings::load;
    const RUN: fn(Settings, Shutdown) -> Serving<DirError> =
        |settings, shutdown| Box::pin(crate::net::run(settings, shutdown));
}
