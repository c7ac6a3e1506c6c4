//! `/health/ready`'s rule: a process is ready when it serves, is not
//! degraded, and has caught up within `ready_lag_seconds`, as its own
//! status report tells:
//!
//! * DS requestor: connected to its server, and its last successful cycle
//!   no older than the bound;
//! * site replicator: every peer pulled from at least once, and no peer's
//!   `lag_seconds` over the bound;
//! * mail router: the oldest queued message no older than the bound;
//! * DS server: serving is enough (its requestors' lag is theirs to
//!   report).
//!
//! Also the count behind `mhub_store_errors_total`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use wire_format::{Health, Role, StatusReport, StatusValue};

use super::table::matches;

/// Ok when `report` (taken at `now_ms`) says its process is caught up
/// within `bound_s` seconds; else the reason, one line.
pub fn readiness(report: &StatusReport, bound_s: u64, now_ms: u64) -> Result<(), String> {
    if let Health::Degraded(reason) = &report.health {
        return Err(format!("degraded: {}", one_line(reason)));
    }
    let bound_ms = bound_s.saturating_mul(1000);
    match report.role {
        Role::Requestor => {
            if flag(report, "connected") != Some(true) {
                return Err("not connected to its DS server".into());
            }
            match count(report, "last_success_ms") {
                None | Some(0) => Err("no successful sync cycle yet".into()),
                Some(at) if now_ms.saturating_sub(at) > bound_ms => Err(format!(
                    "last successful sync cycle {} s ago (bound {bound_s} s)",
                    now_ms.saturating_sub(at) / 1000
                )),
                Some(_) => Ok(()),
            }
        }
        Role::SiteReplicator => {
            for item in &report.items {
                let value = match &item.value {
                    StatusValue::Count(n) => *n,
                    _ => continue,
                };
                if let Some(peer) = matches("peer.*.last_success_ms", &item.key)
                    && value == 0
                {
                    return Err(format!("no successful pull from peer {peer} yet"));
                }
                if let Some(peer) = matches("peer.*.lag_seconds", &item.key)
                    && value > bound_s
                {
                    return Err(format!("{value} s behind peer {peer} (bound {bound_s} s)"));
                }
            }
            Ok(())
        }
        Role::MailRouter => match count(report, "queue.oldest_age_ms") {
            Some(age) if age > bound_ms => Err(format!(
                "the oldest queued message is {} s old (bound {bound_s} s)",
                age / 1000
            )),
            _ => Ok(()),
        },
        Role::DsServer | Role::Operator => Ok(()),
    }
}

fn value<'r>(report: &'r StatusReport, key: &str) -> Option<&'r StatusValue> {
    (report.items.iter())
        .find(|i| i.key == key)
        .map(|i| &i.value)
}

fn count(report: &StatusReport, key: &str) -> Option<u64> {
    match value(report, key)? {
        StatusValue::Count(n) => Some(*n),
        _ => None,
    }
}

fn flag(report: &StatusReport, key: &str) -> Option<bool> {
    match value(report, key)? {
        StatusValue::Flag(b) => Some(*b),
        _ => None,
    }
}

/// `text` on one line: a reason goes into a one-line answer.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Store faults seen (see [`store_file::faults`]): each open store's first
/// I/O error counts once, when first seen. A store reopened (the mail
/// router does that itself) that fails again counts again.
#[derive(Debug, Default)]
pub struct StoreErrors {
    seen: Mutex<(HashSet<(PathBuf, String)>, u64)>,
}

impl StoreErrors {
    /// Looks at the faults now; returns the count so far.
    pub fn observe(&self) -> u64 {
        let now: HashSet<(PathBuf, String)> = (store_file::faults().into_iter())
            .map(|f| (f.path, f.error))
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (before, total) = &mut *seen;
        *total += now.difference(before).count() as u64;
        *before = now;
        *total
    }
}
