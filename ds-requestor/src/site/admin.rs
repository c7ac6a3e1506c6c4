//! The operator's requests to the bridge requestor: status and SyncNow. Its
//! users are not managed here (they are post offices' users, written at
//! their post offices), and its directory is read at the site replicator.
//!
//! Status keys (counts unless marked): `mode` (text, `site`), `server`
//! (text), `server_epoch`, `high_water` (the server's update number applied
//! here), `acked`, `out_seq`, `pending`, `entries.imported` (what this
//! bridge keeps in the import folder), `entries.exported` (what it sent up
//! from the export folders), `site_usn` (the site log read so far),
//! `resync_active`, `connected` (flags), `cycles`, `failures`,
//! `last_cycle_ms`, `last_success_ms`, `last_duration_ms`, `last_uploaded`,
//! `last_applied`, `last_full` (flag), `last_error` (text).

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError};
use tokio::sync::oneshot;
use tracing::{debug, warn};
use wire_format::{AdminOk, ErrorCode, Message, Role, StatusItem, StatusReport, StatusValue};

use super::Shared;

const IDLE: Duration = Duration::from_secs(600);

pub async fn serve(shared: Arc<Shared>, mut conn: Connection) {
    loop {
        let frame = match conn.recv(IDLE).await {
            Ok(f) => f,
            Err(LinkError::Closed | LinkError::Timeout { .. }) => return,
            Err(e) => {
                warn!(error = %e, "bad frame; closing the connection");
                conn.close_with_error(0, &e).await;
                return;
            }
        };
        let id = frame.request_id;
        if let Err(e) = handle(&shared, &mut conn, id, frame.message).await {
            debug!(error = %e, "connection ended");
            return;
        }
    }
}

async fn handle(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    message: Message,
) -> Result<(), LinkError> {
    match message {
        Message::Ping(p) => conn.reply(id, wire_format::Pong { token: p.token }).await,
        Message::StatusRequest(_) => match report(shared).await {
            Ok(r) => conn.reply(id, r).await,
            Err(e) => {
                conn.reply_error(id, ErrorCode::Internal, e.to_string())
                    .await
            }
        },
        Message::SyncNow(_) => {
            let (tx, rx) = oneshot::channel();
            if shared.sync.send(tx).await.is_err() {
                return conn
                    .reply_error(id, ErrorCode::Unavailable, "the sync task stopped")
                    .await;
            }
            match tokio::time::timeout(shared.timeouts.reply * 4, rx).await {
                Ok(Ok(Ok(detail))) => conn.reply(id, AdminOk { detail }).await,
                Ok(Ok(Err(e))) => conn.reply_error(id, ErrorCode::Unavailable, e).await,
                _ => {
                    conn.reply_error(id, ErrorCode::Unavailable, "the cycle did not finish")
                        .await
                }
            }
        }
        other => {
            let kind = other.message_type().name();
            conn.reply_error(
                id,
                ErrorCode::UnexpectedMessage,
                format!("the bridge requestor does not take {kind}; its directory is at the site replicator"),
            )
            .await
        }
    }
}

async fn report(shared: &Arc<Shared>) -> Result<StatusReport, dir_core::DirError> {
    let (state, counts) = shared.with_store(|s| Ok((s.state()?, s.counts()?))).await?;
    let info = shared.info.lock().map(|i| i.clone()).unwrap_or_default();
    let count = |k: &str, v: u64| StatusItem {
        key: k.to_owned(),
        value: StatusValue::Count(v),
    };
    let flag = |k: &str, v: bool| StatusItem {
        key: k.to_owned(),
        value: StatusValue::Flag(v),
    };
    let text = |k: &str, v: String| StatusItem {
        key: k.to_owned(),
        value: StatusValue::Text(v),
    };
    let items = vec![
        text("mode", "site".into()),
        text("server", shared.settings.server.to_string()),
        count("server_epoch", state.server_epoch),
        count("high_water", state.server_mark),
        count("acked", state.acked),
        count("out_seq", state.out_seq),
        count("pending", counts.pending),
        count("entries.imported", counts.imported),
        count("entries.exported", counts.exported),
        count("site_usn", state.site.usn),
        flag("resync_active", state.resync_active),
        flag("connected", info.connected),
        count("cycles", info.cycles),
        count("failures", info.failures),
        count("last_cycle_ms", info.last_cycle_ms),
        count("last_success_ms", info.last_success_ms),
        count("last_duration_ms", info.last_duration_ms),
        count("last_uploaded", info.last_uploaded),
        count("last_applied", info.last_applied),
        flag("last_full", info.last_full),
        text("last_error", info.last_error),
    ];
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::Requestor,
        items,
    })
}
