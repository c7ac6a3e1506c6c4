//! The POP3 listener of a post office: the session machine in `crate::pop3`
//! over a socket, with the maildrop lock and the slowing of failed logins;
//! TLS from the start (pop3s, RFC 8314) or after STLS (RFC 2595).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use role_runtime::server::{Interrupted, Service, Session};
use role_runtime::tls::{Stream, TlsAcceptor};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

use super::Shared;
use super::lines::{Line, read_line};
use crate::pop3::maildrop::{MaildropLock, Maildrops};
use crate::pop3::throttle::Throttle;
use crate::pop3::{Action, Login, MAX_LINE, Pop3Session, Security, UNAVAILABLE, multiline};

/// When every POP3 place is taken, a session that has waited this long for
/// its client's next command gives its place to a new client.
const EVICT_IDLE_AFTER: Duration = Duration::from_secs(1);
/// RFC 1939: an inactivity timer of at least 10 minutes.
const READ_TIMEOUT: Duration = Duration::from_secs(600);
/// A TLS handshake that takes longer is a client that will not finish it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The POP3 listener's sessions.
pub struct Pop3Service {
    shared: Arc<Shared>,
    logins: Arc<Logins>,
    /// The certificate's acceptor, when TLS is configured: STLS is offered.
    tls: Option<TlsAcceptor>,
    /// The pop3s listener: TLS from the first byte.
    implicit_tls: bool,
}

impl Pop3Service {
    /// The plain listener's (STLS when `tls` is given). `logins` is shared
    /// with the pop3s listener, so that a maildrop is locked once and
    /// failed logins are counted once whichever port they come to.
    pub fn plain(shared: Arc<Shared>, tls: Option<TlsAcceptor>) -> Pop3Service {
        Pop3Service {
            shared,
            logins: Arc::default(),
            tls,
            implicit_tls: false,
        }
    }

    /// The failed-login counts and per-address turns, for the SMTP
    /// listeners' AUTH: the password is the same, so guesses over SMTP and
    /// POP3 are counted together.
    pub(super) fn logins(&self) -> Arc<Logins> {
        Arc::clone(&self.logins)
    }

    /// The pop3s listener's, sharing the plain one's logins.
    pub fn implicit(plain: &Pop3Service, tls: TlsAcceptor) -> Pop3Service {
        Pop3Service {
            shared: Arc::clone(&plain.shared),
            logins: Arc::clone(&plain.logins),
            tls: Some(tls),
            implicit_tls: true,
        }
    }
}

/// Gates of client addresses kept before unused ones are swept.
const FORGET_GATES_PAST: usize = 1024;

/// What the sessions of the POP3 listeners share about logins (and the
/// SMTP listeners, for AUTH).
#[derive(Default)]
pub(super) struct Logins {
    maildrops: Maildrops,
    /// Also SMTP AUTH's (`net::smtp`): one password, one count.
    pub(super) throttle: Throttle,
    /// One login of a client address is checked at a time, so that many
    /// connections from one address guess no faster than one.
    turns: Mutex<HashMap<IpAddr, Arc<tokio::sync::Mutex<()>>>>,
}

/// A client address's turn to have a login checked.
pub(super) struct Turn {
    logins: Arc<Logins>,
    address: IpAddr,
    gate: Arc<tokio::sync::Mutex<()>>,
    held: Option<OwnedMutexGuard<()>>,
}

impl Logins {
    pub(super) async fn turn(self: &Arc<Self>, address: IpAddr) -> Turn {
        let gate = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            // A waiter ended by a drain or an eviction after the last turn
            // of its address was over leaves a gate nobody holds.
            if turns.len() >= FORGET_GATES_PAST {
                turns.retain(|_, gate| Arc::strong_count(gate) > 1);
            }
            Arc::clone(turns.entry(address).or_default())
        };
        let held = Some(Arc::clone(&gate).lock_owned().await);
        Turn {
            logins: Arc::clone(self),
            address,
            gate,
            held,
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.held = None;
        let mut turns = self.logins.turns.lock().unwrap_or_else(|p| p.into_inner());
        // Only the table and this turn know the gate: nobody waits at it.
        if Arc::strong_count(&self.gate) == 2 {
            turns.remove(&self.address);
        }
    }
}

