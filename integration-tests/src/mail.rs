//! Helpers for the mail tests: write mail-router configs, start a network of
//! routers as real processes, tell them each other's endpoints (`Repoint`,
//! kept in each router's store), hand mail in over the wire protocol, and
//! drive SMTP and POP3 with Python's standard `smtplib` and `poplib`.
//!
//! Every router gets fixed ports below the kernel's ephemeral range: a port
//! from that range, once its router is killed, can be taken as the source
//! port of any outgoing connection (or linger in TIME_WAIT), and the
//! restarted router could not listen there again.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{Address, MailKind, MailTransfer, Message, Name, Repoint, Role, SetRoute};

use crate::RoleProcess;
use crate::operator::Operator;

pub const NETWORK: &str = "ACME";
/// `keys::key("mail-operator")`: a key of 32 hex digits, as the roles require.
pub const OPERATOR_SECRET: &str = "6d61696c2d6f70657261746f72000000";
pub const READY: Duration = Duration::from_secs(60);
/// The router name a test uses to hand mail in over the wire protocol.
pub const INJECTOR: &str = "GEN";

/// The key two routers share (the same whichever side asks).
pub fn pair_secret(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    crate::keys::key(&format!("mail-key-{x}-{y}"))
}

/// The password of a test user.
pub fn password(mailbox: &str) -> String {
    format!("{}-pw", mailbox.to_ascii_lowercase())
}

/// A free port on 127.0.0.1 below the ephemeral range (see the module
/// comment), picked pseudo-randomly so parallel tests rarely meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(32768)
        .clamp(2048, 65535);
    let span = low - 1024;
    let seed = u64::from(std::process::id()).wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into());
    for _ in 0..1000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 1024 + (seed.wrapping_add(n.wrapping_mul(104_729)) % span);
        let port = u16::try_from(port).unwrap_or(20000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {low}");
}

/// One router of a test network.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    /// `post-office`, `hub` or `gateway`.
    pub mode: &'static str,
    pub hub: Option<String>,
    pub peers: Vec<String>,
    pub routes: Vec<(String, String)>,
    pub users: Vec<String>,
    /// More top-level TOML lines (e.g. `max_message_bytes = 65536`).
    pub extra: String,
    /// A post office's `trusted_networks`, as TOML: by default
    /// `["127.0.0.0/8"]`, so that the tests' SMTP clients (smtplib, swaks,
    /// smtp-source on 127.0.0.1) send to other post offices without AUTH
    /// as before it existed; `[]` makes 127.0.0.1 an untrusted client.
    pub trusted_networks: String,
}

/// What a test post office trusts unless told otherwise.
pub const TRUSTED_LOCALHOST: &str = r#"["127.0.0.0/8"]"#;

impl Spec {
    pub fn post_office(name: &str, hub: &str, peers: &[&str], users: &[&str]) -> Spec {
        Spec {
            name: name.into(),
            mode: "post-office",
            hub: Some(hub.into()),
            peers: peers.iter().map(|p| p.to_string()).collect(),
            routes: Vec::new(),
            users: users.iter().map(|u| u.to_string()).collect(),
            extra: String::new(),
            trusted_networks: TRUSTED_LOCALHOST.into(),
        }
    }

    pub fn relay(name: &str, mode: &'static str, routes: &[(&str, &str)]) -> Spec {
        let mut peers: Vec<String> = Vec::new();
        for (_, hop) in routes {
            if !peers.iter().any(|p| p == hop) {
                peers.push(hop.to_string());
            }
        }
        Spec {
            name: name.into(),
            mode,
            hub: None,
            peers,
            routes: routes
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            users: Vec::new(),
            extra: String::new(),
            trusted_networks: TRUSTED_LOCALHOST.into(),
        }
    }

    pub fn with_peer(mut self, peer: &str) -> Spec {
        if !self.peers.iter().any(|p| p == peer) {
            self.peers.push(peer.into());
        }
        self
    }

    /// `trusted_networks` as a TOML array, e.g. `[]`.
    pub fn with_trusted_networks(mut self, toml_array: &str) -> Spec {
        self.trusted_networks = toml_array.into();
        self
    }

    pub fn with_extra(mut self, line: &str) -> Spec {
        self.extra.push_str(line);
        self.extra.push('\n');
        self
    }

