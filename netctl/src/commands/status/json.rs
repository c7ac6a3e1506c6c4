//! The `--json` form: every process with its status keys (the object
//! `netctl up --json` prints too), and for `status` the summary beside it.

use serde_json::{Value, json};
use wire_format::StatusValue;

use super::summary::Summary;
use super::{Reports, health};
use crate::state::NetworkState;
use crate::supervisor;

fn value_json(v: &StatusValue) -> Value {
    match v {
        StatusValue::Count(n) => json!(n),
        StatusValue::Text(t) => json!(t),
        StatusValue::Flag(b) => json!(b),
    }
}

/// `{"network", "processes": [...]}`, each process as the module
/// documentation says; without reports, `status`, `health` and `error` are
/// null.
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
                "metrics": p.endpoints.get("metrics"),
                "ldap": p.endpoints.get("ldap"),
                "ldaps": p.endpoints.get("ldaps"),
                "status": status,
                "health": state,
                "degraded": degraded,
                "error": error,
            })
        })
        .collect();
    json!({ "network": state.network, "processes": processes })
}

/// [`processes_json`] with `"summary"`: the rows of the human summary.
pub fn status_json(state: &NetworkState, reports: &Reports, summary: &Summary) -> Value {
    let mut v = processes_json(state, Some(reports));
    v["summary"] = serde_json::to_value(summary).unwrap_or(Value::Null);
    v
}
