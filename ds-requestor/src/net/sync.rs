//! The sync task: owns the connection to the DS server (and, for the
//! bridge, to the site replicator) and runs cycles on the schedule, on
//! demand, when the server notifies that updates exist and when the site
//! log grows. A cycle is `dir_core::requestor::Cycle`; this task only does
//! what it asks: store operations, requests to the server, site writes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dir_core::DirError;
use dir_core::requestor::{Bridge, Cycle, CycleReport, CycleStore, Op, PostOffice, Step, Stored};
use peer_link::{Connection, LinkError};
use role_runtime::history::Run;
use role_runtime::{RETRY, now_ms};
use site_client::SiteClient;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{HistoryKind, Message, Role};

use super::tally::Tally;
use super::{Directory, Shared, SyncCommand};
use crate::bridge;

/// Updates committed per transaction while pulling: fewer, larger commits
/// make a full resync fast; each is still atomic with its mark.
const APPLY_BATCH: usize = 5000;
/// Pull frames read ahead while a batch commits (a frame holds up to the
/// server's chunk, 500 updates by default).
const READ_AHEAD: usize = 32;
/// A wait for the site's notification is renewed this often.
const SITE_WAIT: Duration = Duration::from_secs(30);

type Waiter = oneshot::Sender<Result<String, String>>;

/// The open connections; None until the next cycle connects.
#[derive(Default)]
struct Links {
    server: Option<Connection>,
    /// The server `server` is connected to.
    server_name: Option<wire_format::Name>,
    site: Option<SiteClient>,
}

#[derive(Debug, Default)]
struct Report {
    queued: u64,
    cycle: CycleReport,
}

fn link(e: LinkError) -> DirError {
    DirError::Link(e.to_string())
}

/// The next frame of the open connection; never resolves without one.
async fn server_frame(
    conn: &mut Option<Connection>,
) -> Result<Option<wire_format::Frame>, LinkError> {
    match conn {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

/// The site's next notification (None: the wait ran out); never resolves
/// without a site connection (a post office has none).
async fn site_change(site: &mut Option<SiteClient>) -> Result<Option<u64>, LinkError> {
    match site {
        Some(s) => s.wait_for_change(SITE_WAIT).await,
        None => std::future::pending().await,
    }
}

pub async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<SyncCommand>) {
    let mut links = Links::default();
    let mut next = Instant::now();
    let mut cycle_no = 0u64;
    loop {
        let mut waiters: Vec<Waiter> = Vec::new();
        let absorb = |cmd: SyncCommand, links: &mut Links, waiters: &mut Vec<Waiter>| match cmd {
            SyncCommand::Run(w) => waiters.extend(w),
            SyncCommand::Reconnect(w) => {
                links.server = None;
                waiters.extend(w);
            }
        };
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => absorb(cmd, &mut links, &mut waiters),
                None => return,
            },
            () = tokio::time::sleep_until(next) => {}
            frame = server_frame(&mut links.server) => match frame {
                Ok(Some(f)) if matches!(f.message, Message::DirNotify(_)) => {
                    debug!("server notified updates");
                }
                Ok(Some(f)) => {
                    debug!(kind = f.message.message_type().name(), "ignored an unsolicited frame");
                    continue;
                }
                Ok(None) | Err(_) => {
                    // Lost the server: reconnect soon so notifications resume.
                    links.server = None;
                    shared.info(|i| i.connected = false);
                    next = Instant::now() + RETRY;
                    continue;
                }
            },
            change = site_change(&mut links.site) => match change {
                Ok(Some(usn)) => debug!(usn, "site log grew"),
                Ok(None) => continue,
                Err(_) => {
                    links.site = None;
                    next = Instant::now() + RETRY;
                    continue;
                }
            },
        }
        // Requests that queued meanwhile are served by this same cycle.
        while let Ok(cmd) = rx.try_recv() {
            absorb(cmd, &mut links, &mut waiters);
        }
        cycle_no += 1;
        let started = Instant::now();
        let mut tally = Tally::default();
        tally.run.started_ms = now_ms();
        let span = info_span!("sync_cycle", cycle = cycle_no);
        let result = cycle(&shared, &mut links, &mut tally)
            .instrument(span)
            .await;
        let took = started.elapsed().as_millis() as u64;
        let mut run = tally.run;
        run.ended_ms = now_ms();
        let answer = match result {
            Ok(r) => {
                next = Instant::now() + shared.settings.interval;
                run.full = r.cycle.full;
                run.applied = r.cycle.applied;
                run.refused = run.received.saturating_sub(run.applied);
                done(&shared, cycle_no, took, &r)
            }
            Err(e) => {
                warn!(cycle = cycle_no, error = %e, "cycle failed");
                links = Links::default();
                next = Instant::now() + RETRY;
                shared.info(|i| {
                    i.cycles += 1;
                    i.failures += 1;
                    i.consecutive_failures += 1;
                    i.connected = false;
                    i.last_cycle_ms = now_ms();
                    i.last_error = e.to_string();
                });
                run.error = Some(e.to_string());
                Err(e.to_string())
            }
        };
        // Recorded before the operator hears the answer, so a `history`
        // asked after `sync` sees the cycle.
        shared.history.record(HistoryKind::DirsyncCycle, run).await;
        for w in waiters {
            let _ = w.send(answer.clone());
        }
    }
}

