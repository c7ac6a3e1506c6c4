//! Following a wave from outside (`netctl watch`): what changed between two
//! looks at its [`Progress`], as events to print, one per change. Pure: the
//! looks come in, the events go out.
//!
//! Every step appears, in order, as started then done, even one that began
//! and ended between two looks (or before the watch began), so a follower
//! never misses a step.

use std::collections::BTreeMap;

use serde::Serialize;

use super::display::{human, line};
use super::history::{Outcome, WaveRecord, WaveView};
use super::plan;
use super::progress::{Counts, PostOfficeProgress, Progress, StepProgress, StepState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// No wave is in progress (and the watch does not wait for one).
    None { data_dir: String },
    /// No wave is in progress; the watch waits for one.
    Waiting { data_dir: String },
    /// The watch found a wave and follows it.
    Following {
        wave: String,
        to: String,
        method: String,
        started_ms: u64,
        resumed: u32,
    },
    StepStarted {
        wave: String,
        step: String,
        title: String,
        started_ms: Option<u64>,
    },
    StepDone {
        wave: String,
        step: String,
        title: String,
        elapsed_ms: Option<u64>,
    },
    /// A post office's users moved (or seen at the old hub) changed.
    Users {
        wave: String,
        post_office: String,
        from: String,
        step: String,
        users_moved: Option<u64>,
        users_total: Option<u64>,
        users_at_source: Option<u64>,
        eta_ms: Option<u64>,
    },
    /// The netctl running the wave is gone; the journal keeps it.
    Interrupted { wave: String, resume: String },
    /// A netctl runs the wave again.
    Resumed { wave: String, resumed: u32 },
    /// The wave verified and its record was written.
    Ended {
        wave: String,
        outcome: Outcome,
        started_ms: u64,
        ended_ms: u64,
        total_ms: u64,
    },
}

/// The events between the last look `prev` (none: the first) and `next`.
pub fn diff(prev: Option<&Progress>, next: &Progress) -> Vec<Event> {
    let mut events = Vec::new();
    let wave = || next.wave.clone();
    if prev.is_none() {
        events.push(Event::Following {
            wave: wave(),
            to: next.to.clone(),
            method: next.method.clone(),
            started_ms: next.started_ms,
            resumed: next.resumed,
        });
    }
    let was_running = prev.is_none_or(|p| p.running);
    if let Some(p) = prev
        && (next.resumed > p.resumed || (next.running && !p.running))
    {
        events.push(Event::Resumed {
            wave: wave(),
            resumed: next.resumed,
        });
    }
    events.extend(step_changes(
        &next.wave,
        prev.map_or(&[][..], |p| &p.steps),
        &next.steps,
    ));
    for po in &next.post_offices {
        let before = prev.and_then(|p| {
            p.post_offices
                .iter()
                .find(|o| o.post_office == po.post_office)
        });
        if before.is_none_or(|b| users_of(b) != users_of(po)) {
            events.push(users_event(&next.wave, po));
        }
    }
    if !next.running && was_running {
        events.push(Event::Interrupted {
            wave: wave(),
            resume: next.resume.clone(),
        });
    }
    events
}

fn users_of(po: &PostOfficeProgress) -> (Option<u64>, Option<u64>, Option<u64>) {
    (po.users_moved, po.users_total, po.users_at_source)
}

fn users_event(wave: &str, po: &PostOfficeProgress) -> Event {
    Event::Users {
        wave: wave.to_owned(),
        post_office: po.post_office.clone(),
        from: po.from.clone(),
        step: po.step.clone(),
        users_moved: po.users_moved,
        users_total: po.users_total,
        users_at_source: po.users_at_source,
        eta_ms: po.eta_ms,
    }
}

/// Each step that started or ended between the two lists (in plan order).
fn step_changes(wave: &str, before: &[StepProgress], after: &[StepProgress]) -> Vec<Event> {
    let mut events = Vec::new();
    for s in after {
        let was = before
            .iter()
            .find(|b| b.step == s.step)
            .map_or(StepState::Pending, |b| b.state.clone());
        let started = Event::StepStarted {
            wave: wave.to_owned(),
            step: s.step.clone(),
            title: s.title.clone(),
            started_ms: s.started_ms,
        };
        let done = Event::StepDone {
            wave: wave.to_owned(),
            step: s.step.clone(),
            title: s.title.clone(),
            elapsed_ms: s.elapsed_ms,
        };
        match (was, &s.state) {
            (StepState::Pending, StepState::Running) => events.push(started),
            (StepState::Pending, StepState::Done) => events.extend([started, done]),
            (StepState::Running, StepState::Done) => events.push(done),
            _ => {}
        }
    }
    events
}

