//! The wave in progress on the operator's screen: on a terminal, a line per
//! step and a bar per post office (users moved of its users, step, ETA);
//! into a pipe or a file, the same as plain lines, one each time a post
//! office's progress changes; nothing with `--json`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plan::StepId;
use super::progress::{PostOfficeProgress, Progress, StepState};
use super::run;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars redrawn in place (stdout is a terminal).
    Bars,
    /// A plain line per change (stdout is a pipe or a file).
    Lines,
    /// Nothing but the final report (`--json`).
    Quiet,
}

impl Mode {
    pub fn for_stdout(json: bool) -> Mode {
        if json {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// A duration as an operator reads it: "850 ms", "12 s", "3 min 5 s",
/// "2 h 3 min".
pub fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

/// One post office's progress as a line (the changing part: no clock in
/// it, so a line is printed again only when something moved).
pub fn line(po: &PostOfficeProgress) -> String {
    let eta = match po.eta_ms {
        Some(ms) => format!(", ETA {}", human(ms)),
        None => String::new(),
    };
    format!(
        "progress {}: step {} ({}/{} done), {}/{} users moved, {} sees {}{eta}",
        po.post_office,
        po.step,
        po.steps_done,
        po.steps_total,
        count(po.users_moved),
        count(po.users_total),
        po.from,
        count(po.users_at_source),
    )
}

/// What `netctl migrate` shows while a wave runs. Shared between the
/// executor's thread (steps, notes) and the thread polling the processes
/// (users moved).
pub struct WaveDisplay {
    mode: Mode,
    multi: MultiProgress,
    step: Mutex<Option<ProgressBar>>,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    printed: Mutex<BTreeMap<String, String>>,
    /// The last progress polled, moved on by the executor's step events
    /// between polls, so the bars name the step running now.
    last: Mutex<Option<Progress>>,
}

/// `p` with `step` (just started, or done) moved on, ahead of the next poll.
fn moved_on(p: &mut Progress, step: &str, state: StepState) {
    if let Some(s) = p.steps.iter_mut().find(|s| s.step == step) {
        s.state = state;
    }
    let next = p
        .steps
        .iter()
        .find(|s| s.state != StepState::Done)
        .map(|s| (s.step.clone(), s.title.clone()));
    let done = p
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .count();
    if let Some((step, title)) = next {
        (p.current, p.current_title) = (step, title);
    }
    p.steps_done = done;
    for po in &mut p.post_offices {
        po.step = p.current.clone();
        po.title = p.current_title.clone();
        po.steps_done = done;
        if p.current != "F" {
            po.eta_ms = None;
        }
    }
}

impl WaveDisplay {
    pub fn new(mode: Mode) -> WaveDisplay {
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stdout(),
            Mode::Lines | Mode::Quiet => ProgressDrawTarget::hidden(),
        };
        WaveDisplay {
            mode,
            multi: MultiProgress::with_draw_target(target),
            step: Mutex::new(None),
            bars: Mutex::new(BTreeMap::new()),
            printed: Mutex::new(BTreeMap::new()),
            last: Mutex::new(None),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A line above the bars (or plain).
    pub fn println(&self, text: &str) {
        match self.mode {
            Mode::Bars => {
                if self.multi.println(text).is_err() {
                    println!("{text}");
                }
            }
            Mode::Lines => println!("{text}"),
            Mode::Quiet => {}
        }
    }

    /// The progress polled from the processes.
    pub fn update(&self, p: &Progress) {
        match self.mode {
            Mode::Bars => self.draw_bars(p),
            Mode::Lines => {
                let mut printed = self.printed.lock().unwrap_or_else(|e| e.into_inner());
                for po in &p.post_offices {
                    let text = line(po);
                    if printed.get(&po.post_office) != Some(&text) {
                        println!("{text}");
                        printed.insert(po.post_office.clone(), text);
                    }
                }
            }
            Mode::Quiet => {}
        }
    }

    /// The executor started or finished `step`: the bars say so at once.
    fn step_event(&self, step: StepId, state: StepState) {
        if self.mode != Mode::Bars {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = last.as_mut() {
            moved_on(p, &step.to_string(), state);
            self.draw(p);
        }
    }

    fn draw_bars(&self, p: &Progress) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.draw(p);
        *last = Some(p.clone());
    }

    fn draw(&self, p: &Progress) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for po in &p.post_offices {
            let bar = bars.entry(po.post_office.clone()).or_insert_with(|| {
                // Its length before it is drawn: never a full bar of 0/0.
                let bar = ProgressBar::new(po.users_total.unwrap_or(0));
                if let Ok(style) = ProgressStyle::with_template(
                    "{prefix:>6} [{bar:30}] {pos}/{len} users moved  {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(po.post_office.clone());
                self.multi.add(bar)
            });
            bar.set_length(po.users_total.unwrap_or(0));
            bar.set_position(po.users_moved.unwrap_or(0));
            let eta = po
                .eta_ms
                .map(|ms| format!(", ETA {}", human(ms)))
                .unwrap_or_default();
            bar.set_message(format!(
                "step {} ({}/{}), {} sees {}{eta}",
                po.step,
                po.steps_done,
                po.steps_total,
                po.from,
                count(po.users_at_source)
            ));
        }
    }

    /// Takes the bars off the screen before the report.
    pub fn finish(&self) {
        if let Some(bar) = self.step.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
        for bar in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

/// How often the processes are asked how far the wave has got.
const POLL: Duration = Duration::from_millis(500);

/// Runs `work` (the wave) while another thread asks the processes of the
/// network in `data_dir` how far it has got and shows it, and looks once
/// more when `work` is done. Nothing is asked in [`Mode::Quiet`].
pub fn polling_while<R>(
    data_dir: &std::path::Path,
    display: &WaveDisplay,
    work: impl FnOnce() -> R,
) -> R {
    if display.mode == Mode::Quiet {
        return work();
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let is_done = || done.load(std::sync::atomic::Ordering::Relaxed);
    let answer = std::thread::scope(|s| {
        s.spawn(|| {
            while !is_done() {
                // A process restarting answers nothing: shown as "?".
                if let Ok(Some(p)) = super::progress::current(data_dir) {
                    display.update(&p);
                }
                let next = std::time::Instant::now() + POLL;
                while !is_done() && std::time::Instant::now() < next {
                    std::thread::sleep(POLL / 10);
                }
            }
        });
        let answer = work();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        answer
    });
    // A last look, however fast the wave was: the journal is still open
    // (it is closed after), so the users moved show where the wave left
    // them.
    if let Ok(Some(p)) = super::progress::current(data_dir) {
        display.update(&p);
    }
    answer
}

/// The executor's view of a [`WaveDisplay`].
pub struct WaveProgress<'a>(pub &'a WaveDisplay);

impl run::Progress for WaveProgress<'_> {
    fn step_started(&mut self, step: StepId, what: &str) {
        let d = self.0;
        if d.mode == Mode::Quiet {
            return;
        }
        d.println(&format!("step {step}: {what}"));
        if d.mode == Mode::Bars {
            let bar = d.multi.insert(0, ProgressBar::new_spinner());
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} step {prefix}: {msg} [{elapsed}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix(step.to_string());
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            d.step_event(step, StepState::Running);
            if let Some(old) = d
                .step
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replace(bar)
            {
                old.finish_and_clear();
            }
        }
    }

    fn waiting(&mut self, _step: StepId, detail: &str) {
        if let Some(bar) = &*self.0.step.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.set_message(detail.to_owned());
        }
    }

    fn step_done(&mut self, step: StepId, took: Duration) {
        let d = self.0;
        if let Some(bar) = d.step.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
        d.step_event(step, StepState::Done);
        d.println(&format!("step {step}: done in {} ms", took.as_millis()));
    }

    fn note(&mut self, text: &str) {
        self.0.println(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_an_operator_says_them() {
        assert_eq!(human(850), "850 ms");
        assert_eq!(human(12_400), "12 s");
        assert_eq!(human(185_000), "3 min 5 s");
        assert_eq!(human(7_380_000), "2 h 3 min");
    }

    #[test]
    fn a_step_event_moves_the_bars_on_before_the_next_poll() {
        use crate::migrate::journal::{Journal, Method, Move};
        let mut j = Journal {
            to: "H2".into(),
            method: Method::Handover,
            moves: vec![Move {
                post_office: "POC".into(),
                from: "H".into(),
            }],
            started_ms: 1,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        };
        j.start(StepId::A, 1);
        let mut p = super::super::progress::model(&j, &BTreeMap::new(), true, 2);
        moved_on(&mut p, "A", StepState::Done);
        assert_eq!((p.current.as_str(), p.steps_done), ("B", 1));
        moved_on(&mut p, "B", StepState::Running);
        assert_eq!(p.post_offices[0].step, "B");
        for s in ["B", "E", "F", "G"] {
            moved_on(&mut p, s, StepState::Done);
        }
        assert_eq!((p.current.as_str(), p.steps_done), ("verify", 5));
        assert_eq!(p.post_offices[0].steps_done, 5);
    }

    #[test]
    fn a_progress_line_names_step_users_and_the_old_side() {
        let po = PostOfficeProgress {
            post_office: "POC".into(),
            from: "H".into(),
            step: "F".into(),
            title: "POC uploads its users to H2".into(),
            steps_done: 5,
            steps_total: 8,
            users_moved: Some(3),
            users_total: Some(6),
            users_at_source: None,
            eta_ms: Some(2_000),
        };
        assert_eq!(
            line(&po),
            "progress POC: step F (5/8 done), 3/6 users moved, H sees ?, ETA 2 s"
        );
    }
}