/// Records a finished cycle for status and the log; the operator's answer.
fn done(shared: &Shared, cycle_no: u64, took: u64, r: &Report) -> Result<String, String> {
    let c = r.cycle;
    if r.queued > 0 || c.uploaded > 0 || c.applied > 0 || c.full {
        info!(
            cycle = cycle_no,
            queued = r.queued,
            uploaded = c.uploaded,
            applied = c.applied,
            full = c.full,
            took_ms = took,
            "cycle done"
        );
    }
    shared.info(|i| {
        i.cycles += 1;
        i.consecutive_failures = 0;
        i.connected = true;
        i.last_cycle_ms = now_ms();
        i.last_success_ms = i.last_cycle_ms;
        i.last_duration_ms = took;
        i.last_uploaded = c.uploaded;
        i.last_applied = c.applied;
        i.last_full = c.full;
        i.last_error.clear();
    });
    Ok(format!(
        "cycle done: {} uploaded, {} applied{}",
        c.uploaded,
        c.applied,
        if c.full { " (full resync)" } else { "" }
    ))
}

/// Connects to the current server, named in `run` first (so a cycle that
/// cannot reach it says which server it was).
async fn connect(shared: &Arc<Shared>, run: &mut Run) -> Result<Connection, DirError> {
    // A post office may have been re-pointed; the bridge's server is fixed.
    let repointed = match &shared.directory {
        Directory::PostOffice(_) => shared.with_store(|s| s.current_server()).await?,
        Directory::Bridge { .. } => None,
    };
    let (name, endpoint) = match repointed {
        Some(found) => found,
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
    run.peer = Some(server);
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
    links: &mut Links,
    tally: &mut Tally,
) -> Result<Report, DirError> {
    let mut queued = 0;
    if let Directory::Bridge { store, site } = &shared.directory {
        let client = match &mut links.site {
            Some(c) => c,
            None => links
                .site
                .insert(bridge::connect(site, shared.timeouts).await?),
        };
        // Notifications that arrived meanwhile are covered by this cycle.
        while let Ok(Some(_)) = client.wait_for_change(Duration::ZERO).await {}
        queued = bridge::intake(store, site, shared.settings.node, client).await?;
    }
    let conn = match &mut links.server {
        Some(c) => {
            tally.run.peer = links.server_name;
            c
        }
        None => {
            let conn = connect(shared, &mut tally.run).await?;
            links.server_name = tally.run.peer;
            links.server.insert(conn)
        }
    };
    // Notifications set aside during the last cycle are covered by this one.
    while conn.take_unsolicited().is_some() {}
    let cycle = drive(shared, conn, links.site.as_mut(), tally).await?;
    if cycle.full {
        info!(applied = cycle.applied, "full resync finished");
    }
    if cycle.renewed {
        warn!(
            "the server acknowledged changes this directory store never made: the store is older than the one the server knows (an old copy put back?); it drew a new epoch, sends its queued changes again and takes its post office's users back from the server"
        );
    }
    if cycle.restored {
        report_restore(shared).await?;
    }
    Ok(Report { queued, cycle })
}

/// A new store's first pull took the post office's users back from the
/// server: said once, as a warning when there were any (the old store was
/// lost, emptied or replaced; status keeps `restored_users`).
async fn report_restore(shared: &Arc<Shared>) -> Result<(), DirError> {
    let Stored::State(state) = shared.perform(Op::State).await? else {
        return Err(DirError::Cycle("a sync state was asked for".into()));
    };
    if state.restored > 0 {
        warn!(
            restored = state.restored,
            store_epoch = state.store_epoch,
            "this directory store is new but the server held users of this post office (the old store was lost, emptied or replaced): they are this post office's own users again"
        );
    } else {
        info!(
            store_epoch = state.store_epoch,
            "a new directory store: the server held no users of this post office"
        );
    }
    Ok(())
}

/// Does what the cycle asks until it is done.
async fn drive(
    shared: &Arc<Shared>,
    conn: &mut Connection,
    mut site: Option<&mut SiteClient>,
    tally: &mut Tally,
) -> Result<CycleReport, DirError> {
    let stages = match &shared.directory {
        Directory::PostOffice(_) => <PostOffice as CycleStore>::STAGES,
        Directory::Bridge { .. } => <Bridge as CycleStore>::STAGES,
    };
    let (mut cycle, mut step) = Cycle::new(shared.settings.upload_chunk, APPLY_BATCH, stages);
    let mut request = None;
    // The pull's next frames, read while a batch commits: a resync then
    // receives and commits at once instead of in turn.
    let mut ahead = VecDeque::new();
    loop {
        step = match step {
            Step::Store(op) => {
                let counts = Tally::before(&op);
                let stored = match request {
                    Some(id) if cycle.pull_streaming() => {
                        read_ahead_while(shared.perform(op), conn, id, &mut ahead).await?
                    }
                    _ => shared.perform(op).await?,
                };
                tally.after(counts, &stored);
                cycle.stored(stored)?
            }
            Step::Request(message) => {
                tally.request(&message);
                let id = conn.send_request(message).await.map_err(link)?;
                request = Some(id);
                cycle.reply(conn.recv_reply(id).await.map_err(link)?)?
            }
            Step::Receive => {
                let Some(id) = request else {
                    return Err(DirError::Cycle("a reply before any request".into()));
                };
                let next = match ahead.pop_front() {
                    Some(next) => next,
                    None => conn.recv_reply(id).await,
                };
                cycle.reply(next.map_err(link)?)?
            }
            Step::Write(entries) => {
                let Some(client) = site.as_deref_mut() else {
                    return Err(DirError::Cycle("a site write without a site".into()));
                };
                bridge::write(client, entries).await?;
                cycle.written()?
            }
            Step::Done(report) => return Ok(report),
        };
    }
}

/// Runs `store` (a batch's commit) while reading the pull's next replies
/// into `ahead`, at most [`READ_AHEAD`] of them, and none past the pull's
/// end or an error (no reply follows those; waiting would only time out).
async fn read_ahead_while<T>(
    store: impl Future<Output = T>,
    conn: &mut Connection,
    request: u32,
    ahead: &mut VecDeque<Result<Message, LinkError>>,
) -> T {
    tokio::pin!(store);
    loop {
        let ended = matches!(ahead.back(), Some(Err(_) | Ok(Message::DirPullEnd(_))));
        if ended || ahead.len() >= READ_AHEAD {
            return store.await;
        }
        // A frame half read when the store finishes stays in the
        // connection's buffer for the next read.
        tokio::select! {
            biased;
            stored = &mut store => return stored,
            next = conn.recv_reply(request) => ahead.push_back(next),
        }
    }
}
