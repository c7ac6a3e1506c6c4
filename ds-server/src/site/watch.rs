//! Keeps the server's high-water watch in step with the site log, so
//! requestors are notified (DirNotify) as soon as anything reaches the site
//! directory: their own folder's neighbours written here, or F1 and other
//! post offices' folders arriving by replication.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use peer_link::Timeouts;
use role_runtime::RETRY;
use site_client::{ReadCursor, SiteClient};
use tokio::sync::watch;
use tracing::{Instrument, debug, info_span, warn};
use wire_format::Role;

use crate::config::SiteSettings;

/// How long one wait for a notification lasts before the connection is
/// checked again with a read.
const WAIT: Duration = Duration::from_secs(20);

pub async fn run(
    site: SiteSettings,
    timeouts: Timeouts,
    epoch: Arc<AtomicU64>,
    high_water: watch::Sender<u64>,
) {
    let span = info_span!("site_watch", endpoint = %site.endpoint);
    async move {
        loop {
            if let Err(e) = follow(&site, timeouts, &epoch, &high_water).await {
                warn!(error = %e, "lost the site replicator; retrying");
            }
            tokio::time::sleep(RETRY).await;
        }
    }
    .instrument(span)
    .await
}

async fn follow(
    site: &SiteSettings,
    timeouts: Timeouts,
    epoch: &AtomicU64,
    high_water: &watch::Sender<u64>,
) -> Result<(), peer_link::LinkError> {
    let mut client = SiteClient::connect(
        &site.endpoint,
        &site.client,
        Role::DsServer,
        site.secret.as_bytes(),
        timeouts,
    )
    .await?;
    loop {
        // A read subscribes this connection to notifications. Reading from
        // the last log end this server knows also tells whether the log
        // grew while nobody was listening (the server's own follower,
        // `keep_site_view_current`, then brings the watch to the exact end).
        let known = *high_water.borrow();
        let cursor = ReadCursor {
            epoch: epoch.load(Ordering::SeqCst),
            usn: known,
        };
        let read = client.read(cursor, 1).await?;
        if read.restarted {
            epoch.store(read.next.epoch, Ordering::SeqCst);
        }
        let end = read.next.usn;
        high_water.send_if_modified(|hw| {
            let grew = end > *hw || read.restarted;
            if grew {
                *hw = end;
            }
            grew
        });
        if let Some(usn) = client.wait_for_change(WAIT).await? {
            debug!(usn, "site log grew");
            high_water.send_if_modified(|hw| {
                let grew = usn > *hw;
                if grew {
                    *hw = usn;
                }
                grew
            });
        }
    }
}
