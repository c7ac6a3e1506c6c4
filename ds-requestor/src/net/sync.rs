//! The sync task: owns the connection to the DS server and runs cycles on
//! the schedule, on demand, and when the server notifies that updates exist.
//! One cycle = upload local changes until acknowledged, then pull.

use std::sync::Arc;
use std::time::Duration;

use dir_core::DirError;
use dir_core::requestor::PullSession;
use peer_link::{Connection, LinkError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{DirUpdate, DirUpload, Message, Role};

use super::{Shared, SyncCommand, now_ms};

/// Updates committed per transaction while pulling: fewer, larger commits
/// make a full resync fast; each is still atomic with its mark.
const APPLY_BATCH: usize = 5000;
/// After a failed cycle or a lost connection, try again this soon.
const RETRY: Duration = Duration::from_millis(500);

type Waiter = oneshot::Sender<Result<String, String>>;

#[derive(Debug, Default)]
struct CycleReport {
    uploaded: u64,
    applied: u64,
    full: bool,
}

fn link(e: LinkError) -> DirError {
    DirError::Link(e.to_string())
}

/// The next frame of the open connection; never resolves without one.
async fn next_frame(
    conn: &mut Option<Connection>,
) -> Result<Option<wire_format::Frame>, LinkError> {
    match conn {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

pub async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<SyncCommand>) {
    let mut conn: Option<Connection> = None;
    let mut next = Instant::now();
    let mut cycle_no = 0u64;
    loop {
        let mut waiters: Vec<Waiter> = Vec::new();
        let absorb = |cmd: SyncCommand,
                      conn: &mut Option<Connection>,
                      waiters: &mut Vec<Waiter>| match cmd {
            SyncCommand::Run(w) => waiters.extend(w),
            SyncCommand::Reconnect(w) => {
                *conn = None;
                waiters.extend(w);
            }
        };
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => absorb(cmd, &mut conn, &mut waiters),
                None => return,
            },
            () = tokio::time::sleep_until(next) => {}
            frame = next_frame(&mut conn) => match frame {
                Ok(Some(f)) if matches!(f.message, Message::DirNotify(_)) => {
                    debug!("server notified updates");
                }
                Ok(Some(f)) => {
                    debug!(kind = f.message.message_type().name(), "ignored an unsolicited frame");
                    continue;
                }
                Ok(None) | Err(_) => {
                    // Lost the server: reconnect soon so notifications resume.
                    conn = None;
                    shared.info(|i| i.connected = false);
                    next = Instant::now() + RETRY;
                    continue;
                }
            },
        }
        // Requests that queued meanwhile are served by this same cycle.
        while let Ok(cmd) = rx.try_recv() {
            absorb(cmd, &mut conn, &mut waiters);
        }
        if let Some(c) = conn.as_mut() {
            // Notifications set aside during the last cycle are covered by this one.
            while c.take_unsolicited().is_some() {}
        }
        cycle_no += 1;
        let started = Instant::now();
        let span = info_span!("sync_cycle", cycle = cycle_no);
        let result = cycle(&shared, &mut conn).instrument(span).await;
        let took = started.elapsed().as_millis() as u64;
        let answer = match &result {
            Ok(r) => {
                next = Instant::now() + shared.settings.interval;
                if r.uploaded > 0 || r.applied > 0 || r.full {
                    info!(
                        cycle = cycle_no,
                        uploaded = r.uploaded,
                        applied = r.applied,
                        full = r.full,
                        took_ms = took,
                        "cycle done"
                    );
                }
                shared.info(|i| {
                    i.cycles += 1;
                    i.connected = true;
                    i.last_cycle_ms = now_ms();
                    i.last_success_ms = i.last_cycle_ms;
                    i.last_duration_ms = took;
                    i.last_uploaded = r.uploaded;
                    i.last_applied = r.applied;
                    i.last_full = r.full;
                    i.last_error.clear();
                });
                Ok(format!(
                    "cycle done: {} uploaded, {} applied{}",
                    r.uploaded,
                    r.applied,
                    if r.full { " (full resync)" } else { "" }
                ))
            }
            Err(e) => {
                warn!(cycle = cycle_no, error = %e, "cycle failed");
                conn = None;
                next = Instant::now() + RETRY;
                shared.info(|i| {
                    i.cycles += 1;
                    i.failures += 1;
                    i.connected = false;
                    i.last_cycle_ms = now_ms();
                    i.last_error = e.to_string();
                });
                Err(e.to_string())
            }
        };
        for w in waiters {
            let _ = w.send(answer.clone());
        }
    }
}

