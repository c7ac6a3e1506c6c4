//! `netctl status`: every process, whether it is alive, and what it reports.
//!
//! The human form is a summary first (`summary`, rendered by `human`): a
//! line of counts, then one line per process (state `up`/`DEGRADED`/`DOWN`,
//! pid, the figures that matter for its role: entries, the import folder
//! F1 as the migration gauge, the mail queue), then one line per link
//! (dirsync requestor -> server, replication partner, mail next hop in
//! use): state, how far behind, last success ("3 s ago"), consecutive
//! failures, last error; each list worst first. `--errors-only` keeps what
//! is wrong; `--verbose` adds every status key of every process.
//!
//! `--json` prints one object: `{"network": NAME, "processes": [...],
//! "summary": {...}}`, each process with `id` (`NODE.role`), `node`,
//! `role`, `pid`, `alive` (bool), `endpoints` (service to `host:port`),
//! `metrics` (its metrics and health HTTP listener `host:port`, or null),
//! for mail routers `smtp`, `pop3`, `pop3s` (POP3 over TLS), `smtps` and
//! `submission` (`host:port`, or null where the router does not listen: a
//! hub, or a service this build lacks; the TLS ones are checked with
//! `DATA_DIR/tls/ca.pem`), `status` (the process's status keys to numbers,
//! strings or booleans; see each role's documentation), `health` (`"ok"`,
//! `"degraded"`, or null when the status could not be read), `degraded`
//! (why the process is degraded, or null) and `error` (why status could not
//! be read, or null). `summary` is [`summary::Summary`] serialised; its
//! fields are listed in [`JSON_HELP`] (the end of `--help`).
//!
//! A degraded process runs and answers, but part of its work fails until
//! the cause is gone (a store that cannot be written on a full disk, say):
//! the human form shows it as `DEGRADED` with its reason.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use peer_link::LinkError;
use wire_format::{Health, Message, StatusRequest, StatusValue};

use crate::NetctlError;
use crate::client::Operator;
use crate::state::{NetworkState, Secrets};
use crate::supervisor;

#[cfg(test)]
pub(crate) mod fixtures;
mod human;
mod json;
pub mod keys;
pub mod summary;

pub use human::{ago, duration, headline};
pub use json::{processes_json, status_json};

/// The options of `netctl status`. Its `--json` form is [`JSON_HELP`],
/// shown at the end of `--help` (the summary's fields are those of
/// [`summary::Summary`]).
#[derive(Debug, Default, clap::Args)]
#[command(after_long_help = JSON_HELP)]
pub struct StatusArgs {
    /// Only what is wrong: processes down or degraded, links down or
    /// failing (or a line saying all is well).
    #[arg(long)]
    pub errors_only: bool,
    /// After the summary, every status key of every process (times also
    /// as "3 s ago").
    #[arg(long, conflicts_with = "errors_only")]
    pub verbose: bool,
}

/// The `--json` object, as `--help` shows it.
pub const JSON_HELP: &str = "\
--json: {\"network\", \"processes\": [{\"id\", \"node\", \"role\", \"pid\", \"alive\",
\"endpoints\", \"metrics\", \"ldap\", \"ldaps\", \"smtp\", \"pop3\", \"pop3s\", \"smtps\", \"submission\",
\"status\", \"health\", \"degraded\", \"error\"}], \"summary\": {\"network\", \"now_ms\",
\"totals\": {\"processes\", \"up\", \"degraded\", \"down\", \"links\", \"failing\",
\"lagging\", \"mail_queued\"}, \"processes\": [{\"id\", \"node\", \"role\", \"pid\",
\"health\" (down|degraded|up), \"figures\": [{\"key\", \"value\"}], \"reason\"}],
\"links\": [{\"kind\" (dirsync|replication|mail), \"from\", \"to\",
\"health\" (down|failing|lagging|ok), \"down\", \"in_sync\", \"lag_changes\",
\"lag_seconds\", \"queued\", \"oldest_age_ms\", \"connected\", \"last_attempt_ms\",
\"last_success_ms\", \"consecutive_failures\", \"last_error\"}]}}.
Lists are worst first. Times are epoch milliseconds (0: never); null: not
reported. With --errors-only, \"summary\" keeps only what is wrong.";

pub fn run(data_dir: &Path, json: bool, args: &StatusArgs) -> Result<(), NetctlError> {
    let (state, reports) = collect(data_dir)?;
    let now = crate::migrate::run::now_ms();
    let mut summary = summary::summarize(&state, &reports, now);
    let lines = if json {
        if args.errors_only {
            summary = summary.errors_only();
        }
        vec![status_json(&state, &reports, &summary).to_string()]
    } else {
        let mut lines = human::summary_lines(&summary, args.errors_only);
        if args.verbose {
            lines.push(String::new());
            lines.extend(human::detail_lines(&state, &reports, now));
        }
        lines
    };
    // A reader that went away (`| head -1`) ends the output, not netctl
    // with an error.
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(())
}

/// What one process reported: its status keys, in its order, and its health.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub items: Vec<(String, StatusValue)>,
    pub health: Health,
}

/// Each process's report by id (`NODE.role`), or why it could not be read.
pub type Reports = BTreeMap<String, Result<Report, String>>;

fn report(op: &mut Operator) -> Result<Report, LinkError> {
    match op.request(StatusRequest)? {
        Message::StatusReport(r) => Ok(Report {
            items: r.items.into_iter().map(|i| (i.key, i.value)).collect(),
            health: r.health,
        }),
        other => Err(LinkError::unexpected("StatusReport", &other)),
    }
}

/// The state column and the health for `--json`: (`up`/`DEGRADED`,
/// `"ok"`/`"degraded"`, the reason).
fn health(health: &Health) -> (&'static str, &'static str, Option<&str>) {
    match health {
        Health::Ok => ("up", "ok", None),
        Health::Degraded(reason) => ("DEGRADED", "degraded", Some(reason)),
    }
}

/// The network's state and every process's report, asked over its wire
/// listener (a process not running is not asked).
pub fn collect(data_dir: &Path) -> Result<(NetworkState, Reports), NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    let mut reports = BTreeMap::new();
    for p in &state.processes {
        let report = if !supervisor::alive(p.pid) {
            Err("not running".to_owned())
        } else {
            match p.wire() {
                Some(wire) => secrets
                    .operator(&p.id)
                    .map_err(|e| e.to_string())
                    .and_then(|key| {
                        Operator::connect(wire, key)
                            .and_then(|mut op| report(&mut op))
                            .map_err(|e| e.to_string())
                    }),
                None => Err("announced no wire listener".to_owned()),
            }
        };
        reports.insert(p.id.clone(), report);
    }
    Ok((state, reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degraded_process_shows_as_degraded_with_its_reason() {
        assert_eq!(health(&Health::Ok), ("up", "ok", None));
        let reason = "mail store /d/mail.redb: I/O error: No space left on device";
        assert_eq!(
            health(&Health::Degraded(reason.into())),
            ("DEGRADED", "degraded", Some(reason))
        );
    }
}
