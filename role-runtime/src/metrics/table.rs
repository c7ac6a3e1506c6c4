//! The one table from a role's status report to metric names: every metric
//! a process exposes, its type, its help text and where its value comes
//! from. `docs/METRICS.md` lists the same names (a test checks it).
//!
//! Names follow the Prometheus conventions: the `mhub_` prefix, base units
//! (seconds, not milliseconds), `_total` on counters and on nothing else,
//! times as `_timestamp_seconds` since the epoch (0: never).

use wire_format::Role;

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows while the process runs (it may start again from 0 when
    /// the process or its store starts afresh; `rate()` copes with that).
    Counter,
    Gauge,
}

/// How a status value becomes a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count, as is.
    Count,
    /// A flag: 1 or 0.
    Flag,
    /// Milliseconds (a duration or an epoch time) as seconds.
    Millis,
}

/// What the process knows of itself rather than reads from its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Up,
    Degraded,
    Ready,
    BuildInfo,
    StoreErrors,
}

/// Where a metric's samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Keys of one role's status report. A `*` in `key` stands for one
    /// name (a requestor, a peer, a folder, a next hop, a reply code),
    /// which becomes the value of `label`.
    Key {
        role: Role,
        key: &'static str,
        label: Option<&'static str>,
        unit: Unit,
    },
    Fact(Fact),
}

/// One metric of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// As exposed; a counter's ends in `_total`.
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub source: Source,
}

const fn key(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    role: Role,
    key: &'static str,
    label: Option<&'static str>,
    unit: Unit,
) -> Metric {
    Metric {
        name,
        kind,
        help,
        source: Source::Key {
            role,
            key,
            label,
            unit,
        },
    }
}

const fn fact(name: &'static str, kind: Kind, help: &'static str, fact: Fact) -> Metric {
    Metric {
        name,
        kind,
        help,
        source: Source::Fact(fact),
    }
}

use Kind::{Counter, Gauge};
use Role::{DsServer, MailRouter, Requestor, SiteReplicator};
use Unit::{Count, Flag, Millis};

const REQUESTOR: Option<&str> = Some("requestor");
const PEER: Option<&str> = Some("peer");
const HOP: Option<&str> = Some("next_hop");

