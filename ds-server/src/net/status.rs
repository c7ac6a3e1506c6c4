//! The status report. Keys (counts unless marked): `epoch`, `high_water`,
//! `entries` (live), `log_floor`; per configured requestor R:
//! `requestor.R.upload_mark` (its changes applied here, by its sequence),
//! `requestor.R.pulled_after` / `requestor.R.served_high_water` (its
//! high-water mark as of its last pull, and what it was given),
//! `requestor.R.lag_updates` (update numbers it has not pulled yet),
//! `requestor.R.in_sync` (flag), `requestor.R.connected` (flag),
//! `requestor.R.removed` (flag), `requestor.R.last_pull_ms`,
//! `requestor.R.refused_writes`, `requestor.R.store_epoch` (the epoch of
//! the requestor store its upload mark counts in, 0 before its first
//! upload), `requestor.R.store_epoch_changes` (how many times a new store
//! replaced a lost, emptied or replaced one: each time, its mark started
//! again from 0 and it took its users back from here).

use std::sync::Arc;

use dir_core::DirError;
use wire_format::{Role, StatusItem, StatusReport, StatusValue};

use super::Shared;

fn item(key: String, value: StatusValue) -> StatusItem {
    StatusItem { key, value }
}

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, DirError> {
    let names: Vec<_> = shared
        .settings
        .requestors
        .iter()
        .map(|r| r.policy.name)
        .collect();
    let store = &shared.store;
    let mut marks = Vec::with_capacity(names.len());
    for name in names {
        let epoch = store.store_epoch(name).await?;
        marks.push((name, store.upload_mark(name).await?, epoch));
    }
    let high_water = store.high_water().await?;
    let live = store.live_entries().await?;
    let floor = store.floor().await?;
    let mut items = vec![
        item("epoch".into(), StatusValue::Count(shared.store.epoch())),
        item("high_water".into(), StatusValue::Count(high_water)),
        item("entries".into(), StatusValue::Count(live)),
        item("log_floor".into(), StatusValue::Count(floor)),
    ];
    let seen = shared.seen.lock().map(|s| s.clone()).unwrap_or_default();
    for (name, mark, epoch) in marks {
        let s = seen.get(&name).cloned().unwrap_or_default();
        let k = |f: &str| format!("requestor.{name}.{f}");
        let lag = high_water.saturating_sub(s.served_high_water);
        items.extend([
            item(k("upload_mark"), StatusValue::Count(mark)),
            item(k("pulled_after"), StatusValue::Count(s.pulled_after)),
            item(
                k("served_high_water"),
                StatusValue::Count(s.served_high_water),
            ),
            item(k("lag_updates"), StatusValue::Count(lag)),
            item(
                k("in_sync"),
                StatusValue::Flag(lag == 0 && s.last_pull_ms > 0),
            ),
            item(k("connected"), StatusValue::Flag(s.connections > 0)),
            item(k("removed"), StatusValue::Flag(shared.is_removed(&name))),
            item(k("last_pull_ms"), StatusValue::Count(s.last_pull_ms)),
            item(k("refused_writes"), StatusValue::Count(s.refused_writes)),
            item(k("store_epoch"), StatusValue::Count(epoch.epoch)),
            item(k("store_epoch_changes"), StatusValue::Count(epoch.changes)),
        ]);
    }
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::DsServer,
        items,
        health: wire_format::Health::Ok,
    })
}
