//! The executor: runs a wave's steps against the live network, journaling
//! each one, retrying through crashed or restarting processes, and waiting
//! for each step's check before the next.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use peer_link::LinkError;
use wire_format::{
    ErrorCode, Message, Name, PurgePostOffice, RemoveRequestor, Repoint, RestoreRequestor,
    SetRoute, SyncNow,
};

use super::history::Outcome;
use super::journal::{self, Journal, Method, Move, Placement};
use super::plan::{self, Action, Check, Step, StepId};
use crate::NetctlError;
use crate::network::Network;
use crate::topology::RoleKind;

const POLL: Duration = Duration::from_millis(100);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the operator sees while a wave runs.
pub trait Progress {
    fn step_started(&mut self, step: StepId, what: &str);
    fn waiting(&mut self, step: StepId, detail: &str);
    fn step_done(&mut self, step: StepId, took: Duration);
    fn note(&mut self, text: &str);
}

#[derive(Debug, Clone)]
pub struct Options {
    pub method: Method,
    /// How long one step may take (actions and check) before the wave stops
    /// with an error; it can then be resumed.
    pub step_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct StepTiming {
    pub step: StepId,
    pub took: Duration,
}

#[derive(Debug, Clone)]
pub struct WaveReport {
    pub to: Name,
    pub moves: Vec<Move>,
    pub steps: Vec<StepTiming>,
    pub resumed: u32,
}

/// The plan of a wave: one [`Step`] per post office for each step id.
pub fn wave_plan(
    net: &Network,
    moves: &[Move],
    to: Name,
    method: Method,
) -> Vec<(StepId, Vec<Step>)> {
    let bridge = net.topology.bridge;
    let per_po: Vec<Vec<Step>> = moves
        .iter()
        .filter_map(|m| {
            let po = Name::new(&m.post_office).ok()?;
            let from = Name::new(&m.from).ok()?;
            Some(match method {
                Method::Patent => plan::move_post_office(bridge, po, from, to),
                Method::Handover => {
                    plan::handover(bridge, net.topology.import_folder, po, from, to)
                }
            })
        })
        .collect();
    let Some(first) = per_po.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let all = per_po.iter().filter_map(|steps| steps.get(i).cloned());
            (step.id, all.collect())
        })
        .collect()
}

/// Starts a new wave (or finds the one to resume) and records it on disk.
pub fn begin(
    net: &Network,
    post_offices: &[Name],
    to: Name,
    method: Method,
) -> Result<Journal, NetctlError> {
    check_distinct(post_offices)?;
    let asked: Vec<String> = post_offices.iter().map(Name::to_string).collect();
    if let Some(mut j) = journal::load(&net.data_dir)? {
        if !j.same_wave(&asked, to.as_str()) {
            let pos: Vec<&str> = j.moves.iter().map(|m| m.post_office.as_str()).collect();
            return Err(NetctlError::Migration(format!(
                "a migration of {} to {} is in progress; run `netctl migrate {} --to {}` to finish it first",
                pos.join(" "),
                j.to,
                pos.join(" "),
                j.to
            )));
        }
        j.resumed += 1;
        journal::save(&net.data_dir, &j)?;
        return Ok(j);
    }
    if method == Method::Handover && to != net.topology.new_hub {
        return Err(NetctlError::Migration(format!(
            "the handover method moves post offices to the new hub {}; use --method patent to move them to {to}",
            net.topology.new_hub
        )));
    }
    if !net.is_hub(&to) {
        return Err(NetctlError::Migration(format!(
            "{to} is not a hub of this network (the hubs are {} and {})",
            net.topology.old_hub, net.topology.new_hub
        )));
    }
    let placement = Placement::load(&net.data_dir)?;
    let mut moves = Vec::new();
    for po in post_offices {
        let from = net.hub_of(&placement, po).ok_or_else(|| {
            NetctlError::Migration(format!("{po} is not a post office of this network"))
        })?;
        if from == to {
            return Err(NetctlError::Migration(format!("{po} is already on {to}")));
        }
        moves.push(Move {
            post_office: po.to_string(),
            from: from.to_string(),
        });
    }
    let j = Journal {
        to: to.to_string(),
        method,
        moves,
        started_ms: now_ms(),
        steps: Vec::new(),
        resumed: 0,
        verify_started_ms: None,
    };
    journal::save(&net.data_dir, &j)?;
    Ok(j)
}

