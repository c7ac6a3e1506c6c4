//! The durable mail store (redb): queued messages by destination post office,
//! the ids already taken (so a resent message is stored once), mailboxes,
//! users, run-time routes and endpoints, counters. Taking custody of a message
//! is one transaction: when it commits, the message is delivered or queued,
//! and only then is it acknowledged.

mod codec;
mod health;
mod tx;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use wire_format::{MailTransfer, Name};

use crate::MailError;
use crate::routing::Disposition;
use tx::Tx;

/// dest post office \0 id -> (next attempt ms, enqueued ms, attempts)
const QUEUE: TableDefinition<&[u8], (u64, u64, u64)> = TableDefinition::new("queue");
/// id -> the message (MailTransfer body encoding)
const MESSAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
/// id -> (when it was taken, its hop count then)
const SEEN: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("seen");
/// mailbox \0 arrival number -> id (16 bytes) then the message text
const MAILBOXES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("mailboxes");
/// mailbox -> salt (16) then PBKDF2-HMAC-SHA256 (32)
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const ROUTES: TableDefinition<&str, &str> = TableDefinition::new("routes");
const ENDPOINTS: TableDefinition<&str, &str> = TableDefinition::new("endpoints");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const RECEIVED: &str = "received";
pub const DELIVERED: &str = "delivered";
pub const FORWARDED: &str = "forwarded";
pub const DUPLICATES: &str = "duplicates";
pub const RETURNED: &str = "returned";
pub const DEFERRED: &str = "deferred";
const ARRIVALS: &str = "arrivals";
const SEEDED: &str = "seeded";

const PBKDF2_ROUNDS: u32 = 10_000;

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub post_office: Name,
    pub id: [u8; 16],
    pub next_attempt_ms: u64,
    pub enqueued_ms: u64,
    pub attempts: u64,
}

/// The queue in numbers (see [`MailStore::queue_summary`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QueueSummary {
    pub by_post_office: BTreeMap<Name, u64>,
    pub oldest_enqueued_ms: Option<u64>,
    /// When the oldest message for each post office was queued.
    pub oldest_by_post_office: BTreeMap<Name, u64>,
}

impl QueueSummary {
    pub fn total(&self) -> u64 {
        self.by_post_office.values().sum()
    }
}

/// A message in a mailbox, as POP3 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: Vec<u8>,
    pub uid: String,
    pub size: usize,
}

/// What one group commit did: each caller's takes, and every message it
/// queued (with its encoding's source, for the forwarders).
#[derive(Debug, Default)]
pub struct Committed {
    pub taken: Vec<Vec<Taken>>,
    pub queued: Vec<(Queued, MailTransfer)>,
}

/// What taking one message did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    pub duplicate: bool,
    pub delivered: u64,
    pub queued: u64,
    pub returned: u64,
}

pub struct MailStore {
    /// `None` only while it is being reopened, or when reopening it failed
    /// (see `health`).
    db: RwLock<Option<Database>>,
    path: PathBuf,
    cache_bytes: usize,
    health: health::Health,
}

/// A redb error as a `MailError`: an I/O error (a full disk, say), after
/// which redb refuses every operation until the database is reopened, is
/// `StoreIo`, which makes the store degraded and reopened (see `health`).
fn db_error(path: &Path, e: impl Into<redb::Error>) -> MailError {
    let e: redb::Error = e.into();
    let io = matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
    );
    let (path, reason) = (path.display().to_string(), e.to_string());
    if io {
        MailError::StoreIo { path, reason }
    } else {
        MailError::Store { path, reason }
    }
}

fn open_db(path: &Path, cache_bytes: usize) -> Result<Database, MailError> {
    Ok(store_file::open(
        path,
        redb::Builder::new().set_cache_size(cache_bytes),
    )?)
}

fn queue_key(post_office: &Name, id: &[u8; 16]) -> Vec<u8> {
    let mut k = post_office.as_str().as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(id);
    k
}

fn mailbox_prefix(mailbox: &Name) -> Vec<u8> {
    let mut k = mailbox.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

fn hash_password(password: &str, salt: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, PBKDF2_ROUNDS, &mut out);
    out
}

