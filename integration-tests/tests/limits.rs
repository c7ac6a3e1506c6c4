//! What the shared server shell promises every role, tried against the real
//! binaries over TCP on 127.0.0.1:
//! * unauthenticated peers that announce 4 MiB Hellos cost a process almost
//!   nothing (the handshake takes frames of at most 4 KiB: PROTOCOL.md,
//!   "Frame size"), and every process keeps serving its peers;
//! * 2,000 idle SMTP connections to a post office leave its peer link,
//!   POP3 and new SMTP clients served; connections past the cap get a 421
//!   reply (RFC 5321 section 3.8), none is left hanging;
//! * SIGTERM during an SMTP burst: every message acknowledged with 250 is
//!   delivered, once, and the process exits within its drain bound.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use integration_tests::dirsync::{self, start_requestor, start_server, upsert};
use integration_tests::mail::{
    Net, Spec, acknowledged_arrive_once, burst_under_way, marker, pop3_fetch, smtp_send,
};
use integration_tests::site::{self, SiteNode};
use integration_tests::{peak_rss_kib, test_dir, wait_until};
use wire_format::MessageType;
use wire_format::frame::{FRAME_FORMAT_VERSION, MAGIC};

const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn mail_trio(root: &std::path::Path, poa_extra: &str) -> Net {
    Net::start(
        root,
        vec![
            Spec::post_office("POA", "H", &["H"], &["JSMITH"]).with_extra(poa_extra),
            Spec::post_office("POB", "H", &["H"], &["KLEE"]),
            Spec::relay("H", "hub", &[("POA", "POA"), ("POB", "POB")]),
        ],
    )
}

