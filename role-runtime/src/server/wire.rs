//! The wire protocol's server side, written once: the handshake on every
//! admitted connection, then one per-connection loop (ping, idle timeout,
//! a bad frame answered by an error frame, errors mapped to codes,
//! notifications, a goodbye on drain).

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, Keyring, LinkError, PeerIdentity, Timeouts};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{debug, info, warn};
use wire_format::{
    ErrorCode, ErrorReply, Frame, Health, HistoryPage, HistoryRequest, Message, MessageType, Name,
    Pong, Role, StatusReport,
};

use super::{Service, Session, Shutdown};
use crate::history::History;

/// Who a wire listener proves to be, and whom it admits.
#[derive(Clone)]
pub struct WireIdentity {
    pub me: Name,
    pub role: Role,
    pub keyring: Keyring,
    pub timeouts: Timeouts,
}

impl WireIdentity {
    pub fn new(me: Name, role: Role, keyring: Keyring, timeouts: Timeouts) -> WireIdentity {
        WireIdentity {
            me,
            role,
            keyring,
            timeouts,
        }
    }
}

/// A [`RequestHandler`] as a listener's [`Service`]: runs the handshake (a
/// peer that fails it gets one `AuthFailed` frame), then
/// [`serve_requests`].
pub struct WireService<H> {
    identity: WireIdentity,
    handler: H,
}

impl<H: RequestHandler> WireService<H> {
    pub fn new(identity: WireIdentity, handler: H) -> WireService<H> {
        WireService { identity, handler }
    }
}

impl<H: RequestHandler> Service for WireService<H> {
    fn busy_reply(&self) -> Vec<u8> {
        let reply = ErrorReply::new(
            ErrorCode::Unavailable,
            "too many connections to this server; try again later",
        );
        wire_format::frame_to_bytes(&Frame::new(0, reply), usize::MAX)
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default()
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, session: Session) {
        let identity = &self.identity;
        let accepted = Connection::accept(
            stream,
            &identity.me,
            identity.role,
            &identity.keyring,
            session.id,
            identity.timeouts,
        )
        .await;
        match accepted {
            Ok(conn) => {
                tracing::Span::current().record("peer", tracing::field::display(conn.peer().name));
                serve_requests(&self.handler, identity, conn, session.shutdown.clone()).await;
            }
            Err(e) => info!(error = %e, "handshake failed"),
        }
    }
}

/// Why a peer is turned away: the code and text of its error frame.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: ErrorCode,
    pub text: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Refusal {
        Refusal {
            code,
            text: text.into(),
        }
    }
}

/// A request/response role (DS server, site replicator, a requestor's
/// operator port): what it does with each frame, and what it pushes.
pub trait RequestHandler: Send + Sync + 'static {
    /// Per-connection state beyond the peer's identity (which `handle`
    /// reads from the connection); most roles need none.
    type Session: Send + Default;

    /// After the handshake: the connection's state, or why this peer may
    /// not be served.
    fn open(&self, _peer: &PeerIdentity) -> Result<Self::Session, Refusal> {
        Ok(Self::Session::default())
    }

    /// Before each request: `Err` ends the connection with that error (a
    /// DS server's requestor removed while connected).
    fn admit(&self, _peer: &PeerIdentity) -> Result<(), Refusal> {
        Ok(())
    }

    /// The answer to the operator's `StatusRequest` (the loop answers it).
    /// A role whose work partly fails says so in the report's `health`;
    /// `Err` (the report cannot be built, say its store cannot be read) is
    /// answered as a report with no items, degraded for that reason: the
    /// process is running and answering, so it is not shown as down. A
    /// report that says `Ok` while one of the process's stores has failed
    /// an I/O operation ([`store_file::faults`]) is sent degraded, with the
    /// store's first error.
    fn status(&self) -> impl Future<Output = Result<StatusReport, String>> + Send;

    /// The process's run history, from which the loop answers the
    /// operator's `HistoryRequest`; a role that records none (the default)
    /// answers an empty page.
    fn history(&self) -> Option<&History> {
        None
    }

    /// Answers one request (never a `Ping`, nor an operator's
    /// `StatusRequest` or `HistoryRequest`: the loop answers those).
    /// `Closed` and `Timeout` end the connection quietly; any other error
    /// is answered with an error frame (see [`error_code`]) and the
    /// connection goes on.
    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Self::Session,
        frame: Frame,
    ) -> impl Future<Output = Result<(), LinkError>> + Send + 'a;

    /// The log end this server announces to `peer`, if it announces it to
    /// such a peer at all, and the request after which the connection
    /// hears of it (its first pull answered).
    fn notices(&self, _peer: &PeerIdentity) -> Option<(watch::Receiver<u64>, MessageType)> {
        None
    }

    /// The notice for a new log end.
    fn notice(&self, _high_water: u64) -> Option<Message> {
        None
    }

    /// A connection with no request and nothing to push for this long is
    /// closed.
    fn idle(&self) -> Duration {
        Duration::from_secs(300)
    }
}

