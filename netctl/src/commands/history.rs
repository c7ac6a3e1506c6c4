//! `netctl history`: what each process did lately (its run history, asked
//! over its wire listener with `HistoryRequest`) merged with netctl's own
//! migration steps (`migrate::history::steps`), newest first. A process
//! that is down or does not answer is listed as unreachable; the command
//! still succeeds.

use std::path::Path;

use serde::Serialize;
use wire_format::{HistoryEvent, HistoryRequest, Message};

use crate::NetctlError;
use crate::client::Operator;
use crate::migrate::history::{self, StepEvent};
use crate::state::{NetworkState, ProcessState, Secrets};
use crate::supervisor;

/// Most events a process keeps, so most that can be asked of one.
const MAX_EVENTS: u32 = wire_format::limits::MAX_HISTORY_EVENTS as u32;

/// `netctl history`'s arguments; its help's first line is main.rs's, what
/// is recorded and the `--json` shape are the after-help below.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A process records a cycle that moved something, was a full resync, \
failed (a failure once until it changes) or recovered; idle ones are counted (\"after N quiet\"). \
It keeps its newest 1,000 events across restarts. A process that is down is listed as \
unreachable; the command still succeeds.\n\n\
--json: {\"network\", \"events\": [{\"at_ms\", \"source\", \"kind\", ...}], \
\"unreachable\": [{\"process\", \"error\"}]}, events newest first. kind \"dirsync\", \
\"replication\" or \"upload\" (a process's): \"node\", \"role\", \"seq\", \"peer\", \
\"started_ms\", \"ended_ms\", \"duration_ms\", \"status\" (ok|failed), \"full\", \"sent\", \
\"received\", \"applied\", \"added\", \"updated\", \"deleted\", \"refused\", \"quiet_before\", \
\"error\"; kind \"migration-step\" (netctl's): \"wave\", \"post_offices\", \"to\", \"method\", \
\"step\", \"title\", \"started_ms\", \"finished_ms\"."
)]
pub struct HistoryArgs {
    /// Only this node's processes (e.g. POA, H3), or the migration steps
    /// that moved it; every process when left out.
    pub node: Option<String>,
    /// Only events since then: a duration back from now (`90s`, `15m`,
    /// `2h`, `1d`, `1h30m`) or an RFC 3339 time (`2026-12-02T18:00:00Z`).
    #[arg(long, value_parser = parse_since, value_name = "DURATION|TIME")]
    pub since: Option<Since>,
    /// Show at most this many events (the newest).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,
}

/// Where `--since` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This many milliseconds before now.
    Ago(u64),
    /// This time, in milliseconds since the Unix epoch.
    At(u64),
}

impl Since {
    fn start_ms(self, now_ms: u64) -> u64 {
        match self {
            Since::Ago(ms) => now_ms.saturating_sub(ms),
            Since::At(ms) => ms,
        }
    }
}

/// One line of the history, from a process or from netctl.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// When it ended (a step still running: when it started); the order.
    pub at_ms: u64,
    /// The process id (`POA.ds-requestor`), or `netctl` for a migration step.
    pub source: String,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum What {
    Process(ProcessEvent),
    Step(StepEvent),
}

impl What {
    /// `dirsync`, `replication`, `upload` or `migration-step`.
    pub fn kind(&self) -> &'static str {
        match self {
            What::Process(e) => e.kind,
            What::Step(_) => "migration-step",
        }
    }
}

/// A process's event as `--json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessEvent {
    #[serde(skip)]
    pub kind: &'static str,
    pub node: String,
    pub role: String,
    pub seq: u64,
    pub peer: Option<String>,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub duration_ms: u64,
    /// `ok` or `failed`.
    pub status: &'static str,
    pub full: bool,
    pub sent: u64,
    pub received: u64,
    pub applied: u64,
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
    pub refused: u64,
    pub quiet_before: u64,
    pub error: Option<String>,
}

/// The whole answer.
#[derive(Debug, Serialize)]
pub struct Report {
    pub network: String,
    pub events: Vec<serde_json::Value>,
    pub unreachable: Vec<Unreachable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    pub process: String,
    pub error: String,
}