/// The wave's steps as its record has them, all done.
fn recorded_steps(w: &WaveRecord) -> Vec<StepProgress> {
    let view = WaveView::of_record(w);
    let mut steps: Vec<StepProgress> = plan::step_ids(w.method)
        .into_iter()
        .filter_map(|id| w.steps.iter().find(|r| r.step == id))
        .map(|r| StepProgress {
            step: r.step.to_string(),
            title: view.title(&r.step.to_string()),
            state: StepState::Done,
            started_ms: Some(r.started_ms),
            finished_ms: r.finished_ms,
            elapsed_ms: r.finished_ms.map(|f| f.saturating_sub(r.started_ms)),
        })
        .collect();
    let verify_from = w
        .verify_started_ms
        .or_else(|| w.steps.iter().filter_map(|r| r.finished_ms).max());
    steps.push(StepProgress {
        step: "verify".into(),
        title: view.title("verify"),
        state: StepState::Done,
        started_ms: verify_from,
        finished_ms: Some(w.ended_ms),
        elapsed_ms: verify_from.map(|s| w.ended_ms.saturating_sub(s)),
    });
    steps
}

/// The events of a wave that ended after the last look `prev`: the steps
/// not seen to end, each post office's users as the processes count them
/// now (where they changed), then its end.
pub fn ended(
    prev: Option<&Progress>,
    w: &WaveRecord,
    counts: &BTreeMap<String, Counts>,
) -> Vec<Event> {
    let wave = WaveView::of_record(w).name();
    let mut events = step_changes(
        &wave,
        prev.map_or(&[][..], |p| &p.steps),
        &recorded_steps(w),
    );
    for m in &w.moves {
        let Some(c) = counts.get(&m.post_office) else {
            continue;
        };
        let now = PostOfficeProgress {
            post_office: m.post_office.clone(),
            from: m.from.clone(),
            step: "verify".into(),
            title: String::new(),
            steps_done: 0,
            steps_total: 0,
            users_moved: c.at_destination,
            users_total: c.total,
            users_at_source: c.at_source,
            eta_ms: None,
        };
        let before = prev.and_then(|p| {
            p.post_offices
                .iter()
                .find(|o| o.post_office == m.post_office)
        });
        if before.is_none_or(|b| users_of(b) != users_of(&now)) {
            events.push(users_event(&wave, &now));
        }
    }
    events.push(Event::Ended {
        wave,
        outcome: w.outcome,
        started_ms: w.started_ms,
        ended_ms: w.ended_ms,
        total_ms: w.ended_ms.saturating_sub(w.started_ms),
    });
    events
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_owned(), human)
}

