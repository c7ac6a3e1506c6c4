//! One forwarder per peer router. Mail a group commit has just queued for
//! the peer comes from the outbox, in memory; a scan of the store (at start,
//! at most once a second, after a failure, and when a route or endpoint
//! changed) finds everything else: mail queued before a restart, retries,
//! re-routed mail. Queued mail is routed when it is sent, so a route change
//! moves it with nothing else to do.
//!
//! Messages go out in a sliding window and the peer's acknowledgements are
//! read as they come, so the peer always has a batch to fold into its next
//! group commit. An acknowledged message is forgotten by a commit of its own
//! in the background while the window moves on; it stays claimed (never
//! sent twice at once) until that commit is done.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use peer_link::{Connection, LinkError};
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{ErrorCode, MailTransfer, Message, Name, Role};

use super::{Shared, now_ms};
use crate::config::Peer;
use crate::report::Failure;
use crate::routing::Disposition;
use crate::store::{Queued, Router};

/// Messages in flight on one connection at once.
const WINDOW: usize = 256;
/// Queued messages one scan claims at most.
const SCAN_LIMIT: usize = WINDOW * 8;
const TICK: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub async fn run(shared: Arc<Shared>, peer: Peer) {
    let span = info_span!("forward", peer = %peer.name);
    async move {
        let mut conn: Option<Connection> = None;
        let mut backoff = Duration::from_millis(100);
        let mut last_scan: Option<(Instant, u64)> = None;
        loop {
            let woken = shared.wake.notified();
            let rescans = shared.rescans.load(Ordering::Relaxed);
            let scan = match last_scan {
                Some((at, seen)) => at.elapsed() >= TICK || seen != rescans,
                None => true,
            };
            if scan {
                last_scan = Some((Instant::now(), rescans));
            }
            match round(&shared, &peer, &mut conn, backoff, scan).await {
                Ok(0) => {
                    backoff = Duration::from_millis(100);
                    let _ = tokio::time::timeout(TICK, woken).await;
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    // Only a round that handed mail over clears the
                    // failures: an idle one (the deferred mail not due yet)
                    // proves nothing about the peer.
                    shared.peer_state(&peer.name, |p| {
                        p.consecutive_failures = 0;
                        p.last_success_ms = now_ms();
                    });
                }
                Err(e) => {
                    conn = None;
                    last_scan = None;
                    shared.peer_state(&peer.name, |p| {
                        p.connected = false;
                        p.last_error = Some(e.to_string());
                        p.consecutive_failures += 1;
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

/// Claims the messages routed to `peer` that no other forwarder is sending
/// (after a route change two forwarders could otherwise send one at once).
fn claim<T>(shared: &Shared, peer: &Name, items: Vec<T>, queued: fn(&T) -> &Queued) -> Vec<T> {
    let Ok(mut in_flight) = shared.in_flight.lock() else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter(|t| shared.disposition(&queued(t).post_office) == Disposition::Forward(*peer))
        .filter(|t| in_flight.insert(queued(t).id))
        .collect()
}

fn itself(q: &Queued) -> &Queued {
    q
}

fn release<'q>(shared: &Shared, claimed: impl IntoIterator<Item = &'q Queued>) {
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        for q in claimed {
            in_flight.remove(&q.id);
        }
    }
}

fn internal(e: crate::MailError) -> LinkError {
    LinkError::Remote {
        code: ErrorCode::Internal,
        text: e.to_string(),
    }
}

/// The due messages in the store routed to `peer`, claimed. Those queued
/// here for longer than the expiry go back to their senders instead,
/// whether or not the peer is reachable.
async fn scan(shared: &Arc<Shared>, peer: &Name) -> Result<VecDeque<Queued>, LinkError> {
    // What the outbox holds is in the store, and the scan finds it.
    drop(shared.outbox.take(peer));
    let (now, hop) = (now_ms(), *peer);
    let due = shared
        .blocking(move |s| {
            let claimed = s.in_flight.lock().map(|f| f.clone()).unwrap_or_default();
            s.store.due_where(now, SCAN_LIMIT, |q| {
                !claimed.contains(&q.id)
                    && s.disposition(&q.post_office) == Disposition::Forward(hop)
            })
        })
        .await
        .map_err(internal)?;
    let claimed = claim(shared, peer, due, itself);
    let expiry_ms = shared.settings.expiry.as_millis() as u64;
    let (expired, live): (Vec<Queued>, Vec<Queued>) = claimed
        .into_iter()
        .partition(|q| now.saturating_sub(q.enqueued_ms) > expiry_ms);
    if !expired.is_empty() {
        let failure = Failure::expired(format!("not delivered within {}s", expiry_ms / 1000));
        let items = expired.into_iter().map(|q| (q, failure.clone())).collect();
        return_to_senders(shared, items, now).await;
    }
    Ok(live.into())
}

/// Turns claimed messages into non-delivery reports to their senders (each
/// with its reason), lets them go, and has the forwarders scan for the
/// reports, which may be queued for any peer.
async fn return_to_senders(shared: &Arc<Shared>, items: Vec<(Queued, Failure)>, now: u64) {
    let claimed: Vec<Queued> = items.iter().map(|(q, _)| q.clone()).collect();
    if let Err(e) = shared
        .blocking(move |s| s.store.give_up(&items, s, s.local(), now))
        .await
    {
        warn!(error = %e, "could not return messages to their senders");
    }
    release(shared, &claimed);
    shared.rescan();
}

/// What one round has claimed and not yet finished with.
#[derive(Default)]
struct Work {
    /// Found by a scan; their text is read from the store a window at a time.
    unread: VecDeque<Queued>,
    ready: VecDeque<(Queued, MailTransfer)>,
    in_air: HashMap<u32, Queued>,
    /// Acknowledged, not yet handed to a forgetting commit.
    acked: Vec<Queued>,
    returned: Vec<(Queued, Failure)>,
    handed: usize,
}

/// One round: sends until nothing is left to send and every message sent is
/// answered. Returns how many the peer took.
async fn round(
    shared: &Arc<Shared>,
    peer: &Peer,
    conn: &mut Option<Connection>,
    backoff: Duration,
    rescan: bool,
) -> Result<usize, LinkError> {
    let mut work = Work::default();
    let result = async {
        if rescan {
            work.unread = scan(shared, &peer.name).await?;
        }
        refill(shared, &peer.name, &mut work).await?;
        if work.ready.is_empty() {
            return Ok(());
        }
        let c = connected(shared, peer, conn).await?;
        hand_over(shared, &peer.name, c, &mut work).await
    }
    .await;
    forget(shared, std::mem::take(&mut work.acked));
    if !work.returned.is_empty() {
        let returned = std::mem::take(&mut work.returned);
        warn!(
            count = returned.len(),
            "returning messages the peer refused for good to their senders"
        );
        return_to_senders(shared, returned, now_ms()).await;
    }
    let unsent: Vec<Queued> = work
        .in_air
        .into_values()
        .chain(work.ready.into_iter().map(|(q, _)| q))
        .chain(work.unread)
        .collect();
    if result.is_err() && !unsent.is_empty() {
        let retry_at = now_ms() + backoff.as_millis() as u64;
        let later = unsent.clone();
        if let Err(e) = shared
            .blocking(move |s| s.store.defer(&later, retry_at))
            .await
        {
            warn!(error = %e, "could not defer messages");
        }
    }
    release(shared, &unsent);
    result.map(|()| work.handed)
}

/// Fills `ready` up to a window: first from what a scan found, then from the
/// outbox. Leaves it empty only when both are.
async fn refill(shared: &Arc<Shared>, peer: &Name, work: &mut Work) -> Result<(), LinkError> {
    while work.ready.is_empty() && !work.unread.is_empty() {
        let n = work.unread.len().min(WINDOW);
        let batch: Vec<Queued> = work.unread.drain(..n).collect();
        let ids: Vec<[u8; 16]> = batch.iter().map(|q| q.id).collect();
        let texts = match shared.blocking(move |s| s.store.messages(&ids)).await {
            Ok(t) => t,
            Err(e) => {
                work.unread.extend(batch);
                return Err(internal(e));
            }
        };
        for (q, m) in batch.into_iter().zip(texts) {
            match m {
                Some(m) => work.ready.push_back((q, m)),
                // Gone: handed over by an earlier claim since the scan.
                None => release(shared, [&q]),
            }
        }
    }
    if work.ready.is_empty() {
        let fresh = shared.outbox.take(peer);
        work.ready.extend(claim(shared, peer, fresh, |(q, _)| q));
    }
    Ok(())
}

async fn connected<'c>(
    shared: &Arc<Shared>,
    peer: &Peer,
    conn: &'c mut Option<Connection>,
) -> Result<&'c mut Connection, LinkError> {
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
    conn.as_mut().ok_or_else(|| LinkError::Remote {
        code: ErrorCode::Internal,
        text: "no connection".into(),
    })
}

async fn hand_over(
    shared: &Arc<Shared>,
    peer: &Name,
    c: &mut Connection,
    work: &mut Work,
) -> Result<(), LinkError> {
    loop {
        // Registered before the outbox is looked at, so mail committed from
        // here on wakes the wait below.
        let woken = shared.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        while work.in_air.len() < WINDOW {
            refill(shared, peer, work).await?;
            let Some((q, m)) = work.ready.pop_front() else {
                break;
            };
            match c.queue_request(m).await {
                Ok(request) => {
                    work.in_air.insert(request, q);
                }
                Err(e) => {
                    work.unread.push_back(q);
                    return Err(e);
                }
            }
        }
        // What the loop queued leaves in as few writes as possible.
        c.flush().await?;
        if work.in_air.is_empty() {
            return Ok(());
        }
        if work.acked.len() >= WINDOW / 2 {
            forget(shared, std::mem::take(&mut work.acked));
        }
        tokio::select! {
            frame = c.recv(shared.timeouts.reply) => {
                answered(work, frame?)?;
                // File every answer already received before sending more, so
                // a window's worth of acks frees it in one step, not one
                // write per ack.
                while let Ok(frame) = tokio::time::timeout(Duration::ZERO, c.next()).await {
                    match frame? {
                        Some(frame) => answered(work, frame)?,
                        None => return Err(LinkError::Closed),
                    }
                }
            }
            () = &mut woken => {}
        }
    }
}

/// Files the peer's answer to one transfer.
fn answered(work: &mut Work, frame: wire_format::Frame) -> Result<(), LinkError> {
    let Some(q) = work.in_air.remove(&frame.request_id) else {
        return match frame.message {
            Message::ErrorReply(e) => Err(LinkError::Remote {
                code: e.code,
                text: e.text,
            }),
            other => {
                debug!(kind = other.message_type().name(), "dropping a stray frame");
                Ok(())
            }
        };
    };
    match frame.message {
        Message::MailAck(_) => {
            work.handed += 1;
            work.acked.push(q);
            Ok(())
        }
        // Refusals that a retry cannot change (at the hop limit; a sender
        // the peer does not take from this router) go back to their
        // senders with the peer's reason, instead of being retried until
        // they expire.
        Message::ErrorReply(e) if e.code == ErrorCode::HopLimitExceeded => {
            work.returned.push((q, Failure::routing_loop(e.text)));
            Ok(())
        }
        Message::ErrorReply(e) if e.code == ErrorCode::Forbidden => {
            work.returned.push((q, Failure::refused(e.text)));
            Ok(())
        }
        Message::ErrorReply(e) => {
            work.in_air.insert(frame.request_id, q);
            Err(LinkError::Remote {
                code: e.code,
                text: e.text,
            })
        }
        other => {
            work.in_air.insert(frame.request_id, q);
            Err(LinkError::unexpected("MailAck", &other))
        }
    }
}

/// The peer has these now: drop them from the queue in a commit of their
/// own, then let them be claimed again (by then they are gone). If that
/// commit fails they stay queued and are sent again; the peer stores them
/// once.
fn forget(shared: &Arc<Shared>, done: Vec<Queued>) {
    if done.is_empty() {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        if let Err(e) = shared.forwarded(done.clone()).await {
            warn!(error = %e, "could not record a hand-over");
        }
        release(&shared, &done);
    });
}