/// The work of a password check for a login that names no mailbox here (or
/// one without a password), so that its refusal takes as long as a wrong
/// password's and the timing does not tell which mailboxes exist.
pub fn dummy_password_check(password: &str) {
    std::hint::black_box(hash_password(password, &[0u8; 16]));
}

/// Where each group of recipients goes, decided by the caller's routing.
pub trait Router {
    fn disposition(&self, post_office: &Name) -> Disposition;
}

impl MailStore {
    /// Opens (or creates) the store in `dir` with the default cache.
    pub fn open(dir: &Path) -> Result<MailStore, MailError> {
        MailStore::open_with_cache(dir, crate::config::DEFAULT_CACHE_MIB << 20)
    }

    /// As `open`, caching at most `cache_bytes` of the file's pages in
    /// memory (redb's own default is 1 GiB).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<MailStore, MailError> {
        let path = dir.join("mail.redb");
        let db = open_db(&path, cache_bytes)?;
        let store = MailStore {
            db: RwLock::new(Some(db)),
            path,
            cache_bytes,
            health: health::Health::default(),
        };
        // Create every table, so readers never meet a missing one.
        store.write(|_| Ok(()))?;
        Ok(store)
    }

    fn err(&self, e: impl Into<redb::Error>) -> MailError {
        db_error(&self.path, e)
    }

    fn write<T>(
        &self,
        body: impl FnOnce(&mut Tx<'_>) -> Result<T, MailError>,
    ) -> Result<T, MailError> {
        self.with_db(|db| {
            let txn = db.begin_write().map_err(|e| self.err(e))?;
            let out = {
                let mut tx = Tx::open(&txn, &self.path)?;
                let out = body(&mut tx)?;
                tx.finish()?;
                out
            };
            txn.commit().map_err(|e| self.err(e))?;
            Ok(out)
        })
    }

    /// Runs `body` in a read transaction.
    fn read<T>(
        &self,
        body: impl FnOnce(&redb::ReadTransaction) -> Result<T, MailError>,
    ) -> Result<T, MailError> {
        self.with_db(|db| body(&db.begin_read().map_err(|e| self.err(e))?))
    }

    /// Several callers' takes and hand-overs in one transaction (one disk
    /// sync for all): the group commit of concurrent SMTP sessions, peer
    /// connections and forwarders. The results are in the order given, with
    /// every message the transaction queued.
    pub fn commit_batch(
        &self,
        takes: &[Vec<MailTransfer>],
        forwarded: &[Vec<Queued>],
        router: &dyn Router,
        local: (Name, Name),
        now_ms: u64,
    ) -> Result<Committed, MailError> {
        self.write(|tx| {
            let mut taken = Vec::with_capacity(takes.len());
            for messages in takes {
                taken.push(
                    messages
                        .iter()
                        .map(|m| tx.take(m, router, local, now_ms))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            tx.forget(forwarded.iter().flatten())?;
            Ok(Committed {
                taken,
                queued: std::mem::take(&mut tx.queued),
            })
        })
    }

    /// The stored messages with these ids (None for one no longer queued),
    /// read in one transaction.
    pub fn messages(&self, ids: &[[u8; 16]]) -> Result<Vec<Option<MailTransfer>>, MailError> {
        self.read(|txn| {
            let table = txn.open_table(MESSAGES).map_err(|e| self.err(e))?;
            ids.iter()
                .map(
                    |id| match table.get(id.as_slice()).map_err(|e| self.err(e))? {
                        Some(raw) => codec::decode(id, raw.value()).map(Some),
                        None => Ok(None),
                    },
                )
                .collect()
        })
    }

    /// At most `limit` of the due messages that `keep` accepts, in key order:
    /// a forwarder facing a long queue reads only what it will send now.
    pub fn due_where(
        &self,
        now_ms: u64,
        limit: usize,
        mut keep: impl FnMut(&Queued) -> bool,
    ) -> Result<Vec<Queued>, MailError> {
        let mut out = Vec::new();
        self.scan(|q| {
            if q.next_attempt_ms <= now_ms && keep(&q) {
                out.push(q);
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// How many messages wait for each destination post office, and when
    /// the oldest was queued: what the status report needs, counted in one
    /// pass that holds no queued message in memory (a hub whose next hop
    /// was down for an hour may queue millions).
    pub fn queue_summary(&self) -> Result<QueueSummary, MailError> {
        let mut summary = QueueSummary::default();
        self.scan(|q| {
            *summary.by_post_office.entry(q.post_office).or_default() += 1;
            let oldest = (summary.oldest_by_post_office)
                .entry(q.post_office)
                .or_insert(q.enqueued_ms);
            *oldest = (*oldest).min(q.enqueued_ms);
            summary.oldest_enqueued_ms = Some(
                summary
                    .oldest_enqueued_ms
                    .map_or(q.enqueued_ms, |t| t.min(q.enqueued_ms)),
            );
            true
        })?;
        Ok(summary)
    }

    pub fn queued(&self) -> Result<Vec<Queued>, MailError> {
        let mut out = Vec::new();
        self.scan(|q| {
            out.push(q);
            true
        })?;
        Ok(out)
    }

    /// Calls `each` for every queued message in key order while it says to
    /// go on.
    fn scan(&self, mut each: impl FnMut(Queued) -> bool) -> Result<(), MailError> {
        self.read(|txn| {
            let table = txn.open_table(QUEUE).map_err(|e| self.err(e))?;
            for row in table.iter().map_err(|e| self.err(e))? {
                let (key, value) = row.map_err(|e| self.err(e))?;
                let key = key.value();
                let (next_attempt_ms, enqueued_ms, attempts) = value.value();
                let Some(split) = key.iter().position(|b| *b == 0) else {
                    continue;
                };
                let (po, id) = (&key[..split], &key[split + 1..]);
                let (Ok(po), Ok(id)) = (std::str::from_utf8(po), <[u8; 16]>::try_from(id)) else {
                    continue;
                };
                let Ok(post_office) = Name::new(po) else {
                    continue;
                };
                let go_on = each(Queued {
                    post_office,
                    id,
                    next_attempt_ms,
                    enqueued_ms,
                    attempts,
                });
                if !go_on {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Try these again at `next_attempt_ms` (those still queued), in one
    /// transaction.
    pub fn defer(&self, queued: &[Queued], next_attempt_ms: u64) -> Result<(), MailError> {
        self.write(|tx| {
            let mut deferred = 0;
            for q in queued {
                let key = queue_key(&q.post_office, &q.id);
                let current = tx
                    .queue
                    .get(key.as_slice())
                    .map_err(|e| db_error(tx.path, e))?
                    .map(|v| v.value());
                if let Some((_, enqueued_ms, attempts)) = current {
                    tx.queue
                        .insert(key.as_slice(), (next_attempt_ms, enqueued_ms, attempts + 1))
                        .map_err(|e| db_error(tx.path, e))?;
                    deferred += 1;
                }
            }
            tx.add(DEFERRED, deferred);
            Ok(())
        })
    }

    /// Give up on queued messages: drop each and return it to its sender
    /// with its reason, in one transaction.
    pub fn give_up(
        &self,
        items: &[(Queued, crate::report::Failure)],
        router: &dyn Router,
        local: (Name, Name),
        now_ms: u64,
    ) -> Result<(), MailError> {
        self.write(|tx| {
            for (q, failure) in items {
                let message = tx.message(&q.id)?;
                tx.dequeue(q)?;
                if let Some(m) = message {
                    let failed: Vec<_> = m
                        .recipients
                        .iter()
                        .map(|r| (r.clone(), failure.clone()))
                        .collect();
                    let arrived = q.enqueued_ms;
                    tx.return_to_sender(&m, &failed, arrived, router, local, now_ms)?;
                }
            }
            Ok(())
        })
    }

    pub fn counters(&self) -> Result<BTreeMap<String, u64>, MailError> {
        self.read(|txn| {
            let table = txn.open_table(META).map_err(|e| self.err(e))?;
            let mut out = BTreeMap::new();
            for key in [
                RECEIVED, DELIVERED, FORWARDED, DUPLICATES, RETURNED, DEFERRED,
            ] {
                out.insert(
                    key.to_owned(),
                    table
                        .get(key)
                        .map_err(|e| self.err(e))?
                        .map_or(0, |v| v.value()),
                );
            }
            let queue = txn.open_table(QUEUE).map_err(|e| self.err(e))?;
            out.insert("queued".into(), queue.len().map_err(|e| self.err(e))?);
            Ok(out)
        })
    }

    // ---- users and mailboxes ----

    pub fn set_user(&self, mailbox: &Name, password: &str) -> Result<(), MailError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| MailError::store(&self.path, e))?;
        let mut value = salt.to_vec();
        value.extend_from_slice(&hash_password(password, &salt));
        self.write(|tx| {
            tx.users
                .insert(mailbox.as_str(), value.as_slice())
                .map_err(|e| db_error(tx.path, e))?;
            Ok(())
        })
    }

    /// The seed users of the store's first start, in one transaction, once:
    /// a restart neither resets a password changed since nor brings back a
    /// deleted user. A user without a password cannot log in until one is
    /// set. Returns how many were added (0 on every later start).
    pub fn seed_users_once(&self, users: &[(Name, Option<String>)]) -> Result<u64, MailError> {
        // Hashed before the transaction: the write lock is not held for it.
        let mut rows = Vec::with_capacity(users.len());
        for (mailbox, password) in users {
            let value = match password {
                Some(p) => {
                    let mut salt = [0u8; 16];
                    getrandom::fill(&mut salt).map_err(|e| MailError::store(&self.path, e))?;
                    let mut v = salt.to_vec();
                    v.extend_from_slice(&hash_password(p, &salt));
                    v
                }
                None => Vec::new(),
            };
            rows.push((mailbox, value));
        }
        self.write(|tx| {
            let done = tx
                .meta
                .get(SEEDED)
                .map_err(|e| db_error(tx.path, e))?
                .is_some_and(|v| v.value() != 0);
            if done {
                return Ok(0);
            }
            for (mailbox, value) in &rows {
                tx.users
                    .insert(mailbox.as_str(), value.as_slice())
                    .map_err(|e| db_error(tx.path, e))?;
            }
            tx.meta
                .insert(SEEDED, 1)
                .map_err(|e| db_error(tx.path, e))?;
            Ok(rows.len() as u64)
        })
    }

    /// Adds a user without a password (it cannot log in until one is set),
    /// unless the user exists already.
    pub fn ensure_user(&self, mailbox: &Name) -> Result<(), MailError> {
        self.write(|tx| {
            if tx
                .users
                .get(mailbox.as_str())
                .map_err(|e| db_error(tx.path, e))?
                .is_none()
            {
                tx.users
                    .insert(mailbox.as_str(), [].as_slice())
                    .map_err(|e| db_error(tx.path, e))?;
            }
            Ok(())
        })
    }

    pub fn delete_user(&self, mailbox: &Name) -> Result<bool, MailError> {
        self.write(|tx| {
            Ok(tx
                .users
                .remove(mailbox.as_str())
                .map_err(|e| db_error(tx.path, e))?
                .is_some())
        })
    }

    pub fn user_exists(&self, mailbox: &Name) -> Result<bool, MailError> {
        self.read(|txn| {
            let users = txn.open_table(USERS).map_err(|e| self.err(e))?;
            Ok(users
                .get(mailbox.as_str())
                .map_err(|e| self.err(e))?
                .is_some())
        })
    }

    /// Constant-time comparison of the derived key; no password, no login.
    pub fn check_password(&self, mailbox: &Name, password: &str) -> Result<bool, MailError> {
        self.read(|txn| {
            let users = txn.open_table(USERS).map_err(|e| self.err(e))?;
            let Some(stored) = users.get(mailbox.as_str()).map_err(|e| self.err(e))? else {
                dummy_password_check(password);
                return Ok(false);
            };
            let stored = stored.value();
            let Ok(salt) = <[u8; 16]>::try_from(stored.get(..16).unwrap_or_default()) else {
                dummy_password_check(password);
                return Ok(false);
            };
            let expected = &stored[16..];
            let got = hash_password(password, &salt);
            Ok(expected.len() == got.len()
                && expected
                    .iter()
                    .zip(got)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0)
        })
    }

    pub fn mailbox(&self, mailbox: &Name) -> Result<Vec<Stored>, MailError> {
        self.read(|txn| {
            let table = txn.open_table(MAILBOXES).map_err(|e| self.err(e))?;
            let prefix = mailbox_prefix(mailbox);
            let mut out = Vec::new();
            for row in table.range(prefix.as_slice()..).map_err(|e| self.err(e))? {
                let (key, value) = row.map_err(|e| self.err(e))?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                let value = value.value();
                let Some((id, text)) = value.split_first_chunk::<16>() else {
                    continue;
                };
                out.push(Stored {
                    key: key.value().to_vec(),
                    uid: hex::encode(id),
                    size: text.len(),
                });
            }
            Ok(out)
        })
    }

    pub fn retrieve(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MailError> {
        self.read(|txn| {
            let table = txn.open_table(MAILBOXES).map_err(|e| self.err(e))?;
            Ok(table
                .get(key)
                .map_err(|e| self.err(e))?
                .and_then(|v| v.value().get(16..).map(<[u8]>::to_vec)))
        })
    }

    pub fn delete_messages(&self, keys: &[Vec<u8>]) -> Result<(), MailError> {
        self.write(|tx| {
            for k in keys {
                tx.mailboxes
                    .remove(k.as_slice())
                    .map_err(|e| db_error(tx.path, e))?;
            }
            Ok(())
        })
    }

    // ---- run-time routes and endpoints ----

    /// Forgets up to `max` message ids taken before `before_ms`; returns how
    /// many. Ids are read in a read transaction and removed in a short write
    /// of their own, so the committer never waits behind a scan of the table.
    pub fn forget_seen_before(&self, before_ms: u64, max: usize) -> Result<u64, MailError> {
        let old: Vec<Vec<u8>> = self.read(|txn| {
            let seen = txn.open_table(SEEN).map_err(|e| self.err(e))?;
            let mut old = Vec::new();
            for row in seen.iter().map_err(|e| self.err(e))? {
                let (id, taken) = row.map_err(|e| self.err(e))?;
                if taken.value().0 < before_ms {
                    old.push(id.value().to_vec());
                    if old.len() >= max {
                        break;
                    }
                }
            }
            Ok(old)
        })?;
        if old.is_empty() {
            return Ok(0);
        }
        self.write(|tx| tx.forget_seen(&old, before_ms))
    }

    pub fn routes(&self) -> Result<BTreeMap<Name, Name>, MailError> {
        Ok(self
            .text_pairs(ROUTES)?
            .into_iter()
            .filter_map(|(k, v)| Some((Name::new(&k).ok()?, Name::new(&v).ok()?)))
            .collect())
    }

    pub fn set_route(&self, post_office: &Name, hop: &Name) -> Result<(), MailError> {
        self.write(|tx| {
            tx.routes
                .insert(post_office.as_str(), hop.as_str())
                .map_err(|e| db_error(tx.path, e))?;
            Ok(())
        })
    }

    pub fn endpoints(&self) -> Result<BTreeMap<Name, String>, MailError> {
        Ok(self
            .text_pairs(ENDPOINTS)?
            .into_iter()
            .filter_map(|(k, v)| Some((Name::new(&k).ok()?, v)))
            .collect())
    }

    pub fn set_endpoint(&self, peer: &Name, endpoint: &str) -> Result<(), MailError> {
        self.write(|tx| {
            tx.endpoints
                .insert(peer.as_str(), endpoint)
                .map_err(|e| db_error(tx.path, e))?;
            Ok(())
        })
    }

    fn text_pairs(
        &self,
        def: TableDefinition<&str, &str>,
    ) -> Result<BTreeMap<String, String>, MailError> {
        self.read(|txn| {
            let table = txn.open_table(def).map_err(|e| self.err(e))?;
            let mut out = BTreeMap::new();
            for row in table.iter().map_err(|e| self.err(e))? {
                let (k, v) = row.map_err(|e| self.err(e))?;
                out.insert(k.value().to_owned(), v.value().to_owned());
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests;
