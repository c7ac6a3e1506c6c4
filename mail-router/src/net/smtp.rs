//! The SMTP listeners of a post office: the session machine in
//! `crate::smtp` over a socket; a message is acknowledged (250) only once
//! it is stored. One service serves the plain listener (STARTTLS when a
//! certificate is configured, RFC 3207), the implicit-TLS one (smtps, RFC
//! 8314) and the submission one (RFC 6409: AUTH always required). Failed
//! AUTH is counted and slowed with POP3's failed logins, in the same
//! tables (`pop3::throttle`, one login of a client address checked at a
//! time): the password is the same.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use role_runtime::server::{Interrupted, Service, Session};
use role_runtime::tls::{Stream, TlsAcceptor};
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};
use wire_format::{MailKind, MailTransfer};

use super::commit::Arriving;
use super::counts::ClientCounts;
use super::lines::{Line, read_piece};
use super::pop3::Logins;
use super::{Shared, now_ms};
use crate::smtp::{Action, AuthOutcome, SmtpConfig, SmtpSession, complete_headers};

/// RFC 5321 asks servers to wait at least 5 minutes for a command.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// When every SMTP place is taken, a session that has waited this long for
/// its client's next command gives its place to a new client (Postfix,
/// under stress, likewise cuts its command timeout to 10 s).
const EVICT_IDLE_AFTER: Duration = Duration::from_secs(1);
/// Data lines may be long; the message size limit bounds the total.
const MAX_DATA_LINE: usize = 64 * 1024;
/// A TLS handshake that takes longer is a client that will not finish it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of the SMTP listeners a service serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listening {
    /// `smtp_listen`: plain, STARTTLS when a certificate is configured.
    Smtp,
    /// `smtps_listen`: TLS from the first byte (RFC 8314).
    Smtps,
    /// `submission_listen`: STARTTLS, and AUTH before any mail (RFC 6409).
    Submission,
}

/// One SMTP listener's sessions.
pub struct SmtpService {
    shared: Arc<Shared>,
    listening: Listening,
    /// The certificate's acceptor, when TLS is configured.
    tls: Option<TlsAcceptor>,
    /// Failed login counts and per-address turns, POP3's.
    logins: Arc<Logins>,
}

impl SmtpService {
    /// The plain listener's service; [`SmtpService::also`] makes the
    /// others', sharing its failed-AUTH counts.
    pub fn new(shared: Arc<Shared>, tls: Option<TlsAcceptor>, logins: Arc<Logins>) -> SmtpService {
        SmtpService {
            shared,
            listening: Listening::Smtp,
            tls,
            logins,
        }
    }

    pub fn also(&self, listening: Listening) -> SmtpService {
        SmtpService {
            shared: Arc::clone(&self.shared),
            listening,
            tls: self.tls.clone(),
            logins: Arc::clone(&self.logins),
        }
    }
}

impl Service for SmtpService {
    fn busy_reply(&self) -> Vec<u8> {
        // An smtps client expects a TLS handshake, not a line in clear.
        if self.listening == Listening::Smtps {
            return Vec::new();
        }
        b"421 4.3.2 Too many connections, try again later\r\n".to_vec()
    }

    fn evict_idle_after(&self) -> Option<Duration> {
        Some(EVICT_IDLE_AFTER)
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, session: Session) {
        self.shared.clients.smtp_connection();
        let mut stream = Stream::from(stream);
        if self.listening == Listening::Smtps {
            let Some(acceptor) = &self.tls else { return };
            match start_tls(stream, acceptor, &session).await {
                Some(tls) => stream = tls,
                None => return,
            }
        }
        serve(&self, stream, session).await;
    }
}

/// Whether `client` is in one of the trusted networks (an IPv4 client seen
/// as an IPv4-mapped IPv6 address counts as its IPv4 address).
pub fn trusted(networks: &[IpNet], client: IpAddr) -> bool {
    let client = client.to_canonical();
    networks.iter().any(|n| n.contains(&client))
}

/// The TLS handshake, bounded in time and ended by a drain; None when it
/// failed (the client is told nothing more: there is no channel to it).
async fn start_tls(stream: Stream, acceptor: &TlsAcceptor, session: &Session) -> Option<Stream> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.start_tls(acceptor));
    match session.wait_for_client(handshake).await {
        Ok(Ok(Ok(tls))) => Some(tls),
        Ok(Ok(Err(e))) => {
            info!(error = %e, remote = %session.remote, "SMTP TLS handshake failed");
            None
        }
        Ok(Err(_)) | Err(_) => None,
    }
}

