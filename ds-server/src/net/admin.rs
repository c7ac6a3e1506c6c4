//! What the operator may ask of a DS server.

use std::sync::Arc;

use peer_link::{Connection, LinkError};
use tracing::info;
use wire_format::{AdminOk, ErrorCode, GalPage, Message, Name};

use super::{Shared, status};
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
        Message::StatusRequest(_) => match status::report(shared).await {
            Ok(report) => conn.reply(id, report).await,
            Err(e) => {
                conn.reply_error(id, ErrorCode::Internal, e.to_string())
                    .await
            }
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
        Message::RemoveRequestor(r) => {
            let Some(registered) = requestor_for(shared, &r.post_office) else {
                return conn
                    .reply_error(
                        id,
                        ErrorCode::NotFound,
                        format!("no requestor for {}", r.post_office),
                    )
                    .await;
            };
            let name = registered.policy.name;
            if let Err(e) = shared.with_store(move |s| s.remove_requestor(&name)).await {
                return conn
                    .reply_error(id, ErrorCode::Internal, e.to_string())
                    .await;
            }
            if let Ok(mut removed) = shared.removed.lock() {
                removed.insert(name);
            }
            info!(requestor = %name, "requestor removed (step B)");
            conn.reply(
                id,
                AdminOk {
                    detail: format!("requestor {name} removed"),
                },
            )
            .await
        }
        Message::RestoreRequestor(r) => {
            let Some(registered) = requestor_for(shared, &r.post_office) else {
                return conn
                    .reply_error(
                        id,
                        ErrorCode::NotFound,
                        format!("no requestor for {}", r.post_office),
                    )
                    .await;
            };
            let name = registered.policy.name;
            if let Err(e) = shared.with_store(move |s| s.restore_requestor(&name)).await {
                return conn
                    .reply_error(id, ErrorCode::Internal, e.to_string())
                    .await;
            }
            if let Ok(mut removed) = shared.removed.lock() {
                removed.remove(&name);
            }
            info!(requestor = %name, "requestor restored (step B rolled back)");
            conn.reply(
                id,
                AdminOk {
                    detail: format!("requestor {name} restored"),
                },
            )
            .await
        }
        Message::PurgePostOffice(p) => {
            let (po, by) = (p.post_office, shared.settings.node);
            match shared
                .with_store(move |s| s.purge_post_office(&po, &by, super::now_ms()))
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
        other => {
            let kind = other.message_type().name();
            conn.reply_error(
                id,
                ErrorCode::UnexpectedMessage,
                format!("a DS server does not take {kind}"),
            )
            .await
        }
    }
}