/// Every metric, in the order they are exposed (one a line: a table).
#[rustfmt::skip]
pub const TABLE: &[Metric] = &[
    // Every process.
    fact("mhub_up", Gauge, "1 while the process serves (it answered this scrape).", Fact::Up),
    fact(
        "mhub_degraded",
        Gauge,
        "1 while the process reports degraded health (part of its work fails, e.g. a store that cannot be written); /health/ready gives the reason.",
        Fact::Degraded,
    ),
    fact(
        "mhub_ready",
        Gauge,
        "1 when /health/ready answers 200: serving and caught up within ready_lag_seconds.",
        Fact::Ready,
    ),
    fact(
        "mhub_build_info",
        Gauge,
        "Always 1; the labels name the binary (role), its version and the node.",
        Fact::BuildInfo,
    ),
    fact(
        "mhub_store_errors_total",
        Counter,
        "Store I/O faults seen since the process started: each open store that failed an I/O operation (it then refuses writes until reopened).",
        Fact::StoreErrors,
    ),
    // DS server: each requestor it serves.
    key("mhub_dirsync_server_entries", Gauge, "Live entries of the DS server's master list.", DsServer, "entries", None, Count),
    key("mhub_dirsync_server_high_water", Gauge, "The DS server's last update number.", DsServer, "high_water", None, Count),
    key("mhub_dirsync_lag_changes", Gauge, "Update numbers the requestor has not pulled yet.", DsServer, "requestor.*.lag_updates", REQUESTOR, Count),
    key("mhub_dirsync_in_sync", Gauge, "1 when the requestor has pulled everything (and pulled at least once).", DsServer, "requestor.*.in_sync", REQUESTOR, Flag),
    key("mhub_dirsync_requestor_connected", Gauge, "1 when the requestor has connected since the server started.", DsServer, "requestor.*.connected", REQUESTOR, Flag),
    key("mhub_dirsync_last_pull_timestamp_seconds", Gauge, "When the requestor last pulled (epoch seconds; 0: not since the server started).", DsServer, "requestor.*.last_pull_ms", REQUESTOR, Millis),
    key("mhub_dirsync_refused_writes_total", Counter, "Changes of the requestor refused since the server started (not its own users).", DsServer, "requestor.*.refused_writes", REQUESTOR, Count),
    // DS requestor (a post office's, or the bridge's towards the old hub).
    key("mhub_dirsync_connected", Gauge, "1 while the requestor is connected to its DS server.", Requestor, "connected", None, Flag),
    key("mhub_dirsync_consecutive_failures", Gauge, "Failed sync cycles since the last successful one.", Requestor, "consecutive_failures", None, Count),
    key("mhub_dirsync_last_success_timestamp_seconds", Gauge, "When the last sync cycle succeeded (epoch seconds; 0: not since the start).", Requestor, "last_success_ms", None, Millis),
    key("mhub_dirsync_last_attempt_timestamp_seconds", Gauge, "When the last sync cycle ran (epoch seconds; 0: not since the start).", Requestor, "last_cycle_ms", None, Millis),
    key("mhub_dirsync_last_duration_seconds", Gauge, "How long the last sync cycle took.", Requestor, "last_duration_ms", None, Millis),
    key("mhub_dirsync_cycles_total", Counter, "Sync cycles run since the start.", Requestor, "cycles", None, Count),
    key("mhub_dirsync_failures_total", Counter, "Sync cycles failed since the start.", Requestor, "failures", None, Count),
    key("mhub_dirsync_pending_changes", Gauge, "Local changes the server has not acknowledged yet.", Requestor, "pending", None, Count),
    key("mhub_gal_entries", Gauge, "Entries of a post office's global address list (its own users and imported ones).", Requestor, "entries", None, Count),
    key("mhub_dirsync_imported_entries", Gauge, "Entries imported from the DS server (for the bridge: what it keeps in the import folder F1).", Requestor, "entries.imported", None, Count),
    // Site replicator: folders and replication partners.
    key("mhub_directory_entries", Gauge, "Live entries per folder of the site directory (F1 is the migration gauge: it shrinks as post offices move).", SiteReplicator, "folder.*.entries", Some("folder"), Count),
    key("mhub_replication_usn", Gauge, "The site replicator's log end (update sequence number).", SiteReplicator, "usn", None, Count),
    key("mhub_replication_lag_changes", Gauge, "Log positions of the peer not pulled yet (an upper bound on changes).", SiteReplicator, "peer.*.lag_changes", PEER, Count),
    key("mhub_replication_lag_seconds", Gauge, "How long the replicator has been behind the peer (0 when caught up).", SiteReplicator, "peer.*.lag_seconds", PEER, Count),
    key("mhub_replication_in_sync", Gauge, "1 when connected to the peer with nothing left to pull and no error.", SiteReplicator, "peer.*.in_sync", PEER, Flag),
    key("mhub_replication_connected", Gauge, "1 while connected to the peer.", SiteReplicator, "peer.*.connected", PEER, Flag),
    key("mhub_replication_consecutive_failures", Gauge, "Failed pulls from the peer since the last successful one.", SiteReplicator, "peer.*.consecutive_failures", PEER, Count),
    key("mhub_replication_last_success_timestamp_seconds", Gauge, "When the last pull from the peer succeeded (epoch seconds; 0: not since the start).", SiteReplicator, "peer.*.last_success_ms", PEER, Millis),
    key("mhub_replication_changes_applied_total", Counter, "Replicated changes applied since the store was created.", SiteReplicator, "changes.applied", None, Count),
    // Mail router.
    key("mhub_mail_queue_depth", Gauge, "Queued messages whose route leads to the next hop (unroutable: none).", MailRouter, "queue.*.depth", HOP, Count),
    key("mhub_mail_queue_messages", Gauge, "Queued messages, all next hops.", MailRouter, "queue.total", None, Count),
    key("mhub_mail_queue_oldest_age_seconds", Gauge, "Age of the oldest queued message (0: the queue is empty).", MailRouter, "queue.oldest_age_ms", None, Millis),
    key("mhub_mail_queue_next_hop_oldest_age_seconds", Gauge, "Age of the oldest message queued for the next hop (0: none).", MailRouter, "queue.*.oldest_age_ms", HOP, Millis),
    key("mhub_mail_received_total", Counter, "Messages taken (from clients and peers) since the store was created.", MailRouter, "received", None, Count),
    key("mhub_mail_delivered_total", Counter, "Messages delivered into local mailboxes since the store was created.", MailRouter, "delivered", None, Count),
    key("mhub_mail_forwarded_total", Counter, "Messages handed to a peer since the store was created.", MailRouter, "forwarded", None, Count),
    key("mhub_mail_returned_total", Counter, "Non-delivery reports made since the store was created.", MailRouter, "returned", None, Count),
    key("mhub_mail_deferred_total", Counter, "Hand-overs put off for a retry since the store was created.", MailRouter, "deferred", None, Count),
    key("mhub_mail_duplicates_total", Counter, "Resent messages stored once since the store was created.", MailRouter, "duplicates", None, Count),
    key("mhub_mail_peer_connected", Gauge, "1 while connected to the peer mail router.", MailRouter, "peer.*.connected", PEER, Flag),
    key("mhub_mail_peer_consecutive_failures", Gauge, "Failed hand-overs to the peer since the last one that went through.", MailRouter, "peer.*.consecutive_failures", PEER, Count),
    key("mhub_mail_peer_last_success_timestamp_seconds", Gauge, "When the peer last took mail from here (epoch seconds; 0: not since the start).", MailRouter, "peer.*.last_success_ms", PEER, Millis),
    key("mhub_smtp_connections_total", Counter, "SMTP connections admitted (smtp, smtps, submission) since the start.", MailRouter, "smtp.connections", None, Count),
    key("mhub_smtp_rejected_total", Counter, "SMTP replies with a 4xx or 5xx code, by code, since the start.", MailRouter, "smtp.rejected.*", Some("code"), Count),
    key("mhub_pop3_connections_total", Counter, "POP3 connections admitted (pop3, pop3s) since the start.", MailRouter, "pop3.connections", None, Count),
];

/// The name `*` stands for in `pattern` if `key` matches it: one name,
/// non-empty and without a dot. `Some("")` for a pattern without `*` that
/// `key` equals.
pub fn matches<'k>(pattern: &str, key: &'k str) -> Option<&'k str> {
    let Some((before, after)) = pattern.split_once('*') else {
        return (pattern == key).then_some("");
    };
    let name = key.strip_prefix(before)?.strip_suffix(after)?;
    (!name.is_empty() && !name.contains('.')).then_some(name)
}