    fn config(&self, data_dir: &Path) -> String {
        let mut t = format!(
            "node = \"{}\"\nnetwork = \"{NETWORK}\"\nmode = \"{}\"\ndata_dir = \"{}\"\nlisten = \"127.0.0.1:{}\"\noperator_secret = \"{OPERATOR_SECRET}\"\n",
            self.name,
            self.mode,
            data_dir.display(),
            free_port()
        );
        if let Some(hub) = &self.hub {
            t.push_str(&format!(
                "hub = \"{hub}\"\nsmtp_listen = \"127.0.0.1:{}\"\npop3_listen = \"127.0.0.1:{}\"\n\
                 trusted_networks = {}\n",
                free_port(),
                free_port(),
                self.trusted_networks
            ));
        }
        t.push_str(&self.extra);
        for peer in &self.peers {
            t.push_str(&format!(
                "\n[[peers]]\nname = \"{peer}\"\nsecret = \"{}\"\n",
                pair_secret(&self.name, peer)
            ));
        }
        if !self.routes.is_empty() {
            t.push_str("\n[routes]\n");
            for (po, hop) in &self.routes {
                t.push_str(&format!("{po} = \"{hop}\"\n"));
            }
        }
        for user in &self.users {
            t.push_str(&format!(
                "\n[[users]]\nmailbox = \"{user}\"\npassword = \"{}\"\n",
                password(user)
            ));
        }
        t
    }
}

/// A running mail router and what it takes to restart it.
pub struct Router {
    pub process: RoleProcess,
    pub spec: Spec,
    pub dir: PathBuf,
    config: PathBuf,
}

impl Router {
    pub fn start(root: &Path, spec: Spec) -> Router {
        let dir = root.join(&spec.name);
        std::fs::create_dir_all(&dir).expect("router directory");
        let config = dir.join("config.toml");
        let text = spec.config(&dir.join("data"));
        std::fs::write(&config, &text).expect("write config");
        let process = Self::launch(&spec.name, &dir, &config);
        Router {
            process,
            spec,
            dir,
            config,
        }
    }

    fn launch(name: &str, dir: &Path, config: &Path) -> RoleProcess {
        let config = config.to_string_lossy().into_owned();
        RoleProcess::start(
            &format!("mail-router {name}"),
            "mail-router",
            &["--config", &config],
            &dir.join("log.txt"),
            READY,
        )
    }

    pub fn wire(&self) -> SocketAddr {
        self.process.endpoint("wire")
    }
    pub fn smtp(&self) -> SocketAddr {
        self.process.endpoint("smtp")
    }
    pub fn pop3(&self) -> SocketAddr {
        self.process.endpoint("pop3")
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGKILL, then start again on the same data directory and ports.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Self::launch(&self.spec.name, &self.dir, &self.config);
    }

    pub fn operator(&self) -> Operator {
        Operator::connect(self.wire(), OPERATOR_SECRET).expect("operator connects")
    }

    /// A status counter; 0 if the router cannot be asked right now.
    pub fn count(&self, key: &str) -> u64 {
        Operator::connect(self.wire(), OPERATOR_SECRET)
            .and_then(|mut c| c.count(key))
            .unwrap_or(0)
    }

    pub fn text(&self, key: &str) -> Option<String> {
        let status = Operator::connect(self.wire(), OPERATOR_SECRET)
            .and_then(|mut c| c.status())
            .ok()?;
        status.into_iter().find_map(|(k, v)| match v {
            wire_format::StatusValue::Text(t) if k == key => Some(t),
            _ => None,
        })
    }

    /// `SetRoute`, which must be acknowledged.
    pub fn set_route(&self, post_office: &str, next_hop: &str) {
        let reply = self.operator().request(SetRoute {
            post_office: name(post_office),
            next_hop: name(next_hop),
        });
        assert!(
            matches!(reply, Ok(Message::AdminOk(_))),
            "{}: SetRoute {post_office} -> {next_hop}: {reply:?}",
            self.spec.name
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }
}

pub fn name(s: &str) -> Name {
    Name::new(s).expect("a valid name")
}

pub fn address(po: &str, mailbox: &str) -> Address {
    Address::new(name(NETWORK), name(po), name(mailbox))
}

/// A network of routers, each told every peer's endpoint.
pub struct Net {
    pub routers: BTreeMap<String, Router>,
}

impl Net {
    pub fn start(root: &Path, specs: Vec<Spec>) -> Net {
        let routers: BTreeMap<String, Router> = specs
            .into_iter()
            .map(|s| (s.name.clone(), Router::start(root, s)))
            .collect();
        for r in routers.values() {
            let mut op = r.operator();
            for peer in &r.spec.peers {
                let Some(other) = routers.get(peer) else {
                    continue;
                };
                let reply = op.request(Repoint {
                    server: name(peer),
                    endpoint: other.wire().to_string(),
                });
                assert!(
                    matches!(reply, Ok(Message::AdminOk(_))),
                    "Repoint {peer} at {}: {reply:?}",
                    r.spec.name
                );
            }
        }
        Net { routers }
    }

