//! The wire loop answers the operator's `HistoryRequest` from the role's
//! history, over real TCP on 127.0.0.1 (docs/PROTOCOL.md, "Run history").

use std::sync::Arc;

use peer_link::{Connection, Keyring, LinkError, Timeouts};
use wire_format::{
    AdminOk, ErrorCode, Frame, Health, HistoryKind, HistoryRequest, Message, Name, Role,
    StatusReport,
};

use super::tests::Dir;
use super::{FILE_NAME, History, Run};
use crate::server::{Listener, RequestHandler, Shutdown, WireIdentity, WireService};

const KEY: &[u8] = b"a key for the history test";

/// A role with a history, or none.
struct Toy(Option<History>);

impl RequestHandler for Toy {
    type Session = ();

    async fn handle(
        &self,
        conn: &mut Connection,
        _: &mut (),
        frame: Frame,
    ) -> Result<(), LinkError> {
        let detail = "handled".to_owned();
        conn.reply(frame.request_id, AdminOk { detail }).await
    }

    async fn status(&self) -> Result<StatusReport, String> {
        Ok(StatusReport {
            node: Name::new("TOY").unwrap(),
            role: Role::DsServer,
            items: Vec::new(),
            health: Health::Ok,
        })
    }

    fn history(&self) -> Option<&History> {
        self.0.as_ref()
    }
}

/// Serves `role` on port 0; an operator's connection to it, and a
/// requestor's.
async fn serve(role: Toy) -> (Connection, Connection, Shutdown) {
    let me = Name::new("TOY").unwrap();
    let peer = Name::new("PEER").unwrap();
    let mut keyring = Keyring::new();
    keyring.insert(crate::operator(), &[Role::Operator], KEY);
    keyring.insert(peer, &[Role::Requestor], KEY);
    let identity = WireIdentity::new(me, Role::DsServer, keyring, Timeouts::default());
    let listener = Listener::bind("wire", "127.0.0.1:0", 8).await.unwrap();
    let addr = listener.local_addr().to_string();
    let shutdown = Shutdown::new();
    tokio::spawn(listener.run(Arc::new(WireService::new(identity, role)), shutdown.clone()));
    let t = Timeouts::default();
    let operator = Connection::connect(&addr, &crate::operator(), Role::Operator, KEY, t)
        .await
        .unwrap();
    let requestor = Connection::connect(&addr, &peer, Role::Requestor, KEY, t)
        .await
        .unwrap();
    (operator, requestor, shutdown)
}

fn ask(since_ms: u64, max: u32) -> HistoryRequest {
    HistoryRequest { since_ms, max }
}

#[tokio::test]
async fn the_operator_gets_a_page_of_the_roles_history_newest_first() {
    let dir = Dir::new();
    let history = History::open(&dir.0);
    for ended_ms in [10, 20, 30] {
        let run = Run {
            ended_ms,
            received: 1,
            ..Run::default()
        };
        history.record(HistoryKind::Upload, run).await;
    }
    let (mut operator, mut requestor, _shutdown) = serve(Toy(Some(history))).await;
    let Message::HistoryPage(page) = operator.request(ask(20, 1000)).await.unwrap() else {
        panic!("not a page");
    };
    let ends: Vec<u64> = page.events.iter().map(|e| e.ended_ms).collect();
    assert_eq!(ends, [30, 20]);
    let Message::HistoryPage(page) = operator.request(ask(0, 1)).await.unwrap() else {
        panic!("not a page");
    };
    assert_eq!(page.events.len(), 1);
    // Only the operator's request is the loop's: a peer's goes to the role.
    let answer = requestor.request(ask(0, 10)).await.unwrap();
    assert!(matches!(answer, Message::AdminOk(_)), "{answer:?}");
}

#[tokio::test]
async fn a_role_without_history_answers_an_empty_page_and_a_broken_one_says_why() {
    let (mut operator, _, _shutdown) = serve(Toy(None)).await;
    let answer = operator.request(ask(0, 10)).await.unwrap();
    assert_eq!(
        answer,
        Message::HistoryPage(wire_format::HistoryPage { events: vec![] })
    );

    let dir = Dir::new();
    std::fs::create_dir_all(dir.0.join(FILE_NAME)).unwrap();
    let (mut operator, _, _shutdown) = serve(Toy(Some(History::open(&dir.0)))).await;
    match operator.request(ask(0, 10)).await {
        Err(LinkError::Remote { code, text }) => {
            assert_eq!(code, ErrorCode::Unavailable);
            assert!(text.contains(FILE_NAME), "{text}");
        }
        other => panic!("{other:?}"),
    }
}
