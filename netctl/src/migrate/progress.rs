//! How far the wave in progress has got: its steps (done, running, to do,
//! with their durations), and per post office its users moved to the new
//! side out of all its users, what the old side still sees of them (the
//! patent method's GAL gap: none between steps C and G), and an ETA.
//!
//! [`model`] is pure (the journal, counts and a clock in; a [`Progress`]
//! out); [`current`] reads the journal and asks the processes. `netctl
//! migrate` shows it on the terminal, `netctl watch` follows it, the
//! dashboard serves it as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use wire_format::Name;

use super::history::WaveView;
use super::journal::{self, Journal, Move};
use super::plan::{self, StepId, Target};
use super::run::now_ms;
use crate::NetctlError;
use crate::network::Network;
use crate::topology::RoleKind;

/// What the processes say of one post office's users; `None` where the
/// process did not answer (restarting, say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Its users, as its own requestor lists them.
    pub total: Option<u64>,
    /// Its users the destination hub holds as its own (not the bridge's
    /// copies of the old side's directory).
    pub at_destination: Option<u64>,
    /// Its users the hub it leaves still holds.
    pub at_source: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Done,
    Running,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepProgress {
    /// "A".."G" or "verify".
    pub step: String,
    pub title: String,
    pub state: StepState,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// Finished minus started, or now minus started while it runs.
    pub elapsed_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostOfficeProgress {
    pub post_office: String,
    pub from: String,
    /// The step running or next to run ("A".."G", "verify").
    pub step: String,
    pub title: String,
    pub steps_done: usize,
    /// The plan's steps and the final verification.
    pub steps_total: usize,
    /// Its users the destination holds as moved: 0 until step F starts
    /// (the post office uploads to its new hub in F).
    pub users_moved: Option<u64>,
    pub users_total: Option<u64>,
    /// Its users the old hub still sees: in the patent method none from
    /// step C until G brings them back across the bridge.
    pub users_at_source: Option<u64>,
    /// Milliseconds until every user has moved, from the rate so far in
    /// step F; `None` before F or while nothing has moved yet.
    pub eta_ms: Option<u64>,
}

/// The wave in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// e.g. "POC -> H2".
    pub wave: String,
    pub to: String,
    pub method: String,
    pub started_ms: u64,
    pub now_ms: u64,
    pub resumed: u32,
    /// A netctl runs the wave now; false: it was interrupted and waits for
    /// [`Self::resume`].
    pub running: bool,
    /// The command that resumes the wave.
    pub resume: String,
    /// The step running or next to run.
    pub current: String,
    pub current_title: String,
    pub steps_done: usize,
    pub steps_total: usize,
    pub steps: Vec<StepProgress>,
    pub post_offices: Vec<PostOfficeProgress>,
}

const VERIFY: &str = "verify";

/// The wave's progress from its journal, what the processes said of each
/// post office (by name; missing: nothing known) and the time now.
pub fn model(j: &Journal, counts: &BTreeMap<String, Counts>, running: bool, now: u64) -> Progress {
    let view = WaveView::of_journal(j);
    let order = plan::step_ids(j.method);
    let mut steps: Vec<StepProgress> = order
        .iter()
        .map(|id| {
            let rec = j.steps.iter().find(|r| r.step == *id);
            step_progress(
                id.to_string(),
                view.title(&id.to_string()),
                rec.map(|r| r.started_ms),
                rec.and_then(|r| r.finished_ms),
                now,
            )
        })
        .collect();
    let all_done = j.next_step(&order).is_none();
    steps.push(step_progress(
        VERIFY.into(),
        view.title(VERIFY),
        j.verify_started_ms
            .or_else(|| all_done.then(|| last_finish(j)).flatten()),
        None,
        now,
    ));
    let current = match j.next_step(&order) {
        Some(id) => id.to_string(),
        None => VERIFY.to_owned(),
    };
    let current_title = view.title(&current);
    let steps_done = steps.iter().filter(|s| s.state == StepState::Done).count();
    let steps_total = steps.len();
    let f_started = j
        .steps
        .iter()
        .find(|r| r.step == StepId::F)
        .map(|r| r.started_ms);
    let f_running = current == "F";
    let post_offices = j
        .moves
        .iter()
        .map(|m| {
            let c = counts.get(&m.post_office).copied().unwrap_or_default();
            let users_moved = match f_started {
                None => Some(0),
                Some(_) => c.at_destination,
            };
            let eta_ms = match (f_running, f_started, users_moved, c.total) {
                (true, Some(since), Some(moved), Some(total)) => {
                    eta(moved, total, now.saturating_sub(since))
                }
                _ => None,
            };
            PostOfficeProgress {
                post_office: m.post_office.clone(),
                from: m.from.clone(),
                step: current.clone(),
                title: current_title.clone(),
                steps_done,
                steps_total,
                users_moved,
                users_total: c.total,
                users_at_source: c.at_source,
                eta_ms,
            }
        })
        .collect();
    Progress {
        wave: view.name(),
        to: j.to.clone(),
        method: j.method.to_string(),
        started_ms: j.started_ms,
        now_ms: now,
        resumed: j.resumed,
        running,
        resume: format!(
            "netctl migrate {} --to {}",
            view.post_offices().join(" "),
            j.to
        ),
        current,
        current_title,
        steps_done,
        steps_total,
        steps,
        post_offices,
    }
}

