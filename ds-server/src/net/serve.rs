//! What the DS server does with each authenticated connection; the
//! listener, the handshake and the per-connection loop are the shared
//! ones of `role_runtime::server`.

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError, PeerIdentity};
use role_runtime::server::{Refusal, RequestHandler};
use tokio::sync::watch;
use tracing::warn;
use wire_format::{DirNotify, ErrorCode, Frame, Message, MessageType, Name, Role, StatusReport};

use super::{Shared, admin, pull, status};

/// A connection with no request and nothing to notify for this long is closed.
const IDLE: Duration = Duration::from_secs(600);

/// Counts a requestor's open connections for status, also on every exit path.
pub(super) struct Presence {
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

impl RequestHandler for Handler {
    /// A requestor's connection counts for status while it lasts.
    type Session = Option<Presence>;

    fn open(&self, peer: &PeerIdentity) -> Result<Option<Presence>, Refusal> {
        // Removed (patent step B): refused before any directory data moves.
        self.admit(peer)?;
        let shared = &self.0;
        let name = peer.name;
        Ok((peer.role == Role::Requestor).then(|| {
            shared.seen(&name, |s| s.connections += 1);
            Presence {
                shared: Arc::clone(shared),
                peer: name,
            }
        }))
    }

    fn admit(&self, peer: &PeerIdentity) -> Result<(), Refusal> {
        if peer.role == Role::Requestor && self.0.is_removed(&peer.name) {
            warn!(peer = %peer.name, "refused a removed requestor");
            return Err(Refusal::new(
                ErrorCode::AuthFailed,
                format!("{} is no longer a requestor of this server", peer.name),
            ));
        }
        Ok(())
    }

    async fn handle(
        &self,
        conn: &mut Connection,
        _: &mut Option<Presence>,
        frame: Frame,
    ) -> Result<(), LinkError> {
        let shared = &self.0;
        let id = frame.request_id;
        match (conn.peer().role, frame.message) {
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

    async fn status(&self) -> Result<StatusReport, String> {
        status::report(&self.0).await.map_err(|e| e.to_string())
    }

    fn history(&self) -> Option<&role_runtime::history::History> {
        Some(&self.0.history)
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
