//! The wire listener: serves pulls (peers and local clients), local writes
//! (clients, only to their folders) and administration (the operator).

use std::sync::Arc;

use peer_link::{Connection, LinkError, PeerIdentity};
use role_runtime::server::RequestHandler;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use wire_format::{
    AdminOk, ErrorCode, Frame, GalPage, ListGal, Message, MessageType, RepChanges, RepNotify,
    RepPull, RepPullEnd, Repoint, Role, SiteWrite, SiteWriteAck, StatusReport,
};

use super::{Shared, now_ms, status};
use crate::config::folder_allowed;
use crate::resolve::Vector;
use crate::store::key_after_address;

/// Entries per RepChanges frame: the largest possible entry is about 5 KiB,
/// so a frame stays far below the 4 MiB limit.
const FRAME_ENTRIES: usize = 256;
const GAL_PAGE_MAX: usize = 5000;

/// The requests of one connection (its state is the peer's role); once it
/// has pulled it hears of new changes at once.
pub(super) struct Handler(pub(super) Arc<Shared>);

impl RequestHandler for Handler {
    type Session = ();

    async fn handle(
        &self,
        conn: &mut Connection,
        _: &mut (),
        frame: Frame,
    ) -> Result<(), LinkError> {
        let shared = &self.0;
        let id = frame.request_id;
        let role = conn.peer().role;
        let operator = role == Role::Operator;
        match frame.message {
            Message::RepPull(pull) if !operator => serve_pull(shared, conn, id, pull).await,
            Message::SiteWrite(write) if matches!(role, Role::DsServer | Role::Requestor) => {
                site_write(shared, conn, id, write).await
            }
            Message::ListGal(list) if operator => list_gal(shared, conn, id, list).await,
            Message::Repoint(repoint) if operator => self::repoint(shared, conn, id, repoint).await,
            Message::SyncNow(_) if operator => sync_now(shared, conn, id).await,
            other => conn.reply_not_taken(id, "a site replicator", &other).await,
        }
    }

    async fn status(&self) -> Result<StatusReport, String> {
        status::report(&self.0).await.map_err(|e| e.to_string())
    }

    fn history(&self) -> Option<&role_runtime::history::History> {
        Some(&self.0.history)
    }

    fn notices(&self, peer: &PeerIdentity) -> Option<(watch::Receiver<u64>, MessageType)> {
        let puller = peer.role != Role::Operator;
        puller.then(|| (self.0.high_water.subscribe(), MessageType::RepPull))
    }

    fn notice(&self, high_water: u64) -> Option<Message> {
        Some(
            RepNotify {
                epoch: self.0.store.epoch(),
                high_water_usn: high_water,
            }
            .into(),
        )
    }
}

async fn serve_pull(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    pull: RepPull,
) -> Result<(), LinkError> {
    let epoch = shared.store.epoch();
    // A pull against another epoch (or none) is a pull from the start.
    let after = if pull.epoch == epoch {
        pull.after_usn
    } else {
        0
    };
    let vector = Vector::from_wire(&pull.vector);
    let max = pull.max_changes.clamp(1, shared.settings.max_chunk) as usize;
    let page = match shared
        .with_store(move |s| s.changes_after(after, &vector, max))
        .await
    {
        Ok(page) => page,
        Err(e) => {
            return conn
                .reply_error(id, ErrorCode::Internal, e.to_string())
                .await;
        }
    };
    let sent = page.changes.len();
    let mut changes = page.changes;
    while !changes.is_empty() {
        let rest = changes.split_off(changes.len().min(FRAME_ENTRIES));
        conn.reply(id, RepChanges { changes }).await?;
        changes = rest;
    }
    let end = RepPullEnd {
        epoch,
        high_water_usn: page.scanned_to,
        more: page.more,
    };
    debug!(
        after,
        sent,
        scanned_to = page.scanned_to,
        more = page.more,
        "served a pull"
    );
    conn.reply(id, end).await
}

