//! Accepting connections and dispatching their requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use peer_link::{Connection, LinkError};
use tokio::net::TcpListener;
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{DirNotify, ErrorCode, Frame, Message, Role};

use super::{Shared, admin, pull};

/// A connection with no request and nothing to notify for this long is closed.
const IDLE: Duration = Duration::from_secs(600);

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let sessions = AtomicU64::new(1);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let session = sessions.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        let span = info_span!("connection", session, %remote, peer = tracing::field::Empty);
        tokio::spawn(
            async move {
                let me = shared.settings.node;
                match Connection::accept(
                    stream,
                    &me,
                    Role::DsServer,
                    &shared.keyring,
                    session,
                    shared.timeouts,
                )
                .await
                {
                    Ok(conn) => {
                        let peer = conn.peer().name;
                        tracing::Span::current().record("peer", tracing::field::display(peer));
                        serve(shared, conn).await;
                    }
                    Err(e) => info!(error = %e, "handshake failed"),
                }
            }
            .instrument(span),
        );
    }
}

/// Counts a requestor's open connections for status, also on every exit path.
struct Presence {
    shared: Arc<Shared>,
    peer: wire_format::Name,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.shared.seen(&self.peer, |s| {
            s.connections = s.connections.saturating_sub(1)
        });
    }
}

async fn serve(shared: Arc<Shared>, mut conn: Connection) {
    let peer = conn.peer().name;
    let requestor = conn.peer().role == Role::Requestor;
    if requestor && shared.is_removed(&peer) {
        // Removed (patent step B): refused before any directory data moves.
        warn!(%peer, "refused a removed requestor");
        let _ = conn
            .reply_error(
                0,
                ErrorCode::AuthFailed,
                format!("{peer} is no longer a requestor of this server"),
            )
            .await;
        return;
    }
    let _presence = requestor.then(|| {
        shared.seen(&peer, |s| s.connections += 1);
        Presence {
            shared: Arc::clone(&shared),
            peer,
        }
    });
    let mut high_water = shared.high_water.subscribe();
    let mut notify = false;
    let mut last_notified = 0;
    loop {
        tokio::select! {
            frame = conn.next() => match frame {
                Ok(Some(frame)) => {
                    let id = frame.request_id;
                    if requestor && shared.is_removed(&peer) {
                        let _ = conn.reply_error(id, ErrorCode::AuthFailed, "removed requestor").await;
                        return;
                    }
                    match handle(&shared, &mut conn, frame, &mut notify).await {
                        Ok(()) => {}
                        Err(e @ (LinkError::Closed | LinkError::Timeout { .. })) => {
                            debug!(error = %e, "connection ended");
                            return;
                        }
                        Err(e) => {
                            warn!(error = %e, "request failed");
                            let _ = conn.reply_error(id, ErrorCode::Internal, e.to_string()).await;
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    // A bad frame: the stream is out of step. Say why and
                    // close; other connections are not affected.
                    warn!(error = %e, "bad frame; closing the connection");
                    conn.close_with_error(0, &e).await;
                    return;
                }
            },
            changed = high_water.changed(), if notify => {
                if changed.is_err() {
                    return;
                }
                let hw = *high_water.borrow_and_update();
                if hw > last_notified {
                    last_notified = hw;
                    let note = DirNotify { epoch: shared.store.epoch(), high_water: hw };
                    if conn.send(Frame::new(0, note)).await.is_err() {
                        return;
                    }
                }
            }
            () = tokio::time::sleep(IDLE) => {
                debug!("idle connection closed");
                return;
            }
        }
    }
}

async fn handle(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    frame: Frame,
    notify: &mut bool,
) -> Result<(), LinkError> {
    let id = frame.request_id;
    let role = conn.peer().role;
    match (role, frame.message) {
        (_, Message::Ping(p)) => conn.reply(id, wire_format::Pong { token: p.token }).await,
        (Role::Requestor, Message::DirUpload(upload)) => {
            pull::upload(shared, conn, id, upload).await
        }
        (Role::Requestor, Message::DirPull(p)) => {
            pull::serve_pull(shared, conn, id, p).await?;
            // From now on this requestor hears about new updates at once.
            *notify = true;
            Ok(())
        }
        (Role::Operator, message) => admin::handle(shared, conn, id, message).await,
        (_, other) => {
            let kind = other.message_type().name();
            conn.reply_error(
                id,
                ErrorCode::UnexpectedMessage,
                format!("a DS server does not take {kind} from a {role:?}"),
            )
            .await
        }
    }
}
