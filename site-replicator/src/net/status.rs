//! The status report. Keys (all counts unless marked):
//!
//! * `epoch`, `usn`: this server's log epoch and end;
//! * `folder.<F>.entries`: live entries per folder (`folder.F1.entries` is the
//!   migration gauge: what is left of the old network);
//! * `peer.<P>.endpoint` (text), `peer.<P>.connected` (flag),
//!   `peer.<P>.mark_usn` (the peer's log as far as applied here),
//!   `peer.<P>.peer_usn` (the peer's log end as last heard),
//!   `peer.<P>.lag_changes` (log positions not yet pulled; an upper bound on
//!   changes, since some are filtered), `peer.<P>.lag_seconds`,
//!   `peer.<P>.in_sync` (flag), `peer.<P>.last_success_ms` (0: never),
//!   `peer.<P>.last_attempt_ms` (the last connection or pull tried; 0:
//!   never), `peer.<P>.consecutive_failures` (failed connections and
//!   sessions since the last successful pull; 0 after one),
//!   `peer.<P>.last_error` (text, empty when none);
//! * `changes.applied`, `changes.already_seen`, `changes.superseded`,
//!   `tombstones.collected`: totals since the store was created.

use std::sync::Arc;

use wire_format::{Role, StatusItem, StatusReport, StatusValue};

use super::{Shared, now_ms};
use crate::SiteError;

fn count(key: String, n: u64) -> StatusItem {
    StatusItem {
        key,
        value: StatusValue::Count(n),
    }
}

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, SiteError> {
    let peers: Vec<_> = shared.settings.peers.iter().map(|(n, _)| *n).collect();
    let (high_water, folders, counters, marks) = shared
        .with_store(move |s| {
            let marks: Vec<_> = peers
                .iter()
                .map(|p| s.peer_mark(p).map(|m| (*p, m)))
                .collect::<Result<_, _>>()?;
            Ok((s.high_water()?, s.folder_counts()?, s.counters()?, marks))
        })
        .await?;
    let mut items = vec![
        count("epoch".into(), shared.store.epoch()),
        count("usn".into(), high_water),
    ];
    for (folder, n) in folders {
        items.push(count(format!("folder.{folder}.entries"), n));
    }
    let now = now_ms();
    let states = shared.peers.lock().map(|p| p.clone()).unwrap_or_default();
    for (peer, (_, mark_usn)) in marks {
        let state = states.get(&peer).cloned().unwrap_or_default();
        let lag = state.peer_usn.saturating_sub(mark_usn);
        // Behind: how long since the last pull that brought us up to date.
        let lag_seconds = if lag > 0 && state.last_success_ms > 0 {
            now.saturating_sub(state.last_success_ms) / 1000
        } else {
            0
        };
        let p = |field: &str| format!("peer.{peer}.{field}");
        items.push(StatusItem {
            key: p("endpoint"),
            value: StatusValue::Text(state.endpoint.unwrap_or_default()),
        });
        items.push(StatusItem {
            key: p("connected"),
            value: StatusValue::Flag(state.connected),
        });
        items.push(count(p("mark_usn"), mark_usn));
        items.push(count(p("peer_usn"), state.peer_usn));
        items.push(count(p("lag_changes"), lag));
        items.push(count(p("lag_seconds"), lag_seconds));
        items.push(StatusItem {
            key: p("in_sync"),
            value: StatusValue::Flag(state.connected && lag == 0 && state.last_error.is_none()),
        });
        items.push(count(p("last_success_ms"), state.last_success_ms));
        items.push(count(p("last_attempt_ms"), state.last_attempt_ms));
        items.push(count(p("consecutive_failures"), state.consecutive_failures));
        items.push(StatusItem {
            key: p("last_error"),
            value: StatusValue::Text(state.last_error.unwrap_or_default()),
        });
    }
    for (name, n) in counters {
        let key = if name == "collected" {
            "tombstones.collected".to_owned()
        } else {
            format!("changes.{name}")
        };
        items.push(count(key, n));
    }
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::SiteReplicator,
        items,
        health: wire_format::Health::Ok,
    })
}
