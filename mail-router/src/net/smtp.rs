//! The SMTP listener of a post office: the session machine in `crate::smtp`
//! over a socket; a message is acknowledged (250) only once it is stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, debug, info_span, warn};
use wire_format::{MailKind, MailTransfer};

use super::commit::Arriving;
use super::lines::{Line, read_line};
use super::{Shared, now_ms};
use crate::smtp::{Action, SmtpConfig, SmtpSession};

/// RFC 5321 asks servers to wait at least 5 minutes for a command.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Data lines may be long; the message size limit bounds the total.
const MAX_DATA_LINE: usize = 64 * 1024;

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let span = info_span!("smtp", %remote);
                tokio::spawn(session(Arc::clone(&shared), stream).instrument(span));
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A new message id: the time in milliseconds, then 80 random bits. Ids in
/// time order make every router insert its seen-ids, queue and messages
/// rows next to each other, so a group commit writes a few pages, not one
/// per message scattered over each table.
fn fresh_id(id: &mut [u8; 16]) -> Result<(), getrandom::Error> {
    getrandom::fill(id)?;
    id[..6].copy_from_slice(&now_ms().to_be_bytes()[2..]);
    Ok(())
}

async fn send(writer: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> std::io::Result<()> {
    let mut out = text.replace("\r\n", "\n").replace('\n', "\r\n");
    out.push_str("\r\n");
    writer.write_all(out.as_bytes()).await
}

async fn session(shared: Arc<Shared>, stream: TcpStream) {
    let settings = &shared.settings;
    let hostname = format!("{}.{}", settings.node, settings.network).to_ascii_lowercase();
    let (mut smtp, greeting) = SmtpSession::new(SmtpConfig {
        hostname,
        post_office: settings.node,
        network: settings.network,
        max_size: settings.max_message_bytes,
    });
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    if send(&mut writer, &greeting).await.is_err() {
        return;
    }
    let mut arriving: Option<Arriving<'_>> = None;
    loop {
        let max = if smtp.in_data() {
            MAX_DATA_LINE
        } else {
            crate::smtp::MAX_COMMAND_LINE
        };
        let line = match read_line(&mut reader, max, READ_TIMEOUT).await {
            Line::Text(l) => l,
            Line::TooLong => {
                let _ = send(&mut writer, "500 5.5.6 Line too long").await;
                return;
            }
            Line::TimedOut => {
                let _ = send(&mut writer, "421 4.4.2 Timeout, closing").await;
                return;
            }
            Line::Closed => return,
        };
        let store = &shared.store;
        let action = smtp.line(&line, |mailbox| store.user_exists(mailbox).unwrap_or(false));
        let reply = match action {
            Action::None => continue,
            Action::Reply(r) => r,
            Action::Close(r) => {
                let _ = send(&mut writer, &r).await;
                return;
            }
            Action::Submit {
                from,
                recipients,
                data,
            } => {
                let mut id = [0u8; 16];
                let result = match fresh_id(&mut id) {
                    Ok(()) => {
                        let mail = MailTransfer {
                            message_id: id,
                            kind: MailKind::Normal,
                            from,
                            recipients,
                            hop_count: 0,
                            submitted_at_ms: now_ms(),
                            body: data.into(),
                        };
                        shared.take_then(vec![mail], true, || arriving = None).await
                    }
                    Err(e) => Err(crate::MailError::Task(e.to_string())),
                };
                let reply =
                    smtp.submitted(result.map(|_| hex::encode(id)).map_err(|e| e.to_string()));
                debug!(id = %hex::encode(id), "message submitted");
                reply
            }
        };
        // Counted from DATA until the message is handed over (or refused,
        // say for its size, or the client goes).
        if !smtp.in_data() {
            arriving = None;
        } else if arriving.is_none() {
            arriving = Some(Arriving::new(&shared.arriving));
        }
        if send(&mut writer, &reply).await.is_err() {
            return;
        }
    }
}