async fn site_write(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    write: SiteWrite,
) -> Result<(), LinkError> {
    let client = conn.peer().name;
    let patterns = shared
        .settings
        .clients
        .iter()
        .find(|(name, _)| *name == client)
        .map(|(_, c)| c.folders.clone())
        .unwrap_or_default();
    for change in &write.changes {
        let allowed = change.folder.is_some_and(|f| folder_allowed(&patterns, &f));
        if !allowed {
            let folder = change.folder.map_or("(none)".to_owned(), |f| f.to_string());
            warn!(%client, %folder, address = %change.address, "refused a write outside the client's folders");
            return conn
                .reply_error(
                    id,
                    ErrorCode::Forbidden,
                    format!("{client} may not write folder {folder}"),
                )
                .await;
        }
    }
    let count = write.changes.len();
    match shared
        .with_store(move |s| s.local_write(&write.changes, now_ms()))
        .await
    {
        Ok(high_water_usn) => {
            shared.high_water.send_replace(high_water_usn);
            debug!(%client, count, high_water_usn, "local write committed");
            conn.reply(id, SiteWriteAck { high_water_usn }).await
        }
        Err(e) => {
            conn.reply_error(id, ErrorCode::Internal, e.to_string())
                .await
        }
    }
}

async fn list_gal(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    list: ListGal,
) -> Result<(), LinkError> {
    let limit = (list.limit as usize).clamp(1, GAL_PAGE_MAX);
    let from = list.after.as_ref().map(key_after_address);
    let post_office = list.post_office;
    match shared
        .with_store(move |s| s.page(from.as_deref(), limit, post_office.as_ref()))
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

async fn repoint(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    repoint: Repoint,
) -> Result<(), LinkError> {
    let Some(endpoint_tx) = shared.endpoints.get(&repoint.server) else {
        return conn
            .reply_error(
                id,
                ErrorCode::NotFound,
                format!("{} is not a peer of this server", repoint.server),
            )
            .await;
    };
    let (peer, endpoint) = (repoint.server, repoint.endpoint.clone());
    if let Err(e) = shared
        .with_store(move |s| s.set_endpoint_override(&peer, &endpoint))
        .await
    {
        return conn
            .reply_error(id, ErrorCode::Internal, e.to_string())
            .await;
    }
    endpoint_tx.send_replace(Some(repoint.endpoint.clone()));
    shared.peer_state(&repoint.server, |p| {
        p.endpoint = Some(repoint.endpoint.clone())
    });
    info!(peer = %repoint.server, endpoint = %repoint.endpoint, "peer endpoint set");
    conn.reply(
        id,
        AdminOk {
            detail: format!("{} is now reached at {}", repoint.server, repoint.endpoint),
        },
    )
    .await
}

async fn sync_now(shared: &Arc<Shared>, conn: &mut Connection, id: u32) -> Result<(), LinkError> {
    let mut waits = Vec::new();
    for (peer, tx) in &shared.sync_now {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        if tx.send(done_tx).await.is_ok() {
            waits.push((*peer, done_rx));
        }
    }
    let mut lines = Vec::new();
    let mut failed = false;
    for (peer, done) in waits {
        match tokio::time::timeout(shared.timeouts.reply, done).await {
            Ok(Ok(Ok(applied))) => lines.push(format!("{peer}: {applied} applied")),
            Ok(Ok(Err(e))) => {
                failed = true;
                lines.push(format!("{peer}: {e}"));
            }
            _ => {
                failed = true;
                lines.push(format!("{peer}: no answer"));
            }
        }
    }
    let detail = if lines.is_empty() {
        "no peers".to_owned()
    } else {
        lines.join("; ")
    };
    if failed {
        conn.reply_error(id, ErrorCode::Unavailable, detail).await
    } else {
        conn.reply(id, AdminOk { detail }).await
    }
}
