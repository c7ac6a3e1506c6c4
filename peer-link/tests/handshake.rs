//! The handshake and error handling over real TCP on 127.0.0.1.

use std::time::Duration;

use peer_link::{Connection, Keyring, LinkError, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wire_format::{ErrorCode, Frame, Message, Name, Ping, Pong, Role};

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn quick() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        handshake: Duration::from_secs(2),
        reply: Duration::from_secs(2),
        write: Duration::from_secs(2),
    }
}

/// A server that accepts one connection, answers one Ping, and reports how
/// the handshake went.
async fn serve_once(
    keyring: Keyring,
) -> (String, tokio::task::JoinHandle<Result<Name, LinkError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn =
            Connection::accept(stream, &name("H"), Role::DsServer, &keyring, 42, quick()).await?;
        let frame = conn.recv(Duration::from_secs(2)).await?;
        if let Message::Ping(p) = frame.message {
            conn.reply(frame.request_id, Pong { token: p.token })
                .await?;
        }
        Ok(conn.peer().name)
    });
    (endpoint, task)
}

fn keyring(peer: &str, role: Role, secret: &str) -> Keyring {
    let mut k = Keyring::new();
    k.insert(name(peer), &[role], secret.as_bytes().to_vec());
    k
}

#[tokio::test]
async fn peers_with_the_same_key_authenticate_and_talk() {
    let (endpoint, server) = serve_once(keyring("POA", Role::Requestor, "s3cret")).await;
    let mut conn =
        Connection::connect(&endpoint, &name("POA"), Role::Requestor, b"s3cret", quick())
            .await
            .unwrap();
    assert_eq!(conn.peer().name, name("H"));
    assert_eq!(conn.peer().role, Role::DsServer);
    assert_eq!(conn.peer().session, 42);
    let reply = conn.request(Ping { token: 9 }).await.unwrap();
    assert_eq!(reply, Message::Pong(Pong { token: 9 }));
    assert_eq!(server.await.unwrap().unwrap(), name("POA"));
}

#[tokio::test]
async fn a_wrong_key_is_refused_on_both_sides() {
    let (endpoint, server) = serve_once(keyring("POA", Role::Requestor, "right")).await;
    let err = Connection::connect(&endpoint, &name("POA"), Role::Requestor, b"wrong", quick())
        .await
        .unwrap_err();
    // The server's proof fails first: the client learns the server lacks its key.
    assert!(matches!(err, LinkError::Handshake(_)), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn an_unknown_peer_and_a_wrong_role_get_auth_failed() {
    for (claimed, role) in [("POZ", Role::Requestor), ("POA", Role::Operator)] {
        let (endpoint, server) = serve_once(keyring("POA", Role::Requestor, "k")).await;
        // The client may not even verify the server: the decoy key makes the
        // server's proof wrong too. Either way no connection results.
        let result = Connection::connect(&endpoint, &name(claimed), role, b"k", quick()).await;
        assert!(result.is_err(), "{claimed} as {role:?} got in");
        // The client hangs up on the decoy challenge, or the server refuses
        // its proof: never an authenticated connection.
        let server_side = server.await.unwrap().unwrap_err();
        assert!(
            matches!(
                server_side,
                LinkError::PeerRefused { .. } | LinkError::Closed
            ),
            "{server_side}"
        );
    }
}

#[tokio::test]
async fn garbage_gets_an_error_frame_and_a_closed_connection() {
    let (endpoint, server) = serve_once(keyring("POA", Role::Requestor, "k")).await;
    let mut raw = TcpStream::connect(&endpoint).await.unwrap();
    raw.write_all(b"EHLO evil.example\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), raw.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let (frame, _) = wire_format::decode_frame(&answer, 1 << 20)
        .unwrap()
        .unwrap();
    match frame.message {
        Message::ErrorReply(e) => assert_eq!(e.code, ErrorCode::Malformed),
        other => panic!("expected an error frame, got {other:?}"),
    }
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn a_silent_peer_times_out_instead_of_hanging() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let _silent = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let err = Connection::connect(&endpoint, &name("POA"), Role::Requestor, b"k", quick())
        .await
        .unwrap_err();
    assert!(matches!(err, LinkError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn queued_frames_wait_for_the_flush_then_arrive_in_order() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let keyring = keyring("POA", Role::Requestor, "k");
    let (waited, waited_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn =
            Connection::accept(stream, &name("H"), Role::DsServer, &keyring, 7, quick()).await?;
        // The client has queued its pings by now, but not flushed them.
        let early = conn.recv(Duration::from_millis(300)).await;
        assert!(
            matches!(early, Err(LinkError::Timeout { .. })),
            "a queued frame left before the flush: {early:?}"
        );
        waited.send(()).unwrap();
        let mut pings = Vec::new();
        for _ in 0..3 {
            let frame = conn.recv(Duration::from_secs(2)).await?;
            let Message::Ping(p) = frame.message else {
                panic!("not a ping: {:?}", frame.message);
            };
            pings.push((frame.request_id, p.token));
            conn.queue(Frame::new(frame.request_id, Pong { token: p.token }))
                .await?;
        }
        conn.flush().await?;
        Ok::<_, LinkError>(pings)
    });
    let mut conn = Connection::connect(&endpoint, &name("POA"), Role::Requestor, b"k", quick())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for token in [10, 11, 12] {
        ids.push(conn.queue_request(Ping { token }).await.unwrap());
    }
    waited_rx.await.unwrap();
    conn.flush().await.unwrap();
    for (id, token) in ids.iter().zip([10, 11, 12]) {
        let frame = conn.recv(Duration::from_secs(2)).await.unwrap();
        assert_eq!(frame.request_id, *id);
        assert_eq!(frame.message, Message::Pong(Pong { token }));
    }
    let pings = server.await.unwrap().unwrap();
    assert_eq!(pings, vec![(ids[0], 10), (ids[1], 11), (ids[2], 12)]);
}