/// Checks AUTH credentials in the client address's turn, after the delay
/// the recent failures of the mailbox and of the address call for (POP3's
/// `Throttle`, whose failures these add to): a
/// wrong password, a missing mailbox and a name of no mailbox here cost
/// the same work and the same wait. None: the session was interrupted.
async fn check_auth(
    service: &SmtpService,
    session: &Session,
    login: crate::pop3::Login,
    password: role_runtime::Secret<String>,
) -> Option<AuthOutcome> {
    let address = session.remote.ip();
    let logins = &service.logins;
    let throttle = &logins.throttle;
    // Waiting for a turn or out a delay loses nothing if the session ends.
    let _turn = session
        .wait_for_client(async {
            let turn = logins.turn(address).await;
            tokio::time::sleep(throttle.delay(address, &login.key, Instant::now())).await;
            turn
        })
        .await
        .ok()?;
    let mailbox = login.mailbox;
    let checked = service
        .shared
        .blocking(move |s| match mailbox {
            Some(mailbox) => s.store.check_password(&mailbox, password.expose()),
            None => {
                crate::store::dummy_password_check(password.expose());
                Ok(false)
            }
        })
        .await;
    Some(match (checked, mailbox) {
        (Ok(true), Some(mailbox)) => {
            throttle.succeeded(address);
            AuthOutcome::Accepted(mailbox)
        }
        (Ok(_), _) => {
            throttle.failed(address, &login.key, Instant::now());
            info!(login = %login.key, %address, "SMTP AUTH refused");
            AuthOutcome::Refused
        }
        (Err(e), _) => {
            // The reason names the store's file: the operator's.
            warn!(error = %e, "SMTP AUTH could not be checked");
            AuthOutcome::Unavailable
        }
    })
}

/// Message ids: the time in milliseconds, then 80 bits that start random
/// in each process and count up by one a message. Ids in time order make
/// every router insert its seen-ids, queue and messages rows next to each
/// other, so a group commit writes a few pages, not one per message
/// scattered over each table. Two routers' ids meet only if their random
/// starts come within a few messages of each other in the same millisecond;
/// one router's never meet. Unlike a random draw per message, this costs
/// no system call.
pub struct MessageIds(Mutex<u128>);

impl MessageIds {
    pub fn new() -> Result<MessageIds, getrandom::Error> {
        let mut start = [0u8; 16];
        getrandom::fill(&mut start)?;
        Ok(MessageIds(Mutex::new(u128::from_be_bytes(start))))
    }

    fn next(&self) -> [u8; 16] {
        let mut counter = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counter = counter.wrapping_add(1);
        let mut id = counter.to_be_bytes();
        id[..6].copy_from_slice(&now_ms().to_be_bytes()[2..]);
        id
    }
}

/// What a session is told when the drain ends it between commands.
const SHUTTING_DOWN: &str = "421 4.3.2 Shutting down, try again later";