/// Refuses a wave that names a post office twice: its plan would run each
/// step twice for it, and the second check never passes.
pub fn check_distinct(post_offices: &[Name]) -> Result<(), NetctlError> {
    let mut seen = BTreeSet::new();
    for po in post_offices {
        if !seen.insert(po) {
            return Err(NetctlError::Migration(format!(
                "{po} is named more than once; name each post office of a wave once"
            )));
        }
    }
    Ok(())
}

/// Runs the wave's remaining steps; on success the post offices' new hub is
/// recorded and the journal closed. For callers that verify on their own;
/// `netctl migrate` uses [`run_steps`] and closes the journal only once the
/// final verification has passed.
pub fn run(
    net: &mut Network,
    mut j: Journal,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<WaveReport, NetctlError> {
    let report = run_steps(net, &mut j, opts, progress)?;
    journal::close(&net.data_dir, &j, outcome(net, &j))?;
    Ok(report)
}

/// A wave that takes every post office back to the hub the topology puts
/// it on is a rollback; any other a migration.
pub fn outcome(net: &Network, j: &Journal) -> Outcome {
    let home = |po: &str| {
        Name::new(po)
            .ok()
            .and_then(|po| net.topology.node(&po).and_then(|n| n.hub))
    };
    let back = !j.moves.is_empty()
        && j.moves
            .iter()
            .all(|m| home(&m.post_office).is_some_and(|h| h.as_str() == j.to));
    if back {
        Outcome::RolledBack
    } else {
        Outcome::Migrated
    }
}

/// Runs the wave's remaining steps (none when only its verification is left)
/// and records the post offices' new hub. The journal stays open: a wave
/// whose final verification fails is resumed by running the same command.
pub fn run_steps(
    net: &mut Network,
    j: &mut Journal,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<WaveReport, NetctlError> {
    let to = Name::new(&j.to).map_err(|e| NetctlError::Migration(e.to_string()))?;
    let plan = wave_plan(net, &j.moves, to, j.method);
    let order: Vec<StepId> = plan.iter().map(|(id, _)| *id).collect();
    while let Some(id) = j.next_step(&order) {
        let Some((_, steps)) = plan.iter().find(|(s, _)| *s == id) else {
            break;
        };
        let what: Vec<&str> = steps.iter().map(|s| s.what.as_str()).collect();
        progress.step_started(id, &what.join("; "));
        j.start(id, now_ms());
        journal::save(&net.data_dir, j)?;
        let began = Instant::now();
        run_step(net, id, steps, opts, progress)?;
        j.finish(id, now_ms());
        journal::save(&net.data_dir, j)?;
        progress.step_done(id, began.elapsed());
    }
    let mut placement = Placement::load(&net.data_dir)?;
    for m in &j.moves {
        placement.hubs.insert(m.post_office.clone(), j.to.clone());
    }
    placement.save(&net.data_dir)?;
    Ok(WaveReport {
        to,
        moves: j.moves.clone(),
        steps: j
            .steps
            .iter()
            .map(|r| StepTiming {
                step: r.step,
                took: Duration::from_millis(
                    r.finished_ms
                        .unwrap_or(r.started_ms)
                        .saturating_sub(r.started_ms),
                ),
            })
            .collect(),
        resumed: j.resumed,
    })
}

fn run_step(
    net: &mut Network,
    id: StepId,
    steps: &[Step],
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<(), NetctlError> {
    let deadline = Instant::now() + opts.step_timeout;
    let timed_out = |why: String| {
        NetctlError::Migration(format!(
            "step {id} did not complete within {} s: {why}; run the same command again to resume",
            opts.step_timeout.as_secs()
        ))
    };
    // The actions, retried through crashes: each is idempotent.
    let mut pending: Vec<&Action> = steps.iter().flat_map(|s| &s.actions).collect();
    while !pending.is_empty() {
        for restarted in net.heal()? {
            progress.note(&format!("restarted {restarted}, which was not running"));
        }
        match perform(net, pending[0]) {
            Ok(()) => {
                pending.remove(0);
            }
            Err(Failure::Retry(why)) => {
                if Instant::now() >= deadline {
                    return Err(timed_out(why));
                }
                progress.waiting(id, &format!("retrying: {why}"));
                std::thread::sleep(POLL * 3);
            }
            Err(Failure::Refused(why)) => {
                return Err(NetctlError::Migration(format!("step {id}: {why}")));
            }
        }
    }
    // The checks, nudging the sync cycles that carry the change.
    loop {
        let mut unmet = None;
        'steps: for step in steps {
            for check in &step.checks {
                match observe(net, check) {
                    Ok(None) => {}
                    Ok(Some(why)) | Err(Failure::Retry(why)) => {
                        unmet = Some((step, why));
                        break 'steps;
                    }
                    Err(Failure::Refused(why)) => {
                        return Err(NetctlError::Migration(format!("step {id}: {why}")));
                    }
                }
            }
        }
        let Some((step, why)) = unmet else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(timed_out(why));
        }
        progress.waiting(id, &why);
        for restarted in net.heal()? {
            progress.note(&format!("restarted {restarted}, which was not running"));
        }
        for nudge in &step.nudges {
            // A nudge that fails is tried again on the next round.
            let _ = perform(net, nudge);
        }
        std::thread::sleep(POLL);
    }
}

enum Failure {
    /// Transport trouble, a process restarting: try again.
    Retry(String),
    /// The process said no: a retry would get the same answer.
    Refused(String),
}

fn classify(process: String, e: NetctlError) -> Failure {
    match e {
        NetctlError::Link {
            source: LinkError::Remote { code, text },
            ..
        } if !matches!(code, ErrorCode::Unavailable | ErrorCode::Internal) => {
            Failure::Refused(format!("{process} refused: {text} ({code:?})"))
        }
        other => Failure::Retry(format!("{process}: {other}")),
    }
}

fn perform(net: &Network, action: &Action) -> Result<(), Failure> {
    let (at, message): (_, Message) = match action {
        Action::SetRoute {
            at,
            post_office,
            next_hop,
        } => (
            *at,
            SetRoute {
                post_office: *post_office,
                next_hop: *next_hop,
            }
            .into(),
        ),
        Action::RemoveRequestor { at, post_office } => (
            *at,
            RemoveRequestor {
                post_office: *post_office,
            }
            .into(),
        ),
        Action::RestoreRequestor { at, post_office } => (
            *at,
            RestoreRequestor {
                post_office: *post_office,
            }
            .into(),
        ),
        Action::PurgePostOffice { at, post_office } => (
            *at,
            PurgePostOffice {
                post_office: *post_office,
            }
            .into(),
        ),
        Action::Repoint { at, server } => {
            let endpoint = net
                .process(*server)
                .ok()
                .and_then(|p| p.wire().map(str::to_owned))
                .ok_or_else(|| Failure::Refused(format!("{server} has no wire endpoint")))?;
            (
                *at,
                Repoint {
                    server: server.node,
                    endpoint,
                }
                .into(),
            )
        }
        Action::SyncNow { at } => (*at, SyncNow.into()),
    };
    let mut op = net.connect(at).map_err(|e| classify(at.to_string(), e))?;
    match op.request(message) {
        Ok(Message::AdminOk(_)) => Ok(()),
        Ok(other) => Err(Failure::Refused(format!(
            "{at} answered {}",
            other.message_type().name()
        ))),
        Err(source) => Err(classify(
            at.to_string(),
            NetctlError::Link {
                process: at.to_string(),
                source,
            },
        )),
    }
}

/// `Ok(None)`: the check holds; `Ok(Some(why))`: not yet.
fn observe(net: &Network, check: &Check) -> Result<Option<String>, Failure> {
    let of = |t: plan::Target, po: &Name| -> Result<BTreeSet<(String, String)>, Failure> {
        Ok(net
            .directory_of(t, Some(*po))
            .map_err(|e| classify(t.to_string(), e))?
            .into_iter()
            .filter(|e| e.address.post_office == *po)
            .map(|e| (e.address.to_string(), e.display_name))
            .collect())
    };
    match check {
        Check::FolderHoldsNone {
            at,
            folder,
            post_office,
        } => {
            let left = net
                .directory_of(*at, Some(*post_office))
                .map_err(|e| classify(at.to_string(), e))?
                .into_iter()
                .filter(|e| e.folder == Some(*folder) && e.address.post_office == *post_office)
                .count();
            Ok((left > 0)
                .then(|| format!("{at} still holds {left} users of {post_office} in {folder}")))
        }
        Check::DirectoryHoldsNone { at, post_office } => {
            let left = of(*at, post_office)?.len();
            Ok((left > 0).then(|| format!("{at} still holds {left} users of {post_office}")))
        }
        Check::DirectoryHoldsAll { at, post_office } => {
            let own = of(
                plan::Target::new(*post_office, RoleKind::DsRequestor),
                post_office,
            )?;
            let there = of(*at, post_office)?;
            if there == own {
                Ok(None)
            } else {
                let missing = own.difference(&there).count();
                let extra = there.difference(&own).count();
                Ok(Some(format!(
                    "{at} holds {} of {post_office}'s {} users ({missing} missing or different, {extra} extra)",
                    there.len() - extra.min(there.len()),
                    own.len()
                )))
            }
        }
    }
}
