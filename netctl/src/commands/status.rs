//! `netctl status`: every process, whether it is alive, and what it reports.
//!
//! `--json` prints one object: `{"network": NAME, "processes": [...]}`, each
//! process with `id` (`NODE.role`), `node`, `role`, `pid`, `alive` (bool),
//! `endpoints` (service to `host:port`), for mail routers `smtp`, `pop3`,
//! `pop3s` (POP3 over TLS), `smtps` and `submission` (`host:port`, or null
//! where the router does not listen: a hub, or a service this build lacks;
//! the TLS ones are checked with `DATA_DIR/tls/ca.pem`), `status` (the process's status keys to numbers, strings or
//! booleans; see each role's documentation), `health` (`"ok"`, `"degraded"`,
//! or null when the status could not be read), `degraded` (why the process
//! is degraded, or null) and `error` (why status could not be read, or
//! null).
//!
//! A degraded process runs and answers, but part of its work fails until
//! the cause is gone (a store that cannot be written on a full disk, say):
//! the human form shows it as `DEGRADED` with a `degraded: <reason>` line.

use std::collections::BTreeMap;
use std::path::Path;

use peer_link::LinkError;
use serde_json::{Value, json};
use wire_format::{Health, Message, StatusRequest, StatusValue};

use crate::NetctlError;
use crate::client::Operator;
use crate::state::{NetworkState, Secrets};
use crate::supervisor;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

pub fn run(data_dir: &Path, json: bool, _args: &StatusArgs) -> Result<(), NetctlError> {
    let (state, reports) = collect(data_dir)?;
    if json {
        println!("{}", processes_json(&state, Some(&reports)));
    } else {
        print(&state, &reports);
    }
    Ok(())
}

/// What one process reported: its status keys, in its order, and its health.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub items: Vec<(String, StatusValue)>,
    pub health: Health,
}

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

fn value_json(v: &StatusValue) -> Value {
    match v {
        StatusValue::Count(n) => json!(n),
        StatusValue::Text(t) => json!(t),
        StatusValue::Flag(b) => json!(b),
    }
}

pub fn processes_json(state: &NetworkState, reports: Option<&Reports>) -> Value {
    let processes: Vec<Value> = state
        .processes
        .iter()
        .map(|p| {
            let (status, error, state, degraded) = match reports.and_then(|r| r.get(&p.id)) {
                Some(Ok(report)) => {
                    let (_, state, degraded) = health(&report.health);
                    (
                        json!(
                            report
                                .items
                                .iter()
                                .map(|(k, v)| (k.clone(), value_json(v)))
                                .collect::<serde_json::Map<_, _>>()
                        ),
                        Value::Null,
                        json!(state),
                        json!(degraded),
                    )
                }
                Some(Err(e)) => (Value::Null, json!(e), Value::Null, Value::Null),
                None => (Value::Null, Value::Null, Value::Null, Value::Null),
            };
            json!({
                "id": p.id,
                "node": p.node,
                "role": p.role,
                "pid": p.pid,
                "alive": supervisor::alive(p.pid),
                "endpoints": p.endpoints,
                "smtp": p.endpoints.get("smtp"),
                "pop3": p.endpoints.get("pop3"),
                "pop3s": p.endpoints.get("pop3s"),
                "smtps": p.endpoints.get("smtps"),
                "submission": p.endpoints.get("submission"),
                "status": status,
                "health": state,
                "degraded": degraded,
                "error": error,
            })
        })
        .collect();
    json!({ "network": state.network, "processes": processes })
}

pub fn print(state: &NetworkState, reports: &Reports) {
    println!("network {}", state.network);
    for p in &state.processes {
        match reports.get(&p.id) {
            Some(Ok(report)) => {
                // Post offices' mail routers: where users' clients connect.
                let clients: String = ["smtp", "submission", "smtps", "pop3", "pop3s"]
                    .iter()
                    .filter_map(|s| Some(format!("  {s} {}", p.endpoints.get(*s)?)))
                    .collect();
                let (state, _, degraded) = health(&report.health);
                println!(
                    "  {:<24} {state:<5} pid {:<8} {}{clients}",
                    p.id,
                    p.pid,
                    p.wire().unwrap_or("-")
                );
                if let Some(reason) = degraded {
                    println!("      degraded: {reason}");
                }
                for (key, value) in &report.items {
                    let shown = match value {
                        StatusValue::Count(n) => n.to_string(),
                        StatusValue::Text(t) if t.is_empty() => "-".to_owned(),
                        StatusValue::Text(t) => t.clone(),
                        StatusValue::Flag(b) => if *b { "yes" } else { "no" }.to_owned(),
                    };
                    println!("      {key:<34} {shown}");
                }
            }
            Some(Err(e)) => println!("  {:<24} DOWN  pid {:<8} {e}", p.id, p.pid),
            None => println!("  {:<24} ?", p.id),
        }
    }
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
