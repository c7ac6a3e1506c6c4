//! The bridge's sync task. One cycle: take in the site log's new changes
//! (queueing export-folder changes for H), upload to H until acknowledged,
//! then pull from H into the import folder.

use std::sync::Arc;
use std::time::Duration;

use dir_core::requestor::{PullSession, SyncState};
use dir_core::{DirError, patterns};
use peer_link::{Connection, LinkError};
use site_replicator::client::SiteClient;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};
use wire_format::{DirUpdate, DirUpload, Entry, Message, Role};

use super::{Shared, Waiter};
use crate::net::now_ms;

/// Updates from H written to the site per batch (one SiteWrite or a few).
const IMPORT_BATCH: usize = 5000;
const READ_MAX: u32 = 10_000;
/// Bytes of entries per SiteWrite, well under the 4 MiB frame limit.
const WRITE_BYTES: usize = 1 << 20;
const RETRY: Duration = Duration::from_millis(500);
/// A wait for the site's notification is renewed this often.
const SITE_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Report {
    queued: u64,
    uploaded: u64,
    applied: u64,
    full: bool,
}

fn link(e: LinkError) -> DirError {
    DirError::Link(e.to_string())
}

async fn server_frame(
    conn: &mut Option<Connection>,
) -> Result<Option<wire_format::Frame>, LinkError> {
    match conn {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

async fn site_change(site: &mut Option<SiteClient>) -> Result<Option<u64>, LinkError> {
    match site {
        Some(s) => s.wait_for_change(SITE_WAIT).await,
        None => std::future::pending().await,
    }
}

pub async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Waiter>) {
    let mut server: Option<Connection> = None;
    let mut site: Option<SiteClient> = None;
    let mut next = Instant::now();
    let mut cycle_no = 0u64;
    loop {
        let mut waiters: Vec<Waiter> = Vec::new();
        tokio::select! {
            w = rx.recv() => match w {
                Some(w) => waiters.push(w),
                None => return,
            },
            () = tokio::time::sleep_until(next) => {}
            frame = server_frame(&mut server) => match frame {
                Ok(Some(f)) if matches!(f.message, Message::DirNotify(_)) => debug!("server notified updates"),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => {
                    server = None;
                    next = Instant::now() + RETRY;
                    continue;
                }
            },
            change = site_change(&mut site) => match change {
                Ok(Some(usn)) => debug!(usn, "site log grew"),
                Ok(None) => continue,
                Err(_) => {
                    site = None;
                    next = Instant::now() + RETRY;
                    continue;
                }
            },
        }
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        cycle_no += 1;
        let started = Instant::now();
        let span = info_span!("bridge_cycle", cycle = cycle_no);
        let result = cycle(&shared, &mut server, &mut site)
            .instrument(span)
            .await;
        let took = started.elapsed().as_millis() as u64;
        let answer = match &result {
            Ok(r) => {
                next = Instant::now() + shared.settings.interval;
                if r.queued > 0 || r.uploaded > 0 || r.applied > 0 || r.full {
                    info!(
                        cycle = cycle_no,
                        queued = r.queued,
                        uploaded = r.uploaded,
                        applied = r.applied,
                        full = r.full,
                        took_ms = took,
                        "bridge cycle done"
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
                warn!(cycle = cycle_no, error = %e, "bridge cycle failed");
                server = None;
                site = None;
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

async fn connect_server(shared: &Shared) -> Result<Connection, DirError> {
    let server = shared.settings.server;
    let Some(config) = shared.settings.server(&server) else {
        return Err(DirError::Link(format!(
            "no secret configured for server {server}"
        )));
    };
    Connection::connect(
        &config.endpoint,
        &shared.settings.node,
        Role::Requestor,
        config.secret.as_bytes(),
        shared.timeouts,
    )
    .await
    .map_err(link)
}

async fn connect_site(shared: &Shared) -> Result<SiteClient, DirError> {
    SiteClient::connect(
        &shared.site.endpoint,
        &shared.site.client,
        Role::Requestor,
        shared.site.secret.as_bytes(),
        shared.timeouts,
    )
    .await
    .map_err(|e| DirError::Link(format!("site replicator: {e}")))
}

async fn cycle(
    shared: &Arc<Shared>,
    server: &mut Option<Connection>,
    site: &mut Option<SiteClient>,
) -> Result<Report, DirError> {
    let s = match site {
        Some(s) => s,
        None => site.insert(connect_site(shared).await?),
    };
    // Notifications that arrived meanwhile are covered by this cycle.
    while let Ok(Some(_)) = s.wait_for_change(Duration::ZERO).await {}
    let queued = intake(shared, s).await?;
    let c = match server {
        Some(c) => c,
        None => server.insert(connect_server(shared).await?),
    };
    let uploaded = upload(shared, c).await?;
    let (applied, full) = pull(shared, c, s).await?;
    Ok(Report {
        queued,
        uploaded,
        applied,
        full,
    })
}

/// The entry H gets for a site change, if it is one of an export folder:
/// no folder (H's network has none), owned by its post office.
fn exported(shared: &Shared, entry: &Entry) -> Option<Entry> {
    let folder = entry.folder?;
    if folder == shared.site.import_folder || !patterns::matches(&shared.site.export, &folder) {
        return None;
    }
    let mut out = entry.clone();
    out.folder = None;
    out.owner = out.address.post_office;
    out.origin = shared.settings.node;
    Some(out)
}

/// Reads the site log to its end, queueing export-folder changes for H.
async fn intake(shared: &Arc<Shared>, s: &mut SiteClient) -> Result<u64, DirError> {
    let mut queued = 0;
    loop {
        let cursor = shared.with_store(|st| Ok(st.state()?.site)).await?;
        let read = s.read(cursor, READ_MAX).await.map_err(link)?;
        if read.changes.is_empty() && read.next == cursor {
            return Ok(queued);
        }
        let more = read.more;
        let import_folder = shared.site.import_folder;
        let changes = read.changes.clone();
        let worker = Arc::clone(shared);
        let superseded = shared
            .with_store(move |st| st.superseded(&changes, |e| exported(&worker, e)))
            .await?;
        if !superseded.is_empty() {
            debug!(
                n = superseded.len(),
                "import-folder copies superseded by an export folder"
            );
            let deletes = superseded
                .into_iter()
                .map(|mut e| {
                    e.tombstone = true;
                    e.folder = Some(import_folder);
                    e
                })
                .collect();
            site_write(s, deletes).await?;
        }
        let worker = Arc::clone(shared);
        queued += shared
            .with_store(move |st| st.intake(&read.changes, read.next, |e| exported(&worker, e)))
            .await?;
        if !more {
            return Ok(queued);
        }
    }
}

/// Sends queued changes until H has acknowledged them all.
async fn upload(shared: &Arc<Shared>, c: &mut Connection) -> Result<u64, DirError> {
    let chunk = shared.settings.upload_chunk;
    let mut uploaded = 0u64;
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

/// Writes entries to the site in frames of bounded size.
async fn site_write(s: &mut SiteClient, entries: Vec<Entry>) -> Result<(), DirError> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for e in entries {
        bytes += 128
            + e.display_name.len()
            + e.attributes
                .iter()
                .map(|a| 8 + a.value.len() + a.key.as_str().len())
                .sum::<usize>();
        batch.push(e);
        if bytes >= WRITE_BYTES {
            s.write(std::mem::take(&mut batch)).await.map_err(link)?;
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        s.write(batch).await.map_err(link)?;
    }
    Ok(())
}

/// Writes the batch's real changes into the import folder, then records
/// them (and, incrementally, the mark). A crash in between writes them once
/// more on the next pull: the same content, never a second entry.
async fn import(
    shared: &Arc<Shared>,
    s: &mut SiteClient,
    full_gen: Option<u64>,
    updates: Vec<DirUpdate>,
) -> Result<u64, DirError> {
    if updates.is_empty() {
        return Ok(0);
    }
    let (updates, flags) = shared
        .with_store(move |st| {
            let flags = st.to_write(&updates)?;
            Ok((updates, flags))
        })
        .await?;
    let folder = shared.site.import_folder;
    let writes: Vec<Entry> = updates
        .iter()
        .zip(&flags)
        .filter(|(_, w)| **w)
        .map(|(u, _)| {
            let mut e = u.entry.clone();
            e.folder = Some(folder);
            e
        })
        .collect();
    let written = writes.len() as u64;
    site_write(s, writes).await?;
    shared
        .with_store(move |st| st.record_imported(full_gen, &updates))
        .await?;
    Ok(written)
}

/// Pulls what H has after the mark into the import folder.
async fn pull(
    shared: &Arc<Shared>,
    c: &mut Connection,
    s: &mut SiteClient,
) -> Result<(u64, bool), DirError> {
    let state = shared.with_store(|st| st.state()).await?;
    let sync = SyncState {
        epoch: state.server_epoch,
        mark: state.server_mark,
        acked: state.acked,
        out_seq: state.out_seq,
        resync_active: state.resync_active,
    };
    let (mut session, request) = PullSession::begin(&sync, false);
    let id = c.send_request(request).await.map_err(link)?;
    let mut full_gen = None;
    let mut buffer: Vec<DirUpdate> = Vec::new();
    let mut applied = 0;
    let (epoch, high_water) = loop {
        match c.recv_reply(id).await.map_err(link)? {
            Message::DirPullStart(start) => {
                if session.start(&start)? {
                    full_gen = Some(shared.with_store(|st| st.begin_full()).await?);
                }
            }
            Message::DirUpdates(chunk) => {
                session.updates(&chunk)?;
                buffer.extend(chunk.updates);
                if buffer.len() >= IMPORT_BATCH {
                    applied += import(shared, s, full_gen, std::mem::take(&mut buffer)).await?;
                }
            }
            Message::DirPullEnd(end) => {
                session.end(&end)?;
                break (end.epoch, end.high_water);
            }
            other => {
                return Err(DirError::Protocol(format!(
                    "unexpected {} in a pull",
                    other.message_type().name()
                )));
            }
        }
    };
    let quiet = full_gen.is_none()
        && buffer.is_empty()
        && epoch == state.server_epoch
        && high_water == state.server_mark;
    if quiet {
        return Ok((applied, false));
    }
    applied += import(shared, s, full_gen, buffer).await?;
    if let Some(generation) = full_gen {
        // What H no longer has leaves the import folder before the resync
        // is recorded as finished.
        let stale = shared.with_store(move |st| st.stale(generation)).await?;
        let deletes: Vec<Entry> = stale
            .into_iter()
            .map(|mut e| {
                e.tombstone = true;
                e.folder = Some(shared.site.import_folder);
                e
            })
            .collect();
        applied += deletes.len() as u64;
        site_write(s, deletes).await?;
    }
    shared
        .with_store(move |st| st.finish_pull(epoch, high_water, full_gen))
        .await?;
    if full_gen.is_some() {
        info!(applied, high_water, "full resync from the server finished");
    }
    Ok((applied, full_gen.is_some()))
}
