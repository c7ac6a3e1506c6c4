//! The migration panel: the wave in progress (`migrate::progress`: steps
//! A-G and the verification, users moved, what the old side still sees,
//! ETA), or, when none runs, the last wave in a line.

use std::path::Path;

use crate::commands::status::duration;
use crate::migrate::history::{self, WaveView};
use crate::migrate::progress::{self, Progress};

/// (the wave in progress, the last ended wave in a line).
pub fn view(data_dir: &Path) -> (Option<Progress>, Option<String>) {
    if let Ok(Some(running)) = progress::current(data_dir) {
        return (Some(running), None);
    }
    let last = history::waves(data_dir)
        .ok()
        .and_then(|w| w.into_iter().next())
        .map(|w| {
            format!(
                "last: {} {} in {}",
                WaveView::of_record(&w).name(),
                w.outcome,
                duration(w.ended_ms.saturating_sub(w.started_ms))
            )
        });
    (None, last)
}
