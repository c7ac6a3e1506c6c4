//! The migration benchmark of issue #6, on real release processes started by
//! `netctl up`: a network of POST_OFFICES post offices with USERS users each
//! (three quarters on H, the rest on H2), mail at RATE messages/s between
//! them through SMTP, and `netctl migrate PO01 --to H2` (METHOD, default the
//! handover). Prints the time from step A to the end of the final
//! verification (netctl's own `total_ms`), each step, the mails lost and
//! duplicated, and the GAL gap: every other post office's entry count is
//! sampled from its status while the migration runs (no other directory
//! change happens during the run, so a count below the full directory is a
//! user that post office cannot see).
//!
//! `cargo bench -p integration-tests --bench migration -- 20 10000 200 handover`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use integration_tests::netctl_run::{NetworkGuard, netctl, succeeded};
use integration_tests::{test_dir, wait_until};
use netctl::demo::traffic;
use netctl::migrate::plan::Target;
use netctl::network::Network;
use netctl::topology::RoleKind;
use wire_format::{Address, Name, StatusValue};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num = |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (post_offices, users, rate) = (num(0, 20), num(1, 10_000), num(2, 200));
    let method = args.get(3).cloned().unwrap_or_else(|| "handover".into());
    run(post_offices, users, rate, &method);
}

fn topology(post_offices: u32, users: u32) -> String {
    // The traffic comes from 127.0.0.1, trusted (Postfix's mynetworks) as
    // in the mail bench: no TLS handshake and password check per mail
    // weighs on the migration being timed.
    let mut t = String::from(
        "network = \"ACME\"\ntrusted_networks = [\"127.0.0.0/8\"]\n[old_hub]\nname = \"H\"\n[new_hub]\nname = \"H2\"\n[bridge]\nname = \"H3\"\n",
    );
    for i in 1..=post_offices {
        let hub = if i <= post_offices * 3 / 4 { "H" } else { "H2" };
        // The owner's password is given: the traffic and the migration's
        // test mails log in as the owner, and there is no default password.
        t.push_str(&format!(
            "\n[[post_offices]]\nname = \"PO{i:02}\"\nhub = \"{hub}\"\ngenerate_users = {}\nusers = [{{ mailbox = \"OWNER\", display_name = \"PO{i:02} Owner\", password = \"po{i:02}-owner-pw\" }}]\n",
            users.saturating_sub(1)
        ));
    }
    t
}

fn entries(net: &Network, po: Name) -> Option<u64> {
    let mut op = net.connect(Target::new(po, RoleKind::DsRequestor)).ok()?;
    op.status().ok()?.into_iter().find_map(|(k, v)| match v {
        StatusValue::Count(n) if k == "entries" => Some(n),
        _ => None,
    })
}

fn run(post_offices: u32, users: u32, rate: u32, method: &str) {
    let total = u64::from(post_offices) * u64::from(users);
    println!(
        "migration bench: {post_offices} post offices x {users} users = {total} users, {rate} mails/s, method {method}"
    );
    let dir = test_dir("bench-migration");
    let topology_file = dir.path().join("topology.toml");
    std::fs::write(&topology_file, topology(post_offices, users)).unwrap();
    let data = dir.path().join("net");
    // Built first, so that `up` below times starting, not compiling.
    integration_tests::netctl_run::netctl_binary();
    let began = Instant::now();
    let out = netctl(&data, &["up", topology_file.to_str().unwrap()]);
    let _guard = NetworkGuard(data.clone());
    succeeded("netctl up", &out);
    println!("  up: {:.1} s", began.elapsed().as_secs_f64());
    let net = Network::open(&data).unwrap();
    let pos = net.post_offices();
    let converged = wait_until(Duration::from_secs(900), Duration::from_millis(500), || {
        pos.iter().all(|po| entries(&net, *po) == Some(total))
    });
    assert!(converged, "the directory never converged");
    println!(
        "  every GAL holds all {total} users after {:.1} s",
        began.elapsed().as_secs_f64()
    );

    // One mailbox per post office: the traffic crosses every pair of hubs.
    let accounts: Vec<traffic::Account> = net
        .topology
        .post_offices()
        .filter_map(|po| {
            let u = po.users.iter().find(|u| u.password.is_some())?;
            Some(traffic::Account {
                address: Address::new(net.topology.network, po.name, u.mailbox),
                password: u.password.clone()?,
            })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mailer = {
        let (net, accounts, stop) = (net.clone(), accounts.clone(), stop.clone());
        // Four SMTP clients at once: one alone reaches about 140 mails/s here.
        std::thread::spawn(move || traffic::send_in_lanes(&net, &accounts, rate, 4, &stop))
    };
    let moving = Name::new("PO01").unwrap();
    let watcher = {
        let (net, stop) = (net.clone(), stop.clone());
        let observers: Vec<Name> = pos.iter().copied().filter(|p| *p != moving).collect();
        std::thread::spawn(move || watch_counts(&net, &observers, total, stop))
    };
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let out = netctl(
        &data,
        &[
            "--json", "migrate", "PO01", "--to", "H2", "--method", method,
        ],
    );
    let wall = started.elapsed();
    let report = succeeded("netctl migrate", &out);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let sent = mailer.join().unwrap();
    let (missing_pairs, window, samples) = watcher.join().unwrap();

    let mut received: BTreeMap<u64, u64> = BTreeMap::new();
    wait_until(Duration::from_secs(120), Duration::from_millis(500), || {
        traffic::collect_all(&net, &accounts, &mut received).is_ok()
            && sent.accepted.iter().all(|id| received.contains_key(id))
    });
    let lost = sent
        .accepted
        .iter()
        .filter(|id| !received.contains_key(id))
        .count();
    let duplicated = received.values().filter(|n| **n > 1).count();
    let json: serde_json::Value = serde_json::from_str(report.trim()).unwrap_or_default();
    println!("  netctl migrate report: {}", report.trim());
    println!(
        "  step A to the end of the final verification: {} ms (netctl total_ms; {} ms wall clock including start-up)",
        json["total_ms"],
        wall.as_millis()
    );
    println!(
        "  mails: {} sent at {:.0}/s, {} lost, {} duplicated, {} refused at submission",
        sent.accepted.len(),
        sent.accepted.len() as f64 / (wall.as_secs_f64() + 3.0),
        lost,
        duplicated,
        sent.refused
    );
    println!(
        "  GAL gap: {missing_pairs} post office/user pairs missing at some point, for {} ms ({samples} samples of {} post offices)",
        window.as_millis(),
        pos.len() - 1
    );
}

/// The most users each observer was missing at any sample, summed, and how
/// long any was missing.
fn watch_counts(
    net: &Network,
    observers: &[Name],
    total: u64,
    stop: Arc<AtomicBool>,
) -> (u64, Duration, u64) {
    let mut worst: BTreeMap<Name, u64> = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let mut samples = 0;
    while !stop.load(Ordering::Relaxed) {
        for po in observers {
            if let Some(n) = entries(net, *po) {
                let missing = total.saturating_sub(n);
                if missing > 0 {
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = Some(now);
                    let w = worst.entry(*po).or_default();
                    *w = (*w).max(missing);
                }
            }
        }
        samples += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let window = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    (worst.values().sum(), window, samples)
}
