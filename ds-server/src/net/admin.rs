//! What the operator may ask of a DS server.

use std::sync::Arc;

use dir_core::server::PageQuery;
use peer_link::{Connection, LinkError};
use tracing::info;
use wire_format::{AdminOk, ErrorCode, GalPage, Message, Name};

use super::Shared;
use crate::config::Registered;

const PAGE_MAX: usize = 5000;

/// The requestor a post office names: the one of that name, else one
/// registered for it that is not the bridge.
fn requestor_for<'s>(shared: &'s Shared, post_office: &Name) -> Option<&'s Registered> {
    let all = &shared.settings.requestors;
    all.iter()
        .find(|x| x.policy.name == *post_office)
        .or_else(|| {
            all.iter()
                .find(|x| !x.bridge && x.policy.post_offices.contains(post_office))
        })
}

pub async fn handle(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    message: Message,
) -> Result<(), LinkError> {
    match message {
        Message::ListGal(list) => {
            let limit = (list.limit as usize).clamp(1, PAGE_MAX);
            let query = PageQuery {
                after: list.after,
                limit,
                post_office: list.post_office,
            };
            match shared.store.page(query).await {
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
        Message::RemoveRequestor(r) => set_removed(shared, conn, id, &r.post_office, true).await,
        Message::RestoreRequestor(r) => set_removed(shared, conn, id, &r.post_office, false).await,
        Message::PurgePostOffice(p) => {
            let (po, by) = (p.post_office, shared.settings.node);
            match shared
                .store
                .purge_post_office(po, by, super::now_ms())
                .await
            {
                Ok((deleted, high_water)) => {
                    shared.high_water.send_replace(high_water);
                    info!(post_office = %po, deleted, "post office purged (step C)");
                    conn.reply(
                        id,
                        AdminOk {
                            detail: format!("{deleted} entries of {po} deleted"),
                        },
                    )
                    .await
                }
                Err(e) => {
                    conn.reply_error(id, ErrorCode::Internal, e.to_string())
                        .await
                }
            }
        }
        Message::SyncNow(_) => {
            // The server has no cycle of its own: requestors pull from it.
            conn.reply(
                id,
                AdminOk {
                    detail: "a DS server serves requestors' cycles; nothing to run".into(),
                },
            )
            .await
        }
        other => conn.reply_not_taken(id, "a DS server", &other).await,
    }
}

/// Removes (step B of a migration) or restores (its rollback) the requestor
/// `post_office` names: recorded in the store, then refused at once.
async fn set_removed(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    post_office: &Name,
    remove: bool,
) -> Result<(), LinkError> {
    let Some(registered) = requestor_for(shared, post_office) else {
        return conn
            .reply_error(
                id,
                ErrorCode::NotFound,
                format!("no requestor for {post_office}"),
            )
            .await;
    };
    let name = registered.policy.name;
    let stored = if remove {
        shared.store.remove_requestor(name).await
    } else {
        shared.store.restore_requestor(name).await
    };
    if let Err(e) = stored {
        return conn
            .reply_error(id, ErrorCode::Internal, e.to_string())
            .await;
    }
    if let Ok(mut removed) = shared.removed.lock() {
        if remove {
            removed.insert(name);
        } else {
            removed.remove(&name);
        }
    }
    let detail = if remove {
        info!(requestor = %name, "requestor removed (step B)");
        format!("requestor {name} removed")
    } else {
        info!(requestor = %name, "requestor restored (step B rolled back)");
        format!("requestor {name} restored")
    };
    conn.reply(id, AdminOk { detail }).await
}