/// The event as a line for an operator.
pub fn text(e: &Event) -> String {
    match e {
        Event::None { data_dir } => format!("no migration is running in {data_dir}"),
        Event::Waiting { data_dir } => {
            format!("no migration is running in {data_dir}; waiting for one to start")
        }
        Event::Following {
            wave,
            method,
            resumed,
            ..
        } => {
            let resumed = match resumed {
                0 => String::new(),
                n => format!(", resumed {n} times"),
            };
            format!("following {wave} (the {method} method{resumed})")
        }
        Event::StepStarted { step, title, .. } => format!("step {step} started: {title}"),
        Event::StepDone {
            step, elapsed_ms, ..
        } => format!("step {step} done in {}", ms(*elapsed_ms)),
        Event::Users {
            post_office,
            from,
            step,
            users_moved,
            users_total,
            users_at_source,
            eta_ms,
            ..
        } => {
            let po = PostOfficeProgress {
                post_office: post_office.clone(),
                from: from.clone(),
                step: step.clone(),
                title: String::new(),
                steps_done: 0,
                steps_total: 0,
                users_moved: *users_moved,
                users_total: *users_total,
                users_at_source: *users_at_source,
                eta_ms: *eta_ms,
            };
            // The step counts are in the step lines; the rest as migrate prints it.
            line(&po).replacen(" (0/0 done)", "", 1)
        }
        Event::Interrupted { resume, .. } => {
            format!("interrupted; resume with `{resume}`")
        }
        Event::Resumed { .. } => "resumed".to_owned(),
        Event::Ended {
            wave,
            outcome,
            total_ms,
            ..
        } => format!("{wave}: {outcome} in {}", human(*total_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::journal::{Journal, Method, Move};
    use crate::migrate::plan::StepId::*;
    use crate::migrate::progress::model;

    fn journal() -> Journal {
        Journal {
            to: "H2".into(),
            method: Method::Handover,
            moves: vec![Move {
                post_office: "POC".into(),
                from: "H".into(),
            }],
            started_ms: 1_000,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        }
    }

    fn look(j: &Journal, moved: u64, running: bool, now: u64) -> Progress {
        let counts = BTreeMap::from([(
            "POC".to_owned(),
            Counts {
                total: Some(6),
                at_destination: Some(moved),
                at_source: Some(6),
            },
        )]);
        model(j, &counts, running, now)
    }

    fn names(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::StepStarted { step, .. } => Some(format!("{step}+")),
                Event::StepDone { step, .. } => Some(format!("{step}-")),
                Event::Users { users_moved, .. } => Some(format!("u{}", users_moved.unwrap_or(99))),
                Event::Following { .. } => Some("follow".into()),
                Event::Interrupted { .. } => Some("interrupted".into()),
                Event::Resumed { .. } => Some("resumed".into()),
                Event::Ended { .. } => Some("ended".into()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn steps_between_two_looks_are_each_started_and_done_in_order() {
        let mut j = journal();
        j.start(A, 1_000);
        let first = look(&j, 0, true, 1_010);
        assert_eq!(names(&diff(None, &first)), ["follow", "A+", "u0"]);
        j.finish(A, 1_100);
        j.start(B, 1_100);
        j.finish(B, 1_200);
        j.start(E, 1_200);
        let second = look(&j, 0, true, 1_300);
        assert_eq!(
            names(&diff(Some(&first), &second)),
            ["A-", "B+", "B-", "E+"]
        );
        assert_eq!(diff(Some(&second), &second), [], "nothing changed");
        j.finish(E, 1_300);
        j.start(F, 1_300);
        let third = look(&j, 3, true, 1_400);
        assert_eq!(names(&diff(Some(&second), &third)), ["E-", "F+", "u3"]);
    }

    #[test]
    fn an_interruption_and_a_resume_are_told_once() {
        let mut j = journal();
        j.start(A, 1_000);
        let running = look(&j, 0, true, 1_010);
        let killed = look(&j, 0, false, 2_000);
        let events = diff(Some(&running), &killed);
        assert_eq!(names(&events), ["interrupted"]);
        assert_eq!(
            text(&events[0]),
            "interrupted; resume with `netctl migrate POC --to H2`"
        );
        assert_eq!(diff(Some(&killed), &killed), []);
        j.resumed = 1;
        let again = look(&j, 0, true, 3_000);
        assert_eq!(names(&diff(Some(&killed), &again)), ["resumed"]);
        assert_eq!(
            names(&diff(None, &killed)),
            ["follow", "A+", "u0", "interrupted"]
        );
    }

    #[test]
    fn a_wave_ending_between_looks_finishes_its_steps_then_ends() {
        let mut j = journal();
        for (s, t) in [(A, 1_000), (B, 1_100), (E, 1_200)] {
            j.start(s, t);
            j.finish(s, t + 100);
        }
        j.start(F, 1_300);
        let last = look(&j, 2, true, 1_350);
        j.finish(F, 1_400);
        j.start(G, 1_400);
        j.finish(G, 1_500);
        j.verify_started_ms = Some(1_500);
        let rec = WaveRecord::ended(&j, Outcome::Migrated, 4_000);
        let now = BTreeMap::from([(
            "POC".to_owned(),
            Counts {
                total: Some(6),
                at_destination: Some(6),
                at_source: Some(6),
            },
        )]);
        let events = ended(Some(&last), &rec, &now);
        assert_eq!(
            names(&events),
            ["F-", "G+", "G-", "verify+", "verify-", "u6", "ended"]
        );
        let unchanged = ended(Some(&last), &rec, &BTreeMap::new());
        assert!(
            !names(&unchanged).contains(&"u6".to_owned()),
            "nothing asked: nothing told"
        );
        assert_eq!(text(events.last().unwrap()), "POC -> H2: migrated in 3 s");
        assert_eq!(text(&events[4]), "step verify done in 2 s");
        let json = serde_json::to_string(events.last().unwrap()).unwrap();
        assert!(
            json.starts_with(r#"{"event":"ended","wave":"POC -> H2","outcome":"migrated""#),
            "{json}"
        );
    }

    #[test]
    fn users_read_as_migrate_prints_them() {
        let mut j = journal();
        j.start(A, 1_000);
        let events = diff(None, &look(&j, 0, true, 1_010));
        assert_eq!(
            text(&events[2]),
            "progress POC: step A, 0/6 users moved, H sees 6"
        );
        assert_eq!(text(&events[1]), "step A started: mail for POC goes to H2");
    }
}
