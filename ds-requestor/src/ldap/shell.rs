//! The Tokio side of the address book: one [`Service`] per listener
//! (`ldap`, and `ldaps` with implicit TLS), each connection a framed loop
//! around [`Session::handle`], which runs on the blocking pool (a search
//! of a large GAL is milliseconds of CPU).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::proto::{LdapMsg, LdapResultCode};
use role_runtime::server::{Interrupted, Service, Session as Admitted};
use role_runtime::tls::{Stream, TlsAcceptor};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use tracing::debug;

use super::codec::{Bounded, encode};
use super::core::{Action, Policy, Session, disconnection};
use super::snapshot::Snapshot;

/// A TLS handshake (LDAPS, or after StartTLS) takes at most this.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Writing one request's responses takes at most this.
const WRITE: Duration = Duration::from_secs(30);
/// When the listener is full, a client idle this long gives its place.
const EVICT_IDLE: Duration = Duration::from_secs(10);

pub struct LdapService {
    pub snapshot: Arc<Snapshot>,
    pub policy: Policy,
    pub tls: Option<TlsAcceptor>,
    /// LDAPS: TLS from the first byte.
    pub implicit_tls: bool,
    pub idle_timeout: Duration,
}

type Conn = Framed<Stream, Bounded>;

impl Service for LdapService {
    fn busy_reply(&self) -> Vec<u8> {
        encode(disconnection(
            LdapResultCode::Busy,
            "too many LDAP clients: try again later",
        ))
    }

    fn evict_idle_after(&self) -> Option<Duration> {
        Some(EVICT_IDLE)
    }

    async fn serve(self: Arc<Self>, tcp: TcpStream, admitted: Admitted) {
        let mut stream = Stream::from(tcp);
        if self.implicit_tls {
            let Some(acceptor) = &self.tls else { return };
            match tokio::time::timeout(HANDSHAKE, stream.start_tls(acceptor)).await {
                Ok(Ok(tls)) => stream = tls,
                _ => {
                    debug!("LDAPS handshake failed or timed out");
                    return;
                }
            }
        }
        let mut session = Session::new(self.implicit_tls);
        let mut conn = Framed::new(stream, Bounded::default());
        loop {
            let next = admitted
                .wait_for_client(tokio::time::timeout(self.idle_timeout, conn.next()))
                .await;
            let request = match next {
                Ok(Ok(Some(Ok(request)))) => request,
                Ok(Ok(Some(Err(e)))) => {
                    // RFC 4511 4.1.1: a PDU that cannot be parsed ends
                    // the session, after a Notice of Disconnection.
                    debug!(error = %e, "LDAP: malformed request");
                    let notice =
                        disconnection(LdapResultCode::ProtocolError, "malformed LDAP message");
                    let _ = write(&mut conn, vec![notice]).await;
                    return;
                }
                // The client closed, or was silent too long.
                Ok(Ok(None)) | Ok(Err(_)) => return,
                Err(Interrupted::Draining) | Err(Interrupted::Evicted) => {
                    let notice =
                        disconnection(LdapResultCode::Unavailable, "the server is going away");
                    let _ = write(&mut conn, vec![notice]).await;
                    return;
                }
            };
            let started = Instant::now();
            let dir = self.snapshot.get();
            let policy = self.policy.clone();
            let answered = tokio::task::spawn_blocking(move || {
                let reply = session.handle(request, &dir, &policy, started);
                (session, reply)
            })
            .await;
            let Ok((back, reply)) = answered else { return };
            session = back;
            if write(&mut conn, reply.messages).await.is_err() {
                return;
            }
            match reply.action {
                Action::Continue => {}
                Action::Close => return,
                Action::StartTls => {
                    let Some(acceptor) = &self.tls else { return };
                    let parts = conn.into_parts();
                    // Bytes sent before the handshake are a protocol
                    // violation (RFC 4511 4.14.1): end the connection.
                    if !parts.read_buf.is_empty() {
                        return;
                    }
                    match tokio::time::timeout(HANDSHAKE, parts.io.start_tls(acceptor)).await {
                        Ok(Ok(tls)) => conn = Framed::new(tls, Bounded::default()),
                        _ => {
                            debug!("StartTLS handshake failed or timed out");
                            return;
                        }
                    }
                    session.tls_started();
                }
            }
        }
    }
}

async fn write(conn: &mut Conn, messages: Vec<LdapMsg>) -> std::io::Result<()> {
    let send = async {
        for m in messages {
            conn.feed(m).await?;
        }
        conn.flush().await
    };
    tokio::time::timeout(WRITE, send)
        .await
        .map_err(|_| std::io::Error::other("LDAP client too slow to read"))?
}
