//! The operator's requests to a post office's directory.

use std::sync::Arc;
use std::time::Duration;

use dir_core::DirError;
use peer_link::{Connection, LinkError};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};
use wire_format::{Address, AdminOk, Entry, EntryVersion, ErrorCode, GalPage, GalSummary, Message};

use super::{Shared, SyncCommand, now_ms, status};

const PAGE_MAX: usize = 5000;
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

fn error_code(e: &DirError) -> ErrorCode {
    match e {
        DirError::NotFound(_) => ErrorCode::NotFound,
        DirError::Forbidden { .. } => ErrorCode::Forbidden,
        _ => ErrorCode::Internal,
    }
}

/// A local user's address must be of this network and of a post office this
/// requestor owns: a post office can change only its own users.
fn check_own(shared: &Shared, address: &Address) -> Result<(), String> {
    let s = &shared.settings;
    if address.network != s.network || !s.post_offices.contains(&address.post_office) {
        return Err(format!("{address} is not a user of {}", s.node));
    }
    Ok(())
}

/// Asks the sync task for a cycle and waits for its answer.
async fn run_cycle(
    shared: &Shared,
    make: impl FnOnce(oneshot::Sender<Result<String, String>>) -> SyncCommand,
) -> Result<String, String> {
    let (tx, rx) = oneshot::channel();
    shared
        .sync
        .send(make(tx))
        .await
        .map_err(|_| "the sync task stopped".to_owned())?;
    match tokio::time::timeout(shared.timeouts.reply * 4, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err("the sync task stopped".into()),
        Err(_) => Err("the cycle did not finish in time".into()),
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
        Message::StatusRequest(_) => match status::report(shared).await {
            Ok(r) => conn.reply(id, r).await,
            Err(e) => {
                conn.reply_error(id, ErrorCode::Internal, e.to_string())
                    .await
            }
        },
        Message::UserUpsert(u) => {
            if let Err(text) = check_own(shared, &u.address) {
                warn!(address = %u.address, "refused a change to another post office's user");
                return conn.reply_error(id, ErrorCode::Forbidden, text).await;
            }
            // The password belongs to the mail router; the directory drops it here.
            let entry = Entry {
                address: u.address.clone(),
                display_name: u.display_name,
                attributes: u.attributes,
                owner: shared.settings.node,
                folder: None,
                origin: shared.settings.node,
                version: EntryVersion {
                    version: 0,
                    changed_at_ms: now_ms(),
                    origin_seq: 0,
                },
                tombstone: false,
            };
            match shared.with_store(move |s| s.upsert_local(entry)).await {
                Ok(seq) => {
                    info!(address = %u.address, seq, "local user committed");
                    let _ = shared.sync.try_send(SyncCommand::Run(None));
                    conn.reply(
                        id,
                        AdminOk {
                            detail: format!("{} stored (change {seq})", u.address),
                        },
                    )
                    .await
                }
                Err(e) => conn.reply_error(id, error_code(&e), e.to_string()).await,
            }
        }
        Message::UserDelete(d) => {
            if let Err(text) = check_own(shared, &d.address) {
                return conn.reply_error(id, ErrorCode::Forbidden, text).await;
            }
            let address = d.address.clone();
            match shared
                .with_store(move |s| s.delete_local(&address, now_ms()))
                .await
            {
                Ok(seq) => {
                    info!(address = %d.address, seq, "local user deleted");
                    let _ = shared.sync.try_send(SyncCommand::Run(None));
                    conn.reply(
                        id,
                        AdminOk {
                            detail: format!("{} deleted (change {seq})", d.address),
                        },
                    )
                    .await
                }
                Err(e) => conn.reply_error(id, error_code(&e), e.to_string()).await,
            }
        }
        Message::SyncNow(_) => match run_cycle(shared, |tx| SyncCommand::Run(Some(tx))).await {
            Ok(detail) => conn.reply(id, AdminOk { detail }).await,
            Err(text) => conn.reply_error(id, ErrorCode::Unavailable, text).await,
        },
        Message::ListGal(list) => {
            let limit = (list.limit as usize).clamp(1, PAGE_MAX);
            let (after, post_office) = (list.after, list.post_office);
            match shared
                .with_store(move |s| s.page(after.as_ref(), limit, post_office.as_ref()))
                .await
            {
                Ok((entries, more)) => {
                    let next = if more {
                        entries.last().map(|e| e.address.clone())
                    } else {
                        None
                    };
                    conn.reply(id, GalPage { entries, next }).await
                }
                Err(e) => {
                    conn.reply_error(id, ErrorCode::Internal, e.to_string())
                        .await
                }
            }
        }
        Message::GalSummaryRequest(_) => match shared.with_store(|s| s.gal_summary()).await {
            Ok(post_offices) => conn.reply(id, GalSummary { post_offices }).await,
            Err(e) => {
                conn.reply_error(id, ErrorCode::Internal, e.to_string())
                    .await
            }
        },
        Message::Repoint(r) => {
            if shared.settings.server(&r.server).is_none() {
                return conn
                    .reply_error(
                        id,
                        ErrorCode::NotFound,
                        format!("no [[servers]] entry (and so no secret) for {}", r.server),
                    )
                    .await;
            }
            let (server, endpoint) = (r.server, r.endpoint.clone());
            if let Err(e) = shared
                .with_store(move |s| s.repoint(&server, &endpoint))
                .await
            {
                return conn
                    .reply_error(id, ErrorCode::Internal, e.to_string())
                    .await;
            }
            info!(server = %r.server, endpoint = %r.endpoint, "re-pointed (step E); a full resync follows");
            // The repoint is durable now; the first cycle with the new server
            // runs at once, and its outcome is the answer.
            match run_cycle(shared, |tx| SyncCommand::Reconnect(Some(tx))).await {
                Ok(detail) => {
                    conn.reply(
                        id,
                        AdminOk {
                            detail: format!(
                                "now syncing with {} at {}: {detail}",
                                r.server, r.endpoint
                            ),
                        },
                    )
                    .await
                }
                Err(text) => {
                    conn.reply(
                        id,
                        AdminOk {
                            detail: format!(
                                "now syncing with {} at {}; first cycle failed ({text}), retrying",
                                r.server, r.endpoint
                            ),
                        },
                    )
                    .await
                }
            }
        }
        other => {
            let kind = other.message_type().name();
            conn.reply_error(
                id,
                ErrorCode::UnexpectedMessage,
                format!("a DS requestor does not take {kind}"),
            )
            .await
        }
    }
}
