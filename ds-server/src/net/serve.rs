//! What the DS server does with each authenticated connection; the
//! listener, the handshake and the per-connection loop are the shared
//! ones of `role_runtime::server`.

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError, PeerIdentity};
use role_runtime::server::{Refusal, RequestHandler};
use tokio::sync::watch;
use tracing::warn;
use wire_format::{DirNotify, ErrorCode, Frame, Message, MessageType, Name, Role};

use super::{Shared, admin, pull};

/// A connection with no request and nothing to notify for this long is closed.
const IDLE: Duration = Duration::from_secs(600);

/// Counts a requestor's open connections for status, also on every exit path.
struct Presence {
    shared: Arc<Shared>,
    peer: Name,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.shared.seen(&self.peer, |s| {
            s.connections = s.connections.saturating_sub(1)
        });
    }
}

/// The requests of one connection: requestors upload and pull (and hear
/// of new updates once they have pulled), the operator administers.
pub(super) struct Handler(pub(super) Arc<Shared>);

pub(super) struct Session {
    peer: Name,
    role: Role,
    _presence: Option<Presence>,
}

impl RequestHandler for Handler {
    type Session = Session;

    fn open(&self, peer: &PeerIdentity) -> Result<Session, Refusal> {
        let shared = &self.0;
        let requestor = peer.role == Role::Requestor;
        let name = peer.name;
        // Removed (patent step B): refused before any directory data moves.
        self.admit_requestor(requestor, &name)?;
        let presence = requestor.then(|| {
            shared.seen(&name, |s| s.connections += 1);
            Presence {
                shared: Arc::clone(shared),
                peer: name,
            }
        });
        Ok(Session {
            peer: name,
            role: peer.role,
            _presence: presence,
        })
    }

    fn admit(&self, session: &Session) -> Result<(), Refusal> {
        self.admit_requestor(session.role == Role::Requestor, &session.peer)
    }

    async fn handle(
        &self,
        conn: &mut Connection,
        session: &mut Session,
        frame: Frame,
    ) -> Result<(), LinkError> {
        handle(&self.0, conn, frame, session).await
    }

    fn notices(&self, peer: &PeerIdentity) -> Option<(watch::Receiver<u64>, MessageType)> {
        let requestor = peer.role == Role::Requestor;
        requestor.then(|| (self.0.high_water.subscribe(), MessageType::DirPull))
    }

    fn notice(&self, high_water: u64) -> Option<Message> {
        Some(
            DirNotify {
                epoch: self.0.store.epoch(),
                high_water,
            }
            .into(),
        )
    }

    fn idle(&self) -> Duration {
        IDLE
    }
}

impl Handler {
    fn admit_requestor(&self, requestor: bool, peer: &Name) -> Result<(), Refusal> {
        if requestor && self.0.is_removed(peer) {
            warn!(%peer, "refused a removed requestor");
            return Err(Refusal::new(
                ErrorCode::AuthFailed,
                format!("{peer} is no longer a requestor of this server"),
            ));
        }
        Ok(())
    }
}

async fn handle(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    frame: Frame,
    session: &mut Session,
) -> Result<(), LinkError> {
    let id = frame.request_id;
    let role = session.role;
    match (role, frame.message) {
        (Role::Requestor, Message::DirUpload(upload)) => {
            pull::upload(shared, conn, id, upload).await
        }
        (Role::Requestor, Message::DirPull(p)) => {
            // Once answered, this requestor hears about new updates at once.
            pull::serve_pull(shared, conn, id, p).await
        }
        (Role::Operator, message) => admin::handle(shared, conn, id, message).await,
        (_, other) => conn.reply_not_taken(id, "a DS server", &other).await,
    }
}
