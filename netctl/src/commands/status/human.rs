//! The human form of `netctl status`: the summary as two aligned tables
//! (processes, links) under a one-line count, and for `--verbose` every
//! status key, times also shown as "3 s ago".

use wire_format::StatusValue;

use super::summary::{Figure, FigureValue, LinkHealth, LinkKind, LinkRow, ProcessHealth, Summary};
use super::{Reports, health};
use crate::state::NetworkState;

/// An error longer than this is cut in the summary (`--verbose` has it whole).
const ERROR_WIDTH: usize = 96;

/// A span of milliseconds in its largest whole unit: `3 s`, `2 min`, `5 h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

/// How long before `now_ms` the epoch-milliseconds time `at_ms` was; 0 is
/// `never` (the status keys' convention). A time ahead of ours (another
/// machine's clock) counts as now.
pub fn ago(now_ms: u64, at_ms: u64) -> String {
    if at_ms == 0 {
        "never".to_owned()
    } else {
        format!("{} ago", duration(now_ms.saturating_sub(at_ms)))
    }
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The first line: `network ACME: 16 processes up, 0 down; 19 links, 0
/// failing; mail queued 0`.
pub fn headline(s: &Summary) -> String {
    let t = &s.totals;
    let degraded = if t.degraded > 0 {
        format!(", {} degraded", t.degraded)
    } else {
        String::new()
    };
    let lagging = if t.lagging > 0 {
        format!(", {} lagging", t.lagging)
    } else {
        String::new()
    };
    format!(
        "network {}: {} processes up{degraded}, {} down; {} links, {} failing{lagging}; mail queued {}",
        s.network, t.up, t.down, t.links, t.failing, t.mail_queued
    )
}

/// The summary's lines; with `errors_only`, only what is wrong, or a line
/// saying all is well.
pub fn summary_lines(s: &Summary, errors_only: bool) -> Vec<String> {
    let mut lines = vec![headline(s)];
    let shown;
    let s = if errors_only {
        shown = s.errors_only();
        if shown.processes.is_empty() && shown.links.is_empty() {
            lines.push(format!(
                "all is well: every process up, no link down or failing{}",
                if s.totals.lagging > 0 {
                    " (some are catching up)"
                } else {
                    ""
                }
            ));
            return lines;
        }
        &shown
    } else {
        s
    };
    if !s.processes.is_empty() {
        let mut t = vec![cells(["PROCESS", "STATE", "PID", "FIGURES"])];
        t.extend(s.processes.iter().map(|p| {
            let (state, detail) = match p.health {
                ProcessHealth::Down => ("DOWN", p.reason.as_deref().map(cut)),
                ProcessHealth::Degraded => ("DEGRADED", None),
                ProcessHealth::Up => ("up", None),
            };
            let detail = detail.unwrap_or_else(|| figures(&p.figures));
            vec![p.id.clone(), state.into(), p.pid.to_string(), detail]
        }));
        let mut rows = table(t).into_iter();
        lines.extend(rows.next());
        for (p, row) in s.processes.iter().zip(rows) {
            lines.push(row);
            // Why a degraded process is degraded, whole, on a line of its
            // own: it is what the operator has to act on.
            if let (ProcessHealth::Degraded, Some(why)) = (p.health, &p.reason) {
                lines.push(format!("      degraded: {why}"));
            }
        }
    }
    if !s.links.is_empty() {
        let mut t = vec![cells([
            "LINK",
            "STATE",
            "BEHIND",
            "LAST SUCCESS",
            "FAILS",
            "LAST ERROR",
        ])];
        t.extend(s.links.iter().map(|l| link_cells(l, s.now_ms)));
        lines.extend(table(t));
    }
    lines
}

fn cells<const N: usize>(c: [&str; N]) -> Vec<String> {
    c.iter().map(|s| (*s).to_owned()).collect()
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(ERROR_WIDTH) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

fn figures(figures: &[Figure]) -> String {
    figures
        .iter()
        .map(|f| {
            let label = match f.key.as_str() {
                "high_water" => "high water",
                "entries.imported" => "imported",
                "entries.exported" => "exported",
                "queue.total" => "queued",
                "queue.oldest_age_ms" => "oldest",
                k => k
                    .strip_prefix("folder.")
                    .and_then(|k| k.strip_suffix(".entries"))
                    .unwrap_or(k),
            };
            let value = match &f.value {
                FigureValue::Count(n) => n.to_string(),
                FigureValue::Millis(ms) => duration(*ms),
                FigureValue::Text(t) => t.clone(),
                FigureValue::Unknown => "-".into(),
            };
            format!("{label} {value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn link_cells(l: &LinkRow, now_ms: u64) -> Vec<String> {
    let name = match l.kind {
        LinkKind::Dirsync => "dirsync",
        LinkKind::Replication => "replication",
        LinkKind::Mail => "mail",
    };
    let state = match (l.health, l.kind) {
        (LinkHealth::Down, _) => "DOWN",
        (LinkHealth::Failing, _) => "FAILING",
        (LinkHealth::Lagging, _) => "LAGGING",
        (LinkHealth::Ok, LinkKind::Mail) => "ok",
        (LinkHealth::Ok, _) => "in sync",
    };
    let behind = match l.kind {
        LinkKind::Mail => match (l.queued, l.oldest_age_ms.filter(|a| *a > 0)) {
            (Some(n), Some(age)) if n > 0 => format!("{n} queued, oldest {}", duration(age)),
            (Some(n), _) => format!("{n} queued"),
            (None, _) => "-".into(),
        },
        _ => match (l.lag_changes, l.lag_seconds.filter(|s| *s > 0)) {
            (Some(n), Some(secs)) => format!("{n} changes, {}", duration(secs * 1000)),
            (Some(n), _) => format!("{n} changes"),
            (None, _) => "-".into(),
        },
    };
    let error = match (&l.down, &l.last_error) {
        (Some(down), Some(e)) => format!("{down}; {e}"),
        (Some(why), None) | (None, Some(why)) => why.clone(),
        (None, None) => "-".into(),
    };
    vec![
        format!("{name} {} -> {}", l.from, l.to),
        state.into(),
        behind,
        l.last_success_ms
            .map_or_else(|| "-".into(), |t| ago(now_ms, t)),
        or_dash(l.consecutive_failures),
        cut(&error),
    ]
}

/// Columns padded to their widest cell, two spaces apart; the last column
/// is not padded.
fn table(rows: Vec<Vec<String>>) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < r.len() {
                    let pad = widths[c].saturating_sub(cell.chars().count()) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

/// A status value as shown: counts, `yes`/`no`, `-` for empty text; a time
/// key (`..._ms`) also as `3 s ago` (a moment) or `3 s` (an age or a
/// duration).
fn shown(key: &str, value: &StatusValue, now_ms: u64) -> String {
    match value {
        StatusValue::Count(n) if key.ends_with("_ms") => {
            if key.contains("age") || key.contains("duration") {
                format!("{n} {}", human_span(*n))
            } else {
                format!("{n} ({})", ago(now_ms, *n))
            }
        }
        StatusValue::Count(n) => n.to_string(),
        StatusValue::Text(t) if t.is_empty() => "-".to_owned(),
        StatusValue::Text(t) => t.clone(),
        StatusValue::Flag(b) => if *b { "yes" } else { "no" }.to_owned(),
    }
}

/// `(3 s)`, or `(14 ms)` under a second (a cycle's duration).
fn human_span(ms: u64) -> String {
    if ms < 1000 {
        format!("({ms} ms)")
    } else {
        format!("({})", duration(ms))
    }
}

/// Every process and every key it reports (the form before the summary),
/// for `--verbose`.
pub fn detail_lines(state: &NetworkState, reports: &Reports, now_ms: u64) -> Vec<String> {
    let mut lines = vec![format!("network {}", state.network)];
    for p in &state.processes {
        match reports.get(&p.id) {
            Some(Ok(report)) => {
                // Post offices' mail routers: where users' clients connect.
                let clients: String = ["smtp", "submission", "smtps", "pop3", "pop3s", "metrics"]
                    .iter()
                    .filter_map(|s| Some(format!("  {s} {}", p.endpoints.get(*s)?)))
                    .collect();
                let (state, _, degraded) = health(&report.health);
                lines.push(format!(
                    "  {:<24} {state:<5} pid {:<8} {}{clients}",
                    p.id,
                    p.pid,
                    p.wire().unwrap_or("-")
                ));
                if let Some(reason) = degraded {
                    lines.push(format!("      degraded: {reason}"));
                }
                for (key, value) in &report.items {
                    lines.push(format!("      {key:<34} {}", shown(key, value, now_ms)));
                }
            }
            Some(Err(e)) => lines.push(format!("  {:<24} DOWN  pid {:<8} {e}", p.id, p.pid)),
            None => lines.push(format!("  {:<24} ?", p.id)),
        }
    }
    lines
}

#[cfg(test)]
mod tests;
