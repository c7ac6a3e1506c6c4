//! The dirsync exchange on the server side: uploads and pulls.

use std::sync::Arc;

use dir_core::DirError;
use dir_core::server::{PullEvent, plan_pull};
use peer_link::{Connection, LinkError};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use wire_format::{
    DirPull, DirPullEnd, DirPullStart, DirUpdates, DirUpload, DirUploadAck, ErrorCode,
};

use super::{Shared, now_ms};

pub async fn upload(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    upload: DirUpload,
) -> Result<(), LinkError> {
    let peer = conn.peer().name;
    let Some(registered) = shared.settings.requestor(&peer) else {
        return conn
            .reply_error(id, ErrorCode::Forbidden, "not a registered requestor")
            .await;
    };
    let count = upload.changes.len();
    let admitted = match shared.admit_upload(registered, upload.changes) {
        Ok(admitted) => admitted,
        Err(e) => {
            // Refused whole and logged: nothing of this upload is applied.
            warn!(%peer, error = %e, "refused an upload that writes another post office");
            shared.seen(&peer, |s| s.refused_writes += 1);
            return conn
                .reply_error(id, ErrorCode::Forbidden, e.to_string())
                .await;
        }
    };
    if admitted.skipped > 0 {
        warn!(%peer, skipped = admitted.skipped, "bridge changes of post offices it no longer owns skipped");
        shared.seen(&peer, |s| s.refused_writes += admitted.skipped);
    }
    let result = super::ownership::apply_admitted(shared, peer, admitted).await;
    match result {
        Ok(outcome) => {
            if outcome.applied > 0 {
                shared.high_water.send_replace(outcome.high_water);
                info!(%peer, count, applied = outcome.applied, skipped = outcome.skipped, high_water = outcome.high_water, "upload committed");
            }
            // The ack goes out only now, after the commit.
            conn.reply(
                id,
                DirUploadAck {
                    applied_through: outcome.applied_through,
                },
            )
            .await
        }
        Err(e) => {
            warn!(%peer, error = %e, "upload failed");
            conn.reply_error(id, ErrorCode::Internal, e.to_string())
                .await
        }
    }
}

pub async fn serve_pull(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    pull: DirPull,
) -> Result<(), LinkError> {
    let peer = conn.peer().name;
    let Some(registered) = shared.settings.requestor(&peer) else {
        return conn
            .reply_error(id, ErrorCode::Forbidden, "not a registered requestor")
            .await;
    };
    let policy = shared.pull_filter(registered);
    let epoch = shared.store.epoch();
    let bounds = shared
        .with_store(|s| Ok((s.floor()?, s.high_water()?)))
        .await;
    let (floor, hw_now) = match bounds {
        Ok(b) => b,
        Err(e) => {
            return conn
                .reply_error(id, ErrorCode::Internal, e.to_string())
                .await;
        }
    };
    let plan = plan_pull(&pull, epoch, floor, hw_now);
    let chunk = shared.settings.chunk;
    // The store streams from one snapshot on a blocking thread; a small
    // channel keeps at most a few chunks in memory whatever the directory size.
    let (tx, mut rx) = mpsc::channel::<PullEvent>(4);
    let store_shared = Arc::clone(shared);
    let producer = tokio::task::spawn_blocking(move || {
        store_shared
            .store
            .pull(plan, chunk, &|e| policy.receives(e), &mut |event| {
                tx.blocking_send(event)
                    .map_err(|_| DirError::Task("the connection went away".into()))
            })
    });
    while let Some(event) = rx.recv().await {
        let sent = match event {
            PullEvent::Start { high_water } => {
                conn.reply(
                    id,
                    DirPullStart {
                        epoch,
                        full: plan.full,
                        high_water,
                    },
                )
                .await
            }
            PullEvent::Updates(updates) => conn.reply(id, DirUpdates { updates }).await,
        };
        if let Err(e) = sent {
            // Dropping the receiver stops the producer at its next chunk.
            drop(rx);
            let _ = producer.await;
            return Err(e);
        }
    }
    match producer.await {
        Ok(Ok(summary)) => {
            shared.seen(&peer, |s| {
                s.pulled_after = pull.after;
                s.served_high_water = summary.high_water;
                s.last_pull_ms = now_ms();
            });
            debug!(%peer, full = plan.full, after = plan.after, sent = summary.sent, high_water = summary.high_water, "served a pull");
            conn.reply(
                id,
                DirPullEnd {
                    epoch,
                    high_water: summary.high_water,
                    sent: summary.sent,
                },
            )
            .await
        }
        Ok(Err(e)) => {
            conn.reply_error(id, ErrorCode::Internal, e.to_string())
                .await
        }
        Err(e) => {
            conn.reply_error(id, ErrorCode::Internal, e.to_string())
                .await
        }
    }
}
