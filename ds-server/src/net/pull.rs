//! The dirsync exchange on the server side: uploads and pulls.

use std::sync::Arc;

use dir_core::DirError;
use dir_core::server::{Pending, PullEvent, PullRequest, PullSink, StoreEpoch, plan_pull};
use peer_link::{Connection, LinkError};
use role_runtime::history::Run;
use tracing::{debug, info, warn};
use wire_format::{
    DirPull, DirPullEnd, DirPullStart, DirUpdates, DirUpload, DirUploadAck, Entry, ErrorCode,
    HistoryKind,
};

use super::{Shared, now_ms};

/// Applies a requestor's upload and records it in the run history (an
/// empty one, a cycle's ack probe, is only counted there).
pub async fn upload(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    upload: DirUpload,
) -> Result<(), LinkError> {
    let peer = conn.peer().name;
    if shared.settings.requestor(&peer).is_none() {
        return refuse_unregistered(conn, id).await;
    }
    let mut run = Run {
        peer: Some(peer),
        started_ms: now_ms(),
        received: upload.changes.len() as u64,
        ..Run::default()
    };
    for change in &upload.changes {
        run.classify(change);
    }
    let outcome = apply_upload(shared, conn, id, upload, &mut run).await;
    run.ended_ms = now_ms();
    run.refused = run.received.saturating_sub(run.applied);
    shared.history.record(HistoryKind::Upload, run).await;
    outcome
}

async fn apply_upload(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    upload: DirUpload,
    run: &mut Run,
) -> Result<(), LinkError> {
    let peer = conn.peer().name;
    let Some(registered) = shared.settings.requestor(&peer) else {
        return refuse_unregistered(conn, id).await;
    };
    let count = upload.changes.len();
    let admitted = match shared.admit_upload(registered, upload.changes) {
        Ok(admitted) => admitted,
        Err(e) => {
            // Refused whole and logged: nothing of this upload is applied.
            warn!(%peer, error = %e, "refused an upload that writes another post office");
            shared.seen(&peer, |s| s.refused_writes += 1);
            run.error = Some(e.to_string());
            return conn
                .reply_error(id, ErrorCode::Forbidden, e.to_string())
                .await;
        }
    };
    if admitted.skipped > 0 {
        warn!(%peer, skipped = admitted.skipped, "bridge changes of post offices it no longer owns skipped");
        shared.seen(&peer, |s| s.refused_writes += admitted.skipped);
    }
    // The mark counts in one requestor store's numbers: tie it to the
    // store this upload comes from before anything is skipped as a replay.
    let result = async {
        let verdict = shared
            .store
            .note_store_epoch(peer, upload.store_epoch)
            .await?;
        if let StoreEpoch::New { previous } = verdict {
            warn!(%peer, previous_epoch = previous, store_epoch = upload.store_epoch,
                "the requestor's directory store is new (lost, emptied or replaced): its upload mark starts again from 0 (a post office's requestor also takes its users back from this server)");
        }
        super::ownership::apply_admitted(shared, peer, admitted).await
    }
    .await;
    match result {
        Ok(outcome) => {
            run.applied = outcome.applied;
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
            run.error = Some(e.to_string());
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
        return refuse_unregistered(conn, id).await;
    };
    // A bridge owns no users of its own to restore.
    let restore = pull.restore && !registered.bridge;
    let policy = shared.pull_filter(registered, restore);
    let epoch = shared.store.epoch();
    let bounds = async {
        Ok((
            shared.store.floor().await?,
            shared.store.high_water().await?,
        ))
    };
    let (floor, hw_now) = match bounds.await {
        Ok(b) => b,
        Err(e) => return reply_failure(conn, id, e).await,
    };
    let plan = plan_pull(&pull, epoch, floor, hw_now);
    if restore {
        info!(%peer, "restoring a new requestor store: a full pull with its own post offices' users");
    }
    let mut sink = ConnSink {
        conn,
        id,
        epoch,
        full: plan.full,
        failed: None,
    };
    let request = PullRequest {
        plan,
        chunk: shared.settings.chunk,
        receives: Arc::new(move |e: &Entry| policy.receives(e)),
    };
    let pulled = shared.store.pull(request, &mut sink).await;
    if let Some(e) = sink.failed {
        return Err(e);
    }
    match pulled {
        Ok(summary) => {
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
        Err(e) => reply_failure(conn, id, e).await,
    }
}

async fn refuse_unregistered(conn: &mut Connection, id: u32) -> Result<(), LinkError> {
    conn.reply_error(id, ErrorCode::Forbidden, "not a registered requestor")
        .await
}

async fn reply_failure(conn: &mut Connection, id: u32, e: DirError) -> Result<(), LinkError> {
    conn.reply_error(id, ErrorCode::Internal, e.to_string())
        .await
}

/// A pull's events, straight onto the requestor's connection. A failed send
/// is kept to end the connection with: the stream is then out of step.
struct ConnSink<'c> {
    conn: &'c mut Connection,
    id: u32,
    epoch: u64,
    full: bool,
    failed: Option<LinkError>,
}

impl PullSink for ConnSink<'_> {
    fn send(&mut self, event: PullEvent) -> Pending<'_, ()> {
        Box::pin(async move {
            let sent = match event {
                PullEvent::Start { high_water } => {
                    let start = DirPullStart {
                        epoch: self.epoch,
                        full: self.full,
                        high_water,
                    };
                    self.conn.reply(self.id, start).await
                }
                PullEvent::Updates(updates) => {
                    self.conn.reply(self.id, DirUpdates { updates }).await
                }
            };
            sent.map_err(|e| {
                let failure = DirError::Link(e.to_string());
                self.failed = Some(e);
                failure
            })
        })
    }
}
