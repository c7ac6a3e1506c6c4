//! One write transaction over every table, and the custody rules applied
//! inside it: take (dedup, deliver or queue, return), dequeue, reports.

use std::path::Path;

use redb::ReadableTable;
use tracing::warn;
use wire_format::{Address, MailKind, MailTransfer, Name};

use super::{
    ARRIVALS, DELIVERED, DUPLICATES, ENDPOINTS, FORWARDED, MAILBOXES, MESSAGES, META, QUEUE,
    Queued, RECEIVED, RETURNED, ROUTES, Router, SEEN, Taken, USERS, codec, db_error,
    mailbox_prefix, queue_key,
};
use crate::MailError;
use crate::report::{Failure, Reporter, bounce};
use crate::routing::{Disposition, copy_id, split_by_post_office};
use crate::trace::delivery_headers;

pub(super) struct Tx<'t> {
    pub(super) path: &'t Path,
    pub(super) queue: redb::Table<'t, &'static [u8], (u64, u64, u64)>,
    pub(super) messages: redb::Table<'t, &'static [u8], &'static [u8]>,
    pub(super) seen: redb::Table<'t, &'static [u8], (u64, u64)>,
    pub(super) mailboxes: redb::Table<'t, &'static [u8], &'static [u8]>,
    pub(super) users: redb::Table<'t, &'static str, &'static [u8]>,
    pub(super) routes: redb::Table<'t, &'static str, &'static str>,
    pub(super) endpoints: redb::Table<'t, &'static str, &'static str>,
    pub(super) meta: redb::Table<'t, &'static str, u64>,
    /// What this transaction queued, so that once it commits the forwarders
    /// can send it from memory instead of reading it back.
    pub(super) queued: Vec<(Queued, MailTransfer)>,
    /// Counter increments and the last arrival number, written to `meta`
    /// once by `finish`: a group commit of fifty deliveries would otherwise
    /// rewrite the same rows 150 times.
    counts: Vec<(&'static str, u64)>,
    arrivals: Option<u64>,
}