impl Service for Pop3Service {
    fn busy_reply(&self) -> Vec<u8> {
        // A pop3s client expects a TLS handshake, not a line in clear.
        if self.implicit_tls {
            return Vec::new();
        }
        b"-ERR too many connections, try again later\r\n".to_vec()
    }

    fn evict_idle_after(&self) -> Option<Duration> {
        Some(EVICT_IDLE_AFTER)
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, session: Session) {
        self.shared.clients.pop3_connection();
        let mut stream = Stream::from(stream);
        if self.implicit_tls {
            let Some(acceptor) = &self.tls else { return };
            match start_tls(stream, acceptor, &session).await {
                Some(tls) => stream = tls,
                None => return,
            }
        }
        serve(&self, stream, session).await;
    }
}

/// How a login ended, for the session loop.
enum LoggedIn {
    Reply(Vec<u8>),
    /// The session now holds the mailbox until it ends.
    Holds(MaildropLock, Vec<u8>),
    Interrupted(Interrupted),
}

/// Checks a login after its address's turn and the delay its recent
/// failures call for: a wrong password, a missing mailbox and another post
/// office's address cost the same work and the same wait.
async fn log_in(
    shared: &Arc<Shared>,
    logins: &Arc<Logins>,
    session: &Session,
    pop: &mut Pop3Session,
    login: Login,
    password: String,
) -> LoggedIn {
    let address = session.remote.ip();
    // Waiting for a turn or out a delay loses nothing if the session ends.
    let turn = session
        .wait_for_client(async {
            let turn = logins.turn(address).await;
            let delay = logins.throttle.delay(address, &login.key, Instant::now());
            tokio::time::sleep(delay).await;
            turn
        })
        .await;
    let _turn = match turn {
        Ok(turn) => turn,
        Err(why) => return LoggedIn::Interrupted(why),
    };
    let mailbox = login.mailbox;
    let checked = shared
        .blocking(move |s| match mailbox {
            Some(mailbox) => s.store.check_password(&mailbox, &password),
            None => {
                crate::store::dummy_password_check(&password);
                Ok(false)
            }
        })
        .await;
    let reply = |action: Action| match action {
        Action::Reply(r) => format!("{r}\r\n").into_bytes(),
        _ => b"-ERR\r\n".to_vec(),
    };
    let mailbox = match (checked, mailbox) {
        (Ok(true), Some(mailbox)) => mailbox,
        (Ok(_), _) => {
            logins.throttle.failed(address, &login.key, Instant::now());
            info!(login = %login.key, %address, "POP3 login refused");
            return LoggedIn::Reply(reply(pop.logged_in(None)));
        }
        (Err(e), _) => {
            // The reason (it names the store's file) is the operator's; the
            // client only learns to retry.
            warn!(error = %e, "POP3 login could not be checked");
            return LoggedIn::Reply(reply(pop.login_unavailable()));
        }
    };
    logins.throttle.succeeded(address);
    let Some(lock) = logins.maildrops.try_lock(mailbox) else {
        return LoggedIn::Reply(reply(pop.in_use()));
    };
    match shared.blocking(move |s| s.store.mailbox(&mailbox)).await {
        Ok(messages) => LoggedIn::Holds(lock, reply(pop.logged_in(Some(messages)))),
        Err(e) => {
            warn!(error = %e, "POP3 mailbox could not be listed");
            LoggedIn::Reply(reply(pop.login_unavailable()))
        }
    }
}

fn interrupted(why: Interrupted) -> &'static [u8] {
    match why {
        Interrupted::Draining => b"-ERR shutting down, try again later\r\n",
        Interrupted::Evicted => b"-ERR idle too long while the server is busy\r\n",
    }
}

/// The TLS handshake, bounded in time and ended by a drain; None when it
/// failed (the client is told nothing more: there is no channel to it).
async fn start_tls(stream: Stream, acceptor: &TlsAcceptor, session: &Session) -> Option<Stream> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.start_tls(acceptor));
    match session.wait_for_client(handshake).await {
        Ok(Ok(Ok(tls))) => Some(tls),
        Ok(Ok(Err(e))) => {
            info!(error = %e, remote = %session.remote, "POP3 TLS handshake failed");
            None
        }
        Ok(Err(_)) | Err(_) => None,
    }
}