    pub fn get(&self, name: &str) -> &Router {
        &self.routers[name]
    }

    pub fn get_mut(&mut self, name: &str) -> &mut Router {
        self.routers.get_mut(name).expect("a router of the network")
    }
}

/// The network of the patent before any migration: POA, POB, POC on hub H,
/// POD on hub H2, H3 the gateway between the hubs. POC also holds a key for
/// H2 (and H2 for POC), so it can migrate. `GEN` may hand mail to POA.
pub fn patent_network() -> Vec<Spec> {
    vec![
        Spec::post_office("POA", "H", &["H", INJECTOR], &["JSMITH", "MJONES"]),
        Spec::post_office("POB", "H", &["H"], &["KLEE"]),
        Spec::post_office("POC", "H", &["H", "H2"], &["BBROWN"]),
        Spec::post_office("POD", "H2", &["H2"], &["AJONES"]),
        Spec::relay(
            "H",
            "hub",
            &[
                ("POA", "POA"),
                ("POB", "POB"),
                ("POC", "POC"),
                ("POD", "H3"),
            ],
        ),
        Spec::relay(
            "H3",
            "gateway",
            &[("POA", "H"), ("POB", "H"), ("POC", "H"), ("POD", "H2")],
        ),
        Spec::relay(
            "H2",
            "hub",
            &[("POD", "POD"), ("POA", "H3"), ("POB", "H3"), ("POC", "H3")],
        )
        .with_peer("POC"),
    ]
}

/// A test message: `marker` goes into its Message-ID and its body.
pub fn test_mail(marker: &str, from: Address, to: Address, body_len: usize) -> MailTransfer {
    // Two FNV-1a hashes of the marker: distinct markers, distinct ids.
    let fnv = |seed: u64| {
        marker
            .bytes()
            .fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
    };
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&fnv(0xcbf29ce484222325).to_be_bytes());
    id[8..].copy_from_slice(&fnv(0x84222325cbf29ce4).to_be_bytes());
    let mut body =
        format!("Message-ID: <{marker}@test>\r\nSubject: {marker}\r\n\r\nmarker {marker}\r\n");
    while body.len() < body_len {
        body.push_str("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\r\n");
    }
    MailTransfer {
        message_id: id,
        kind: MailKind::Normal,
        from,
        recipients: vec![to],
        hop_count: 0,
        submitted_at_ms: 0,
        body: body.into_bytes().into(),
    }
}

/// Hands `messages` to the router at `endpoint` as `INJECTOR`, pipelined
/// `window` at a time, reconnecting after failures, until every one is
/// acknowledged or `within` passes. Returns how many were acknowledged.
pub fn inject(
    endpoint: SocketAddr,
    receiver: &str,
    messages: Vec<MailTransfer>,
    window: usize,
    within: Duration,
) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let deadline = Instant::now() + within;
    let secret = pair_secret(INJECTOR, receiver);
    let timeouts = Timeouts {
        reply: Duration::from_secs(20),
        ..Timeouts::default()
    };
    let mut acked = 0;
    let mut chunks = messages.chunks(window.max(1));
    let mut chunk = chunks.next();
    runtime.block_on(async {
        let mut conn: Option<Connection> = None;
        while let Some(batch) = chunk {
            if Instant::now() > deadline {
                return;
            }
            if conn.is_none() {
                match Connection::connect(
                    &endpoint.to_string(),
                    &name(INJECTOR),
                    Role::MailRouter,
                    secret.as_bytes(),
                    timeouts,
                )
                .await
                {
                    Ok(c) => conn = Some(c),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let sent: Result<Vec<u32>, LinkError> = async {
                let mut ids = Vec::new();
                for m in batch {
                    ids.push(c.send_request(m.clone()).await?);
                }
                for id in &ids {
                    match c.recv_reply(*id).await? {
                        Message::MailAck(_) => {}
                        other => return Err(LinkError::unexpected("MailAck", &other)),
                    }
                }
                Ok(ids)
            }
            .await;
            match sent {
                Ok(_) => {
                    acked += batch.len();
                    chunk = chunks.next();
                }
                // The whole window again: the receiver stores each id once.
                Err(_) => conn = None,
            }
        }
    });
    acked
}

/// Runs `python3 -c script args...` with `stdin`, killed after `within`.
/// Returns (success, stdout, stderr).
pub fn python(script: &str, args: &[String], within: Duration) -> (bool, String, String) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    (status.is_some_and(|s| s.success()), stdout, stderr)
}