pub fn run(data_dir: &Path, json: bool, args: &HistoryArgs) -> Result<(), NetctlError> {
    let now = role_runtime::now_ms();
    let (network, lines, unreachable) = collect(data_dir, args, now)?;
    if json {
        let report = Report {
            network,
            events: lines.iter().map(line_json).collect(),
            unreachable,
        };
        // Plain data: serialising it cannot fail.
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    if lines.is_empty() {
        println!(
            "no events{}",
            if args.since.is_some() {
                " in that time"
            } else {
                ""
            }
        );
    }
    for line in &lines {
        println!("{}", text(line, now));
    }
    for u in &unreachable {
        println!("unreachable: {}: {}", u.process, u.error);
    }
    Ok(())
}

/// A line as `--json` shows it: the event's fields with `at_ms`, `source`
/// and `kind` (`dirsync`, `replication`, `upload`, `migration-step`).
fn line_json(line: &Line) -> serde_json::Value {
    let mut value = serde_json::to_value(line).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("kind".into(), line.what.kind().into());
    }
    value
}

/// The network's name, its lines newest first (at most `--limit`), and the
/// processes that could not be asked.
pub fn collect(
    data_dir: &Path,
    args: &HistoryArgs,
    now_ms: u64,
) -> Result<(String, Vec<Line>, Vec<Unreachable>), NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    let node = args.node.as_ref().map(|n| n.to_ascii_uppercase());
    let processes: Vec<&ProcessState> = state
        .processes
        .iter()
        .filter(|p| node.as_ref().is_none_or(|n| p.node.eq_ignore_ascii_case(n)))
        .collect();
    if let Some(n) = &node
        && processes.is_empty()
    {
        return Err(NetctlError::RoleUnavailable {
            node: n.clone(),
            role: "any".into(),
            why: "no such node in this network",
        });
    }
    let since_ms = args.since.map_or(0, |s| s.start_ms(now_ms));
    let max = u32::try_from(args.limit)
        .unwrap_or(u32::MAX)
        .min(MAX_EVENTS);
    let mut lines = Vec::new();
    let mut unreachable = Vec::new();
    let asked = crate::parallel::on_threads(&processes, |p| ask(p, &secrets, since_ms, max));
    for (p, answer) in processes.iter().zip(asked) {
        match answer {
            Ok(Ok(events)) => lines.extend(events.into_iter().map(|e| process_line(p, e))),
            Ok(Err(error)) => unreachable.push(Unreachable {
                process: p.id.clone(),
                error,
            }),
            Err(_) => unreachable.push(Unreachable {
                process: p.id.clone(),
                error: "asking it failed".into(),
            }),
        }
    }
    for step in history::steps(data_dir)? {
        let moved = |n: &str| step.to == n || step.post_offices.iter().any(|p| p == n);
        if node.as_deref().is_none_or(moved) {
            let at_ms = step.finished_ms.unwrap_or(step.started_ms);
            if at_ms >= since_ms {
                lines.push(Line {
                    at_ms,
                    source: "netctl".into(),
                    what: What::Step(step),
                });
            }
        }
    }
    lines.sort_by(|a, b| order_key(b).cmp(&order_key(a)));
    lines.truncate(args.limit);
    Ok((state.network, lines, unreachable))
}

/// Newest first; one process's events by their sequence number.
fn order_key(line: &Line) -> (u64, &str, u64) {
    let seq = match &line.what {
        What::Process(e) => e.seq,
        What::Step(_) => 0,
    };
    (line.at_ms, line.source.as_str(), seq)
}

