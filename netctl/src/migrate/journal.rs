//! The migration journal (`DATA_DIR/migration.toml`) and the placement of
//! post offices (`DATA_DIR/placement.toml`).
//!
//! The journal is written (write, then rename) before a step starts and after
//! its check has passed, so a `netctl` killed at any point finds, when the
//! same command runs again, the wave it was running and the first step not
//! proven done; that step's actions are idempotent and run again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::{self, Outcome};
pub use super::plan::Method;
use super::plan::StepId;
use super::run::now_ms;
use crate::NetctlError;
use crate::state::{load_toml, save_toml};

/// One post office of a wave and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub post_office: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: StepId,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
}

/// The wave in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub to: String,
    pub method: Method,
    pub moves: Vec<Move>,
    pub started_ms: u64,
    /// Steps started, in order; the last may be unfinished.
    pub steps: Vec<StepRecord>,
    /// How many times the wave was resumed after an interruption.
    #[serde(default)]
    pub resumed: u32,
    /// When the final verification (complete GALs, test mails) started;
    /// `None` until every step is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_started_ms: Option<u64>,
}

impl Journal {
    /// The first step whose check has not passed yet.
    pub fn next_step(&self, order: &[StepId]) -> Option<StepId> {
        order.iter().copied().find(|id| {
            !self
                .steps
                .iter()
                .any(|r| r.step == *id && r.finished_ms.is_some())
        })
    }

    pub fn start(&mut self, step: StepId, now_ms: u64) {
        if !self.steps.iter().any(|r| r.step == step) {
            self.steps.push(StepRecord {
                step,
                started_ms: now_ms,
                finished_ms: None,
            });
        }
    }

    pub fn finish(&mut self, step: StepId, now_ms: u64) {
        if let Some(r) = self.steps.iter_mut().find(|r| r.step == step) {
            r.finished_ms = Some(now_ms);
        }
    }

    /// Whether this journal is the wave the operator asks for again.
    pub fn same_wave(&self, post_offices: &[String], to: &str) -> bool {
        let mut mine: Vec<&str> = self.moves.iter().map(|m| m.post_office.as_str()).collect();
        let mut asked: Vec<&str> = post_offices.iter().map(String::as_str).collect();
        mine.sort_unstable();
        asked.sort_unstable();
        self.to == to && mine == asked
    }
}

fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("migration.toml")
}

/// The wave in progress, if any. A journal removed while it is read (the
/// wave just ended, seen by `netctl watch`) is no journal.
pub fn load(data_dir: &Path) -> Result<Option<Journal>, NetctlError> {
    let path = journal_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return load_toml(data_dir, &path).map(Some),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| NetctlError::BadState {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

pub fn save(data_dir: &Path, journal: &Journal) -> Result<(), NetctlError> {
    save_toml(journal, &journal_path(data_dir))
}

/// The wave is over: its record joins the history (`migrations.toml`)
/// first, then the journal goes, so a reader that finds no journal finds
/// the wave recorded. Killed in between, the same command runs again,
/// verifies again and replaces the record.
pub fn close(data_dir: &Path, journal: &Journal, outcome: Outcome) -> Result<(), NetctlError> {
    history::record(
        data_dir,
        history::WaveRecord::ended(journal, outcome, now_ms()),
    )?;
    match std::fs::remove_file(journal_path(data_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetctlError::Write {
            path: journal_path(data_dir).display().to_string(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Post office to the hub it is on now, where that differs from the topology.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Placement {
    pub hubs: BTreeMap<String, String>,
}

fn placement_path(data_dir: &Path) -> PathBuf {
    data_dir.join("placement.toml")
}

impl Placement {
    pub fn load(data_dir: &Path) -> Result<Placement, NetctlError> {
        if !placement_path(data_dir).exists() {
            return Ok(Placement::default());
        }
        load_toml(data_dir, &placement_path(data_dir))
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), NetctlError> {
        save_toml(self, &placement_path(data_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StepId::*;

    fn journal() -> Journal {
        Journal {
            to: "H2".into(),
            method: Method::Patent,
            moves: vec![Move {
                post_office: "POC".into(),
                from: "H".into(),
            }],
            started_ms: 1,
            steps: vec![],
            resumed: 0,
            verify_started_ms: None,
        }
    }

    #[test]
    fn an_unfinished_step_is_the_one_to_resume() {
        let order = [A, B, C, D, E, F, G];
        let mut j = journal();
        assert_eq!(j.next_step(&order), Some(A));
        j.start(A, 10);
        j.finish(A, 11);
        j.start(B, 12);
        assert_eq!(j.next_step(&order), Some(B));
        j.start(B, 99);
        assert_eq!(j.steps[1].started_ms, 12, "a resumed step keeps its start");
        for s in [B, C, D, E, F, G] {
            j.start(s, 20);
            j.finish(s, 21);
        }
        assert_eq!(j.next_step(&order), None);
    }

    #[test]
    fn the_journal_survives_a_round_trip_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut j = journal();
        j.start(A, 5);
        save(dir.path(), &j).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(j.clone()));
        assert!(j.same_wave(&["POC".into()], "H2"));
        assert!(!j.same_wave(&["POC".into()], "H"));
        close(dir.path(), &j, Outcome::Migrated).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let waves = history::waves(dir.path()).unwrap();
        assert_eq!(waves.len(), 1);
        assert_eq!(waves[0].started_ms, 1);
    }
}
