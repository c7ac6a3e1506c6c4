//! The `mail-router` binary: what `--help` says, and how the shared shell
//! loads and runs it.

use std::path::Path;

use role_runtime::RoleProcess;
use role_runtime::process::Serving;
use role_runtime::server::Shutdown;

use crate::{MailError, Settings};

pub struct MailRouter;

impl RoleProcess for MailRouter {
    const NAME: &'static str = "mail-router";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ABOUT: &'static str = "\
The mail transfer role of a node of the network: a post office (users' \
mailboxes, SMTP submission, POP3 collection, everything else to its hub), a \
hub (H, H2: routes by destination post office) or the gateway (H3: relays \
between the two hubs).

Store-and-forward with custody transfer: a message is acknowledged to the \
sender (SMTP 250, or a MailAck to a peer router) only after it is on disk \
here; a resent message is stored once; a message that passes too many routers \
or cannot be delivered is returned to its sender.

On start it prints `listening wire <addr>` (and for a post office `listening \
smtp <addr>`, `listening pop3 <addr>`), then `ready`, on stdout; logs go to \
stderr (filter with RUST_LOG). Each listener serves at most its [limits] cap \
of connections; one more is told why (SMTP 421, POP3 -ERR, a wire error \
frame) and closed. SIGTERM or Ctrl-C drains it: no new connections, a message \
being sent is taken in full and acknowledged, sessions between commands are \
told 421 / -ERR, then it exits (within limits.drain_ms; a second signal exits \
at once).";
    const CONFIG_HELP: &'static str = "The TOML configuration: node, network, mode (post-office, \
hub, gateway), data_dir, listen, smtp_listen, pop3_listen, pop3s_listen, \
smtps_listen, submission_listen, tls_cert, tls_key, pop3_allow_plaintext, \
trusted_networks (SMTP clients that may send to other post offices without \
AUTH), operator_secret, \
hub, max_hops, expiry_secs, seen_retention_secs (how long a message id is \
remembered so a re-sent copy is stored once; at least expiry_secs, default a \
week), max_message_bytes, cache_mib (memory for the store's page cache, \
default 64), [[peers]] (name, secret, endpoint), [routes] (post office = next \
hop), [[users]] (mailbox, password), [limits] (connection caps per listener, \
drain bound). See the documentation of `mail_router::config`.";

    type Settings = Settings;
    type Error = MailError;
    const LOAD: fn(&Path) -> Result<Settings, MailError> = Settings::load;
    const RUN: fn(Settings, Shutdown) -> Serving<MailError> =
        |settings, shutdown| Box::pin(crate::net::run(settings, shutdown));
    // A store that failed is reopened in place (see `store::health`).
    const REOPENS_STORES: bool = true;
}