/// One process's events, or why it could not be asked.
fn ask(
    p: &ProcessState,
    secrets: &Secrets,
    since_ms: u64,
    max: u32,
) -> Result<Vec<HistoryEvent>, String> {
    if !supervisor::alive(p.pid) {
        return Err("not running".into());
    }
    let wire = p.wire().ok_or("announced no wire listener")?;
    let key = secrets.operator(&p.id).map_err(|e| e.to_string())?;
    let mut op = Operator::connect(wire, key).map_err(|e| e.to_string())?;
    match op.request(HistoryRequest { since_ms, max }) {
        Ok(Message::HistoryPage(page)) => Ok(page.events),
        Ok(Message::ErrorReply(e)) => Err(e.text),
        Ok(other) => Err(format!(
            "answered {} to a history request",
            other.message_type().name()
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn process_line(p: &ProcessState, e: HistoryEvent) -> Line {
    Line {
        at_ms: e.ended_ms,
        source: p.id.clone(),
        what: What::Process(ProcessEvent {
            kind: e.kind.name(),
            node: p.node.clone(),
            role: p.role.to_string(),
            seq: e.seq,
            peer: e.peer.map(|n| n.to_string()),
            started_ms: e.started_ms,
            ended_ms: e.ended_ms,
            duration_ms: e.ended_ms.saturating_sub(e.started_ms),
            status: if e.error.is_some() { "failed" } else { "ok" },
            full: e.full,
            sent: e.sent,
            received: e.received,
            applied: e.applied,
            added: e.added,
            updated: e.updated,
            deleted: e.deleted,
            refused: e.refused,
            quiet_before: e.quiet_before,
            error: e.error,
        }),
    }
}

/// A line for people: `2026-12-02 18:24:42 UTC (3 s ago)  POA.ds-requestor
/// dirsync with H: ok in 12 ms; sent 1 (added 1)`.
fn text(line: &Line, now_ms: u64) -> String {
    let when = format!(
        "{} ({} ago)",
        utc(line.at_ms),
        span(now_ms.saturating_sub(line.at_ms))
    );
    format!("{when}  {:<24} {}", line.source, describe(line))
}

/// What a line says happened, without when or where (the dashboard's
/// "latest events").
pub fn describe(line: &Line) -> String {
    match &line.what {
        What::Process(e) => process_text(e),
        What::Step(s) => {
            let state = match s.finished_ms {
                Some(end) => format!("done in {}", span(end.saturating_sub(s.started_ms))),
                None => "running".into(),
            };
            format!(
                "migration {} ({}): step {} {}: {state}",
                s.wave, s.method, s.step, s.title
            )
        }
    }
}

fn process_text(e: &ProcessEvent) -> String {
    let peer = e
        .peer
        .as_ref()
        .map_or(String::new(), |p| format!(" with {p}"));
    let outcome = match &e.error {
        Some(error) => format!("FAILED after {} ms: {error}", e.duration_ms),
        None => format!("ok in {} ms", e.duration_ms),
    };
    let mut counts = Vec::new();
    for (name, n) in [
        ("sent", e.sent),
        ("received", e.received),
        ("applied", e.applied),
    ] {
        if n > 0 {
            counts.push(format!("{name} {n}"));
        }
    }
    let sorts: Vec<String> = [
        ("added", e.added),
        ("updated", e.updated),
        ("deleted", e.deleted),
        ("refused", e.refused),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect();
    let mut out = format!("{}{peer}: {outcome}", e.kind);
    if e.full {
        out.push_str("; full resync");
    }
    if !counts.is_empty() {
        out.push_str(&format!("; {}", counts.join(", ")));
    }
    if !sorts.is_empty() {
        out.push_str(&format!(" ({})", sorts.join(", ")));
    }
    if e.quiet_before > 0 {
        out.push_str(&format!(" [after {} quiet]", e.quiet_before));
    }
    out
}

/// A span of milliseconds in its largest whole unit: `3 s`, `2 min`, `5 h`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86400),
    }
}

/// `2026-12-02 18:24:42 UTC` for milliseconds since the Unix epoch.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86400) as i64);
    let t = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `--since`: a duration (`90s`, `15m`, `2h`, `1d`, `1h30m`, `500ms`) or an
/// RFC 3339 time (`2026-12-02T18:00:00Z`, `2026-12-02T19:00:00.5+01:00`).
pub fn parse_since(raw: &str) -> Result<Since, String> {
    let raw = raw.trim();
    if raw.contains('-') {
        return rfc3339_ms(raw).map(Since::At);
    }
    duration_ms(raw).map(Since::Ago).ok_or_else(|| {
        format!(
            "`{raw}` is neither a duration (90s, 15m, 2h, 1d, 1h30m) nor an RFC 3339 time \
             (2026-12-02T18:00:00Z)"
        )
    })
}

fn duration_ms(raw: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = raw;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let per = match &rest[..unit] {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(per)?)?;
        rest = &rest[unit..];
    }
    Some(total)
}

/// Milliseconds since the Unix epoch of an RFC 3339 date-time
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`; `t` and a space are
/// taken for `T`, `z` for `Z`, as RFC 3339 section 5.6 allows).
fn rfc3339_ms(raw: &str) -> Result<u64, String> {
    let bad = || format!("`{raw}` is not an RFC 3339 time (like 2026-12-02T18:00:00Z)");
    let b = raw.as_bytes();
    let num = |from: usize, len: usize| -> Result<u32, String> {
        let s = raw.get(from..from + len).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20 || seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ')
    {
        return Err(bad());
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut at = 19;
    let mut frac_ms = 0u64;
    if b.get(at) == Some(&b'.') {
        let digits = raw[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let frac = &raw[at + 1..at + 1 + digits.min(3)];
        frac_ms = format!("{frac:0<3}").parse().map_err(|_| bad())?;
        at += 1 + digits;
    }
    let offset_s: i64 = match &raw[at..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') => {
            if zone.as_bytes()[3] != b':' {
                return Err(bad());
            }
            let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (i64::from(oh) * 3600 + i64::from(om) * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86400 + i64::from(h * 3600 + mi * 60 + s.min(59)) - offset_s;
    u64::try_from(secs)
        .map(|s| s * 1000 + frac_ms)
        .map_err(|_| format!("`{raw}` is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rfc3339_times_parse_for_since() {
        assert_eq!(parse_since("90s"), Ok(Since::Ago(90_000)));
        assert_eq!(parse_since("1h30m"), Ok(Since::Ago(5_400_000)));
        assert_eq!(parse_since("2d"), Ok(Since::Ago(172_800_000)));
        assert_eq!(parse_since("250ms"), Ok(Since::Ago(250)));
        assert!(parse_since("5 parsecs").is_err());
        assert!(parse_since("").is_err());
        assert!(parse_since("10").is_err());
        // RFC 3339 section 5.8's examples.
        assert_eq!(
            parse_since("1985-04-12T23:20:50.52Z"),
            Ok(Since::At(482_196_050_520))
        );
        assert_eq!(
            parse_since("1996-12-19T16:39:57-08:00"),
            Ok(Since::At(851_042_397_000))
        );
        assert_eq!(parse_since("1970-01-01T00:00:00Z"), Ok(Since::At(0)));
        assert!(parse_since("2026-13-02T18:00:00Z").is_err());
        assert!(parse_since("2026-12-02T18:00:00").is_err());
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(482_196_050_520), "1985-04-12 23:20:50 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        for days in [-1000, 0, 59, 11_016, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn a_process_event_reads_as_one_line() {
        let e = ProcessEvent {
            kind: "dirsync",
            node: "POA".into(),
            role: "ds-requestor".into(),
            seq: 3,
            peer: Some("H".into()),
            started_ms: 0,
            ended_ms: 12,
            duration_ms: 12,
            status: "ok",
            full: false,
            sent: 1,
            received: 0,
            applied: 0,
            added: 1,
            updated: 0,
            deleted: 0,
            refused: 0,
            quiet_before: 14,
            error: None,
        };
        assert_eq!(
            process_text(&e),
            "dirsync with H: ok in 12 ms; sent 1 (added 1) [after 14 quiet]"
        );
        let line = Line {
            at_ms: 12,
            source: "POA.ds-requestor".into(),
            what: What::Process(e),
        };
        let json = line_json(&line);
        assert_eq!(json["kind"], "dirsync");
        assert_eq!(json["source"], "POA.ds-requestor");
        assert_eq!(json["added"], 1);
        assert_eq!(json["status"], "ok");
    }
}
