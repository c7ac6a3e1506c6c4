//! The wire listener: mail handed over by peer routers (custody is
//! acknowledged only after the commit) and administration by the operator.

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError};
use role_runtime::server::RequestHandler;
use tracing::{info, warn};
use wire_format::{
    Address, AdminOk, ErrorCode, ErrorReply, Frame, MailAck, MailTransfer, Message, Name, Role,
    StatusReport,
};

use super::{Shared, now_ms, status};
use crate::config::Mode;
use crate::routing::{may_hand_over, postmaster};
use crate::trace::{self, PEER_PROTOCOL};

/// Frames already waiting on the connection are taken in one commit (one disk
/// sync), up to this many.
const BATCH: usize = 256;

/// Peers hand over mail; the operator administers.
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
        let role = conn.peer().role;
        match frame.message {
            Message::MailTransfer(m) if role == Role::MailRouter => {
                let mut batch = vec![(frame.request_id, m)];
                // Take whatever else the sender has already pipelined, in
                // one commit; a frame of another kind waits its turn.
                while batch.len() < BATCH {
                    match tokio::time::timeout(Duration::ZERO, conn.next()).await {
                        Ok(Ok(Some(Frame {
                            request_id,
                            message: Message::MailTransfer(m),
                        }))) => batch.push((request_id, m)),
                        Ok(Ok(Some(other))) => {
                            conn.unread(other);
                            break;
                        }
                        _ => break,
                    }
                }
                take_mail(shared, conn, batch).await
            }
            message if role == Role::Operator => {
                admin(shared, conn, frame.request_id, message).await
            }
            other => {
                conn.reply_not_taken(frame.request_id, "a mail router", &other)
                    .await
            }
        }
    }

    async fn status(&self) -> Result<StatusReport, String> {
        status::report(&self.0).await.map_err(|e| e.to_string())
    }
}

async fn take_mail(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    batch: Vec<(u32, MailTransfer)>,
) -> Result<(), LinkError> {
    let max_hops = shared.settings.max_hops;
    let peer = conn.peer().name;
    let network = shared.settings.network;
    let routes = shared
        .routes
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    // Trace (RFC 5321 4.4): each router that takes a message says so on
    // top of it. Custody goes by the message id, never by these bytes.
    let by = trace::host_name(&shared.settings.node, &network);
    let from = trace::From::Peer(trace::host_name(&peer, &network));
    let now = now_ms();
    for (id, mut m) in batch {
        if !may_hand_over(&peer, &network, &routes, &m.from) {
            // Refused for good: the sender returns it to its sender rather
            // than retrying (see `forward::answered`).
            warn!(
                %peer, from = %m.from, message = %hex_id(&m.message_id),
                "refused mail a post office handed over for a sender not its own"
            );
            let refusal = ErrorReply::new(
                ErrorCode::Forbidden,
                format!(
                    "{peer} is a post office: it may hand over mail from its own users only, \
                     not from {}",
                    m.from
                ),
            );
            refused.push((id, refusal));
        } else if m.hop_count >= max_hops {
            warn!(message = %hex_id(&m.message_id), "refused a message at its hop limit");
            let refusal = ErrorReply::new(
                ErrorCode::HopLimitExceeded,
                format!("message passed {max_hops} routers"),
            );
            refused.push((id, refusal));
        } else {
            m.hop_count += 1;
            let received =
                trace::received(&from, &by, PEER_PROTOCOL, &m.message_id, &m.recipients, now);
            m.body = trace::prepend(&received, &m.body).into();
            accepted.push((id, m));
        }
    }
    for (id, refusal) in refused {
        conn.queue(Frame::new(id, refusal)).await?;
    }
    if !accepted.is_empty() {
        let messages: Vec<MailTransfer> = accepted.iter().map(|(_, m)| m.clone()).collect();
        match shared.take(messages).await {
            Ok(taken) => {
                for ((id, m), t) in accepted.iter().zip(taken) {
                    let ack = MailAck {
                        message_id: m.message_id,
                        duplicate: t.duplicate,
                    };
                    conn.queue(Frame::new(*id, ack)).await?;
                }
            }
            Err(e) => {
                warn!(error = %e, "could not store mail; the sender keeps it");
                for (id, _) in &accepted {
                    let error =
                        ErrorReply::new(ErrorCode::Unavailable, "storage failed; retry later");
                    conn.queue(Frame::new(*id, error)).await?;
                }
            }
        }
    }
    // The batch's answers leave together, in one write.
    conn.flush().await
}

