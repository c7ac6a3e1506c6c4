use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use tracing::{debug, warn};
use wire_format::auth::{self, HandshakeError};
use wire_format::limits::{DEFAULT_MAX_FRAME_BODY, MAX_HANDSHAKE_FRAME_BODY};
use wire_format::{
    ErrorCode, ErrorReply, Frame, FrameCodec, Message, MessageType, Name, Role, Welcome, WireError,
};

use crate::Keyring;

/// How long each kind of wait may take before the connection is given up.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub handshake: Duration,
    /// Waiting for the answer to a request, or for the next frame of a stream.
    pub reply: Duration,
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            handshake: Duration::from_secs(5),
            reply: Duration::from_secs(30),
            write: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("could not connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: std::io::Error,
    },
    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        waiting_for: &'static str,
        after: Duration,
    },
    #[error("the peer closed the connection")]
    Closed,
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("authentication failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error(
        "authentication failed: peer {peer} is unknown, not allowed as {role:?}, or used the wrong key"
    )]
    PeerRefused { peer: Name, role: Role },
    #[error("the peer answered with error {code:?}: {text}")]
    Remote { code: ErrorCode, text: String },
    #[error("expected {expected}, got {got}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
}

impl LinkError {
    /// Builds the error for a message that does not fit the exchange.
    pub fn unexpected(expected: &'static str, got: &Message) -> LinkError {
        LinkError::Unexpected {
            expected,
            got: got.message_type().name(),
        }
    }
}

/// Who is at the other end, as proven by the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub name: Name,
    pub role: Role,
    pub session: u64,
}

/// An authenticated, framed connection. Only [`Connection::connect`] and
/// [`Connection::accept`] make one, so holding it means the peer proved its key.
#[derive(Debug)]
pub struct Connection {
    framed: Framed<TcpStream, FrameCodec>,
    peer: PeerIdentity,
    timeouts: Timeouts,
    next_request_id: u32,
    unsolicited: VecDeque<Frame>,
}

pub fn random_nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    // The OS random source failing is not recoverable and not input-driven.
    getrandom::fill(&mut nonce).unwrap_or_else(|e| panic!("OS random source failed: {e}"));
    nonce
}

async fn within<T>(
    after: Duration,
    waiting_for: &'static str,
    fut: impl Future<Output = T>,
) -> Result<T, LinkError> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| LinkError::Timeout { waiting_for, after })
}

/// Queued frames are written once they reach this many bytes, whether or
/// not the caller has flushed.
pub const WRITE_BATCH: usize = 64 * 1024;

/// A framed stream that takes only handshake-sized frames until
/// [`authenticated`] lifts the bound.
fn framed(stream: TcpStream) -> Framed<TcpStream, FrameCodec> {
    let mut framed = Framed::new(stream, FrameCodec::new(MAX_HANDSHAKE_FRAME_BODY));
    framed.set_backpressure_boundary(WRITE_BATCH);
    framed
}

fn authenticated(framed: &mut Framed<TcpStream, FrameCodec>) {
    framed.codec_mut().set_max_body(DEFAULT_MAX_FRAME_BODY);
}

async fn next_frame(
    framed: &mut Framed<TcpStream, FrameCodec>,
    after: Duration,
    waiting_for: &'static str,
) -> Result<Frame, LinkError> {
    match within(after, waiting_for, framed.next()).await? {
        Some(Ok(frame)) => Ok(frame),
        Some(Err(e)) => Err(LinkError::Wire(e)),
        None => Err(LinkError::Closed),
    }
}

