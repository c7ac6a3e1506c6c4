//! The status report. Keys: `mode` (text); `hub` (text, a post office's
//! current hub); `queue.total`;
//! `queue.<next hop>.depth` (queued messages whose route leads there, for
//! every peer; `queue.unroutable.depth` for none) and
//! `queue.<next hop>.oldest_age_ms` (the oldest of them, 0 when none);
//! `queue.oldest_age_ms` (the whole queue's); totals since the store was
//! created: `received`, `delivered` (into local mailboxes), `forwarded`,
//! `duplicates` (resent messages stored once), `returned` (non-delivery
//! reports made), `deferred`; per peer P: `peer.<P>.connected` (flag),
//! `peer.<P>.last_error` (text, empty when none),
//! `peer.<P>.consecutive_failures` (failed hand-over rounds since the last
//! one that handed mail over), `peer.<P>.last_success_ms` (when P last took
//! mail from here; 0: not since the start); and since the start, a post
//! office's client listeners: `smtp.connections` (smtp, smtps and
//! submission connections admitted), `smtp.rejected.<code>` (SMTP replies
//! with that 4xx or 5xx code, e.g. `smtp.rejected.550`; a code never sent
//! has no key), `pop3.connections` (pop3 and pop3s).
//!
//! While the store is degraded (an I/O error, say a full disk, until it is
//! reopened: see `store::health`) the report's health says so and why, and
//! the queue and the totals, which need the store, are left out if it
//! cannot be read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use wire_format::limits::MAX_STATUS_TEXT_LEN;
use wire_format::{Health, Role, StatusItem, StatusReport, StatusValue};

use super::counts::ClientCounts;
use super::{Shared, now_ms};
use crate::MailError;
use crate::config::Mode;
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
        items.push(StatusItem {
            key: format!("peer.{}.consecutive_failures", peer.name),
            value: StatusValue::Count(state.consecutive_failures),
        });
        items.push(StatusItem {
            key: format!("peer.{}.last_success_ms", peer.name),
            value: StatusValue::Count(state.last_success_ms),
        });
    }
    if shared.settings.mode == Mode::PostOffice {
        client_items(&shared.clients, &mut items);
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
    // Every peer is listed, so an empty queue shows as 0 rather than
    // nothing: (depth, oldest enqueued) by next hop.
    let mut hops: BTreeMap<String, (u64, Option<u64>)> = shared
        .settings
        .peers
        .iter()
        .map(|p| (p.name.to_string(), (0, None)))
        .collect();
    for (post_office, n) in &queue.by_post_office {
        let hop = match shared.disposition(post_office) {
            Disposition::Forward(hop) => hop.to_string(),
            Disposition::Local | Disposition::Unroutable => "unroutable".into(),
        };
        let (depth, oldest) = hops.entry(hop).or_default();
        *depth += n;
        if let Some(at) = queue.oldest_by_post_office.get(post_office) {
            *oldest = Some(oldest.map_or(*at, |o| o.min(*at)));
        }
    }
    let now = now_ms();
    let age = |enqueued: Option<u64>| enqueued.map_or(0, |t| now.saturating_sub(t));
    items.push(count("queue.total".into(), queue.total()));
    for (hop, (depth, oldest)) in hops {
        items.push(count(format!("queue.{hop}.depth"), depth));
        items.push(count(format!("queue.{hop}.oldest_age_ms"), age(oldest)));
    }
    items.push(count(
        "queue.oldest_age_ms".into(),
        age(queue.oldest_enqueued_ms),
    ));
    for (key, n) in counters {
        if key != "queued" {
            items.push(count(key, n));
        }
    }
}

/// What a post office's SMTP and POP3 listeners have seen.
fn client_items(clients: &ClientCounts, items: &mut Vec<StatusItem>) {
    let count = |key: String, n: u64| StatusItem {
        key,
        value: StatusValue::Count(n),
    };
    let smtp = clients.smtp_connections.load(Ordering::Relaxed);
    items.push(count("smtp.connections".into(), smtp));
    for (code, n) in clients.smtp_rejected() {
        items.push(count(format!("smtp.rejected.{code}"), n));
    }
    let pop3 = clients.pop3_connections.load(Ordering::Relaxed);
    items.push(count("pop3.connections".into(), pop3));
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