/// One hostile peer: a frame header announcing a Hello of 4 MiB, then as
/// much of that body as the server takes. Returns the first bytes it was
/// answered with (an error frame, or nothing if the connection was cut).
fn announce_huge_hello(target: SocketAddr) -> Vec<u8> {
    const BODY: usize = 4 * 1024 * 1024;
    let Ok(mut stream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        return Vec::new();
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut header = Vec::with_capacity(16);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&[FRAME_FORMAT_VERSION, MessageType::Hello.code(), 0, 0]);
    header.extend_from_slice(&1u32.to_be_bytes());
    header.extend_from_slice(&(BODY as u32).to_be_bytes());
    if stream.write_all(&header).is_ok() {
        let chunk = vec![0x41u8; 64 * 1024];
        for _ in 0..BODY / chunk.len() {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let mut answer = vec![0u8; 64];
    let n = stream.read(&mut answer).unwrap_or(0);
    answer.truncate(n);
    answer
}

/// 300 hostile peers at once against `target`; returns how many were told
/// why (an error frame) rather than cut off.
fn flood_with_huge_hellos(target: SocketAddr) -> usize {
    std::thread::scope(|scope| {
        let peers: Vec<_> = (0..300)
            .map(|_| scope.spawn(move || announce_huge_hello(target)))
            .collect();
        peers
            .into_iter()
            .filter_map(|p| p.join().ok())
            .filter(|answer| answer.starts_with(&MAGIC))
            .count()
    })
}

#[test]
fn unauthenticated_peers_announcing_4_mib_hellos_cost_little_and_peers_are_still_served() {
    let root = test_dir("limits-hello");
    let net = mail_trio(root.path(), "");
    let server = start_server(root.path(), "DSH", &["POA"]);
    let requestor = start_requestor(root.path(), "POA", &[("DSH", server.endpoint())], 600_000);
    let s1 = SiteNode::start(root.path(), "S1", &["S2"], "127.0.0.1:0");
    let s2 = SiteNode::start(root.path(), "S2", &["S1"], "127.0.0.1:0");
    s1.point_at(&s2);
    s2.point_at(&s1);

    let mut targets: Vec<(String, SocketAddr, u32)> = Vec::new();
    for router in ["POA", "H", "POB"] {
        let r = net.get(router);
        targets.push((
            format!("mail-router {router}"),
            r.wire(),
            r.process.pid().unwrap(),
        ));
    }
    for (label, role) in [("ds-server", &server), ("ds-requestor", &requestor)] {
        targets.push((
            label.to_owned(),
            role.endpoint(),
            role.process.pid().unwrap(),
        ));
    }
    for node in [&s1, &s2] {
        targets.push((
            format!("site-replicator {}", node.name),
            node.addr(),
            node.process.pid().unwrap(),
        ));
    }
    for (label, addr, pid) in &targets {
        let told = flood_with_huge_hellos(*addr);
        let peak_mib = peak_rss_kib(*pid).expect("the process is alive") / 1024;
        eprintln!(
            "{label}: {told} of 300 hostile peers got an error frame; peak RSS {peak_mib} MiB"
        );
        assert!(peak_mib < 64, "{label} peaked at {peak_mib} MiB");
        assert!(told > 0, "{label} told no hostile peer why it was refused");
    }

    // Every process still serves its peers: mail crosses the hub, a user
    // reaches the DS server, a site write replicates.
    let file = root.path().join("after.eml");
    std::fs::write(
        &file,
        b"Subject: after the flood\r\n\r\nmarker after-flood\r\n",
    )
    .unwrap();
    assert_eq!(
        smtp_send(
            net.get("POA").smtp(),
            "jsmith@poa.acme",
            &["klee@pob.acme"],
            &file
        ),
        "OK 0"
    );
    let pob = net.get("POB");
    assert!(
        wait_until(CONVERGE, POLL, || pob.count("delivered") == 1),
        "the mail did not cross H"
    );
    upsert(
        &mut requestor.operator(),
        "POA",
        "NEWUSER",
        "After The Flood",
    );
    let wanted = format!("{}|After The Flood", dirsync::address("POA", "NEWUSER"));
    assert!(
        wait_until(CONVERGE, POLL, || dirsync::gal_view(&server)
            .contains(&wanted)),
        "the requestor's upload did not reach the DS server"
    );
    site::write(
        &mut s1.client(),
        vec![site::user("F1", "POA", "SITEUSER", "Site User")],
    );
    assert!(
        wait_until(CONVERGE, POLL, || s2
            .operator()
            .list_gal(None)
            .is_ok_and(|gal| gal.iter().any(|e| e.display_name == "Site User"))),
        "the site write did not replicate"
    );
    for (label, _, pid) in &targets {
        let peak_mib = peak_rss_kib(*pid).expect("the process is alive") / 1024;
        assert!(peak_mib < 64, "{label} peaked at {peak_mib} MiB");
    }
}

/// The first line a server sends on a new connection, if any within `within`.
fn first_line(stream: &TcpStream, within: Duration) -> Option<String> {
    stream.set_read_timeout(Some(within)).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    (!line.is_empty()).then_some(line)
}

#[test]
fn two_thousand_idle_smtp_connections_leave_peers_pop3_and_new_smtp_clients_served() {
    const IDLE: usize = 2_000;
    let root = test_dir("limits-idle-smtp");
    let net = mail_trio(root.path(), "");
    let poa = net.get("POA");
    let smtp = poa.smtp();

    // Each connection: its greeting, and whether it was a 220.
    let mut idle: Vec<(TcpStream, bool)> = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let stream = TcpStream::connect_timeout(&smtp, Duration::from_secs(5))
            .expect("the kernel takes the connection");
        let greeted = match first_line(&stream, Duration::from_secs(10)).as_deref() {
            Some(l) if l.starts_with("220 ") => true,
            Some(l) if l.starts_with("421 ") => false,
            other => panic!("connection {} got {other:?}: left hanging", idle.len()),
        };
        idle.push((stream, greeted));
    }
    let greeted = idle.iter().filter(|(_, g)| *g).count();
    eprintln!(
        "{greeted} idle connections greeted with 220, {} refused with 421",
        IDLE - greeted
    );
    assert!(
        greeted < IDLE,
        "no connection was refused: the cap is not enforced"
    );
    // They stay idle for a while, as an attacker's would: a full listener
    // gives the place of a session idle for a second or more to a newcomer.
    std::thread::sleep(Duration::from_millis(1_200));

    // Those still open are idle sessions; a new client takes the place of
    // the one idle the longest and is served at once.
    let started = Instant::now();
    let newcomer = TcpStream::connect_timeout(&smtp, Duration::from_secs(5)).unwrap();
    let greeting = first_line(&newcomer, Duration::from_secs(5));
    let waited = started.elapsed();
    assert!(
        greeting.as_deref().is_some_and(|l| l.starts_with("220 ")),
        "a new client was not served: {greeting:?}"
    );
    assert!(
        waited < Duration::from_secs(1),
        "a new client waited {waited:?} for its greeting"
    );
    drop(newcomer);
    let started = Instant::now();
    let file = root.path().join("new-client.eml");
    std::fs::write(
        &file,
        b"Subject: past the idle crowd\r\n\r\nmarker new-client\r\n",
    )
    .unwrap();
    assert_eq!(
        smtp_send(smtp, "jsmith@poa.acme", &["klee@pob.acme"], &file),
        "OK 0"
    );
    eprintln!("a new SMTP client sent its mail in {:?}", started.elapsed());
    // The peer link: the mail leaves POA for H and POB, and mail from POB
    // comes in over POA's wire listener.
    let pob = net.get("POB");
    assert!(
        wait_until(CONVERGE, POLL, || pob.count("delivered") == 1),
        "POA's mail did not leave"
    );
    std::fs::write(
        &file,
        b"Subject: to the crowded office\r\n\r\nmarker inbound\r\n",
    )
    .unwrap();
    assert_eq!(
        smtp_send(pob.smtp(), "klee@pob.acme", &["jsmith@poa.acme"], &file),
        "OK 0"
    );
    assert!(
        wait_until(CONVERGE, POLL, || poa.count("delivered") == 1),
        "POB's mail did not arrive"
    );
    // POP3 has its own places.
    let started = Instant::now();
    let fetched = pop3_fetch(poa.pop3(), "JSMITH", false);
    eprintln!("POP3 answered in {:?}", started.elapsed());
    assert_eq!(
        fetched.iter().filter_map(|t| marker(t)).collect::<Vec<_>>(),
        ["inbound"]
    );

    // At most the cap of 500 idle sessions is still open; every one that
    // made way was told why (421 4.4.2), none was closed without a word.
    std::thread::sleep(Duration::from_millis(300));
    let (mut open, mut made_way) = (0, 0);
    for (stream, greeted) in &idle {
        stream.set_nonblocking(true).unwrap();
        let mut answer = [0u8; 128];
        match (&*stream).read(&mut answer) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            Ok(n) if *greeted => {
                let line = String::from_utf8_lossy(&answer[..n]);
                assert!(
                    line.starts_with("421 4.4.2"),
                    "an idle session ended with {line:?}"
                );
                made_way += 1;
            }
            Ok(_) => {}
            Err(e) => panic!("reading an idle connection: {e}"),
        }
    }
    eprintln!("{open} idle sessions still open; {made_way} made way for newer clients");
    assert!(open <= 500, "{open} sessions open, past the cap of 500");
    assert!(made_way > 0, "no idle session made way for a new client");
}

