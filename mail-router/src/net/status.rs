//! The status report. Keys: `mode` (text); `hub` (text, a post office's
//! current hub); `queue.total`;
//! `queue.<next hop>.depth` (queued messages whose route leads there, for
//! every peer;
//! `queue.unroutable.depth` for none); `queue.oldest_age_ms`; totals since the
//! store was created: `received`, `delivered` (into local mailboxes),
//! `forwarded`, `duplicates` (resent messages stored once), `returned`
//! (non-delivery reports made), `deferred`; `peer.<P>.connected` (flag) and
//! `peer.<P>.last_error` (text, empty when none).
//!
//! While the store is degraded (an I/O error, say a full disk, until it is
//! reopened: see `store::health`) the report's health says so and why, and
//! the queue and the totals, which need the store, are left out if it
//! cannot be read.

use std::collections::BTreeMap;
use std::sync::Arc;

use wire_format::limits::MAX_STATUS_TEXT_LEN;
use wire_format::{Health, Role, StatusItem, StatusReport, StatusValue};

use super::{Shared, now_ms};
use crate::MailError;
use crate::routing::{Disposition, effective_hub};
use crate::store::{QueueSummary, Router};

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, MailError> {
    // Read first: reading reopens a degraded store when its time has come.
    let stored = shared
        .blocking(|s| Ok((s.store.queue_summary()?, s.store.counters()?)))
        .await;
    let health = match shared.store.degraded() {
        Some(reason) => Health::Degraded(cut(reason)),
        None => Health::Ok,
    };
    let mut items = vec![StatusItem {
        key: "mode".into(),
        value: StatusValue::Text(format!("{:?}", shared.settings.mode)),
    }];
    let hub = {
        let routes = shared.routes.read().unwrap_or_else(|p| p.into_inner());
        let s = &shared.settings;
        effective_hub(s.node, s.mode, s.hub, &routes)
    };
    if let Some(hub) = hub {
        items.push(StatusItem {
            key: "hub".into(),
            value: StatusValue::Text(hub.to_string()),
        });
    }
    match stored {
        Ok((queue, counters)) => queue_items(shared, queue, counters, &mut items),
        Err(_) if health != Health::Ok => {}
        Err(e) => return Err(e),
    }
    let peers = shared.peers.lock().map(|p| p.clone()).unwrap_or_default();
    for peer in &shared.settings.peers {
        let state = peers.get(&peer.name).cloned().unwrap_or_default();
        items.push(StatusItem {
            key: format!("peer.{}.connected", peer.name),
            value: StatusValue::Flag(state.connected),
        });
        items.push(StatusItem {
            key: format!("peer.{}.last_error", peer.name),
            value: StatusValue::Text(state.last_error.unwrap_or_default()),
        });
    }
    Ok(StatusReport {
        node: shared.settings.node,
        role: Role::MailRouter,
        items,
        health,
    })
}

/// The queue's depth by next hop, its oldest message's age, and the totals.
fn queue_items(
    shared: &Shared,
    queue: QueueSummary,
    counters: BTreeMap<String, u64>,
    items: &mut Vec<StatusItem>,
) {
    let count = |key: String, n: u64| StatusItem {
        key,
        value: StatusValue::Count(n),
    };
    // Every peer is listed, so an empty queue shows as 0 rather than nothing.
    let mut depth: BTreeMap<String, u64> = shared
        .settings
        .peers
        .iter()
        .map(|p| (p.name.to_string(), 0))
        .collect();
    for (post_office, n) in &queue.by_post_office {
        let hop = match shared.disposition(post_office) {
            Disposition::Forward(hop) => hop.to_string(),
            Disposition::Local | Disposition::Unroutable => "unroutable".into(),
        };
        *depth.entry(hop).or_default() += n;
    }
    items.push(count("queue.total".into(), queue.total()));
    for (hop, n) in depth {
        items.push(count(format!("queue.{hop}.depth"), n));
    }
    let oldest = queue
        .oldest_enqueued_ms
        .map_or(0, |t| now_ms().saturating_sub(t));
    items.push(count("queue.oldest_age_ms".into(), oldest));
    for (key, n) in counters {
        if key != "queued" {
            items.push(count(key, n));
        }
    }
}

/// At most what the report's text field holds, cut at a character.
fn cut(mut text: String) -> String {
    let mut at = text.len().min(MAX_STATUS_TEXT_LEN);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text
}
