//! The status report. Keys (counts unless marked):
//!
//! * a post office's: `server` (text), `endpoint` (text), `server_epoch`,
//!   `high_water` (the server's update number applied here), `acked`,
//!   `out_seq`, `pending` (local changes not yet acknowledged),
//!   `entries.local`, `entries.imported`, `entries` (the whole GAL),
//!   `resync_active` (flag), `store_epoch` (this store's own epoch, drawn
//!   when it was created; the server ties its upload mark to it; the
//!   bridge's too), `store_renewals` (how many times the server
//!   acknowledged more than this store ever numbered, so that it drew a new
//!   epoch: an old copy of the store was put back; the bridge's too),
//!   `restore_pending` (flag: a new store that has not yet taken its post
//!   office's users back from the server), `restored_users` (how many that
//!   restore brought back: more than 0 means the store replaced a lost,
//!   emptied or replaced one);
//! * the bridge's: `mode` (text, `site`), `server` (text), `server_epoch`,
//!   `high_water`, `acked`, `out_seq`, `pending`, `entries.imported` (what
//!   this bridge keeps in the import folder), `entries.exported` (what it
//!   sent up from the export folders), `site_usn` (the site log read so
//!   far), `resync_active` (flag);
//! * then for both: `connected` (flag), `cycles`, `failures`,
//!   `consecutive_failures` (failed cycles since the last success; 0 after
//!   a success), `last_cycle_ms` (the last attempt), `last_success_ms`, `last_duration_ms`,
//!   `last_uploaded`, `last_applied`, `last_full` (flag: the last cycle was
//!   a full resync), `last_error` (text, empty when none).

use std::sync::Arc;

use dir_core::DirError;
use dir_core::requestor::{BridgeStore, SyncState};
use wire_format::{Role, StatusItem, StatusReport, StatusValue};

use super::{CycleInfo, Directory, Shared};
use crate::blocking;

fn item(key: &str, value: StatusValue) -> StatusItem {
    StatusItem {
        key: key.to_owned(),
        value,
    }
}

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, DirError> {
    let mut items = match &shared.directory {
        Directory::PostOffice(_) => post_office(shared).await?,
        Directory::Bridge { store, .. } => bridge(shared, store).await?,
    };
    let info = shared.info.lock().map(|i| i.clone()).unwrap_or_default();
    items.extend(cycles(info));
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::Requestor,
        items,
        health: wire_format::Health::Ok,
    })
}

async fn post_office(shared: &Arc<Shared>) -> Result<Vec<StatusItem>, DirError> {
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
    use StatusValue::{Count, Text};
    let mut items = vec![
        item("server", Text(server)),
        item("endpoint", Text(endpoint)),
    ];
    items.extend(sync_items(&state, counts.pending));
    items.extend([
        item("entries.local", Count(counts.local)),
        item("entries.imported", Count(counts.imported)),
        item("entries", Count(counts.local + counts.imported)),
        item("restore_pending", StatusValue::Flag(state.restore_pending)),
        item("restored_users", Count(state.restored)),
    ]);
    Ok(items)
}

async fn bridge(shared: &Shared, store: &Arc<BridgeStore>) -> Result<Vec<StatusItem>, DirError> {
    let (state, counts) = blocking::run(store, |s| Ok((s.state()?, s.counts()?))).await?;
    use StatusValue::{Count, Text};
    let mut items = vec![
        item("mode", Text("site".into())),
        item("server", Text(shared.settings.server.to_string())),
    ];
    items.extend(sync_items(&state.sync, counts.pending));
    items.extend([
        item("entries.imported", Count(counts.imported)),
        item("entries.exported", Count(counts.exported)),
        item("site_usn", Count(state.site.usn)),
    ]);
    Ok(items)
}

/// Where either directory stands with its server.
fn sync_items(state: &SyncState, pending: u64) -> [StatusItem; 8] {
    use StatusValue::{Count, Flag};
    [
        item("server_epoch", Count(state.epoch)),
        item("high_water", Count(state.mark)),
        item("acked", Count(state.acked)),
        item("out_seq", Count(state.out_seq)),
        item("pending", Count(pending)),
        item("resync_active", Flag(state.resync_active)),
        item("store_epoch", Count(state.store_epoch)),
        item("store_renewals", Count(state.renewals)),
    ]
}

fn cycles(info: CycleInfo) -> [StatusItem; 11] {
    use StatusValue::{Count, Flag, Text};
    [
        item("connected", Flag(info.connected)),
        item("cycles", Count(info.cycles)),
        item("failures", Count(info.failures)),
        item("consecutive_failures", Count(info.consecutive_failures)),
        item("last_cycle_ms", Count(info.last_cycle_ms)),
        item("last_success_ms", Count(info.last_success_ms)),
        item("last_duration_ms", Count(info.last_duration_ms)),
        item("last_uploaded", Count(info.last_uploaded)),
        item("last_applied", Count(info.last_applied)),
        item("last_full", Flag(info.last_full)),
        item("last_error", Text(info.last_error)),
    ]
}
