//! The sparing rule, per kind and peer: which cycles are recorded, and how
//! many were not since the last one that was.

use super::Run;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Quiet {
    /// The error of the last recorded run, if it failed.
    failing: Option<String>,
    /// Runs not recorded since the last recorded one.
    skipped: u64,
}

impl Quiet {
    /// Some(runs skipped before it) if `run` is to be recorded: it moved a
    /// change or was a full resync, it failed otherwise than the last
    /// recorded run, or it is the first success after a failure. None: it
    /// is only counted.
    pub fn admit(&mut self, run: &Run) -> Option<u64> {
        let record = match &run.error {
            Some(error) => run.moved() || self.failing.as_ref() != Some(error),
            None => run.moved() || self.failing.is_some(),
        };
        if !record {
            self.skipped += 1;
            return None;
        }
        self.failing = run.error.clone();
        Some(std::mem::take(&mut self.skipped))
    }
}
