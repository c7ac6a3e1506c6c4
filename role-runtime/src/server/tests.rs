//! The shared wire server over real TCP on 127.0.0.1: a toy handler that
//! answers `StatusRequest` with `AdminOk` and announces a log end to
//! peers that have asked for it with a `DirPull`.

use std::sync::Arc;
use std::time::Duration;

use peer_link::{Connection, Keyring, LinkError, PeerIdentity, Timeouts};
use tokio::sync::watch;
use wire_format::{
    AdminOk, DirNotify, DirPull, ErrorCode, Frame, Health, Message, MessageType, Name, Ping, Role,
    StatusReport, StatusRequest,
};

use super::{Listener, RequestHandler, Shutdown, WireIdentity, WireService};

const KEY: &[u8] = b"a key for the test peer";

struct Toy {
    log_end: watch::Sender<u64>,
    /// Why its status report cannot be built, if it cannot.
    status_error: Option<String>,
}

impl RequestHandler for Toy {
    /// Requests this connection has made: state kept across requests.
    type Session = u32;

    async fn handle(
        &self,
        conn: &mut Connection,
        requests: &mut u32,
        frame: Frame,
    ) -> Result<(), LinkError> {
        *requests += 1;
        let detail = format!("{} {requests}", frame.message.message_type().name());
        conn.reply(frame.request_id, AdminOk { detail }).await
    }

    async fn status(&self) -> Result<StatusReport, String> {
        if let Some(e) = &self.status_error {
            return Err(e.clone());
        }
        Ok(StatusReport {
            node: name("TOY"),
            role: Role::DsServer,
            items: Vec::new(),
            health: Health::Ok,
        })
    }

    fn notices(&self, _peer: &PeerIdentity) -> Option<(watch::Receiver<u64>, MessageType)> {
        Some((self.log_end.subscribe(), MessageType::DirPull))
    }

    fn notice(&self, high_water: u64) -> Option<Message> {
        Some(
            DirNotify {
                epoch: 1,
                high_water,
            }
            .into(),
        )
    }
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// A toy server on port 0 with a cap of `cap`; its log end, its address
/// and its shutdown.
async fn start(cap: usize) -> (watch::Sender<u64>, String, Shutdown) {
    start_failing(cap, None).await
}

/// As `start`, with a status report that fails for `status_error`.
async fn start_failing(
    cap: usize,
    status_error: Option<String>,
) -> (watch::Sender<u64>, String, Shutdown) {
    let mut keyring = Keyring::new();
    keyring.insert(name("PEER"), &[Role::Requestor], KEY);
    keyring.insert(crate::operator(), &[Role::Operator], KEY);
    let identity = WireIdentity::new(name("TOY"), Role::DsServer, keyring, Timeouts::default());
    let log_end = watch::Sender::new(0);
    let service = WireService::new(
        identity,
        Toy {
            log_end: log_end.clone(),
            status_error,
        },
    );
    let listener = Listener::bind("wire", "127.0.0.1:0", cap).await.unwrap();
    let addr = listener.local_addr().to_string();
    let shutdown = Shutdown::new();
    tokio::spawn(listener.run(Arc::new(service), shutdown.clone()));
    (log_end, addr, shutdown)
}

async fn connect(addr: &str) -> Result<Connection, LinkError> {
    Connection::connect(
        addr,
        &name("PEER"),
        Role::Requestor,
        KEY,
        Timeouts::default(),
    )
    .await
}

#[tokio::test]
async fn the_loop_answers_the_operators_status_request_and_keeps_each_sessions_state() {
    let (_log_end, addr, _shutdown) = start(8).await;
    let timeouts = Timeouts::default();
    let mut operator =
        Connection::connect(&addr, &crate::operator(), Role::Operator, KEY, timeouts)
            .await
            .unwrap();
    let report = operator.request(StatusRequest).await.unwrap();
    assert!(
        matches!(&report, Message::StatusReport(r) if r.node == name("TOY")),
        "{report:?}"
    );
    // From a requestor it is an ordinary request, for the handler.
    let mut peer = connect(&addr).await.unwrap();
    // The session's state lives as long as the connection.
    for n in 1..=2 {
        let answer = peer.request(StatusRequest).await.unwrap();
        let expected = format!("StatusRequest {n}");
        assert!(
            matches!(&answer, Message::AdminOk(ok) if ok.detail == expected),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn a_status_that_cannot_be_built_is_answered_as_degraded_not_as_an_error() {
    let reason = "store: I/O error: No space left on device (os error 28)";
    let (_log_end, addr, _shutdown) = start_failing(8, Some(reason.into())).await;
    let mut operator = Connection::connect(
        &addr,
        &crate::operator(),
        Role::Operator,
        KEY,
        Timeouts::default(),
    )
    .await
    .unwrap();
    let report = operator.request(StatusRequest).await.unwrap();
    let Message::StatusReport(report) = report else {
        panic!("not a status report: {report:?}");
    };
    assert_eq!((report.node, report.role), (name("TOY"), Role::DsServer));
    assert!(report.items.is_empty());
    assert_eq!(report.health, Health::Degraded(reason.into()));
}

async fn unsolicited(conn: &mut Connection, within: Duration) -> Option<Message> {
    match tokio::time::timeout(within, conn.next()).await {
        Ok(Ok(Some(frame))) => Some(frame.message),
        _ => None,
    }
}

#[tokio::test]
async fn pings_are_answered_and_notices_come_only_after_the_subscribing_request() {
    let (log_end, addr, _shutdown) = start(8).await;
    let mut conn = connect(&addr).await.unwrap();
    let pong = conn.request(Ping { token: 7 }).await.unwrap();
    assert!(
        matches!(&pong, Message::Pong(p) if p.token == 7),
        "{pong:?}"
    );
    log_end.send_replace(5);
    assert_eq!(
        unsolicited(&mut conn, Duration::from_millis(200)).await,
        None
    );

    let pull = DirPull {
        epoch: 0,
        after: 0,
        force_full: false,
        restore: false,
    };
    conn.request(pull).await.unwrap();
    log_end.send_replace(9);
    // What moved before the pull may be told first (it is news to this
    // peer); the latest end follows.
    let mut told = Vec::new();
    while let Some(Message::DirNotify(n)) = unsolicited(&mut conn, Duration::from_secs(5)).await {
        told.push(n.high_water);
        if n.high_water == 9 {
            break;
        }
    }
    assert!(told == [9] || told == [5, 9], "{told:?}");
}

#[tokio::test]
async fn a_connection_past_the_cap_is_told_unavailable_before_any_handshake() {
    let (_log_end, addr, _shutdown) = start(1).await;
    let _first = connect(&addr).await.unwrap();
    match connect(&addr).await {
        Err(LinkError::Remote { code, .. }) => assert_eq!(code, ErrorCode::Unavailable),
        other => panic!("the second connection got {other:?}"),
    }
}

#[tokio::test]
async fn a_drain_says_goodbye_and_closes_idle_connections() {
    let (_log_end, addr, shutdown) = start(8).await;
    let mut conn = connect(&addr).await.unwrap();
    shutdown.begin();
    let goodbye = unsolicited(&mut conn, Duration::from_secs(5)).await;
    assert!(
        matches!(&goodbye, Some(Message::ErrorReply(e)) if e.code == ErrorCode::Unavailable),
        "{goodbye:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), shutdown.finished())
        .await
        .expect("every session ended");
    assert!(connect(&addr).await.is_err(), "the listener is closed");
}
