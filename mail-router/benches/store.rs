//! The mail store's group commits, as each node of the mail bench makes
//! them, without the network: how much CPU (and wall time, with the disk
//! sync) one message costs the committer at POA, H and POB.
//!
//! * POA: groups of 15 messages from SMTP are taken and queued for POB
//!   through H; the previous group, handed over to H, is forgotten in the
//!   same commit.
//! * H: groups of 50 messages from POA are taken and queued for POB; the
//!   previous group is forgotten.
//! * POB: groups of 50 messages are taken and delivered into a mailbox.
//!
//! The group sizes are the mean ones the mail bench's debug log shows
//! (`RUST_LOG=mail_router::net::commit=debug`, "group commit taken=").
//!
//! Then the status report's cost with MESSAGES queued at a hub.
//!
//! `cargo bench -p mail-router --bench store -- [MESSAGES]` (default 30,000
//! per node). The store lives in a temporary directory under `TMPDIR`, on
//! the same file system the integration tests use.

use std::collections::BTreeMap;
use std::time::Instant;

use mail_router::config::Mode;
use mail_router::routing::{Disposition, route};
use mail_router::store::{MailStore, Queued, Router};
use wire_format::{MailKind, MailTransfer, Name};

struct Table(Name, Mode, Option<Name>, BTreeMap<Name, Name>);

impl Router for Table {
    fn disposition(&self, post_office: &Name) -> Disposition {
        route(self.0, self.1, self.2, &self.3, post_office)
    }
}

fn name(s: &str) -> Name {
    Name::new(s).expect("a valid name")
}

fn mail(n: u64) -> MailTransfer {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&n.to_be_bytes());
    message_id[8..].copy_from_slice(&0x5eed_u64.wrapping_mul(n + 1).to_le_bytes());
    let mut body = b"From: <jsmith@poa.acme>\r\nTo: <klee@pob.acme>\r\n\r\n".to_vec();
    body.resize(2048, b'X');
    MailTransfer {
        message_id,
        kind: MailKind::Normal,
        from: "ACME/POA/JSMITH".parse().expect("an address"),
        recipients: vec!["ACME/POB/KLEE".parse().expect("an address")],
        hop_count: 1,
        submitted_at_ms: 1,
        body: body.into(),
    }
}

/// This thread's CPU time so far (user + system), in seconds, to the
/// nanosecond: the commits run on it.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

fn run(label: &str, node: &str, mode: Mode, group: usize, messages: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = MailStore::open(dir.path()).expect("the store opens");
    let routes: BTreeMap<Name, Name> = [(name("POB"), name("H")), (name("POA"), name("H"))]
        .into_iter()
        .filter(|(po, _)| po.as_str() != node)
        .map(|(po, hop)| (po, if node == "H" { po } else { hop }))
        .collect();
    let hub = (mode == Mode::PostOffice).then(|| name("H"));
    let router = Table(name(node), mode, hub, routes);
    if node == "POB" {
        store.set_user(&name("KLEE"), "pw").expect("a user");
    }
    let local = (name(node), name("ACME"));
    let (cpu_before, started) = (cpu_seconds(), Instant::now());
    let mut handed_over: Vec<Queued> = Vec::new();
    let mut next = 0u64;
    while (next as usize) < messages {
        let batch: Vec<MailTransfer> = (next..next + group as u64).map(mail).collect();
        next += group as u64;
        let committed = store
            .commit_batch(&[batch], &[handed_over], &router, local, next)
            .expect("the commit");
        handed_over = committed.queued.into_iter().map(|(q, _)| q).collect();
    }
    let (cpu, wall) = (cpu_seconds() - cpu_before, started.elapsed());
    let per = |seconds: f64| seconds * 1e6 / next as f64;
    println!(
        "{label}: {next} messages in groups of {group}: {:.1} µs CPU and {:.1} µs wall a message",
        per(cpu),
        per(wall.as_secs_f64()),
    );
}

/// What the status report costs with `messages` queued (a hub whose next
/// hop is down): the one-pass summary it reads, against listing the queue.
fn status(messages: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = MailStore::open(dir.path()).expect("the store opens");
    let routes = BTreeMap::from([(name("POB"), name("POB"))]);
    let router = Table(name("H"), Mode::Hub, None, routes);
    let local = (name("H"), name("ACME"));
    for start in (0..messages as u64).step_by(500) {
        let batch: Vec<MailTransfer> = (start..start + 500).map(mail).collect();
        store
            .commit_batch(&[batch], &[], &router, local, start)
            .expect("the commit");
    }
    let started = Instant::now();
    let summary = store.queue_summary().expect("the summary");
    let summarised = started.elapsed();
    let started = Instant::now();
    let listed = store.queued().expect("the listing").len();
    let listing = started.elapsed();
    println!(
        "status with {} queued: the summary took {:.1} ms; listing the queue took {:.1} ms \
         and {:.1} MiB ({} bytes a message)",
        summary.total(),
        summarised.as_secs_f64() * 1e3,
        listing.as_secs_f64() * 1e3,
        (listed * std::mem::size_of::<Queued>()) as f64 / f64::from(1 << 20),
        std::mem::size_of::<Queued>(),
    );
}

fn main() {
    let messages = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(30_000);
    run(
        "POA (take and queue, forget)",
        "POA",
        Mode::PostOffice,
        15,
        messages,
    );
    run("H (take and queue, forget)", "H", Mode::Hub, 50, messages);
    run(
        "POB (take and deliver)",
        "POB",
        Mode::PostOffice,
        50,
        messages,
    );
    status(messages);
}
