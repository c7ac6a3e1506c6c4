//! The POP3 listener of a post office: the session machine in `crate::pop3`
//! over a socket.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, info_span, warn};

use super::Shared;
use super::lines::{Line, read_line};
use crate::pop3::{Action, MAX_LINE, Pop3Session, multiline};

/// RFC 1939: an inactivity timer of at least 10 minutes.
const READ_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let span = info_span!("pop3", %remote);
                tokio::spawn(session(Arc::clone(&shared), stream).instrument(span));
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn session(shared: Arc<Shared>, mut stream: TcpStream) {
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
        match read_line(&mut reader, &mut line, MAX_LINE, READ_TIMEOUT).await {
            Line::Text => {}
            Line::TooLong => {
                let _ = writer.write_all(b"-ERR line too long\r\n").await;
                return;
            }
            Line::Closed | Line::TimedOut => return,
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
                    .await
                    .unwrap_or(None);
                match pop.logged_in(found) {
                    Action::Reply(r) => format!("{r}\r\n").into_bytes(),
                    _ => b"-ERR\r\n".to_vec(),
                }
            }
            Action::Retrieve { key } => {
                let body = shared
                    .blocking(move |s| s.store.retrieve(&key))
                    .await
                    .unwrap_or(None);
                pop.retrieved(body)
            }
            Action::Quit { delete } => {
                let result = shared
                    .blocking(move |s| s.store.delete_messages(&delete))
                    .await;
                let reply: &[u8] = if result.is_ok() {
                    b"+OK bye\r\n"
                } else {
                    b"-ERR some deleted messages not removed\r\n"
                };
                let _ = writer.write_all(reply).await;
                return;
            }
        };
    }
}
