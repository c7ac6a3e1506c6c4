//! The status report. Keys (counts unless marked): `server` (text),
//! `endpoint` (text), `server_epoch`, `high_water` (the server's update
//! number applied here), `acked`, `out_seq`, `pending` (local changes not
//! yet acknowledged), `entries.local`, `entries.imported`, `entries` (the
//! whole GAL), `resync_active` (flag), `connected` (flag), `cycles`,
//! `failures`, `last_cycle_ms`, `last_success_ms`, `last_duration_ms`,
//! `last_applied`, `last_full` (flag: the last cycle was a full resync),
//! `last_error` (text, empty when none).

use std::sync::Arc;

use dir_core::DirError;
use wire_format::{Role, StatusItem, StatusReport, StatusValue};

use super::Shared;

fn item(key: &str, value: StatusValue) -> StatusItem {
    StatusItem {
        key: key.to_owned(),
        value,
    }
}

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, DirError> {
    let (state, counts, server) = shared
        .with_store(|s| Ok((s.state()?, s.counts()?, s.current_server()?)))
        .await?;
    let (server, endpoint) = server.unwrap_or_else(|| {
        let name = shared.settings.server;
        (
            name.to_string(),
            shared
                .settings
                .server(&name)
                .map(|s| s.endpoint.clone())
                .unwrap_or_default(),
        )
    });
    let info = shared.info.lock().map(|i| i.clone()).unwrap_or_default();
    use StatusValue::{Count, Flag, Text};
    let items = vec![
        item("server", Text(server)),
        item("endpoint", Text(endpoint)),
        item("server_epoch", Count(state.epoch)),
        item("high_water", Count(state.mark)),
        item("acked", Count(state.acked)),
        item("out_seq", Count(state.out_seq)),
        item("pending", Count(counts.pending)),
        item("entries.local", Count(counts.local)),
        item("entries.imported", Count(counts.imported)),
        item("entries", Count(counts.local + counts.imported)),
        item("resync_active", Flag(state.resync_active)),
        item("connected", Flag(info.connected)),
        item("cycles", Count(info.cycles)),
        item("failures", Count(info.failures)),
        item("last_cycle_ms", Count(info.last_cycle_ms)),
        item("last_success_ms", Count(info.last_success_ms)),
        item("last_duration_ms", Count(info.last_duration_ms)),
        item("last_applied", Count(info.last_applied)),
        item("last_full", Flag(info.last_full)),
        item("last_error", Text(info.last_error)),
    ];
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::Requestor,
        items,
    })
}
