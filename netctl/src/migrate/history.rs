//! The migration history: every wave's steps, newest first, for `netctl
//! watch`, `netctl history` and the dashboard.
//!
//! The wave in progress is in the journal (`DATA_DIR/migration.toml`), which
//! goes once the wave has verified. So that the steps outlive it, the wave
//! is first copied into `DATA_DIR/migrations.toml`: the last [`KEEP`] waves,
//! oldest first, written whole (write, then rename; 0600) by the netctl that
//! holds the data directory's lock, so it never has two writers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::journal::{self, Journal, Method, Move, StepRecord};
use super::plan;
use crate::NetctlError;
use crate::state::{load_toml, save_toml};

/// How many waves the record keeps: months of migration in waves of a few
/// post offices, while the file stays small enough to read at every poll.
pub const KEEP: usize = 50;

/// How a recorded wave ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The post offices moved and the wave verified.
    Migrated,
    /// The post offices went back to the hub the topology puts them on
    /// (`netctl rollback`), verified.
    RolledBack,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Migrated => "migrated",
            Outcome::RolledBack => "rolled back",
        })
    }
}

/// A wave that has ended, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveRecord {
    pub to: String,
    pub method: Method,
    pub moves: Vec<Move>,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub outcome: Outcome,
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_started_ms: Option<u64>,
    #[serde(default)]
    pub resumed: u32,
}

impl WaveRecord {
    /// The journal's wave, ended at `ended_ms`.
    pub fn ended(j: &Journal, outcome: Outcome, ended_ms: u64) -> WaveRecord {
        WaveRecord {
            to: j.to.clone(),
            method: j.method,
            moves: j.moves.clone(),
            started_ms: j.started_ms,
            ended_ms,
            outcome,
            steps: j.steps.clone(),
            verify_started_ms: j.verify_started_ms,
            resumed: j.resumed,
        }
    }
}

/// One step of one wave (patent steps A-G, then the final verification).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepEvent {
    /// e.g. "POC -> H2", "POA POB -> H2".
    pub wave: String,
    pub post_offices: Vec<String>,
    pub to: String,
    /// "patent" or "handover".
    pub method: String,
    /// "A".."G" or "verify".
    pub step: String,
    pub title: String,
    pub started_ms: u64,
    /// `None` while the step runs (or when netctl was killed in it).
    pub finished_ms: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// Oldest first.
    #[serde(default)]
    waves: Vec<WaveRecord>,
}

fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join("migrations.toml")
}

fn load(data_dir: &Path) -> Result<Record, NetctlError> {
    let path = record_path(data_dir);
    if !path.exists() {
        return Ok(Record::default());
    }
    load_toml(data_dir, &path)
}

/// Adds an ended wave to the record (replacing the same wave recorded
/// before, by its start), keeping the last [`KEEP`].
pub fn record(data_dir: &Path, wave: WaveRecord) -> Result<(), NetctlError> {
    let mut rec = load(data_dir)?;
    rec.waves.retain(|w| w.started_ms != wave.started_ms);
    rec.waves.push(wave);
    rec.waves.sort_by_key(|w| w.started_ms);
    let extra = rec.waves.len().saturating_sub(KEEP);
    rec.waves.drain(..extra);
    save_toml(&rec, &record_path(data_dir))
}

/// The ended waves, newest first.
pub fn waves(data_dir: &Path) -> Result<Vec<WaveRecord>, NetctlError> {
    let mut waves = load(data_dir)?.waves;
    waves.reverse();
    Ok(waves)
}

/// The recorded wave that started at `started_ms`, once it has ended.
pub fn ended(data_dir: &Path, started_ms: u64) -> Result<Option<WaveRecord>, NetctlError> {
    Ok(waves(data_dir)?
        .into_iter()
        .find(|w| w.started_ms == started_ms))
}

/// Every step of the wave in progress and of the recorded waves, newest
/// first (by start; a wave's verification after its step G).
pub fn steps(data_dir: &Path) -> Result<Vec<StepEvent>, NetctlError> {
    let ended = waves(data_dir)?;
    let mut events = Vec::new();
    if let Some(j) = journal::load(data_dir)?
        && !ended.iter().any(|w| w.started_ms == j.started_ms)
    {
        events.extend(wave_events(&WaveView::of_journal(&j)));
    }
    for w in &ended {
        events.extend(wave_events(&WaveView::of_record(w)));
    }
    events.sort_by(|a, b| {
        (b.started_ms, step_rank(&b.step)).cmp(&(a.started_ms, step_rank(&a.step)))
    });
    Ok(events)
}

/// "A".."G" in order, then "verify".
fn step_rank(step: &str) -> u8 {
    match step {
        "verify" => 100,
        s => s.bytes().next().unwrap_or(0),
    }
}

/// What [`wave_events`] needs of a wave, running or ended.
pub struct WaveView<'a> {
    pub to: &'a str,
    pub method: Method,
    pub moves: &'a [Move],
    pub steps: &'a [StepRecord],
    pub verify_started_ms: Option<u64>,
    /// When the wave ended (its verification passed); `None` while it runs.
    pub ended_ms: Option<u64>,
}

