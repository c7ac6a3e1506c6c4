//! `netctl migrate PO... --to HUB` and `netctl rollback PO`: print the plan,
//! run the wave with a progress bar per step, verify, and report.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use wire_format::Name;

use crate::NetctlError;
use crate::migrate::display::{self, Mode, WaveDisplay, WaveProgress};
use crate::migrate::journal::{self, Method, Placement};
use crate::migrate::plan::{Action, Check, StepId};
use crate::migrate::run::{self, Options, Progress, WaveReport};
use crate::migrate::verify;
use crate::network::Network;

/// Progress on the terminal: a spinner per step (hidden when stderr is not a
/// terminal), and a line per finished step on stdout.
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl TerminalProgress {
    pub fn new(quiet: bool) -> TerminalProgress {
        TerminalProgress { bar: None, quiet }
    }
}

impl Progress for TerminalProgress {
    fn step_started(&mut self, step: StepId, what: &str) {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} step {prefix}: {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar.set_prefix(step.to_string());
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        if !self.quiet {
            println!("step {step}: {what}");
        }
        self.bar = Some(bar);
    }

    fn waiting(&mut self, _step: StepId, detail: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(detail.to_owned());
        }
    }

    fn step_done(&mut self, step: StepId, took: Duration) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.quiet {
            println!("step {step}: done in {} ms", took.as_millis());
        }
    }

    fn note(&mut self, text: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ if !self.quiet => println!("{text}"),
            _ => {}
        }
    }
}

fn describe(action: &Action) -> String {
    match action {
        Action::SetRoute {
            at,
            post_office,
            next_hop,
        } if at.node == *post_office => format!("{at}: hub becomes {next_hop}"),
        Action::SetRoute {
            at,
            post_office,
            next_hop,
        } => format!("{at}: route {post_office} via {next_hop}"),
        Action::RemoveRequestor { at, post_office } => {
            format!("{at}: remove the requestor of {post_office}")
        }
        Action::RestoreRequestor { at, post_office } => {
            format!("{at}: accept the requestor of {post_office} again")
        }
        Action::PurgePostOffice { at, post_office } => {
            format!("{at}: delete every entry of {post_office}")
        }
        Action::Repoint { at, server } => format!("{at}: sync with {server} (full resync)"),
        Action::SyncNow { at } => format!("{at}: run a sync cycle"),
    }
}

fn describe_check(check: &Check) -> String {
    match check {
        Check::DirectoryHoldsNone { at, post_office } => {
            format!("wait until {at} holds none of {post_office}'s users")
        }
        Check::DirectoryHoldsAll { at, post_office } => {
            format!("wait until {at} holds all of {post_office}'s users")
        }
        Check::FolderHoldsNone {
            at,
            folder,
            post_office,
        } => format!("wait until {at} holds none of {post_office}'s users in {folder}"),
    }
}

/// Prints what the wave will do, step by step.
pub fn print_plan(net: &Network, journal: &journal::Journal) {
    let pos: Vec<String> = journal
        .moves
        .iter()
        .map(|m| format!("{} (from {})", m.post_office, m.from))
        .collect();
    println!(
        "plan: move {} to {} by the {} method",
        pos.join(", "),
        journal.to,
        journal.method
    );
    let to = Name::new(&journal.to).unwrap_or(net.topology.new_hub);
    for (id, steps) in run::wave_plan(net, &journal.moves, to, journal.method) {
        let done = journal
            .steps
            .iter()
            .any(|r| r.step == id && r.finished_ms.is_some());
        println!("  {id}{}", if done { " (done)" } else { "" });
        for step in &steps {
            for a in &step.actions {
                println!("      {}", describe(a));
            }
            for c in &step.checks {
                println!("      {}", describe_check(c));
            }
        }
    }
}

pub struct MigrateArgs<'a> {
    pub post_offices: &'a [Name],
    pub to: Option<Name>,
    pub method: Method,
    pub dry_run: bool,
    pub step_timeout: Duration,
    pub verify_timeout: Duration,
    pub json: bool,
}