fn last_finish(j: &Journal) -> Option<u64> {
    j.steps.iter().filter_map(|r| r.finished_ms).max()
}

fn step_progress(
    step: String,
    title: String,
    started_ms: Option<u64>,
    finished_ms: Option<u64>,
    now: u64,
) -> StepProgress {
    let state = match (started_ms, finished_ms) {
        (_, Some(_)) => StepState::Done,
        (Some(_), None) => StepState::Running,
        (None, None) => StepState::Pending,
    };
    let elapsed_ms = started_ms.map(|s| finished_ms.unwrap_or(now).saturating_sub(s));
    StepProgress {
        step,
        title,
        state,
        started_ms,
        finished_ms,
        elapsed_ms,
    }
}

/// The time left at the rate so far: `done` of `total` in `elapsed_ms`.
/// `None` while nothing is done (no rate yet).
pub fn eta(done: u64, total: u64, elapsed_ms: u64) -> Option<u64> {
    if done >= total {
        return Some(0);
    }
    if done == 0 {
        return None;
    }
    let left = u128::from(total - done) * u128::from(elapsed_ms) / u128::from(done);
    Some(u64::try_from(left).unwrap_or(u64::MAX))
}

/// The wave in progress in `data_dir`, with each post office's counts
/// asked of the processes; `None` when no wave is in progress.
pub fn current(data_dir: &Path) -> Result<Option<Progress>, NetctlError> {
    if journal::load(data_dir)?.is_none() {
        return Ok(None);
    }
    let net = Network::open(data_dir)?;
    current_of(&net)
}

/// [`current`] for a network already open.
pub fn current_of(net: &Network) -> Result<Option<Progress>, NetctlError> {
    let Some(j) = journal::load(&net.data_dir)? else {
        return Ok(None);
    };
    let counts = ask_counts(net, &j);
    // After the counts: the journal may have closed while they were asked.
    let running = super::owner::wave_running(&net.data_dir, &j);
    Ok(Some(model(&j, &counts, running, now_ms())))
}

/// Every post office's counts, asked at once.
pub fn ask_counts(net: &Network, j: &Journal) -> BTreeMap<String, Counts> {
    let in_f = j.steps.iter().any(|r| r.step == StepId::F);
    ask_counts_of(net, &j.moves, &j.to, in_f)
}

/// The counts of the post offices of `moves` going to `to`; the users at
/// the destination are asked only once step F has begun (`in_f`).
pub fn ask_counts_of(
    net: &Network,
    moves: &[Move],
    to: &str,
    in_f: bool,
) -> BTreeMap<String, Counts> {
    let Ok(to) = Name::new(to) else {
        return BTreeMap::new();
    };
    let answers = crate::parallel::on_threads(moves, |m| counts_of(net, m, to, in_f));
    moves
        .iter()
        .zip(answers)
        .map(|(m, c)| (m.post_office.clone(), c.unwrap_or_default()))
        .collect()
}