impl<'a> WaveView<'a> {
    pub fn of_journal(j: &'a Journal) -> WaveView<'a> {
        WaveView {
            to: &j.to,
            method: j.method,
            moves: &j.moves,
            steps: &j.steps,
            verify_started_ms: j.verify_started_ms,
            ended_ms: None,
        }
    }

    pub fn of_record(w: &'a WaveRecord) -> WaveView<'a> {
        WaveView {
            to: &w.to,
            method: w.method,
            moves: &w.moves,
            steps: &w.steps,
            verify_started_ms: w.verify_started_ms,
            ended_ms: Some(w.ended_ms),
        }
    }

    pub fn post_offices(&self) -> Vec<String> {
        self.moves.iter().map(|m| m.post_office.clone()).collect()
    }

    pub fn name(&self) -> String {
        format!("{} -> {}", self.post_offices().join(" "), self.to)
    }

    pub fn title(&self, step: &str) -> String {
        let from: Vec<String> = self.moves.iter().map(|m| m.from.clone()).collect();
        plan::title(step, self.method, &self.post_offices(), &from, self.to)
    }
}

/// The wave's steps as events, in the order they ran.
pub fn wave_events(w: &WaveView<'_>) -> Vec<StepEvent> {
    let event = |step: String, started_ms: u64, finished_ms: Option<u64>| StepEvent {
        wave: w.name(),
        post_offices: w.post_offices(),
        to: w.to.to_owned(),
        method: w.method.to_string(),
        title: w.title(&step),
        step,
        started_ms,
        finished_ms,
    };
    let mut events: Vec<StepEvent> = w
        .steps
        .iter()
        .map(|r| event(r.step.to_string(), r.started_ms, r.finished_ms))
        .collect();
    if let Some(started) = w.verify_started_ms {
        events.push(event("verify".into(), started, w.ended_ms));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::plan::StepId::{self, *};

    fn journal(started_ms: u64, to: &str) -> Journal {
        Journal {
            to: to.into(),
            method: Method::Patent,
            moves: vec![Move {
                post_office: "POC".into(),
                from: if to == "H2" { "H" } else { "H2" }.into(),
            }],
            started_ms,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        }
    }

    fn run_all(j: &mut Journal, order: &[StepId]) {
        let mut t = j.started_ms;
        for s in order {
            j.start(*s, t + 1);
            j.finish(*s, t + 2);
            t += 2;
        }
        j.verify_started_ms = Some(t + 1);
    }

    #[test]
    fn no_migration_ever_is_no_steps() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(steps(dir.path()).unwrap(), vec![]);
    }

    #[test]
    fn the_wave_in_progress_and_ended_waves_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = journal(100, "H2");
        run_all(&mut first, &[A, B, C, D, E, F, G]);
        journal::save(dir.path(), &first).unwrap();
        journal::close(dir.path(), &first, Outcome::Migrated).unwrap();
        assert!(!dir.path().join("migration.toml").exists());

        let mut back = journal(1000, "H");
        back.start(A, 1001);
        back.finish(A, 1002);
        back.start(B, 1003);
        journal::save(dir.path(), &back).unwrap();

        let events = steps(dir.path()).unwrap();
        let seen: Vec<(&str, &str, Option<u64>)> = events
            .iter()
            .map(|e| (e.wave.as_str(), e.step.as_str(), e.finished_ms))
            .collect();
        assert_eq!(seen[0], ("POC -> H", "B", None), "the running step first");
        assert_eq!(seen[1], ("POC -> H", "A", Some(1002)));
        let first_wave: Vec<&str> = seen[2..].iter().map(|s| s.1).collect();
        assert_eq!(
            first_wave,
            ["verify", "G", "F", "E", "D", "C", "B", "A"],
            "the ended wave, its verification last to start"
        );
        assert!(seen[2..].iter().all(|s| s.0 == "POC -> H2"));
        let verify = &events[2];
        assert!(verify.finished_ms.is_some(), "ended: {verify:?}");
        assert_eq!(events[0].title, "H2 removes POC's requestor");
        assert_eq!(events[0].method, "patent");
        assert_eq!(events[0].post_offices, ["POC"]);
        assert_eq!(events[0].to, "H");
    }

    #[test]
    fn a_wave_recorded_before_its_journal_went_is_listed_once() {
        // netctl killed between recording the wave and removing the journal.
        let dir = tempfile::tempdir().unwrap();
        let mut j = journal(7, "H2");
        run_all(&mut j, &[A, B, E, F, G]);
        journal::save(dir.path(), &j).unwrap();
        record(dir.path(), WaveRecord::ended(&j, Outcome::Migrated, 99)).unwrap();
        let events = steps(dir.path()).unwrap();
        assert_eq!(events.len(), 6, "{events:?}");
        // Run again, it verifies again and replaces the record.
        journal::close(dir.path(), &j, Outcome::Migrated).unwrap();
        assert_eq!(waves(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn the_record_keeps_the_last_waves_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(KEEP as u64 + 3) {
            let j = journal(i, "H2");
            record(dir.path(), WaveRecord::ended(&j, Outcome::Migrated, i + 1)).unwrap();
        }
        let kept = waves(dir.path()).unwrap();
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept[0].started_ms, KEEP as u64 + 2, "newest first");
        assert_eq!(kept[KEEP - 1].started_ms, 3, "the oldest three are gone");
        let mode = std::fs::metadata(dir.path().join("migrations.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(ended(dir.path(), 10).unwrap().map(|w| w.ended_ms), Some(11));
        assert_eq!(ended(dir.path(), 1).unwrap(), None);
    }
}