const SMTP_SEND: &str = r#"
import smtplib, sys
host, port, sender, rcpts, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(','), sys.argv[5]
msg = open(path, 'rb').read()
try:
    with smtplib.SMTP(host, port, timeout=30) as s:
        refused = s.sendmail(sender, rcpts, msg)
        print('OK', len(refused))
except smtplib.SMTPSenderRefused as e:
    print('SENDER', e.smtp_code, e.smtp_error.decode(errors='replace'))
except smtplib.SMTPRecipientsRefused as e:
    codes = sorted({c for (c, _) in e.recipients.values()})
    print('RECIPIENTS', ' '.join(str(c) for c in codes))
except smtplib.SMTPDataError as e:
    print('DATA', e.smtp_code, e.smtp_error.decode(errors='replace'))
"#;

/// Sends the file `message` with `smtplib.sendmail`. Returns python's one-line
/// outcome: `OK 0`, `SENDER <code> ...`, `RECIPIENTS <codes>`, `DATA <code> ...`.
pub fn smtp_send(server: SocketAddr, from: &str, to: &[&str], message: &Path) -> String {
    let args = vec![
        server.ip().to_string(),
        server.port().to_string(),
        from.to_owned(),
        to.join(","),
        message.display().to_string(),
    ];
    let (ok, out, err) = python(SMTP_SEND, &args, Duration::from_secs(60));
    assert!(ok, "smtplib failed: {out}\n{err}");
    out.trim().to_owned()
}

const POP3_FETCH: &str = r#"
import poplib, sys, binascii
host, port, user, pw, delete = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == '1'
p = poplib.POP3(host, port, timeout=60)
p.user(user)
p.pass_(pw)
count, _ = p.stat()
uids = p.uidl()[1]
if len(uids) != count:
    raise SystemExit('UIDL lists %d messages, STAT %d' % (len(uids), count))
sizes = p.list()[1]
if len(sizes) != count:
    raise SystemExit('LIST lists %d messages, STAT %d' % (len(sizes), count))
for i in range(1, count + 1):
    _, lines, octets = p.retr(i)
    listed = int(sizes[i - 1].split()[1])
    if octets != listed:
        raise SystemExit('message %d: LIST says %d octets, RETR sent %d' % (i, listed, octets))
    print(binascii.hexlify(b'\r\n'.join(lines) + b'\r\n').decode())
    if delete:
        p.dele(i)
p.quit()
"#;

/// Every message of a mailbox, fetched with `poplib` (and deleted with
/// DELE + QUIT when `delete`): the exact text of each.
pub fn pop3_fetch(server: SocketAddr, mailbox: &str, delete: bool) -> Vec<Vec<u8>> {
    let args = vec![
        server.ip().to_string(),
        server.port().to_string(),
        mailbox.to_ascii_lowercase(),
        password(mailbox),
        if delete { "1" } else { "0" }.to_owned(),
    ];
    let (ok, out, err) = python(POP3_FETCH, &args, Duration::from_secs(120));
    assert!(ok, "poplib failed: {err}");
    out.lines().map(unhex).collect()
}

fn unhex(line: &str) -> Vec<u8> {
    let b = line.trim().as_bytes();
    b.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            (d(p[0]) << 4) | d(*p.get(1).unwrap_or(&b'0'))
        })
        .collect()
}

/// The marker of a message made by [`test_mail`] (or any text with a
/// `marker X` line).
pub fn marker(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .find_map(|l| l.strip_prefix("marker "))
        .map(|m| m.trim().to_owned())
}

