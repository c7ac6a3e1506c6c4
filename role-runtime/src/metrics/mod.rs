//! The metrics and health listener every role starts once, beside its
//! others: HTTP/1.1 on `metrics_listen` (loopback by default), announced as
//! `listening metrics HOST:PORT` before `ready`, serving
//!
//! * `GET /metrics`: Prometheus text format (0.0.4), the role's status
//!   report mapped by one table ([`table::TABLE`]; every name is in
//!   `docs/METRICS.md`);
//! * `GET /health/live`: 200 while the process serves;
//! * `GET /health/ready`: 200 when serving and caught up within
//!   `ready_lag_seconds`, else 503 and the reason on one line (the rule is
//!   in [`health`]).
//!
//! The values are the role's own `RequestHandler::status()`, read at each
//! request: the role passes a handle of its wire handler to [`serve`], so
//! nothing new is kept up to date in the roles, and `netctl status` and a
//! scrape read the same numbers. The listener is a [`Listener`] like the
//! others: capped in connections, each connection bounded in time, closed
//! at the drain.

mod encode;
mod health;
mod http;
pub mod table;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use encode::{Facts, Sample, Snapshot, Value, render};
pub use health::readiness;

use crate::RuntimeError;
use crate::server::{Listener, RequestHandler, Shutdown};

/// Metrics connections served at once; one more is answered 503 and
/// closed. A scraper or two and an operator's curl need few.
pub const METRICS_CONNECTIONS: usize = 16;

/// How the listener is set up: the config's keys and the binary's name.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    /// `metrics_listen` (`host:port`, port 0 for any free one).
    pub listen: String,
    /// `ready_lag_seconds`: how far behind a process may be and be ready.
    pub ready_lag_seconds: u64,
    /// For `mhub_build_info`.
    pub binary: &'static str,
    pub version: &'static str,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            listen: crate::config::DEFAULT_METRICS_LISTEN.to_owned(),
            ready_lag_seconds: crate::config::DEFAULT_READY_LAG_SECONDS,
            binary: "mhub",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Set once by [`crate::process::main`] from the config file's common
/// keys: each role's `Settings` keeps only its own keys, and the metrics
/// keys are the shell's, like the process itself.
static SETTINGS: OnceLock<MetricsSettings> = OnceLock::new();

/// Records the settings [`serve`] uses; the first call wins.
pub fn configure(settings: MetricsSettings) {
    let _ = SETTINGS.set(settings);
}

/// Binds the metrics listener, announces it (`listening metrics ADDR`) and
/// serves it until the drain, with `status` (a handle of the role's wire
/// handler) as the source of every value. Call it before
/// [`crate::process::ready`].
pub async fn serve<H: RequestHandler>(
    status: H,
    shutdown: &Shutdown,
) -> Result<SocketAddr, RuntimeError> {
    let settings = SETTINGS.get().cloned().unwrap_or_default();
    serve_with(settings, status, shutdown).await
}

/// [`serve`] with explicit settings.
pub async fn serve_with<H: RequestHandler>(
    settings: MetricsSettings,
    status: H,
    shutdown: &Shutdown,
) -> Result<SocketAddr, RuntimeError> {
    let listener = Listener::bind("metrics", &settings.listen, METRICS_CONNECTIONS).await?;
    let local = listener.local_addr();
    listener.announce();
    let endpoint = Arc::new(http::Endpoint::new(status, settings));
    tokio::spawn(watch_stores(Arc::clone(&endpoint), shutdown.clone()));
    tokio::spawn(listener.run(endpoint, shutdown.clone()));
    Ok(local)
}

/// Looks at the stores' faults every second, so that a fault the mail
/// router repairs between two scrapes still counts in
/// `mhub_store_errors_total`.
async fn watch_stores<H: RequestHandler>(endpoint: Arc<http::Endpoint<H>>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                endpoint.store_errors.observe();
            }
            () = shutdown.draining() => return,
        }
    }
}
