//! One task per peer: keep a connection, pull whenever the peer notifies, at
//! least every `pull_interval`, and when the operator asks; reconnect with
//! backoff. Marks are committed with the changes (see `store`).

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, LinkError};
use role_runtime::history::Run;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{HistoryKind, Message, Name, RepChange, RepPull, Role};

use super::{Shared, SyncRequest, now_ms};
use crate::SiteError;

const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Store(#[from] SiteError),
    #[error("peer sent {0} in the middle of a pull")]
    Unexpected(&'static str),
}

pub async fn run(shared: Arc<Shared>, peer: Name, mut sync_requests: mpsc::Receiver<SyncRequest>) {
    let span = info_span!("puller", %peer);
    async move {
        let Some(endpoint_tx) = shared.endpoints.get(&peer) else { return };
        let mut endpoint_rx = endpoint_tx.subscribe();
        let secret = match shared.settings.peers.iter().find(|(n, _)| *n == peer) {
            Some((_, p)) => p.secret.as_bytes().to_vec(),
            None => return,
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let endpoint = endpoint_rx.borrow_and_update().clone();
            let Some(endpoint) = endpoint else {
                // No address yet: wait for one (Repoint), answering sync requests with why.
                tokio::select! {
                    changed = endpoint_rx.changed() => if changed.is_err() { return },
                    Some(req) = sync_requests.recv() => { let _ = req.send(Err("no endpoint known".into())); }
                }
                continue;
            };
            let me = shared.settings.node;
            let attempt_ms = now_ms();
            shared.peer_state(&peer, |p| p.last_attempt_ms = attempt_ms);
            let connected = Connection::connect(&endpoint, &me, Role::SiteReplicator, &secret, shared.timeouts).await;
            let mut conn = match connected {
                Ok(conn) if conn.peer().name == peer && conn.peer().role == Role::SiteReplicator => conn,
                Ok(conn) => {
                    let who = conn.peer().name;
                    warn!(%endpoint, %who, "the server at this endpoint is not the peer; not replicating from it");
                    let why = format!("{endpoint} is {who}, not {peer}");
                    fail(&shared, &peer, why.clone());
                    record_failure(&shared, &peer, attempt_ms, why).await;
                    wait_or_serve(&mut sync_requests, &mut endpoint_rx, MAX_BACKOFF, "wrong peer at endpoint").await;
                    continue;
                }
                Err(e) => {
                    fail(&shared, &peer, e.to_string());
                    record_failure(&shared, &peer, attempt_ms, e.to_string()).await;
                    debug!(error = %e, ?backoff, "cannot connect");
                    wait_or_serve(&mut sync_requests, &mut endpoint_rx, backoff, &e.to_string()).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            shared.peer_state(&peer, |p| p.connected = true);
            info!(%endpoint, "connected");
            let ended = session(&shared, &peer, &mut conn, &mut sync_requests, &mut endpoint_rx).await;
            shared.peer_state(&peer, |p| p.connected = false);
            if let Err(e) = ended {
                fail(&shared, &peer, e.to_string());
                info!(error = %e, "session ended");
            }
        }
    }
    .instrument(span)
    .await
}

fn fail(shared: &Shared, peer: &Name, error: String) {
    shared.peer_state(peer, |p| {
        p.connected = false;
        p.consecutive_failures += 1;
        p.last_error = Some(error);
    });
}

/// A session that could not start (no connection, the wrong peer), in the
/// run history (repeats of one failure are only counted there).
async fn record_failure(shared: &Shared, peer: &Name, started_ms: u64, error: String) {
    let run = Run {
        peer: Some(*peer),
        started_ms,
        ended_ms: now_ms(),
        error: Some(error),
        ..Run::default()
    };
    shared.history.record(HistoryKind::Replication, run).await;
}

async fn wait_or_serve(
    requests: &mut mpsc::Receiver<SyncRequest>,
    endpoint_rx: &mut tokio::sync::watch::Receiver<Option<String>>,
    delay: Duration,
    why: &str,
) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        _ = endpoint_rx.changed() => {}
        Some(req) = requests.recv() => { let _ = req.send(Err(format!("not connected: {why}"))); }
    }
}

/// Pulls, then waits for a reason to pull again, until the connection breaks
/// or the endpoint changes.
async fn session(
    shared: &Arc<Shared>,
    peer: &Name,
    conn: &mut Connection,
    requests: &mut mpsc::Receiver<SyncRequest>,
    endpoint_rx: &mut tokio::sync::watch::Receiver<Option<String>>,
) -> Result<(), PullError> {
    let mut waiting: Vec<SyncRequest> = Vec::new();
    loop {
        let mut run = Run {
            peer: Some(*peer),
            started_ms: now_ms(),
            ..Run::default()
        };
        let started_ms = run.started_ms;
        shared.peer_state(peer, |p| p.last_attempt_ms = started_ms);
        let result = pull_until_current(shared, peer, conn, &mut run).await;
        run.ended_ms = now_ms();
        let outcome = match &result {
            Ok(()) => Ok(run.applied),
            Err(e) => Err(e.to_string()),
        };
        run.error = outcome.clone().err();
        // Recorded before anyone waiting hears the outcome, so a `history`
        // asked after `sync` sees the session.
        shared.history.record(HistoryKind::Replication, run).await;
        for req in waiting.drain(..) {
            let _ = req.send(outcome.clone());
        }
        result?;
        // A notification that came in while pulling means: pull again now.
        if conn.take_unsolicited().is_some() {
            while conn.take_unsolicited().is_some() {}
            continue;
        }
        tokio::select! {
            frame = conn.next() => match frame? {
                Some(frame) => {
                    if let Message::RepNotify(n) = frame.message {
                        shared.peer_state(peer, |p| p.peer_usn = p.peer_usn.max(n.high_water_usn));
                    }
                }
                None => return Err(LinkError::Closed.into()),
            },
            () = tokio::time::sleep(shared.settings.pull_interval) => {}
            Some(req) = requests.recv() => waiting.push(req),
            _ = endpoint_rx.changed() => return Ok(()),
        }
    }
}

/// Pulls until the peer says there is no more, counting in `run` what
/// came and what was applied.
async fn pull_until_current(
    shared: &Arc<Shared>,
    peer: &Name,
    conn: &mut Connection,
    run: &mut Run,
) -> Result<(), PullError> {
    loop {
        let p = *peer;
        let (mark, vector) = shared
            .with_store(move |s| Ok((s.peer_mark(&p)?, s.vector()?)))
            .await?;
        let (epoch, after) = mark;
        let pull = RepPull {
            epoch,
            after_usn: after,
            vector: vector.to_wire(),
            max_changes: shared.settings.max_chunk,
        };
        let id = conn.send_request(pull).await?;
        let mut changes: Vec<RepChange> = Vec::new();
        let end = loop {
            match conn.recv_reply(id).await? {
                Message::RepChanges(chunk) => changes.extend(chunk.changes),
                Message::RepPullEnd(end) => break end,
                other => return Err(PullError::Unexpected(other.message_type().name())),
            }
        };
        run.received += changes.len() as u64;
        for change in &changes {
            run.classify(&change.entry);
        }
        let span = info_span!("cycle", %peer, after, changes = changes.len());
        let new_mark = (end.epoch, end.high_water_usn);
        let counts = shared
            .with_store(move |s| s.apply_remote(&p, new_mark, &changes))
            .instrument(span)
            .await?;
        run.applied += counts.applied;
        run.refused += counts.already_seen + counts.superseded;
        if counts.applied > 0 {
            let high_water = shared.with_store(|s| s.high_water()).await?;
            // Our own pullers (the other peers) learn of the relayed changes.
            shared.high_water.send_replace(high_water);
            debug!(
                applied = counts.applied,
                already_seen = counts.already_seen,
                superseded = counts.superseded,
                "applied a chunk"
            );
        }
        let now = now_ms();
        shared.peer_state(peer, |p| {
            p.peer_usn = p.peer_usn.max(end.high_water_usn);
            p.last_success_ms = now;
            p.consecutive_failures = 0;
            p.last_error = None;
        });
        if !end.more {
            return Ok(());
        }
    }
}