impl Connection {
    /// Dials `endpoint` (`host:port`) as `me` in `role` and authenticates with `key`.
    pub async fn connect(
        endpoint: &str,
        me: &Name,
        role: Role,
        key: &[u8],
        timeouts: Timeouts,
    ) -> Result<Connection, LinkError> {
        let stream = within(
            timeouts.connect,
            "TCP connect",
            TcpStream::connect(endpoint),
        )
        .await?
        .map_err(|source| LinkError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        })?;
        let _ = stream.set_nodelay(true);
        let mut framed = framed(stream);
        let hello = auth::client_hello(role, *me, random_nonce());
        within(
            timeouts.handshake,
            "sending Hello",
            framed.send(Frame::new(1, hello.clone())),
        )
        .await??;
        let challenge = match next_frame(&mut framed, timeouts.handshake, "Challenge")
            .await?
            .message
        {
            Message::Challenge(c) => c,
            Message::ErrorReply(e) => {
                return Err(LinkError::Remote {
                    code: e.code,
                    text: e.text,
                });
            }
            other => return Err(LinkError::unexpected("Challenge", &other)),
        };
        let proof = auth::client_authenticate(&hello, &challenge, key)?;
        within(
            timeouts.handshake,
            "sending Authenticate",
            framed.send(Frame::new(2, proof)),
        )
        .await??;
        let session = match next_frame(&mut framed, timeouts.handshake, "Welcome")
            .await?
            .message
        {
            Message::Welcome(w) => w.session,
            Message::ErrorReply(e) if e.code == ErrorCode::AuthFailed => {
                return Err(LinkError::PeerRefused { peer: *me, role });
            }
            Message::ErrorReply(e) => {
                return Err(LinkError::Remote {
                    code: e.code,
                    text: e.text,
                });
            }
            other => return Err(LinkError::unexpected("Welcome", &other)),
        };
        authenticated(&mut framed);
        Ok(Connection {
            framed,
            peer: PeerIdentity {
                name: challenge.node,
                role: challenge.role,
                session,
            },
            timeouts,
            next_request_id: 1,
            unsolicited: VecDeque::new(),
        })
    }

    /// Runs the server side of the handshake on an accepted socket. A peer
    /// that is unknown, presents a role its key does not allow, or proves the
    /// wrong key gets one `AuthFailed` error frame and nothing else.
    pub async fn accept(
        stream: TcpStream,
        me: &Name,
        role: Role,
        keyring: &Keyring,
        session: u64,
        timeouts: Timeouts,
    ) -> Result<Connection, LinkError> {
        let _ = stream.set_nodelay(true);
        let mut framed = framed(stream);
        let result =
            Self::server_handshake(&mut framed, me, role, keyring, session, timeouts).await;
        match result {
            Ok(peer) => {
                authenticated(&mut framed);
                Ok(Connection {
                    framed,
                    peer,
                    timeouts,
                    next_request_id: 1,
                    unsolicited: VecDeque::new(),
                })
            }
            Err(e) => {
                let code = match &e {
                    LinkError::Wire(w) => w.code(),
                    LinkError::Handshake(HandshakeError::NoCommonVersion { .. }) => {
                        ErrorCode::UnsupportedVersion
                    }
                    LinkError::Unexpected { .. } => ErrorCode::NotAuthenticated,
                    _ => ErrorCode::AuthFailed,
                };
                if !matches!(e, LinkError::Closed | LinkError::Timeout { .. }) {
                    let reply = ErrorReply::new(code, e.to_string());
                    let _ = within(
                        timeouts.write,
                        "sending error",
                        framed.send(Frame::new(0, reply)),
                    )
                    .await;
                }
                Err(e)
            }
        }
    }

    async fn server_handshake(
        framed: &mut Framed<TcpStream, FrameCodec>,
        me: &Name,
        role: Role,
        keyring: &Keyring,
        session: u64,
        timeouts: Timeouts,
    ) -> Result<PeerIdentity, LinkError> {
        let hello_frame = next_frame(framed, timeouts.handshake, "Hello").await?;
        let hello = match hello_frame.message {
            Message::Hello(h) => h,
            other => return Err(LinkError::unexpected("Hello", &other)),
        };
        // An unknown peer still gets a challenge (under a throw-away key), so
        // the answer does not tell which peer names exist.
        let known_key = keyring.key_for(&hello.node, hello.role);
        if known_key.is_none() {
            warn!(peer = %hello.node, role = ?hello.role, "refusing a peer: unknown name or role not allowed");
        }
        let decoy = random_nonce();
        let key = known_key.unwrap_or(&decoy);
        let challenge = auth::server_challenge(&hello, role, *me, random_nonce(), key)?;
        within(
            timeouts.handshake,
            "sending Challenge",
            framed.send(Frame::new(hello_frame.request_id, challenge.clone())),
        )
        .await??;
        let auth_frame = next_frame(framed, timeouts.handshake, "Authenticate").await?;
        let proof = match auth_frame.message {
            Message::Authenticate(a) => a,
            other => return Err(LinkError::unexpected("Authenticate", &other)),
        };
        let verified = auth::server_verify(&hello, &challenge, &proof, key);
        if known_key.is_none() || verified.is_err() {
            warn!(peer = %hello.node, role = ?hello.role, "refused a peer: unknown, wrong role or wrong key");
            return Err(LinkError::PeerRefused {
                peer: hello.node,
                role: hello.role,
            });
        }
        within(
            timeouts.write,
            "sending Welcome",
            framed.send(Frame::new(auth_frame.request_id, Welcome { session })),
        )
        .await??;
        debug!(peer = %hello.node, role = ?hello.role, session, "peer authenticated");
        Ok(PeerIdentity {
            name: hello.node,
            role: hello.role,
            session,
        })
    }

    pub fn peer(&self) -> &PeerIdentity {
        &self.peer
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    pub async fn send(&mut self, frame: Frame) -> Result<(), LinkError> {
        within(
            self.timeouts.write,
            "sending a frame",
            self.framed.send(frame),
        )
        .await??;
        Ok(())
    }

    /// Puts `frame` in the write buffer without sending it: a batch of
    /// frames then leaves in one write when [`Connection::flush`] is called
    /// (or earlier, once the buffer holds [`WRITE_BATCH`] bytes).
    pub async fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        within(
            self.timeouts.write,
            "queueing a frame",
            self.framed.feed(frame),
        )
        .await??;
        Ok(())
    }

    /// Sends every queued frame.
    pub async fn flush(&mut self) -> Result<(), LinkError> {
        within(self.timeouts.write, "sending frames", self.framed.flush()).await??;
        Ok(())
    }

    /// Queues a request with a fresh request id (see [`Connection::queue`])
    /// and returns that id.
    pub async fn queue_request(&mut self, message: impl Into<Message>) -> Result<u32, LinkError> {
        let id = self.fresh_request_id();
        self.queue(Frame::new(id, message)).await?;
        Ok(id)
    }

    fn fresh_request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.checked_add(1).unwrap_or(1);
        id
    }

    /// Sends `message` as the answer to `request_id`.
    pub async fn reply(
        &mut self,
        request_id: u32,
        message: impl Into<Message>,
    ) -> Result<(), LinkError> {
        self.send(Frame::new(request_id, message)).await
    }

    pub async fn reply_error(
        &mut self,
        request_id: u32,
        code: ErrorCode,
        text: impl Into<String>,
    ) -> Result<(), LinkError> {
        self.send(Frame::new(request_id, ErrorReply::new(code, text)))
            .await
    }

    /// The next frame, whatever it is, waiting at most `after`.
    pub async fn recv(&mut self, after: Duration) -> Result<Frame, LinkError> {
        if let Some(frame) = self.unsolicited.pop_front() {
            return Ok(frame);
        }
        next_frame(&mut self.framed, after, "the next frame").await
    }

    /// The next frame with no deadline of its own, for use inside
    /// `tokio::select!` beside a timer (it is cancel-safe). `Ok(None)`: the
    /// peer closed the connection cleanly.
    pub async fn next(&mut self) -> Result<Option<Frame>, LinkError> {
        if let Some(frame) = self.unsolicited.pop_front() {
            return Ok(Some(frame));
        }
        match self.framed.next().await {
            Some(Ok(frame)) => Ok(Some(frame)),
            Some(Err(e)) => Err(LinkError::Wire(e)),
            None => Ok(None),
        }
    }

    /// Sends a request with a fresh request id and returns that id.
    pub async fn send_request(&mut self, message: impl Into<Message>) -> Result<u32, LinkError> {
        let id = self.fresh_request_id();
        self.send(Frame::new(id, message)).await?;
        Ok(id)
    }

    /// Waits for the next frame answering `request_id`. An error frame
    /// becomes [`LinkError::Remote`]; unsolicited frames are set aside.
    pub async fn recv_reply(&mut self, request_id: u32) -> Result<Message, LinkError> {
        loop {
            let frame = next_frame(&mut self.framed, self.timeouts.reply, "a reply").await?;
            match frame {
                Frame {
                    request_id: 0,
                    message: Message::ErrorReply(e),
                } => {
                    return Err(LinkError::Remote {
                        code: e.code,
                        text: e.text,
                    });
                }
                Frame { request_id: 0, .. } => self.unsolicited.push_back(frame),
                Frame {
                    request_id: id,
                    message,
                } if id == request_id => {
                    return match message {
                        Message::ErrorReply(e) => Err(LinkError::Remote {
                            code: e.code,
                            text: e.text,
                        }),
                        other => Ok(other),
                    };
                }
                Frame {
                    request_id: stale,
                    message,
                } => {
                    debug!(
                        stale,
                        kind = message.message_type().name(),
                        "dropping a reply to an abandoned request"
                    );
                }
            }
        }
    }

    /// Sends a request and waits for its (first) reply.
    pub async fn request(&mut self, message: impl Into<Message>) -> Result<Message, LinkError> {
        let id = self.send_request(message).await?;
        self.recv_reply(id).await
    }

    /// Answers a request this end does not take from this peer: an
    /// `UnexpectedMessage` error naming `by` ("a DS server") and the
    /// message's kind; the connection goes on.
    pub async fn reply_not_taken(
        &mut self,
        request_id: u32,
        by: &str,
        message: &Message,
    ) -> Result<(), LinkError> {
        let kind = message.message_type().name();
        let role = self.peer.role;
        let text = format!("{by} does not take {kind} from a {role:?}");
        self.reply_error(request_id, ErrorCode::UnexpectedMessage, text)
            .await
    }

    /// Puts back a frame taken with [`Connection::next`] that the caller
    /// cannot deal with yet (a router batching transfers meets a request
    /// of another kind): the next `next` returns it first.
    pub fn unread(&mut self, frame: Frame) {
        self.unsolicited.push_front(frame);
    }

    /// An unsolicited frame (request id 0) set aside while waiting for a reply.
    pub fn take_unsolicited(&mut self) -> Option<Frame> {
        self.unsolicited.pop_front()
    }

    /// Tells the peer why the connection is ending (for a bad frame, the
    /// error's code and text) and closes it.
    pub async fn close_with_error(mut self, request_id: u32, error: &LinkError) {
        let code = match error {
            LinkError::Wire(w) => w.code(),
            LinkError::Unexpected { .. } => ErrorCode::UnexpectedMessage,
            LinkError::Timeout { .. } => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        let _ = self.reply_error(request_id, code, error.to_string()).await;
        let _ = within(self.timeouts.write, "closing", self.framed.close()).await;
    }

    /// The message type of a frame, for log fields.
    pub fn kind(frame: &Frame) -> MessageType {
        frame.message.message_type()
    }
}