fn counts_of(net: &Network, m: &Move, to: Name, in_f: bool) -> Counts {
    let (Ok(po), Ok(from)) = (Name::new(&m.post_office), Name::new(&m.from)) else {
        return Counts::default();
    };
    let total = net
        .gal_summary(Target::new(po, RoleKind::DsRequestor))
        .ok()
        .map(|s| {
            s.iter()
                .find(|d| d.post_office == po)
                .map_or(0, |d| d.entries)
        });
    let import_folder = net.topology.import_folder;
    let held = |hub: Name, own_only: bool| {
        net.directory_of(Target::new(hub, RoleKind::DsServer), Some(po))
            .ok()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.address.post_office == po)
                    .filter(|e| !own_only || (e.owner == po && e.folder != Some(import_folder)))
                    .count() as u64
            })
    };
    Counts {
        total,
        // Before F the destination holds only the bridge's copies (or,
        // after D, nothing): not asked.
        at_destination: if in_f { held(to, true) } else { Some(0) },
        at_source: held(from, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::journal::Method;
    use StepId::*;

    fn wave(method: Method) -> Journal {
        Journal {
            to: "H2".into(),
            method,
            moves: vec![
                Move {
                    post_office: "POA".into(),
                    from: "H".into(),
                },
                Move {
                    post_office: "POB".into(),
                    from: "H".into(),
                },
            ],
            started_ms: 1_000,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        }
    }

    fn counts(moved: u64, total: u64, at_source: u64) -> Counts {
        Counts {
            total: Some(total),
            at_destination: Some(moved),
            at_source: Some(at_source),
        }
    }

    #[test]
    fn a_wave_just_begun_is_at_step_a_with_nothing_moved() {
        let p = model(&wave(Method::Patent), &BTreeMap::new(), true, 1_500);
        assert_eq!(p.current, "A");
        assert_eq!(p.current_title, "mail for POA POB goes to H2");
        assert_eq!((p.steps_done, p.steps_total), (0, 8), "A-G and verify");
        assert!(p.steps.iter().all(|s| s.state == StepState::Pending));
        assert_eq!(p.post_offices[0].users_moved, Some(0));
        assert_eq!(p.post_offices[0].users_total, None, "not asked");
        assert_eq!(p.post_offices[0].eta_ms, None);
        assert_eq!(p.resume, "netctl migrate POA POB --to H2");
        assert_eq!(p.wave, "POA POB -> H2");
    }

    #[test]
    fn step_f_moves_users_and_estimates_the_rest() {
        let mut j = wave(Method::Handover);
        for (s, t) in [(A, 1_000), (B, 1_100), (E, 1_200)] {
            j.start(s, t);
            j.finish(s, t + 50);
        }
        j.start(F, 2_000);
        let c = BTreeMap::from([
            ("POA".to_owned(), counts(25, 100, 100)),
            ("POB".to_owned(), counts(0, 10, 10)),
        ]);
        let p = model(&j, &c, true, 3_000);
        assert_eq!(p.current, "F");
        assert_eq!((p.steps_done, p.steps_total), (3, 6), "A B E F G verify");
        let f = &p.steps[3];
        assert_eq!(
            (f.state.clone(), f.elapsed_ms),
            (StepState::Running, Some(1_000))
        );
        assert_eq!(p.steps[0].elapsed_ms, Some(50));
        let (a, b) = (&p.post_offices[0], &p.post_offices[1]);
        assert_eq!((a.users_moved, a.users_total), (Some(25), Some(100)));
        assert_eq!(a.eta_ms, Some(3_000), "25 users a second, 75 to go");
        assert_eq!(b.eta_ms, None, "no rate yet");
        assert_eq!(a.step, "F");
        assert_eq!(a.title, "POA POB upload their users to H2");
    }

    #[test]
    fn after_every_step_the_verification_runs() {
        let mut j = wave(Method::Patent);
        for (i, s) in plan::step_ids(Method::Patent).into_iter().enumerate() {
            let t = 1_000 + 100 * i as u64;
            j.start(s, t);
            j.finish(s, t + 10);
        }
        let c = BTreeMap::from([("POA".to_owned(), counts(100, 100, 100))]);
        let p = model(&j, &c, false, 5_000);
        assert_eq!(p.current, "verify");
        assert_eq!(p.steps_done, 7);
        let v = p.steps.last().unwrap();
        assert_eq!(v.state, StepState::Running);
        assert_eq!(v.started_ms, Some(1_610), "from step G's end");
        assert!(!p.running);
        assert_eq!(p.post_offices[0].eta_ms, None, "past F");
        assert_eq!(p.post_offices[1].users_moved, None, "POB did not answer");
    }

    #[test]
    fn the_eta_is_the_rate_so_far() {
        assert_eq!(eta(0, 10, 5_000), None);
        assert_eq!(eta(5, 10, 5_000), Some(5_000));
        assert_eq!(eta(10, 10, 5_000), Some(0));
        assert_eq!(eta(12, 10, 5_000), Some(0), "more than the total: done");
        assert_eq!(eta(1, u64::MAX, u64::MAX), Some(u64::MAX));
    }

    #[test]
    fn it_serialises_for_the_dashboard() {
        let p = model(&wave(Method::Patent), &BTreeMap::new(), true, 1_000);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["current"], "A");
        assert_eq!(v["steps"][0]["state"], "pending");
        assert_eq!(v["post_offices"][1]["post_office"], "POB");
    }
}
