//! One forwarder per peer router: whenever woken (new mail, a route change,
//! a new endpoint) or every second, it takes the queued messages whose route
//! now leads to its peer, hands them over pipelined, and forgets each only
//! after the peer acknowledged custody. A route change therefore moves
//! queued mail with nothing else to do: it is routed when it is sent.

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError};
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{ErrorCode, Message, Name, Role};

use super::{Shared, now_ms};
use crate::config::Peer;
use crate::routing::Disposition;
use crate::store::{Queued, Router};

/// Messages in flight on one connection at once.
const WINDOW: usize = 128;
const TICK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub async fn run(shared: Arc<Shared>, peer: Peer) {
    let span = info_span!("forward", peer = %peer.name);
    async move {
        let mut conn: Option<Connection> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            let woken = shared.wake.notified();
            match round(&shared, &peer, &mut conn, backoff).await {
                Ok(0) => {
                    backoff = Duration::from_millis(100);
                    let _ = tokio::time::timeout(TICK, woken).await;
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(e) => {
                    conn = None;
                    shared.peer_state(&peer.name, |p| {
                        p.connected = false;
                        p.last_error = Some(e.to_string());
                    });
                    debug!(error = %e, ?backoff, "hand-over failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Claims the due messages routed to `peer` (so no other forwarder sends them
/// meanwhile) and returns them.
fn claim(shared: &Shared, peer: &Name, due: Vec<Queued>) -> Vec<Queued> {
    let Ok(mut in_flight) = shared.in_flight.lock() else {
        return Vec::new();
    };
    due.into_iter()
        .filter(|q| shared.disposition(&q.post_office) == Disposition::Forward(*peer))
        .filter(|q| in_flight.insert(q.id))
        .take(WINDOW * 8)
        .collect()
}

fn release(shared: &Shared, claimed: &[Queued]) {
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        for q in claimed {
            in_flight.remove(&q.id);
        }
    }
}

/// One pass: returns how many messages were handed over. Messages queued
/// here for longer than the expiry go back to their senders, whether or not
/// the peer is reachable; when it is not, the rest wait `backoff`.
async fn round(
    shared: &Arc<Shared>,
    peer: &Peer,
    conn: &mut Option<Connection>,
    backoff: Duration,
) -> Result<usize, LinkError> {
    let now = now_ms();
    let due = shared
        .blocking(move |s| s.store.due(now))
        .await
        .map_err(internal)?;
    let claimed = claim(shared, &peer.name, due);
    if claimed.is_empty() {
        return Ok(0);
    }
    let expiry_ms = shared.settings.expiry.as_millis() as u64;
    let (expired, live): (Vec<Queued>, Vec<Queued>) = claimed
        .iter()
        .cloned()
        .partition(|q| now.saturating_sub(q.enqueued_ms) > expiry_ms);
    if !expired.is_empty() {
        let reason = format!("not delivered within {}s", expiry_ms / 1000);
        let items: Vec<(Queued, String)> =
            expired.into_iter().map(|q| (q, reason.clone())).collect();
        if let Err(e) = shared
            .blocking(move |s| s.store.give_up(&items, s, s.local(), now))
            .await
        {
            warn!(error = %e, "could not return expired messages");
        }
        shared.wake.notify_waiters();
    }
    let result = if live.is_empty() {
        Ok(0)
    } else {
        hand_over(shared, peer, conn, &live).await
    };
    if result.is_err() {
        // Those handed over are gone from the queue; the rest wait.
        let retry_at = now_ms() + backoff.as_millis() as u64;
        if let Err(e) = shared
            .blocking(move |s| s.store.defer(&live, retry_at))
            .await
        {
            warn!(error = %e, "could not defer messages");
        }
    }
    release(shared, &claimed);
    result
}

fn internal(e: crate::MailError) -> LinkError {
    LinkError::Remote {
        code: ErrorCode::Internal,
        text: e.to_string(),
    }
}

async fn hand_over(
    shared: &Arc<Shared>,
    peer: &Peer,
    conn: &mut Option<Connection>,
    claimed: &[Queued],
) -> Result<usize, LinkError> {
    if conn.is_none() {
        let endpoint = shared
            .endpoints
            .lock()
            .ok()
            .and_then(|e| e.get(&peer.name).cloned());
        let Some(endpoint) = endpoint else {
            return Err(LinkError::Remote {
                code: ErrorCode::NotFound,
                text: format!("no endpoint known for {}", peer.name),
            });
        };
        let me = shared.settings.node;
        let c = Connection::connect(
            &endpoint,
            &me,
            Role::MailRouter,
            peer.secret.as_bytes(),
            shared.timeouts,
        )
        .await?;
        if c.peer().name != peer.name {
            return Err(LinkError::Remote {
                code: ErrorCode::AuthFailed,
                text: format!("{endpoint} is {}, not {}", c.peer().name, peer.name),
            });
        }
        info!(%endpoint, "connected");
        shared.peer_state(&peer.name, |p| {
            p.connected = true;
            p.last_error = None;
        });
        *conn = Some(c);
    }
    let Some(c) = conn.as_mut() else { return Ok(0) };
    let mut handed = 0;
    for window in claimed.chunks(WINDOW) {
        let ids: Vec<[u8; 16]> = window.iter().map(|q| q.id).collect();
        let messages = shared
            .blocking(move |s| s.store.messages(&ids))
            .await
            .map_err(internal)?;
        let mut sent = Vec::new();
        for (q, m) in window.iter().zip(messages) {
            // Gone: another forwarder handed it over before this claim.
            let Some(m) = m else { continue };
            let request = c.send_request(m).await?;
            sent.push((request, q.clone()));
        }
        let mut done = Vec::new();
        let mut returned = Vec::new();
        for (request, q) in sent {
            match c.recv_reply(request).await {
                Ok(Message::MailAck(_)) => done.push(q),
                Ok(other) => return Err(LinkError::unexpected("MailAck", &other)),
                Err(LinkError::Remote {
                    code: ErrorCode::HopLimitExceeded,
                    text,
                }) => returned.push((q, text)),
                Err(e) => {
                    forget(shared, &done).await;
                    return Err(e);
                }
            }
        }
        handed += done.len();
        forget(shared, &done).await;
        if !returned.is_empty() {
            warn!(
                count = returned.len(),
                "returning messages at their hop limit to their senders"
            );
            if let Err(e) = shared
                .blocking(move |s| s.store.give_up(&returned, s, s.local(), now_ms()))
                .await
            {
                warn!(error = %e, "could not return messages");
            }
        }
    }
    if handed > 0 {
        // Returned reports may be queued for other peers.
        shared.wake.notify_waiters();
    }
    Ok(handed)
}

/// The peer has these now; drop them from the queue.
async fn forget(shared: &Arc<Shared>, done: &[Queued]) {
    if done.is_empty() {
        return;
    }
    if let Err(e) = shared.forwarded(done.to_vec()).await {
        // They stay queued and will be sent again; the peer stores them once.
        warn!(error = %e, "could not record a hand-over");
    }
}
