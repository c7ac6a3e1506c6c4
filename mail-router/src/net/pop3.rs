//! The POP3 listener of a post office: the session machine in `crate::pop3`
//! over a socket.

use std::sync::Arc;
use std::time::Duration;

use role_runtime::server::{Interrupted, Service, Session};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tracing::warn;

use super::Shared;
use super::lines::{Line, read_line};
use crate::pop3::{Action, MAX_LINE, Pop3Session, UNAVAILABLE, multiline};

/// When every POP3 place is taken, a session that has waited this long for
/// its client's next command gives its place to a new client.
const EVICT_IDLE_AFTER: Duration = Duration::from_secs(1);
/// RFC 1939: an inactivity timer of at least 10 minutes.
const READ_TIMEOUT: Duration = Duration::from_secs(600);

/// The POP3 listener's sessions.
pub struct Pop3Service(pub Arc<Shared>);

impl Service for Pop3Service {
    fn busy_reply(&self) -> Vec<u8> {
        b"-ERR too many connections, try again later\r\n".to_vec()
    }

    fn evict_idle_after(&self) -> Option<Duration> {
        Some(EVICT_IDLE_AFTER)
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, session: Session) {
        serve(Arc::clone(&self.0), stream, session).await;
    }
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream, session: Session) {
    let hostname =
        format!("{}.{}", shared.settings.node, shared.settings.network).to_ascii_lowercase();
    let (mut pop, greeting) = Pop3Session::new(&hostname);
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::new(reader);
    let mut out = format!("{greeting}\r\n").into_bytes();
    let mut line = Vec::new();
    loop {
        if writer.write_all(&out).await.is_err() {
            return;
        }
        // Deletions happen only at QUIT, so a session ended by a drain
        // loses nothing: its messages stay for the next one.
        let read = read_line(&mut reader, &mut line, MAX_LINE, READ_TIMEOUT);
        let goodbye: &[u8] = match session.wait_for_client(read).await {
            Ok(Line::Text) => b"",
            Ok(Line::TooLong) => b"-ERR line too long\r\n",
            Ok(Line::Closed | Line::TimedOut) => return,
            Err(Interrupted::Draining) => b"-ERR shutting down, try again later\r\n",
            Err(Interrupted::Evicted) => b"-ERR idle too long while the server is busy\r\n",
        };
        if !goodbye.is_empty() {
            let _ = writer.write_all(goodbye).await;
            return;
        }
        out = match pop.line(&line) {
            Action::Reply(r) => format!("{r}\r\n").into_bytes(),
            Action::Lines(first, lines) => multiline(&first, lines.join("\r\n").as_bytes()),
            Action::Close(r) => {
                let _ = writer.write_all(format!("{r}\r\n").as_bytes()).await;
                return;
            }
            Action::Login { mailbox, password } => {
                let found = shared
                    .blocking(move |s| {
                        if s.store.check_password(&mailbox, &password)? {
                            s.store.mailbox(&mailbox).map(Some)
                        } else {
                            Ok(None)
                        }
                    })
                    .await;
                let action = match found {
                    Ok(found) => pop.logged_in(found),
                    Err(e) => {
                        // The reason (it names the store's file) is the
                        // operator's; the client only learns to retry.
                        warn!(error = %e, "POP3 login could not be checked");
                        pop.login_unavailable()
                    }
                };
                match action {
                    Action::Reply(r) => format!("{r}\r\n").into_bytes(),
                    _ => b"-ERR\r\n".to_vec(),
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
                let _ = writer.write_all(reply).await;
                return;
            }
        };
    }
}