async fn serve(service: &Pop3Service, stream: Stream, session: Session) {
    let shared = &service.shared;
    let logins = &service.logins;
    let hostname =
        format!("{}.{}", shared.settings.node, shared.settings.network).to_ascii_lowercase();
    let security = Security {
        stls: service.tls.is_some(),
        tls_active: stream.is_tls(),
        allow_plaintext: shared.settings.pop3_allow_plaintext,
    };
    let (mut pop, greeting) = Pop3Session::with_security(&hostname, security);
    let mut reader = BufReader::new(stream);
    let mut out = format!("{greeting}\r\n").into_bytes();
    let mut line = Vec::new();
    // The maildrop lock, from login to the end of the session (dropped
    // with it, however it ends).
    let mut _held: Option<MaildropLock> = None;
    loop {
        if reader.get_mut().write_all(&out).await.is_err() {
            return;
        }
        // Deletions happen only at QUIT, so a session ended by a drain
        // loses nothing: its messages stay for the next one.
        let read = read_line(&mut reader, &mut line, MAX_LINE, READ_TIMEOUT);
        let goodbye: &[u8] = match session.wait_for_client(read).await {
            Ok(Line::Text) => b"",
            Ok(Line::TooLong) => b"-ERR line too long\r\n",
            Ok(Line::Closed | Line::TimedOut) => return,
            Err(why) => interrupted(why),
        };
        if !goodbye.is_empty() {
            let _ = reader.get_mut().write_all(goodbye).await;
            return;
        }
        out = match pop.line(&line) {
            Action::Reply(r) => format!("{r}\r\n").into_bytes(),
            Action::Lines(first, lines) => multiline(&first, lines.join("\r\n").as_bytes()),
            Action::StartTls(r) => {
                let Some(acceptor) = &service.tls else { return };
                if reader
                    .get_mut()
                    .write_all(format!("{r}\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                // Commands pipelined after STLS were sent in clear and may
                // have been injected by a man in the middle: they are
                // dropped with the buffer, never read as if under TLS.
                let Some(tls) = start_tls(reader.into_inner(), acceptor, &session).await else {
                    return;
                };
                reader = BufReader::new(tls);
                pop.tls_started();
                Vec::new()
            }
            Action::Close(r) => {
                let _ = reader
                    .get_mut()
                    .write_all(format!("{r}\r\n").as_bytes())
                    .await;
                return;
            }
            Action::Login { login, password } => {
                match log_in(shared, logins, &session, &mut pop, login, password).await {
                    LoggedIn::Reply(reply) => reply,
                    LoggedIn::Holds(lock, reply) => {
                        _held = Some(lock);
                        reply
                    }
                    LoggedIn::Interrupted(why) => {
                        let _ = reader.get_mut().write_all(interrupted(why)).await;
                        return;
                    }
                }
            }
            Action::Retrieve { key } => {
                match shared.blocking(move |s| s.store.retrieve(&key)).await {
                    Ok(body) => pop.retrieved(body),
                    Err(e) => {
                        warn!(error = %e, "POP3 message could not be read");
                        format!("{UNAVAILABLE}\r\n").into_bytes()
                    }
                }
            }
            Action::Top { key, lines } => {
                match shared.blocking(move |s| s.store.retrieve(&key)).await {
                    Ok(body) => pop.top(body, lines),
                    Err(e) => {
                        warn!(error = %e, "POP3 message could not be read");
                        format!("{UNAVAILABLE}\r\n").into_bytes()
                    }
                }
            }
            Action::Quit { delete } => {
                let result = shared
                    .blocking(move |s| s.store.delete_messages(&delete))
                    .await;
                let reply: &[u8] = match result {
                    Ok(()) => b"+OK bye\r\n",
                    Err(e) => {
                        warn!(error = %e, "POP3 deletions could not be stored");
                        b"-ERR [SYS/TEMP] some deleted messages not removed\r\n"
                    }
                };
                let _ = reader.get_mut().write_all(reply).await;
                return;
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_login_of_an_address_at_a_time_and_the_table_forgets_it() {
        let logins = Arc::new(Logins::default());
        let address: IpAddr = [192, 0, 2, 1].into();
        let first = logins.turn(address).await;
        let waiting = {
            let logins = Arc::clone(&logins);
            tokio::spawn(async move {
                let _second = logins.turn(address).await;
            })
        };
        // Another address is not held up.
        drop(logins.turn([192, 0, 2, 2].into()).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second turn came")
            .expect("the task ran");
        assert!(logins.turns.lock().unwrap().is_empty());
    }
}
