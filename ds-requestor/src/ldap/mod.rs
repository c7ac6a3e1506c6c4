//! A read-only LDAPv3 address book of the post office's GAL, for mail
//! clients (Thunderbird, Outlook, `ldapsearch`); see docs/LDAP.md.
//!
//! * [`config`]: the `[ldap]` table;
//! * `directory`, `dn`, `schema`, `filter`: the GAL as an LDAP tree, and
//!   how names and filters match in it;
//! * `core`, `search`: a client's session without sockets (bind policy,
//!   search with scope, limits and paging, the root DSE, refused updates);
//! * `codec`, `shell`: ldap3_proto's BER codec, bounded, and the Tokio
//!   loop of a connection (LDAPS, StartTLS, timeouts, the drain);
//! * `snapshot`: the tree rebuilt when the store changes.

mod codec;
pub mod config;
pub mod core;
pub mod directory;
pub mod dn;
mod filter;
mod schema;
mod search;
mod shell;
mod snapshot;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use dir_core::DirError;
use role_runtime::server::{Listener, Shutdown};
use tracing::warn;

pub use config::{LdapConfig, LdapSettings};

use crate::config::dir_error;
use crate::net::Shared;

/// Binds the configured listeners and announces them
/// (`listening ldap HOST:PORT`, `listening ldaps HOST:PORT`), then serves
/// in the background until the drain. Nothing without an `[ldap]` table.
pub async fn start(shared: &Arc<Shared>, shutdown: &Shutdown) -> Result<(), DirError> {
    let Some(settings) = shared.settings.ldap.clone() else {
        return Ok(());
    };
    let network = shared.settings.network;
    let (seen, dir) = shared
        .with_store(move |store| snapshot::load(store, network))
        .await?;
    let snapshot = Arc::new(snapshot::Snapshot::new(dir));
    tokio::spawn(snapshot::keep_fresh(
        Arc::clone(shared),
        Arc::clone(&snapshot),
        seen,
        shutdown.clone(),
    ));
    let tls = match &settings.tls {
        Some(files) => Some(role_runtime::tls::acceptor(files).map_err(dir_error)?),
        None => None,
    };
    let policy = core::Policy {
        bind: settings.policy.clone(),
        size_limit: settings.size_limit,
        time_limit: settings.time_limit,
        starttls: tls.is_some(),
    };
    let listeners = [
        ("ldap", settings.listen.as_deref(), false),
        ("ldaps", settings.ldaps_listen.as_deref(), true),
    ];
    for (service, addr, implicit_tls) in listeners {
        let Some(addr) = addr else { continue };
        let remembered = shared.settings.data_dir.join(format!("{service}.port"));
        let listener = bind(service, addr, settings.connections, &remembered).await?;
        listener.announce();
        let service = shell::LdapService {
            snapshot: Arc::clone(&snapshot),
            policy: policy.clone(),
            tls: tls.clone(),
            implicit_tls,
            idle_timeout: settings.idle_timeout,
        };
        tokio::spawn(listener.run(Arc::new(service), shutdown.clone()));
    }
    Ok(())
}

/// Binds `addr`. Port 0 means any free port, and then the same one again
/// after a restart while it is free: the port is kept in `remembered`
/// (netctl plans no port for these listeners yet, and its clients, like a
/// mail client's address book setting, expect the port to stay).
async fn bind(
    service: &'static str,
    addr: &str,
    cap: usize,
    remembered: &Path,
) -> Result<Listener, DirError> {
    let any_port = addr
        .rsplit_once(':')
        .filter(|(_, port)| *port == "0")
        .map(|(host, _)| host);
    let Some(host) = any_port else {
        return Listener::bind(service, addr, cap).await.map_err(dir_error);
    };
    let last = std::fs::read_to_string(remembered)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok());
    let again = match last {
        Some(port) => Listener::bind(service, &format!("{host}:{port}"), cap)
            .await
            .ok(),
        None => None,
    };
    let listener = match again {
        Some(listener) => listener,
        None => Listener::bind(service, addr, cap)
            .await
            .map_err(dir_error)?,
    };
    let port = listener.local_addr().port();
    if last != Some(port)
        && let Err(e) = std::fs::write(remembered, format!("{port}\n"))
    {
        warn!(file = %remembered.display(), error = %e, "cannot remember the {service} port");
    }
    Ok(listener)
}