/// The code an error frame carries for a failed request.
pub fn error_code(error: &LinkError) -> ErrorCode {
    match error {
        LinkError::Wire(w) => w.code(),
        LinkError::Unexpected { .. } => ErrorCode::UnexpectedMessage,
        LinkError::Timeout { .. } => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

/// Serves `conn` with `handler` until the peer leaves, goes idle, sends a
/// bad frame, or the process drains.
pub async fn serve_requests<H: RequestHandler>(
    handler: &H,
    identity: &WireIdentity,
    mut conn: Connection,
    shutdown: Shutdown,
) {
    let mut session = match handler.open(conn.peer()) {
        Ok(session) => session,
        Err(refusal) => {
            warn!(peer = %conn.peer().name, reason = %refusal.text, "peer refused");
            let _ = conn.reply_error(0, refusal.code, refusal.text).await;
            return;
        }
    };
    let (mut log_end, subscribes) = handler.notices(conn.peer()).unzip();
    let mut subscribed = false;
    let mut last_notified = 0;
    loop {
        tokio::select! {
            frame = conn.next() => match frame {
                Ok(Some(frame)) => {
                    let id = frame.request_id;
                    if let Err(refusal) = handler.admit(conn.peer()) {
                        let _ = conn.reply_error(id, refusal.code, refusal.text).await;
                        return;
                    }
                    let kind = frame.message.message_type();
                    let operator = conn.peer().role == Role::Operator;
                    let result = match frame.message {
                        Message::Ping(ping) => conn.reply(id, Pong { token: ping.token }).await,
                        Message::StatusRequest(_) if operator => {
                            let report = match handler.status().await {
                                Ok(report) => with_store_faults(report),
                                Err(text) => {
                                    warn!(reason = %text, "status report failed; reporting degraded");
                                    degraded(identity, &text)
                                }
                            };
                            conn.reply(id, report).await
                        }
                        Message::HistoryRequest(request) if operator => {
                            answer_history(&mut conn, id, handler.history(), &request).await
                        }
                        _ => handler.handle(&mut conn, &mut session, frame).await,
                    };
                    match result {
                        Ok(()) => subscribed |= subscribes == Some(kind),
                        Err(e @ (LinkError::Closed | LinkError::Timeout { .. })) => {
                            debug!(error = %e, "connection ended");
                            return;
                        }
                        Err(e) => {
                            warn!(error = %e, "request failed");
                            let _ = conn.reply_error(id, error_code(&e), e.to_string()).await;
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    // The stream is out of step: say why and close; every
                    // other connection goes on.
                    warn!(error = %e, "bad frame; closing the connection");
                    conn.close_with_error(0, &e).await;
                    return;
                }
            },
            high_water = next_log_end(&mut log_end), if subscribed => {
                let Some(high_water) = high_water else { return };
                if high_water > last_notified {
                    last_notified = high_water;
                    if let Some(notice) = handler.notice(high_water)
                        && conn.send(Frame::new(0, notice)).await.is_err()
                    {
                        return;
                    }
                }
            }
            () = tokio::time::sleep(handler.idle()) => {
                debug!("idle connection closed");
                return;
            }
            () = shutdown.draining() => {
                let _ = conn
                    .reply_error(0, ErrorCode::Unavailable, "the server is shutting down")
                    .await;
                return;
            }
        }
    }
}

/// The operator's `HistoryRequest`: a page of `history`, an empty one when
/// the role records none, or `Unavailable` with why when its history file
/// could not be opened.
async fn answer_history(
    conn: &mut Connection,
    id: u32,
    history: Option<&History>,
    request: &HistoryRequest,
) -> Result<(), LinkError> {
    match history.map(|h| h.page(request.since_ms, request.max)) {
        None => conn.reply(id, HistoryPage { events: Vec::new() }).await,
        Some(Ok(events)) => conn.reply(id, HistoryPage { events }).await,
        Some(Err(why)) => conn.reply_error(id, ErrorCode::Unavailable, why).await,
    }
}

/// The report of a process whose status could not be built: no items,
/// degraded for `reason`.
fn degraded(identity: &WireIdentity, reason: &str) -> StatusReport {
    StatusReport {
        node: identity.me,
        role: identity.role,
        items: Vec::new(),
        health: Health::Degraded(cut(reason)),
    }
}

/// `report`, degraded if it says `Ok` while a store of this process has
/// failed an I/O operation: redb then fails every write to that store until
/// it is opened again, which a role that does not reopen it (all but the
/// mail router, which reports its own recovery) does only by restarting.
fn with_store_faults(mut report: StatusReport) -> StatusReport {
    if report.health == Health::Ok
        && let Some(fault) = store_file::faults().into_iter().next()
    {
        report.health = Health::Degraded(cut(&format!(
            "{fault}; every write to it fails until it is reopened: this process \
             restarts itself once the store's directory takes writes again"
        )));
    }
    report
}

/// At most what a status text holds, cut at a character.
fn cut(text: &str) -> String {
    let mut at = text.len().min(wire_format::limits::MAX_STATUS_TEXT_LEN);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].to_owned()
}

/// The next value of the watched log end; `None` once its sender is gone.
async fn next_log_end(log_end: &mut Option<watch::Receiver<u64>>) -> Option<u64> {
    let receiver = log_end.as_mut()?;
    receiver.changed().await.ok()?;
    Some(*receiver.borrow_and_update())
}
