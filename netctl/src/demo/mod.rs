//! `netctl demo`: the whole story on this machine. Starts the patent's
//! network in a temporary directory, keeps mail and directory changes
//! flowing, migrates POC to the new hub, verifies, and reports what the users
//! would have seen: steps and their durations, mails sent, delivered, lost
//! and duplicated, and the GAL gap of the migration method. With
//! `--compare` it first migrates POC by the patent's method and rolls it
//! back, so both methods' gaps are measured in the same run.

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
    /// First migrate by the patent's method and roll back, then by `method`.
    pub compare: bool,
    /// Mails per second during the whole run.
    pub rate: u32,
    /// Traffic before the migration starts.
    pub warm_up: Duration,
    /// How long to wait for the last mails to arrive.
    pub drain: Duration,
    pub keep: bool,
}

/// One migration and the GAL gap seen while it ran.
pub struct Watched {
    pub method: Method,
    pub wave: WaveReport,
    pub gap: watch::Gap,
}

pub struct DemoReport {
    pub data_dir: PathBuf,
    /// In order: the patent's method and the rollback (with `--compare`),
    /// then the chosen method.
    pub migrations: Vec<Watched>,
    pub sent: traffic::Sent,
    pub delivered: u64,
    pub lost: Vec<u64>,
    pub duplicated: Vec<u64>,
    pub changes: watch::Changes,
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
    crate::state::create_private_dir(&dir).map_err(|source| NetctlError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let topology = dir.join("patent.toml");
    // It holds the seed users' POP3 passwords.
    crate::state::write_file(&topology, PATENT_TOPOLOGY)?;
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

/// Migrates while a watcher samples every other post office's GAL.
fn migrate_watched(
    net: &mut Network,
    post_offices: &[Name],
    to: Name,
    method: Method,
    progress: &mut TerminalProgress,
) -> Result<Watched, NetctlError> {
    println!(
        "migrating {} to {to} by the {method} method",
        names(post_offices)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (net, stop, moving) = (net.clone(), stop.clone(), post_offices.to_vec());
        std::thread::spawn(move || watch::watch_gap(&net, &moving, stop))
    };
    // A first sample before anything moves.
    std::thread::sleep(Duration::from_millis(200));
    let wave = run::begin(net, post_offices, to, method).and_then(|j| {
        crate::commands::migrate::print_plan(net, &j);
        run::run(
            net,
            j,
            &Options {
                method,
                step_timeout: Duration::from_secs(120),
            },
            progress,
        )
    });
    // The gap lasts until every GAL has the users again, not just step G.
    let settled = wave.is_ok()
        && crate::migrate::verify::wait_for_complete_gals(net, Duration::from_secs(60), progress)
            .is_ok();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let gap = watcher.join().unwrap_or_default();
    let wave = wave?;
    if !settled {
        return Err(NetctlError::Verification(
            "the GALs did not complete after the migration".into(),
        ));
    }
    Ok(Watched { method, wave, gap })
}

fn names(post_offices: &[Name]) -> String {
    post_offices
        .iter()
        .map(Name::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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
    println!(
        "mail traffic ({} mails/s between {} users) and directory changes are running",
        opts.rate,
        accounts.len()
    );
    std::thread::sleep(opts.warm_up);

    let mut migrations = Vec::new();
    let mut plan: Vec<(Method, Name)> = Vec::new();
    if opts.compare && opts.method != Method::Patent {
        let home = opts
            .post_offices
            .first()
            .and_then(|po| net.topology.node(po))
            .and_then(|n| n.hub)
            .unwrap_or(net.topology.old_hub);
        plan.push((Method::Patent, opts.to));
        plan.push((Method::Patent, home));
    }
    plan.push((opts.method, opts.to));
    let mut failure = None;
    for (method, to) in plan {
        match migrate_watched(&mut net, &opts.post_offices, to, method, &mut progress) {
            Ok(w) => migrations.push(w),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Directory changes stop first so the final check compares a still directory.
    stop_changes.store(true, Ordering::Relaxed);
    let changes = changer.join().unwrap_or_default();
    if let Some(e) = failure {
        stop_mail.store(true, Ordering::Relaxed);
        let _ = mailer.join();
        return Err(e);
    }
    let Some(last) = migrations.last() else {
        return Err(NetctlError::Migration("no migration ran".into()));
    };
    let verification = final_verification(&mut net, &last.wave, opts.drain, &mut progress);
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
        migrations,
        sent,
        lost,
        duplicated,
        changes,
        gals_complete_after: verification.gals_complete_after,
        test_mails: verification.mails.len(),
        total: began.elapsed(),
    })
}

pub fn print(r: &DemoReport) {
    println!();
    println!("demo report");
    for m in &r.migrations {
        let moved: Vec<&str> = m
            .wave
            .moves
            .iter()
            .map(|m| m.post_office.as_str())
            .collect();
        let steps: Vec<String> = m
            .wave
            .steps
            .iter()
            .map(|s| format!("{} {} ms", s.step, s.took.as_millis()))
            .collect();
        println!(
            "  {} to {} by the {} method: {}",
            moved.join(", "),
            m.wave.to,
            m.method,
            steps.join(", ")
        );
        println!(
            "    GAL gap: {} post office/user pairs missing at some point, for {} ms ({} samples)",
            m.gap.pairs.len(),
            m.gap.window().as_millis(),
            m.gap.samples
        );
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
        "  final verification: every GAL complete {} ms after the last step; {} test mails crossed",
        r.gals_complete_after.as_millis(),
        r.test_mails
    );
    println!("  total {} ms", r.total.as_millis());
}