/// Migrates (or, with `to` the post office's original hub, rolls back).
pub fn migrate(data_dir: &Path, args: &MigrateArgs<'_>) -> Result<(), NetctlError> {
    run::check_distinct(args.post_offices)?;
    let mut net = Network::open(data_dir)?;
    let to = match args.to {
        Some(to) => to,
        None => return Err(NetctlError::Migration("--to HUB is required".into())),
    };
    if args.dry_run {
        let j = match journal::load(data_dir)? {
            Some(j) => j,
            None => {
                let placement = Placement::load(data_dir)?;
                let moves = args
                    .post_offices
                    .iter()
                    .map(|po| journal::Move {
                        post_office: po.to_string(),
                        from: net
                            .hub_of(&placement, po)
                            .map(|h| h.to_string())
                            .unwrap_or_default(),
                    })
                    .collect();
                journal::Journal {
                    to: to.to_string(),
                    method: args.method,
                    moves,
                    started_ms: 0,
                    steps: vec![],
                    resumed: 0,
                    verify_started_ms: None,
                }
            }
        };
        print_plan(&net, &j);
        return Ok(());
    }
    let mut j = run::begin(&net, args.post_offices, to, args.method)?;
    if !args.json {
        if j.resumed > 0 {
            let order: Vec<_> = run::wave_plan(&net, &j.moves, to, j.method)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            if j.next_step(&order).is_none() {
                println!(
                    "resuming the migration journaled in {}: every step is done, only its final verification is left",
                    data_dir.display()
                );
            } else {
                println!("resuming the migration journaled in {}", data_dir.display());
            }
        }
        print_plan(&net, &j);
    }
    let display = WaveDisplay::new(Mode::for_stdout(args.json));
    let began = Instant::now();
    let outcome = display::polling_while(data_dir, &display, || {
        run_and_verify(&mut net, &mut j, args, &mut WaveProgress(&display))
    });
    display.finish();
    let (report, verification) = outcome?;
    journal::close(data_dir, &j, run::outcome(&net, &j))?;
    print_report(&report, &verification, began.elapsed(), args.json);
    Ok(())
}

/// The wave's remaining steps, then its final verification.
fn run_and_verify(
    net: &mut Network,
    j: &mut journal::Journal,
    args: &MigrateArgs<'_>,
    progress: &mut dyn Progress,
) -> Result<(WaveReport, Verification), NetctlError> {
    let data_dir = net.data_dir.clone();
    let report = run::run_steps(
        net,
        j,
        &Options {
            method: args.method,
            step_timeout: args.step_timeout,
        },
        progress,
    )?;
    if j.verify_started_ms.is_none() {
        j.verify_started_ms = Some(run::now_ms());
        journal::save(&data_dir, j)?;
    }
    // The journal stays open until the verification passes: a process that
    // dies now is restarted, and a verification that fails anyway is
    // resumed by the same command, not refused as "already on HUB".
    let verification = final_verification(net, &report, args.verify_timeout, progress)
        .map_err(|e| {
            let why = match e {
                NetctlError::Verification(why) => why,
                other => other.to_string(),
            };
            NetctlError::Verification(format!(
                "{why}; every step is done and journaled in {}: run the same command again to resume the verification",
                data_dir.display()
            ))
        })?;
    Ok((report, verification))
}

pub struct Verification {
    pub gals_complete_after: Duration,
    /// (from, to, how long the mail took)
    pub mails: Vec<(Name, Name, Duration)>,
}