/// Counts per marker: every marker in `expected` exactly once, nothing else.
pub fn exactly_once(texts: &[Vec<u8>], expected: &[String]) -> Result<(), String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for t in texts {
        *seen.entry(marker(t).unwrap_or_default()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|m| !seen.contains_key(*m))
        .take(5)
        .collect();
    let unexpected = seen.len().saturating_sub(expected.len() - missing.len());
    if twice.is_empty() && missing.is_empty() && unexpected == 0 {
        Ok(())
    } else {
        Err(format!(
            "{} messages, {} distinct; duplicated {twice:?}; missing {missing:?} (of {}); {unexpected} unexpected",
            texts.len(),
            seen.len(),
            expected.len()
        ))
    }
}

/// Sends COUNT messages (markers `kill-00000`...) from THREADS threads, a
/// connection each, and prints `OK <marker>` once a message's DATA got its
/// `250`, `FAIL <marker>` otherwise. A refused connection (the server is
/// down) is tried again for up to 30 s: nothing of that message was sent.
const SUBMIT_MANY: &str = r#"
import smtplib, sys, threading, time
host, port, count, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
def connect():
    deadline = time.time() + 30
    while True:
        try:
            return smtplib.SMTP(host, port, timeout=10)
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.02)
def send(i):
    marker = 'kill-%05d' % i
    msg = ('Subject: %s\r\n\r\nmarker %s\r\n' % (marker, marker)).encode() + b'x' * 500 + b'\r\n'
    accepted = False
    try:
        s = connect()
        try:
            s.sendmail('jsmith@poa.acme', ['klee@pob.acme'], msg)
            accepted = True
        finally:
            try:
                s.quit()
            except Exception:
                pass
    except Exception:
        pass
    with lock:
        print(('OK ' if accepted else 'FAIL ') + marker, flush=True)
def worker(k):
    for i in range(k, count, threads):
        send(i)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"#;

/// Sends `count` messages from `threads` smtplib clients, a connection
/// each, JSMITH at POA to KLEE at POB, each with a `marker kill-NNNNN`
/// line. Returns each marker and whether its DATA got a 250.
pub fn submit_many(
    server: SocketAddr,
    count: usize,
    threads: usize,
    within: Duration,
) -> BTreeMap<String, bool> {
    let args = [
        server.ip().to_string(),
        server.port().to_string(),
        count.to_string(),
        threads.to_string(),
    ];
    let (ok, out, err) = python(SUBMIT_MANY, &args, within);
    assert!(ok, "the smtplib clients failed: {err}");
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(verdict, marker)| (marker.to_owned(), verdict == "OK"))
        .collect()
}

/// Starts [`submit_many`] (8 clients) against POA in the background and
/// returns once POA has taken `before` messages, so that whatever the
/// caller does next hits a burst in full flow.
pub fn burst_under_way(
    poa: &Router,
    count: usize,
    before: u64,
) -> std::thread::JoinHandle<BTreeMap<String, bool>> {
    let smtp = poa.smtp();
    let clients = std::thread::spawn(move || submit_many(smtp, count, 8, Duration::from_secs(240)));
    assert!(
        crate::wait_until(Duration::from_secs(60), Duration::from_millis(10), || poa
            .count("received")
            >= before),
        "POA did not take {before} messages"
    );
    clients
}

/// Checks what [`submit_many`] reported against KLEE's mailbox at `pob`:
/// every message acknowledged with 250 arrives, none arrives twice, and
/// nothing arrives that was never sent (a message whose client saw the
/// connection die may or may not). Returns how many arrived.
pub fn acknowledged_arrive_once(pob: &Router, outcome: &BTreeMap<String, bool>) -> usize {
    let accepted = outcome.values().filter(|ok| **ok).count();
    assert!(
        crate::wait_until(Duration::from_secs(60), Duration::from_millis(50), || pob
            .count("delivered")
            >= accepted as u64),
        "only {} of {accepted} accepted messages delivered",
        pob.count("delivered")
    );
    let mut arrived: BTreeMap<String, usize> = BTreeMap::new();
    for text in pop3_fetch(pob.pop3(), "KLEE", false) {
        let m = marker(&text).expect("a marker in every message");
        *arrived.entry(m).or_default() += 1;
    }
    for (m, n) in &arrived {
        assert_eq!(*n, 1, "{m} arrived {n} times");
        assert!(outcome.contains_key(m), "{m} was never sent");
    }
    let lost: Vec<&String> = outcome
        .iter()
        .filter(|(m, ok)| **ok && !arrived.contains_key(*m))
        .map(|(m, _)| m)
        .collect();
    assert!(lost.is_empty(), "accepted but lost: {lost:?}");
    arrived.len()
}