impl<'t> Tx<'t> {
    pub(super) fn open(
        txn: &'t redb::WriteTransaction,
        path: &'t Path,
    ) -> Result<Tx<'t>, MailError> {
        let e = |err: redb::TableError| db_error(path, err);
        Ok(Tx {
            path,
            queue: txn.open_table(QUEUE).map_err(e)?,
            messages: txn.open_table(MESSAGES).map_err(e)?,
            seen: txn.open_table(SEEN).map_err(e)?,
            mailboxes: txn.open_table(MAILBOXES).map_err(e)?,
            users: txn.open_table(USERS).map_err(e)?,
            routes: txn.open_table(ROUTES).map_err(e)?,
            endpoints: txn.open_table(ENDPOINTS).map_err(e)?,
            meta: txn.open_table(META).map_err(e)?,
            queued: Vec::new(),
            counts: Vec::new(),
            arrivals: None,
        })
    }

    fn counter(&self, key: &str) -> Result<u64, MailError> {
        Ok(self
            .meta
            .get(key)
            .map_err(|e| db_error(self.path, e))?
            .map_or(0, |v| v.value()))
    }

    pub(super) fn add(&mut self, key: &'static str, n: u64) {
        match self.counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, pending)) => *pending += n,
            None => self.counts.push((key, n)),
        }
    }

    /// Writes what `add` and `deliver` kept in memory; the transaction
    /// commits after this.
    pub(super) fn finish(&mut self) -> Result<(), MailError> {
        for (key, n) in std::mem::take(&mut self.counts) {
            let total = self.counter(key)? + n;
            self.set_counter(key, total)?;
        }
        if let Some(arrival) = self.arrivals {
            self.set_counter(ARRIVALS, arrival)?;
        }
        Ok(())
    }

    fn set_counter(&mut self, key: &str, value: u64) -> Result<(), MailError> {
        self.meta
            .insert(key, value)
            .map_err(|e| db_error(self.path, e))?;
        Ok(())
    }

    fn has_user(&self, mailbox: &Name) -> Result<bool, MailError> {
        Ok(self
            .users
            .get(mailbox.as_str())
            .map_err(|e| db_error(self.path, e))?
            .is_some())
    }

    pub(super) fn message(&self, id: &[u8; 16]) -> Result<Option<MailTransfer>, MailError> {
        match self
            .messages
            .get(id.as_slice())
            .map_err(|e| db_error(self.path, e))?
        {
            Some(raw) => codec::decode(id, raw.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Drops messages the next hop acknowledged, counting only those still
    /// queued, so a message handed over twice is counted once.
    pub(super) fn forget<'q>(
        &mut self,
        done: impl Iterator<Item = &'q Queued>,
    ) -> Result<(), MailError> {
        let mut count = 0;
        for q in done {
            if self.dequeue(q)? {
                count += 1;
            }
        }
        if count > 0 {
            self.add(FORWARDED, count);
        }
        Ok(())
    }

    /// Forgets the ids still taken before `before_ms` (one may have been
    /// taken again since it was read); returns how many went.
    pub(super) fn forget_seen(
        &mut self,
        ids: &[Vec<u8>],
        before_ms: u64,
    ) -> Result<u64, MailError> {
        let mut forgotten = 0;
        for id in ids {
            let old = self
                .seen
                .get(id.as_slice())
                .map_err(|e| db_error(self.path, e))?
                .is_some_and(|taken| taken.value().0 < before_ms);
            if old {
                self.seen
                    .remove(id.as_slice())
                    .map_err(|e| db_error(self.path, e))?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }

    /// Drops the queued copy `q` names; false if that copy is no longer
    /// queued: it was handed over twice, or a routing loop brought the
    /// message back and a new copy (a later `enqueued_ms`) waits in its
    /// place, which a hand-over of the old one must not drop.
    pub(super) fn dequeue(&mut self, q: &Queued) -> Result<bool, MailError> {
        let key = queue_key(&q.post_office, &q.id);
        let this_copy = self
            .queue
            .get(key.as_slice())
            .map_err(|e| db_error(self.path, e))?
            .is_some_and(|row| row.value().1 == q.enqueued_ms);
        if !this_copy {
            return Ok(false);
        }
        self.queue
            .remove(key.as_slice())
            .map_err(|e| db_error(self.path, e))?;
        self.messages
            .remove(q.id.as_slice())
            .map_err(|e| db_error(self.path, e))?;
        Ok(true)
    }

    pub(super) fn take(
        &mut self,
        m: &MailTransfer,
        router: &dyn Router,
        local: (Name, Name),
        now_ms: u64,
    ) -> Result<Taken, MailError> {
        let groups = split_by_post_office(&m.recipients);
        let hops = u64::from(m.hop_count);
        let seen = self
            .seen
            .get(m.message_id.as_slice())
            .map_err(|e| db_error(self.path, e))?
            .map(|v| v.value().1);
        if let Some(seen_hops) = seen {
            // The same sender resending (a lost ack) sends the same hop
            // count. More hops means the message went round a loop (routes
            // changed in an unlucky order): refusing it as a duplicate would
            // lose it, so a router in transit takes it again and the hop
            // limit ends a real loop. A final delivery is never repeated.
            let transit = groups
                .keys()
                .all(|po| router.disposition(po) != Disposition::Local);
            if !(transit && hops > seen_hops) {
                self.add(DUPLICATES, 1);
                return Ok(Taken {
                    duplicate: true,
                    ..Taken::default()
                });
            }
        }
        self.seen
            .insert(m.message_id.as_slice(), (now_ms, hops))
            .map_err(|e| db_error(self.path, e))?;
        self.add(RECEIVED, 1);
        let mut taken = Taken::default();
        // A message for one post office keeps its id end to end, so copies
        // that reach it by two paths (a route changed mid-flight) are stored once.
        let single = groups.len() == 1;
        let mut failed: Vec<(Address, Failure)> = Vec::new();
        for (po, recipients) in groups {
            match router.disposition(&po) {
                Disposition::Local => {
                    for r in &recipients {
                        if self.has_user(&r.mailbox)? {
                            self.deliver(r, m, &m.message_id, &m.body)?;
                            taken.delivered += 1;
                        } else {
                            failed.push((r.clone(), Failure::no_mailbox()));
                        }
                    }
                }
                Disposition::Forward(_) => {
                    let id = if single {
                        m.message_id
                    } else {
                        copy_id(&m.message_id, &po)
                    };
                    let copy = MailTransfer {
                        message_id: id,
                        recipients,
                        ..m.clone()
                    };
                    self.enqueue(&po, &copy, now_ms)?;
                    taken.queued += 1;
                }
                Disposition::Unroutable => {
                    failed.extend(recipients.into_iter().map(|r| (r, Failure::no_route(&po))));
                }
            }
        }
        if !failed.is_empty() {
            let arrived = now_ms;
            taken.returned += self.return_to_sender(m, &failed, arrived, router, local, now_ms)?;
        }
        Ok(taken)
    }

    /// Puts `body` (of `m`, or of the report on it) into `to`'s mailbox,
    /// below the `Return-Path:` and `Delivered-To:` of this final delivery.
    fn deliver(
        &mut self,
        to: &Address,
        m: &MailTransfer,
        id: &[u8; 16],
        body: &[u8],
    ) -> Result<(), MailError> {
        let mailbox = &to.mailbox;
        let return_path = (m.kind != MailKind::NonDelivery).then_some(&m.from);
        let arrival = match self.arrivals {
            Some(last) => last,
            None => self.counter(ARRIVALS)?,
        } + 1;
        self.arrivals = Some(arrival);
        let mut key = mailbox_prefix(mailbox);
        key.extend_from_slice(&arrival.to_be_bytes());
        let headers = delivery_headers(return_path, to);
        let mut value = Vec::with_capacity(id.len() + headers.len() + body.len());
        value.extend_from_slice(id);
        value.extend_from_slice(headers.as_bytes());
        value.extend_from_slice(body);
        self.mailboxes
            .insert(key.as_slice(), value.as_slice())
            .map_err(|e| db_error(self.path, e))?;
        // Counted here, so a report returned into a local mailbox counts too.
        self.add(DELIVERED, 1);
        Ok(())
    }

    fn enqueue(&mut self, po: &Name, m: &MailTransfer, now_ms: u64) -> Result<(), MailError> {
        let bytes = codec::encode(m).map_err(|e| MailError::store(self.path, e))?;
        self.messages
            .insert(m.message_id.as_slice(), bytes.as_slice())
            .map_err(|e| db_error(self.path, e))?;
        let key = queue_key(po, &m.message_id);
        // A copy still queued (its hand-over not yet forgotten) gets a
        // successor with a later `enqueued_ms`, which is how `dequeue` tells
        // the two apart.
        let previous = self
            .queue
            .get(key.as_slice())
            .map_err(|e| db_error(self.path, e))?
            .map(|row| row.value().1);
        let enqueued_ms = match previous {
            Some(earlier) if earlier >= now_ms => earlier + 1,
            _ => now_ms,
        };
        self.queue
            .insert(key.as_slice(), (now_ms, enqueued_ms, 0))
            .map_err(|e| db_error(self.path, e))?;
        let queued = Queued {
            post_office: *po,
            id: m.message_id,
            next_attempt_ms: now_ms,
            enqueued_ms,
            attempts: 0,
        };
        self.queued.push((queued, m.clone()));
        Ok(())
    }

    /// Queues (or delivers) a non-delivery report; returns 1 if one was made.
    /// A report that fails is dropped (its envelope sender is empty, RFC
    /// 3464 2), with a log line: it is the operator's to know.
    pub(super) fn return_to_sender(
        &mut self,
        m: &MailTransfer,
        failed: &[(Address, Failure)],
        arrived_ms: u64,
        router: &dyn Router,
        local: (Name, Name),
        now_ms: u64,
    ) -> Result<u64, MailError> {
        let reporter = Reporter {
            node: local.0,
            network: local.1,
            now_ms,
            arrived_ms,
        };
        let Some(ndr) = bounce(&reporter, m, failed) else {
            if m.kind == MailKind::NonDelivery {
                for (r, f) in failed {
                    warn!(
                        report = %hex::encode(m.message_id), recipient = %r, status = f.status,
                        reason = %f.reason,
                        "dropped an undeliverable delivery report: a report is never returned"
                    );
                }
            }
            return Ok(0);
        };
        self.add(RETURNED, 1);
        self.seen
            .insert(ndr.message_id.as_slice(), (now_ms, 0))
            .map_err(|e| db_error(self.path, e))?;
        let sender = &m.from;
        match router.disposition(&sender.post_office) {
            Disposition::Local => {
                if self.has_user(&sender.mailbox)? {
                    self.deliver(sender, &ndr, &ndr.message_id, &ndr.body)?;
                } else {
                    warn!(
                        report = %hex::encode(ndr.message_id), %sender,
                        "dropped a delivery report: its recipient's mailbox is gone"
                    );
                }
            }
            Disposition::Forward(_) => self.enqueue(&sender.post_office, &ndr, now_ms)?,
            // Nowhere to return it: a report is never bounced.
            Disposition::Unroutable => warn!(
                report = %hex::encode(ndr.message_id), %sender,
                "dropped a delivery report: no route to its recipient's post office"
            ),
        }
        Ok(1)
    }
}