/// A route change, durable before it is answered. Queued mail is routed when
/// it is sent, so it follows the new route with nothing moved. On a post
/// office, a route for its own name changes its hub.
async fn set_route(
    shared: &Arc<Shared>,
    po: Name,
    hop: Name,
) -> Result<String, (ErrorCode, String)> {
    if !shared.settings.peers.iter().any(|p| p.name == hop) {
        return Err((
            ErrorCode::NotFound,
            format!("{hop} is not a peer of this router (no key for it)"),
        ));
    }
    shared
        .blocking(move |s| s.store.set_route(&po, &hop))
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))?;
    if let Ok(mut routes) = shared.routes.write() {
        routes.insert(po, hop);
    }
    shared.rescan();
    if shared.settings.mode == Mode::PostOffice && po == shared.settings.node {
        info!(hub = %hop, "hub changed; queued mail follows it");
        Ok(format!("{po} now sends its mail to hub {hop}"))
    } else {
        info!(post_office = %po, next_hop = %hop, "route changed; queued mail follows it");
        Ok(format!("mail for {po} now goes to {hop}"))
    }
}

fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

async fn admin(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    id: u32,
    message: Message,
) -> Result<(), LinkError> {
    let outcome: Result<String, (ErrorCode, String)> = match message {
        Message::SetRoute(r) => set_route(shared, r.post_office, r.next_hop).await,
        Message::Repoint(r) => {
            if !shared.settings.peers.iter().any(|p| p.name == r.server) {
                Err((
                    ErrorCode::NotFound,
                    format!("{} is not a peer of this router", r.server),
                ))
            } else {
                let (peer, endpoint) = (r.server, r.endpoint.clone());
                match shared
                    .blocking(move |s| s.store.set_endpoint(&peer, &endpoint))
                    .await
                {
                    Ok(()) => {
                        if let Ok(mut endpoints) = shared.endpoints.lock() {
                            endpoints.insert(r.server, r.endpoint.clone());
                        }
                        shared.rescan();
                        Ok(format!("{} is now reached at {}", r.server, r.endpoint))
                    }
                    Err(e) => Err((ErrorCode::Internal, e.to_string())),
                }
            }
        }
        Message::UserUpsert(u) if shared.settings.mode == Mode::PostOffice => {
            if let Err(refused) = own_user(shared, &u.address) {
                Err(refused)
            } else {
                let mailbox = u.address.mailbox;
                let result = shared
                    .blocking(move |s| match u.password {
                        Some(p) => s.store.set_user(&mailbox, &p),
                        None => s.store.ensure_user(&mailbox),
                    })
                    .await;
                result
                    .map(|()| format!("mailbox {mailbox} ready"))
                    .map_err(|e| (ErrorCode::Internal, e.to_string()))
            }
        }
        Message::UserDelete(u) if shared.settings.mode == Mode::PostOffice => {
            let mailbox = u.address.mailbox;
            if let Err(refused) = own_user(shared, &u.address) {
                Err(refused)
            } else if mailbox == postmaster() {
                Err((
                    ErrorCode::Forbidden,
                    format!(
                        "mailbox {mailbox} cannot be deleted: every post office must accept \
                         mail for postmaster (RFC 5321 4.5.1)"
                    ),
                ))
            } else {
                match shared
                    .blocking(move |s| s.store.delete_user(&mailbox))
                    .await
                {
                    Ok(true) => Ok(format!("mailbox {mailbox} deleted")),
                    Ok(false) => Err((ErrorCode::NotFound, format!("no mailbox {mailbox}"))),
                    Err(e) => Err((ErrorCode::Internal, e.to_string())),
                }
            }
        }
        Message::Ping(p) => return conn.reply(id, wire_format::Pong { token: p.token }).await,
        other => Err((
            ErrorCode::UnexpectedMessage,
            format!(
                "a {:?} mail router does not take {}",
                shared.settings.mode,
                other.message_type().name()
            ),
        )),
    };
    match outcome {
        Ok(detail) => conn.reply(id, AdminOk { detail }).await,
        Err((code, text)) => conn.reply_error(id, code, text).await,
    }
}

/// A post office changes only its own users.
fn own_user(shared: &Shared, address: &Address) -> Result<(), (ErrorCode, String)> {
    if address.post_office == shared.settings.node && address.network == shared.settings.network {
        Ok(())
    } else {
        Err((
            ErrorCode::Forbidden,
            format!("{address} is not a user of this post office"),
        ))
    }
}
