//! The operator's requests. Both directories answer StatusRequest and
//! SyncNow; a post office also takes its users' changes (UserUpsert,
//! UserDelete), GAL listings and Repoint. The bridge's users are post
//! offices' users, written at their post offices, and its directory is read
//! at the site replicator.

use std::sync::Arc;
use std::time::Duration;

use dir_core::DirError;
use peer_link::{Connection, LinkError};
use role_runtime::now_ms;
use role_runtime::server::RequestHandler;
use tokio::sync::oneshot;
use tracing::{info, warn};
use wire_format::{
    Address, AdminOk, Entry, EntryVersion, ErrorCode, Frame, GalPage, GalSummary, Message, Repoint,
    StatusReport,
};

use super::{Directory, Shared, SyncCommand, status};

const PAGE_MAX: usize = 5000;
const IDLE: Duration = Duration::from_secs(600);

/// The operator's connections to this requestor.
pub(super) struct Handler(pub(super) Arc<Shared>);

impl RequestHandler for Handler {
    type Session = ();

    async fn handle(
        &self,
        conn: &mut Connection,
        _: &mut (),
        frame: Frame,
    ) -> Result<(), LinkError> {
        match answer(&self.0, frame.message).await {
            Ok(reply) => conn.reply(frame.request_id, reply).await,
            Err((code, text)) => conn.reply_error(frame.request_id, code, text).await,
        }
    }

    async fn status(&self) -> Result<StatusReport, String> {
        status::report(&self.0).await.map_err(|e| e.to_string())
    }

    fn history(&self) -> Option<&role_runtime::history::History> {
        Some(&self.0.history)
    }

    fn idle(&self) -> Duration {
        IDLE
    }
}

fn error_code(e: &DirError) -> ErrorCode {
    match e {
        DirError::NotFound(_) => ErrorCode::NotFound,
        DirError::Forbidden { .. } => ErrorCode::Forbidden,
        _ => ErrorCode::Internal,
    }
}

/// A local user's address must be of this network and of a post office this
/// requestor owns: a post office can change only its own users.
fn check_own(shared: &Shared, address: &Address) -> Result<(), String> {
    let s = &shared.settings;
    if address.network != s.network || !s.post_offices.contains(&address.post_office) {
        return Err(format!("{address} is not a user of {}", s.node));
    }
    Ok(())
}

/// Asks the sync task for a cycle and waits for its answer.
async fn run_cycle(
    shared: &Shared,
    make: impl FnOnce(oneshot::Sender<Result<String, String>>) -> SyncCommand,
) -> Result<String, String> {
    let (tx, rx) = oneshot::channel();
    shared
        .sync
        .send(make(tx))
        .await
        .map_err(|_| "the sync task stopped".to_owned())?;
    match tokio::time::timeout(shared.timeouts.reply * 4, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err("the sync task stopped".into()),
        Err(_) => Err("the cycle did not finish in time".into()),
    }
}

/// Why a request is refused: the code and the text the operator sees.
type Refusal = (ErrorCode, String);

fn refused(e: DirError) -> Refusal {
    (error_code(&e), e.to_string())
}

fn done(detail: String) -> Message {
    AdminOk { detail }.into()
}

fn not_taken(message: &Message, by: &str) -> Refusal {
    let kind = message.message_type().name();
    (
        ErrorCode::UnexpectedMessage,
        format!("{by} does not take {kind}"),
    )
}

async fn answer(shared: &Arc<Shared>, message: Message) -> Result<Message, Refusal> {
    match message {
        Message::SyncNow(_) => run_cycle(shared, |tx| SyncCommand::Run(Some(tx)))
            .await
            .map(done)
            .map_err(|text| (ErrorCode::Unavailable, text)),
        other => match &shared.directory {
            Directory::PostOffice(_) => post_office(shared, other).await,
            Directory::Bridge { .. } => Err(not_taken(
                &other,
                "the bridge requestor (its directory is at the site replicator)",
            )),
        },
    }
}

/// What only a post office takes: its users' changes, GAL listings, Repoint.
async fn post_office(shared: &Arc<Shared>, message: Message) -> Result<Message, Refusal> {
    match message {
        Message::UserUpsert(u) => {
            if let Err(text) = check_own(shared, &u.address) {
                warn!(address = %u.address, "refused a change to another post office's user");
                return Err((ErrorCode::Forbidden, text));
            }
            // The password belongs to the mail router; the directory drops it here.
            let entry = Entry {
                address: u.address.clone(),
                display_name: u.display_name,
                attributes: u.attributes,
                owner: shared.settings.node,
                folder: None,
                origin: shared.settings.node,
                version: EntryVersion {
                    version: 0,
                    changed_at_ms: now_ms(),
                    origin_seq: 0,
                },
                tombstone: false,
            };
            let seq = shared
                .with_store(move |s| s.upsert_local(entry))
                .await
                .map_err(refused)?;
            info!(address = %u.address, seq, "local user committed");
            let _ = shared.sync.try_send(SyncCommand::Run(None));
            Ok(done(format!("{} stored (change {seq})", u.address)))
        }
        Message::UserDelete(d) => {
            check_own(shared, &d.address).map_err(|text| (ErrorCode::Forbidden, text))?;
            let address = d.address.clone();
            let seq = shared
                .with_store(move |s| s.delete_local(&address, now_ms()))
                .await
                .map_err(refused)?;
            info!(address = %d.address, seq, "local user deleted");
            let _ = shared.sync.try_send(SyncCommand::Run(None));
            Ok(done(format!("{} deleted (change {seq})", d.address)))
        }
        Message::ListGal(list) => {
            let limit = (list.limit as usize).clamp(1, PAGE_MAX);
            let (after, post_office) = (list.after, list.post_office);
            let (entries, more) = shared
                .with_store(move |s| s.page(after.as_ref(), limit, post_office.as_ref()))
                .await
                .map_err(refused)?;
            let next = if more {
                entries.last().map(|e| e.address.clone())
            } else {
                None
            };
            Ok(GalPage { entries, next }.into())
        }
        Message::GalSummaryRequest(_) => {
            let post_offices = shared
                .with_store(|s| s.gal_summary())
                .await
                .map_err(refused)?;
            Ok(GalSummary { post_offices }.into())
        }
        Message::Repoint(r) => repoint(shared, r).await.map(done),
        other => Err(not_taken(&other, "a DS requestor")),
    }
}

/// Patent step E: the repoint is durable before the first cycle with the
/// new server runs; that cycle's outcome is told, a failure is retried.
async fn repoint(shared: &Arc<Shared>, r: Repoint) -> Result<String, Refusal> {
    if shared.settings.server(&r.server).is_none() {
        let text = format!("no [[servers]] entry (and so no secret) for {}", r.server);
        return Err((ErrorCode::NotFound, text));
    }
    let (server, endpoint) = (r.server, r.endpoint.clone());
    shared
        .with_store(move |s| s.repoint(&server, &endpoint))
        .await
        .map_err(refused)?;
    info!(server = %r.server, endpoint = %r.endpoint, "re-pointed (step E); a full resync follows");
    let now = format!("now syncing with {} at {}", r.server, r.endpoint);
    Ok(
        match run_cycle(shared, |tx| SyncCommand::Reconnect(Some(tx))).await {
            Ok(detail) => format!("{now}: {detail}"),
            Err(text) => format!("{now}; first cycle failed ({text}), retrying"),
        },
    )
}
