//! `netctl demo`: the whole story on this machine. Starts the patent's
//! network in a temporary directory, keeps mail and directory changes
//! flowing, migrates POC to the new hub, verifies, and reports what the users
//! would have seen: steps and their durations, mails sent, delivered, lost
//! and duplicated, and the GAL gap of the migration method.

pub mod traffic;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wire_format::Name;

use crate::NetctlError;
use crate::commands::migrate::{TerminalProgress, final_verification};
use crate::migrate::journal::Method;
use crate::migrate::run::{self, Options, Progress, WaveReport};
use crate::network::Network;

/// The example topology, built in, so the demo runs from any directory.
pub const PATENT_TOPOLOGY: &str = include_str!("../../../examples/patent.toml");

pub struct DemoOptions {
    pub post_offices: Vec<Name>,
    pub to: Name,
    pub method: Method,
    /// Mails per second during the whole run.
    pub rate: u32,
    /// Traffic before the migration starts.
    pub warm_up: Duration,
    /// How long to wait for the last mails to arrive.
    pub drain: Duration,
    pub keep: bool,
}

pub struct DemoReport {
    pub data_dir: PathBuf,
    pub wave: WaveReport,
    pub sent: traffic::Sent,
    pub delivered: u64,
    pub lost: Vec<u64>,
    pub duplicated: Vec<u64>,
    pub changes: watch::Changes,
    pub gap: watch::Gap,
    pub gals_complete_after: Duration,
    pub test_mails: usize,
    pub total: Duration,
}

fn demo_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "netctl-demo-{}-{}",
        std::process::id(),
        run::now_ms()
    ))
}

pub fn run(opts: &DemoOptions) -> Result<DemoReport, NetctlError> {
    let dir = demo_dir();
    std::fs::create_dir_all(&dir).map_err(|source| NetctlError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let topology = dir.join("patent.toml");
    std::fs::write(&topology, PATENT_TOPOLOGY).map_err(|source| NetctlError::Write {
        path: topology.display().to_string(),
        source,
    })?;
    println!(
        "starting the network of examples/patent.toml in {}",
        dir.display()
    );
    let state = crate::commands::up::run(&topology, &dir)?;
    crate::commands::up::print(&state, false);
    let outcome = run_on(&dir, opts);
    println!("stopping the network");
    let _ = crate::commands::down::run(&dir);
    if !opts.keep && outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

fn run_on(dir: &Path, opts: &DemoOptions) -> Result<DemoReport, NetctlError> {
    let began = Instant::now();
    let mut net = Network::open(dir)?;
    let mut progress = TerminalProgress::new(false);
    println!("waiting until every GAL holds the whole directory");
    crate::migrate::verify::wait_for_complete_gals(&mut net, opts.drain, &mut progress)?;

    let accounts = traffic::accounts(&net);
    let stop_mail = Arc::new(AtomicBool::new(false));
    let stop_changes = Arc::new(AtomicBool::new(false));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let mailer = {
        let (net, accounts, stop) = (net.clone(), accounts.clone(), stop_mail.clone());
        let rate = opts.rate;
        std::thread::spawn(move || traffic::send_until(&net, &accounts, rate, stop))
    };
    let changer = {
        let (net, stop) = (net.clone(), stop_changes.clone());
        std::thread::spawn(move || {
            watch::change_users_until(&net, Duration::from_millis(250), stop)
        })
    };
    let watcher = {
        let (net, stop, moving) = (net.clone(), stop_watch.clone(), opts.post_offices.clone());
        std::thread::spawn(move || watch::watch_gap(&net, &moving, stop))
    };
    println!(
        "mail traffic ({} mails/s between {} users) and directory changes are running",
        opts.rate,
        accounts.len()
    );
    std::thread::sleep(opts.warm_up);

    let wave = run::begin(&net, &opts.post_offices, opts.to, opts.method).and_then(|j| {
        crate::commands::migrate::print_plan(&net, &j);
        run::run(
            &mut net,
            j,
            &Options {
                method: opts.method,
                step_timeout: Duration::from_secs(120),
            },
            &mut progress,
        )
    });
    // Directory changes stop first so the final check compares a still directory.
    stop_changes.store(true, Ordering::Relaxed);
    let changes = changer.join().unwrap_or_default();
    stop_watch.store(true, Ordering::Relaxed);
    let gap = watcher.join().unwrap_or_default();
    let wave = match wave {
        Ok(w) => w,
        Err(e) => {
            stop_mail.store(true, Ordering::Relaxed);
            let _ = mailer.join();
            return Err(e);
        }
    };
    let verification = final_verification(&mut net, &wave, opts.drain, &mut progress);
    stop_mail.store(true, Ordering::Relaxed);
    let sent = mailer.join().unwrap_or_default();
    let verification = verification?;

    println!("collecting every mailbox over POP3");
    let mut received: BTreeMap<u64, u64> = BTreeMap::new();
    let deadline = Instant::now() + opts.drain;
    loop {
        if let Err(e) = traffic::collect_all(&net, &accounts, &mut received) {
            progress.note(&format!("collecting: {e}"));
        }
        let missing = sent
            .accepted
            .iter()
            .filter(|id| !received.contains_key(id))
            .count();
        if missing == 0 || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let lost: Vec<u64> = sent
        .accepted
        .iter()
        .copied()
        .filter(|id| !received.contains_key(id))
        .collect();
    let duplicated: Vec<u64> = received
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    Ok(DemoReport {
        data_dir: dir.to_path_buf(),
        delivered: received.len() as u64,
        wave,
        sent,
        lost,
        duplicated,
        changes,
        gap,
        gals_complete_after: verification.gals_complete_after,
        test_mails: verification.mails.len(),
        total: began.elapsed(),
    })
}

pub fn print(r: &DemoReport) {
    println!();
    println!("demo report");
    let moved: Vec<&str> = r
        .wave
        .moves
        .iter()
        .map(|m| m.post_office.as_str())
        .collect();
    println!("  migration of {} to {}:", moved.join(", "), r.wave.to);
    for s in &r.wave.steps {
        println!("    step {}: {:>6} ms", s.step, s.took.as_millis());
    }
    println!(
        "  mails: {} sent, {} delivered, {} lost, {} duplicated ({} refused at submission, the sender was told)",
        r.sent.accepted.len(),
        r.delivered,
        r.lost.len(),
        r.duplicated.len(),
        r.sent.refused
    );
    if !r.lost.is_empty() {
        println!("    lost ids: {:?}", &r.lost[..r.lost.len().min(20)]);
    }
    println!(
        "  directory changes during the run: {} made, {} failed",
        r.changes.made, r.changes.failed
    );
    println!(
        "  GAL gap: {} post office/user pairs missing at some point, for {} ms ({} samples)",
        r.gap.pairs.len(),
        r.gap.window().as_millis(),
        r.gap.samples
    );
    println!(
        "  final verification: every GAL complete {} ms after step G; {} test mails crossed",
        r.gals_complete_after.as_millis(),
        r.test_mails
    );
    println!("  total {} ms", r.total.as_millis());
}