async fn connect(shared: &Arc<Shared>) -> Result<Connection, DirError> {
    let (name, endpoint) = match shared.with_store(|s| s.current_server()).await? {
        Some((n, e)) => (n, e),
        None => {
            let name = shared.settings.server;
            let endpoint = shared
                .settings
                .server(&name)
                .map(|s| s.endpoint.clone())
                .unwrap_or_default();
            (name.to_string(), endpoint)
        }
    };
    let server = wire_format::Name::new(&name).map_err(|e| DirError::Link(e.to_string()))?;
    let Some(config) = shared.settings.server(&server) else {
        return Err(DirError::Link(format!(
            "no secret configured for server {server}"
        )));
    };
    debug!(%server, %endpoint, "connecting");
    Connection::connect(
        &endpoint,
        &shared.settings.node,
        Role::Requestor,
        config.secret.as_bytes(),
        shared.timeouts,
    )
    .await
    .map_err(link)
}

async fn cycle(
    shared: &Arc<Shared>,
    conn: &mut Option<Connection>,
) -> Result<CycleReport, DirError> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(connect(shared).await?),
    };
    let mut report = CycleReport {
        uploaded: upload(shared, c).await?,
        ..CycleReport::default()
    };
    let (applied, full) = pull(shared, c).await?;
    report.applied = applied;
    report.full = full;
    Ok(report)
}

/// Sends unacknowledged local changes until the server has them all. An
/// interrupted upload is simply sent again: the server skips sequence
/// numbers it already applied.
async fn upload(shared: &Arc<Shared>, c: &mut Connection) -> Result<u64, DirError> {
    let chunk = shared.settings.upload_chunk;
    let mut uploaded = 0u64;
    // Bounded so a misbehaving server cannot keep a cycle going forever.
    for _ in 0..100_000 {
        let batch = shared.with_store(move |s| s.pending(chunk)).await?;
        let n = batch.len() as u64;
        let ack = match c
            .request(DirUpload { changes: batch })
            .await
            .map_err(link)?
        {
            Message::DirUploadAck(ack) => ack,
            other => {
                return Err(DirError::Protocol(format!(
                    "expected DirUploadAck, got {}",
                    other.message_type().name()
                )));
            }
        };
        let through = ack.applied_through;
        shared.with_store(move |s| s.record_ack(through)).await?;
        uploaded += n;
        if n == 0 && shared.with_store(|s| s.pending(1)).await?.is_empty() {
            return Ok(uploaded);
        }
    }
    Err(DirError::Protocol("the upload never completed".into()))
}

/// Pulls what the server has after our mark and applies it. Chunks are
/// committed by a blocking applier while the next ones arrive.
async fn pull(shared: &Arc<Shared>, c: &mut Connection) -> Result<(u64, bool), DirError> {
    let state = shared.with_store(|s| s.state()).await?;
    let (mut session, request) = PullSession::begin(&state, false);
    let id = c.send_request(request).await.map_err(link)?;
    let mut full_gen = None;
    let own = shared.settings.post_offices.clone();
    let (tx, mut rx) = mpsc::channel::<(Option<u64>, Vec<DirUpdate>)>(2);
    let applier_shared = Arc::clone(shared);
    let applier = tokio::task::spawn_blocking(move || {
        let mut applied = 0;
        while let Some((generation, batch)) = rx.blocking_recv() {
            applied += applier_shared.store.apply_chunk(&own, generation, &batch)?;
        }
        Ok::<u64, DirError>(applied)
    });
    let mut buffer: Vec<DirUpdate> = Vec::new();
    let outcome: Result<(u64, u64), DirError> = async {
        loop {
            match c.recv_reply(id).await.map_err(link)? {
                Message::DirPullStart(start) => {
                    if session.start(&start)? {
                        full_gen = Some(shared.with_store(|s| s.begin_full()).await?);
                    }
                }
                Message::DirUpdates(chunk) => {
                    session.updates(&chunk)?;
                    buffer.extend(chunk.updates);
                    if buffer.len() >= APPLY_BATCH {
                        let batch = std::mem::take(&mut buffer);
                        tx.send((full_gen, batch))
                            .await
                            .map_err(|_| DirError::Task("the applier stopped".into()))?;
                    }
                }
                Message::DirPullEnd(end) => {
                    session.end(&end)?;
                    return Ok((end.epoch, end.high_water));
                }
                other => {
                    return Err(DirError::Protocol(format!(
                        "unexpected {} in a pull",
                        other.message_type().name()
                    )));
                }
            }
        }
    }
    .await;
    drop(tx);
    let applied = applier.await.map_err(|e| DirError::Task(e.to_string()))??;
    // The mark moves only after every chunk before it is committed; the
    // last chunk and the end share one transaction.
    let (epoch, high_water) = outcome?;
    let quiet =
        full_gen.is_none() && buffer.is_empty() && epoch == state.epoch && high_water == state.mark;
    if quiet {
        return Ok((applied, false));
    }
    let last = std::mem::take(&mut buffer);
    let own = shared.settings.post_offices.clone();
    let (last_applied, dropped) = shared
        .with_store(move |s| s.apply_and_finish(&own, full_gen, &last, epoch, high_water))
        .await?;
    if full_gen.is_some() {
        info!(
            applied = applied + last_applied,
            dropped, high_water, "full resync finished"
        );
    }
    Ok((applied + last_applied + dropped, full_gen.is_some()))
}