/// Writes a reply, each of its lines ended by CRLF, in one write; `out` is
/// the session's buffer for it. A refusal (4xx, 5xx) is counted by code.
async fn send<W: AsyncWrite + Unpin>(
    counts: &ClientCounts,
    writer: &mut W,
    out: &mut Vec<u8>,
    text: &str,
) -> std::io::Result<()> {
    counts.smtp_replied(text);
    out.clear();
    for line in text.split('\n') {
        out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    writer.write_all(out).await
}

async fn serve(service: &SmtpService, stream: Stream, session: Session) {
    let shared = &service.shared;
    let settings = &shared.settings;
    let hostname = format!("{}.{}", settings.node, settings.network).to_ascii_lowercase();
    let smtp_hostname = hostname.clone();
    let (mut smtp, greeting) = SmtpSession::new(SmtpConfig {
        hostname,
        post_office: settings.node,
        network: settings.network,
        max_size: settings.max_message_bytes,
        starttls: service.tls.is_some(),
        tls: stream.is_tls(),
        submission: service.listening == Listening::Submission,
        trusted: trusted(&settings.trusted_networks, session.remote.ip()),
    });
    let mut reader = BufReader::new(stream);
    let (mut line, mut out) = (Vec::new(), Vec::new());
    if send(&shared.clients, reader.get_mut(), &mut out, &greeting)
        .await
        .is_err()
    {
        return;
    }
    let mut arriving: Option<Arriving<'_>> = None;
    loop {
        let max = if smtp.in_data() {
            MAX_DATA_LINE
        } else {
            crate::smtp::MAX_COMMAND_LINE
        };
        // A message being sent is taken in full; between commands, a
        // drain ends the session (the client retries, nothing is lost).
        let read = read_piece(&mut reader, &mut line, max, READ_TIMEOUT);
        let read = if smtp.in_data() {
            read.await
        } else {
            match session.wait_for_client(read).await {
                Ok(read) => read,
                Err(Interrupted::Draining) => {
                    let _ = send(&shared.clients, reader.get_mut(), &mut out, SHUTTING_DOWN).await;
                    return;
                }
                Err(Interrupted::Evicted) => {
                    let _ = send(
                        &shared.clients,
                        reader.get_mut(),
                        &mut out,
                        "421 4.4.2 Idle too long while the server is busy, closing",
                    )
                    .await;
                    return;
                }
            }
        };
        match read {
            Line::Text => {}
            Line::TooLong => {
                let _ = send(
                    &shared.clients,
                    reader.get_mut(),
                    &mut out,
                    "500 5.5.6 Line too long",
                )
                .await;
                return;
            }
            Line::TimedOut => {
                let _ = send(
                    &shared.clients,
                    reader.get_mut(),
                    &mut out,
                    "421 4.4.2 Timeout, closing",
                )
                .await;
                return;
            }
            Line::Closed => return,
        }
        let store = &shared.store;
        let action = smtp.line(&line, |mailbox| match store.user_exists(mailbox) {
            Ok(known) => Some(known),
            Err(e) => {
                warn!(error = %e, "SMTP sender could not be looked up");
                None
            }
        });
        let reply = match action {
            Action::None => continue,
            Action::Reply(r) => r,
            Action::Close(r) => {
                let _ = send(&shared.clients, reader.get_mut(), &mut out, &r).await;
                return;
            }
            Action::StartTls(r) => {
                let Some(acceptor) = &service.tls else { return };
                if send(&shared.clients, reader.get_mut(), &mut out, &r)
                    .await
                    .is_err()
                {
                    return;
                }
                // Commands pipelined after STARTTLS were sent in clear and
                // may have been injected by a man in the middle (RFC 3207
                // 5, CVE-2011-0411): they are dropped with the buffer,
                // never read as if under TLS.
                let Some(tls) = start_tls(reader.into_inner(), acceptor, &session).await else {
                    return;
                };
                reader = BufReader::new(tls);
                smtp.tls_started();
                continue;
            }
            Action::Auth { login, password } => {
                match check_auth(service, &session, login, password).await {
                    Some(outcome) => smtp.authenticated(outcome),
                    None => {
                        let _ =
                            send(&shared.clients, reader.get_mut(), &mut out, SHUTTING_DOWN).await;
                        return;
                    }
                }
            }
            Action::Submit {
                from,
                recipients,
                mut data,
            } => {
                let id = shared.message_ids.next();
                let hex_id = hex::encode(id);
                // RFC 6409 8.2, 8.3: the submission server completes the
                // header; the message id names the stored message.
                complete_headers(&mut data, now_ms(), &hex_id, &smtp_hostname);
                let mail = MailTransfer {
                    message_id: id,
                    kind: MailKind::Normal,
                    from,
                    recipients,
                    hop_count: 0,
                    submitted_at_ms: now_ms(),
                    body: data.into(),
                };
                let client = Some(session.remote.ip());
                let result = shared
                    .take_for_client(mail, client, || arriving = None)
                    .await;
                match &result {
                    Ok(_) => debug!(id = %hex_id, "message submitted"),
                    // The reason names the store's file: the operator's
                    // (here and in `netctl status`), not the client's.
                    Err(e) => warn!(id = %hex_id, error = %e, "message not stored"),
                }
                smtp.submitted(result.ok().map(|_| hex_id))
            }
        };
        // Counted from DATA until the message is handed over (or refused,
        // say for its size, or the client goes).
        if !smtp.in_data() {
            arriving = None;
        } else if arriving.is_none() {
            arriving = Some(shared.arrivals.start());
        }
        if send(&shared.clients, reader.get_mut(), &mut out, &reply)
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_distinct_and_begin_with_the_time() {
        let ids = MessageIds::new().unwrap();
        let before = now_ms();
        let made: Vec<[u8; 16]> = (0..10_000).map(|_| ids.next()).collect();
        let after = now_ms();
        let distinct: std::collections::HashSet<_> = made.iter().collect();
        assert_eq!(distinct.len(), made.len());
        for id in &made {
            let mut ms = [0u8; 8];
            ms[2..].copy_from_slice(&id[..6]);
            assert!((before..=after).contains(&u64::from_be_bytes(ms)));
        }
        // Another router (process) starts elsewhere.
        let other = MessageIds::new().unwrap();
        assert_ne!(other.next()[6..], made[0][6..]);
    }
}
