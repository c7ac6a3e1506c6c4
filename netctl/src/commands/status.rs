//! `netctl status`: every process, whether it is alive, and what it reports.
//!
//! `--json` prints one object: `{"network": NAME, "processes": [...]}`, each
//! process with `id` (`NODE.role`), `node`, `role`, `pid`, `alive` (bool),
//! `endpoints` (service to `host:port`), for mail routers `smtp` and `pop3`
//! (`host:port`), `status` (the process's status keys to numbers, strings or
//! booleans; see each role's documentation) and `error` (why status could not
//! be read, or null).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use wire_format::StatusValue;

use crate::NetctlError;
use crate::client::Operator;
use crate::state::{NetworkState, Secrets};
use crate::supervisor;

pub type Reports = BTreeMap<String, Result<Vec<(String, StatusValue)>, String>>;

pub fn collect(data_dir: &Path) -> Result<(NetworkState, Reports), NetctlError> {
    let state = NetworkState::load(data_dir)?;
    let secrets = Secrets::load(data_dir)?;
    let mut reports = BTreeMap::new();
    for p in &state.processes {
        let report = if !supervisor::alive(p.pid) {
            Err("not running".to_owned())
        } else {
            match p.wire() {
                Some(wire) => Operator::connect(wire, secrets.operator.expose())
                    .and_then(|mut op| op.status())
                    .map_err(|e| e.to_string()),
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
            let (status, error) = match reports.and_then(|r| r.get(&p.id)) {
                Some(Ok(items)) => (
                    json!(
                        items
                            .iter()
                            .map(|(k, v)| (k.clone(), value_json(v)))
                            .collect::<serde_json::Map<_, _>>()
                    ),
                    Value::Null,
                ),
                Some(Err(e)) => (Value::Null, json!(e)),
                None => (Value::Null, Value::Null),
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
                "status": status,
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
            Some(Ok(items)) => {
                // Post offices' mail routers: where users' clients connect.
                let clients: String = ["smtp", "pop3"]
                    .iter()
                    .filter_map(|s| Some(format!("  {s} {}", p.endpoints.get(*s)?)))
                    .collect();
                println!(
                    "  {:<24} up    pid {:<8} {}{clients}",
                    p.id,
                    p.pid,
                    p.wire().unwrap_or("-")
                );
                for (key, value) in items {
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
