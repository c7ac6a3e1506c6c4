//! The migration panel: the wave in progress step by step (A-G, then the
//! verification), each step's duration, the current one, and the GAL gap
//! so far; or, when none runs, the last wave in a line.

use std::path::Path;

use super::snapshot::{MigrationView, StepView};
use crate::migrate::history::{self, StepEvent, WaveView};
use crate::migrate::journal::{self, Method};
use crate::migrate::run::now_ms;

const ORDER: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "verify"];

/// (the wave in progress, the last ended wave in a line).
pub fn view(data_dir: &Path) -> (Option<MigrationView>, Option<String>) {
    let running = journal::load(data_dir).ok().flatten().map(|j| {
        let wave = WaveView::of_journal(&j);
        let events = history::wave_events(&wave);
        running_view(&wave.name(), j.method, &events, now_ms())
    });
    let last = match running {
        Some(_) => None,
        None => history::waves(data_dir)
            .ok()
            .and_then(|w| w.into_iter().next())
            .map(|w| {
                format!(
                    "last: {} {} ({:.1} s)",
                    WaveView::of_record(&w).name(),
                    w.outcome,
                    w.ended_ms.saturating_sub(w.started_ms) as f64 / 1000.0
                )
            }),
    };
    (running, last)
}

fn running_view(name: &str, method: Method, events: &[StepEvent], now: u64) -> MigrationView {
    let find = |step: &str| events.iter().find(|e| e.step == step);
    let steps: Vec<StepView> = ORDER
        .iter()
        .map(|step| {
            let e = find(step);
            let (state, ms) = match e {
                Some(StepEvent {
                    finished_ms: Some(end),
                    started_ms,
                    ..
                }) => ("done", Some(end.saturating_sub(*started_ms))),
                Some(e) => ("current", Some(now.saturating_sub(e.started_ms))),
                None => ("todo", None),
            };
            StepView {
                step: (*step).to_owned(),
                title: e.map(|e| e.title.clone()).unwrap_or_default(),
                state,
                ms,
            }
        })
        .collect();
    let current = steps.iter().find(|s| s.state == "current");
    let summary = match current {
        Some(s) => format!("{name} ({method:?}): step {} - {}", s.step, s.title),
        None => format!("{name} ({method:?}): between steps"),
    };
    let mut details = Vec::new();
    // Patent method: the moving users are missing from the old hub's GALs
    // from step C (deleted there) until step G brings them back.
    if method == Method::Patent
        && let Some(c) = find("C")
    {
        let end = find("G").and_then(|g| g.finished_ms).unwrap_or(now);
        details.push(format!(
            "GAL gap so far: {:.1} s",
            end.saturating_sub(c.started_ms) as f64 / 1000.0
        ));
    } else {
        details.push("GAL gap so far: 0 s (no post office loses sight of a user)".to_owned());
    }
    MigrationView {
        summary,
        steps,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(step: &str, started_ms: u64, finished_ms: Option<u64>) -> StepEvent {
        StepEvent {
            wave: "POC -> H2".into(),
            post_offices: vec!["POC".into()],
            to: "H2".into(),
            method: "patent".into(),
            step: step.into(),
            title: format!("title {step}"),
            started_ms,
            finished_ms,
        }
    }

    #[test]
    fn steps_done_current_and_todo_with_durations_and_the_gap() {
        let events = [
            event("A", 1_000, Some(1_200)),
            event("B", 1_200, Some(1_500)),
            event("C", 1_500, Some(2_000)),
            event("D", 2_000, None),
        ];
        let v = running_view("POC -> H2", Method::Patent, &events, 4_000);
        let states: Vec<_> = v.steps.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                "done", "done", "done", "current", "todo", "todo", "todo", "todo"
            ]
        );
        assert_eq!(v.steps[0].ms, Some(200));
        assert_eq!(v.steps[3].ms, Some(2_000));
        assert!(v.summary.contains("step D - title D"), "{}", v.summary);
        assert_eq!(v.details, ["GAL gap so far: 2.5 s"]);
    }

    #[test]
    fn the_handover_method_has_no_gap() {
        let v = running_view("POC -> H2", Method::Handover, &[event("A", 0, None)], 10);
        assert!(v.details[0].starts_with("GAL gap so far: 0 s"));
    }
}