#[test]
fn sigterm_during_an_smtp_burst_loses_nothing_acknowledged_and_exits_within_the_drain_bound() {
    const COUNT: usize = 1_000;
    const DRAIN: Duration = Duration::from_secs(3);
    let root = test_dir("limits-drain");
    let mut net = mail_trio(root.path(), "[limits]\ndrain_ms = 3000");
    let clients = burst_under_way(net.get("POA"), COUNT, 200);
    let signalled = Instant::now();
    assert!(
        net.get_mut("POA")
            .process
            .terminate(DRAIN + Duration::from_secs(2)),
        "POA did not exit within its drain bound of {DRAIN:?}"
    );
    let exited = signalled.elapsed();
    eprintln!("POA exited {exited:?} after SIGTERM");
    // The drain began with SMTP sessions open, each then finishing the
    // command in hand (a message being sent is taken in full) or told 421.
    let log = net.get("POA").log_text();
    let in_flight: usize = log
        .lines()
        .find(|l| l.contains("draining sessions"))
        .and_then(|l| l.split("sessions=").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no drain in the log:\n{log}"));
    assert!(
        in_flight > 0,
        "the SIGTERM hit no session: the test proves nothing"
    );
    std::thread::sleep(Duration::from_millis(300));
    net.get_mut("POA").restart();

    let outcome: BTreeMap<String, bool> = clients.join().unwrap();
    assert_eq!(outcome.len(), COUNT, "every message has an outcome");
    let accepted = outcome.values().filter(|ok| **ok).count();
    assert!(
        accepted > COUNT / 2,
        "only {accepted} of {COUNT} accepted: mail did not go on after the restart"
    );
    let arrived = acknowledged_arrive_once(net.get("POB"), &outcome);
    eprintln!("{accepted} of {COUNT} acknowledged, all delivered once; {arrived} arrived");
}
