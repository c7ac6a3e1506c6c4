//! The status report. Keys: `mode` (text); `hub` (text, a post office's
//! current hub); `queue.total`;
//! `queue.<next hop>.depth` (queued messages whose route leads there, for
//! every peer;
//! `queue.unroutable.depth` for none); `queue.oldest_age_ms`; totals since the
//! store was created: `received`, `delivered` (into local mailboxes),
//! `forwarded`, `duplicates` (resent messages stored once), `returned`
//! (non-delivery reports made), `deferred`; `peer.<P>.connected` (flag) and
//! `peer.<P>.last_error` (text, empty when none).

use std::collections::BTreeMap;
use std::sync::Arc;

use wire_format::{Role, StatusItem, StatusReport, StatusValue};

use super::{Shared, now_ms};
use crate::MailError;
use crate::routing::{Disposition, effective_hub};
use crate::store::Router;

pub async fn report(shared: &Arc<Shared>) -> Result<StatusReport, MailError> {
    let (queue, counters) = shared
        .blocking(|s| Ok((s.store.queue_summary()?, s.store.counters()?)))
        .await?;
    let count = |key: String, n: u64| StatusItem {
        key,
        value: StatusValue::Count(n),
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
        health: wire_format::Health::Ok,
    })
}