/// Every GAL complete, then a test mail each way between every moved post
/// office and a post office on each hub.
pub fn final_verification(
    net: &mut Network,
    report: &WaveReport,
    within: Duration,
    progress: &mut dyn Progress,
) -> Result<Verification, NetctlError> {
    let began = Instant::now();
    verify::wait_for_complete_gals(net, within, progress)?;
    let gals_complete_after = began.elapsed();
    let placement = Placement::load(&net.data_dir)?;
    let moved: Vec<Name> = report
        .moves
        .iter()
        .filter_map(|m| Name::new(&m.post_office).ok())
        .collect();
    let mut pairs = Vec::new();
    for po in &moved {
        // One partner on each hub, not itself being moved.
        let mut partners = Vec::new();
        for hub in [net.topology.old_hub, net.topology.new_hub] {
            if let Some(p) = net.post_offices().into_iter().find(|p| {
                !moved.contains(p)
                    && net.hub_of(&placement, p) == Some(hub)
                    && net.seed_user(p).is_some()
            }) {
                partners.push(p);
            }
        }
        for partner in partners {
            pairs.extend([(*po, partner), (partner, *po)]);
        }
    }
    // All at once: each waits mostly for delivery, not for this machine.
    // Meanwhile a process that dies is restarted, as during the steps.
    let (outcomes, restarted) = verify::while_healing(net, |net, stop| {
        crate::parallel::on_threads(&pairs, |&(a, b)| {
            verify::test_mail_until(net, a, b, within, stop)
        })
    })?;
    for id in restarted {
        progress.note(&format!("restarted {id}, which was not running"));
    }
    let mut mails = Vec::new();
    for ((a, b), outcome) in pairs.into_iter().zip(outcomes) {
        let took = outcome.map_err(|_| {
            NetctlError::Verification(format!("the test mail {a} -> {b} panicked"))
        })??;
        progress.note(&format!(
            "test mail {a} -> {b} delivered in {} ms",
            took.as_millis()
        ));
        mails.push((a, b, took));
    }
    Ok(Verification {
        gals_complete_after,
        mails,
    })
}

fn print_report(report: &WaveReport, v: &Verification, total: Duration, json: bool) {
    if json {
        let steps: Vec<_> = report
            .steps
            .iter()
            .map(|s| json!({"step": s.step.to_string(), "ms": s.took.as_millis() as u64}))
            .collect();
        let mails: Vec<_> = v
            .mails
            .iter()
            .map(|(a, b, t)| json!({"from": a.to_string(), "to": b.to_string(), "ms": t.as_millis() as u64}))
            .collect();
        let moved: Vec<_> = report.moves.iter().map(|m| m.post_office.clone()).collect();
        println!(
            "{}",
            json!({
                "moved": moved,
                "to": report.to.to_string(),
                "resumed": report.resumed,
                "steps": steps,
                "gals_complete_ms": v.gals_complete_after.as_millis() as u64,
                "test_mails": mails,
                "total_ms": total.as_millis() as u64,
            })
        );
        return;
    }
    let moved: Vec<&str> = report
        .moves
        .iter()
        .map(|m| m.post_office.as_str())
        .collect();
    println!(
        "migrated {} to {} in {} ms{}",
        moved.join(", "),
        report.to,
        total.as_millis(),
        if report.resumed > 0 {
            format!(" (resumed {} times)", report.resumed)
        } else {
            String::new()
        }
    );
    println!(
        "  every GAL complete ({} ms after step G)",
        v.gals_complete_after.as_millis()
    );
    for (a, b, t) in &v.mails {
        println!("  test mail {a} -> {b}: delivered in {} ms", t.as_millis());
    }
}

/// `netctl rollback PO`: back to the hub the topology puts it on.
pub fn rollback(data_dir: &Path, po: Name, args: &MigrateArgs<'_>) -> Result<(), NetctlError> {
    let net = Network::open(data_dir)?;
    let home = net.topology.node(&po).and_then(|n| n.hub).ok_or_else(|| {
        NetctlError::Migration(format!("{po} is not a post office of this network"))
    })?;
    drop(net);
    let pos = [po];
    migrate(
        data_dir,
        &MigrateArgs {
            post_offices: &pos,
            to: Some(home),
            // Back to the old hub the users are always deleted and
            // re-imported: the handover's bridge ownership runs one way.
            method: Method::Patent,
            ..*args
        },
    )
}
