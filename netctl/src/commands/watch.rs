//! `netctl watch`: follows the wave in progress, started elsewhere (another
//! terminal, a script), by reading its journal and asking the processes,
//! and prints each change until the wave ends.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::NetctlError;
use crate::migrate::follow::{self, Event};
use crate::migrate::progress::{self, Progress};
use crate::migrate::{history, journal, owner, run};
use crate::network::Network;

/// Follow the migration in progress until it ends: each step as it starts
/// and ends (with its duration), each post office's users moved, an
/// interruption (and the command that resumes it). Exits 0 when the wave
/// has verified (or at once when none is running, unless --wait).
/// --json: one object per line per change, {"event": "following" |
/// "step_started" | "step_done" | "users" | "interrupted" | "resumed" |
/// "ended" | "none" | "waiting", "wave", ...}.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints each step as it starts and ends (with its duration), each post office's \
users moved of its users and what the old hub still sees of them, and the outcome once the wave \
has verified (exit 0). No migration running: says so and exits 0 (or waits, --wait). The netctl \
running the wave killed: `interrupted; resume with `netctl migrate PO... --to HUB`` and exit 1 \
(or, --wait, follows the resume).\n\n\
--json: one object per line per change, {\"event\": ...}: \
\"following\" {wave, to, method, started_ms, resumed}; \
\"step_started\" {wave, step, title, started_ms}; \
\"step_done\" {wave, step, title, elapsed_ms}; \
\"users\" {wave, post_office, from, step, users_moved, users_total, users_at_source, eta_ms}; \
\"interrupted\" {wave, resume}; \"resumed\" {wave, resumed}; \
\"ended\" {wave, outcome: migrated | rolled-back, started_ms, ended_ms, total_ms}; \
\"none\" / \"waiting\" {data_dir}. Steps are \"A\"..\"G\" and \"verify\"; times in ms \
since the Unix epoch, durations in ms."
)]
pub struct WatchArgs {
    /// With no migration running, wait for one to start; and when the
    /// netctl running one is killed, wait for it to be resumed rather than
    /// exit 1.
    #[arg(long)]
    pub wait: bool,
    /// Give up (exit 1) after this many seconds; by default, follow until
    /// the wave ends.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// How often to look, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub interval: u64,
}

/// A journal gone with no record of its wave's end (removed by hand?) is
/// looked for this many more times before the watch gives up on it.
const GONE_LOOKS: u32 = 10;

pub fn run(data_dir: &Path, json: bool, args: &WatchArgs) -> Result<(), NetctlError> {
    let emit = |e: &Event| {
        if json {
            match serde_json::to_string(e) {
                Ok(line) => println!("{line}"),
                Err(err) => tracing::warn!(error = %err, "cannot serialise a watch event"),
            }
        } else {
            println!("{}", follow::text(e));
        }
    };
    let interval = Duration::from_millis(args.interval.max(50));
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(s));
    let where_ = data_dir.display().to_string();
    let mut last: Option<Progress> = None;
    let mut waiting_told = false;
    let mut gone_looks = 0;
    loop {
        match journal::load(data_dir)? {
            Some(j) if last.as_ref().is_none_or(|p| p.started_ms == j.started_ms) => {
                gone_looks = 0;
                // Opened again at every look: a restarted process has new
                // endpoints. No network (stopped): the steps still show.
                let counts = Network::open(data_dir)
                    .map(|net| progress::ask_counts(&net, &j))
                    .unwrap_or_default();
                // After the counts: the journal may have closed meanwhile.
                let running = owner::wave_running(data_dir, &j);
                let now = progress::model(&j, &counts, running, run::now_ms());
                for e in follow::diff(last.as_ref(), &now) {
                    emit(&e);
                }
                if !now.running && !args.wait {
                    return Err(NetctlError::Migration(format!(
                        "{} was interrupted; resume with `{}`",
                        now.wave, now.resume
                    )));
                }
                last = Some(now);
            }
            // The wave followed is gone (or another one began since).
            Some(_) | None if last.is_some() => {
                let started = last.as_ref().map_or(0, |p| p.started_ms);
                if let Some(rec) = history::ended(data_dir, started)? {
                    // One last count: the users where the wave left them.
                    let counts = Network::open(data_dir)
                        .map(|net| progress::ask_counts_of(&net, &rec.moves, &rec.to, true))
                        .unwrap_or_default();
                    for e in follow::ended(last.as_ref(), &rec, &counts) {
                        emit(&e);
                    }
                    return Ok(());
                }
                gone_looks += 1;
                if gone_looks > GONE_LOOKS {
                    let wave = last.as_ref().map_or_else(String::new, |p| p.wave.clone());
                    return Err(NetctlError::Migration(format!(
                        "the journal of {wave} is gone from {where_} and no record of its end was written"
                    )));
                }
            }
            // No wave followed, none in progress.
            _ => {
                if !args.wait {
                    emit(&Event::None {
                        data_dir: where_.clone(),
                    });
                    return Ok(());
                }
                if !waiting_told {
                    emit(&Event::Waiting {
                        data_dir: where_.clone(),
                    });
                    waiting_told = true;
                }
            }
        }
        if let Some(deadline) = deadline
            && Instant::now() >= deadline
        {
            return Err(NetctlError::Migration(format!(
                "the wave did not end within {} s (--timeout)",
                args.timeout.unwrap_or_default()
            )));
        }
        std::thread::sleep(interval);
    }
}
