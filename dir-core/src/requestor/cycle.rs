//! One dirsync cycle of a requestor as a state machine with no I/O: upload
//! the own changes until the server acknowledges them all, then pull what
//! the server has after the mark, apply it in batches, and record the end.
//!
//! The shell drives it: it does what each [`Step`] says (a store operation,
//! a request to the server, a write to the site directory) and feeds the
//! outcome back ([`Cycle::stored`], [`Cycle::reply`], [`Cycle::written`])
//! to get the next step. The store operations run against a
//! [`CycleStore`] with [`perform`], so the same machine serves a post
//! office (whose directory is its own store) and the bridge (whose
//! directory is the site replicator's, written before the store records it).
//!
//! The durability rules are the machine's order of steps: an upload is
//! acknowledged in the store only after the server's ack; a batch is
//! committed (and an incremental mark moved) only after its writes; the
//! pull's end, and so the high water, is recorded only with the last batch.

use wire_format::{DirUpdate, DirUpload, Entry, Message};

use super::outbox::{Ledger, Outgoing, SyncState};
use super::session::PullSession;
use crate::DirError;

/// Upload rounds in one cycle, so a misbehaving server cannot keep a cycle
/// going forever.
const MAX_UPLOADS: u32 = 100_000;

/// The end of a pull: the server's epoch and the high water to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullEnd {
    pub epoch: u64,
    pub high_water: u64,
}

/// Updates to apply in one commit. Incremental (`full_gen` None): the mark
/// moves to the last update with them. With `end`, the pull's end commits
/// with them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub full_gen: Option<u64>,
    pub updates: Vec<DirUpdate>,
    pub end: Option<PullEnd>,
}

/// What a requestor's store does for a cycle.
pub trait CycleStore {
    /// Whether batches go somewhere else before they are committed (a
    /// [`Op::Stage`] step); a store that is the directory itself skips it.
    const STAGES: bool = true;
    /// The own changes on their way up, and the resync generation.
    fn ledger(&self) -> Ledger<'_>;
    /// What must be written to the directory outside this store before
    /// `batch` is committed (none when the store is the directory).
    fn stage(&self, batch: &Batch) -> Result<Vec<Entry>, DirError>;
    /// Commits `batch` in one transaction; returns the changes it made to a
    /// directory the store keeps itself.
    fn commit(&self, batch: &Batch) -> Result<u64, DirError>;
}

/// A store operation the shell must perform (with [`perform`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    State,
    Pending(usize),
    RecordAck(u64),
    BeginFull,
    Stage(Batch),
    Commit(Batch),
}

/// The outcome of an [`Op`], fed back with [`Cycle::stored`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    State(SyncState),
    Pending(Outgoing),
    /// `renewed`: the store found itself older than the server's record and
    /// drew a new epoch ([`Ledger::record_ack`]).
    Acked {
        renewed: bool,
    },
    Full(u64),
    Staged(Batch, Vec<Entry>),
    Committed(u64),
}

/// Performs one store operation.
pub fn perform(store: &impl CycleStore, op: Op) -> Result<Stored, DirError> {
    Ok(match op {
        Op::State => Stored::State(store.ledger().sync_state()?),
        Op::Pending(max) => Stored::Pending(store.ledger().outgoing(max)?),
        Op::RecordAck(through) => Stored::Acked {
            renewed: store.ledger().record_ack(through)?,
        },
        Op::BeginFull => Stored::Full(store.ledger().begin_full()?),
        Op::Stage(batch) => {
            let writes = store.stage(&batch)?;
            Stored::Staged(batch, writes)
        }
        Op::Commit(batch) => Stored::Committed(store.commit(&batch)?),
    })
}

/// What the shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Store(Op),
    /// Send this request to the server; feed its first reply to [`Cycle::reply`].
    Request(Message),
    /// Feed the next reply to the last request to [`Cycle::reply`].
    Receive,
    /// Write these entries to the site directory; then call [`Cycle::written`].
    Write(Vec<Entry>),
    Done(CycleReport),
}

/// What a cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub uploaded: u64,
    pub applied: u64,
    pub full: bool,
    /// The store was new and took its own users back from the server (the
    /// store's [`SyncState::restored`] says how many).
    pub restored: bool,
    /// The server acknowledged more than the store ever numbered: the store
    /// drew a new epoch ([`Ledger::record_ack`]).
    pub renewed: bool,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the store's pending changes; `after_empty`: the last
    /// upload was empty (it only learnt the server's ack).
    Pending {
        after_empty: bool,
    },
    Uploaded {
        sent: u64,
    },
    Acking {
        sent: u64,
    },
    State,
    Pulling,
    BeginningFull,
    Staging,
    Writing {
        batch: Batch,
        writes: u64,
    },
    Committing {
        last: bool,
    },
    Done,
}

#[derive(Debug)]
pub struct Cycle {
    phase: Phase,
    upload_chunk: usize,
    apply_batch: usize,
    uploads: u32,
    report: CycleReport,
    start: SyncState,
    session: Option<PullSession>,
    full_gen: Option<u64>,
    buffer: Vec<DirUpdate>,
    /// The server's pull stream has ended (its `DirPullEnd` was fed).
    pull_ended: bool,
    /// See [`CycleStore::STAGES`].
    stages: bool,
    /// This cycle's pull restores a new store's own users: once committed,
    /// the cycle uploads what waited for it, and pulls again.
    restoring: bool,
}

impl Phase {
    /// What the machine waits for, for an error message (a `Debug` of the
    /// phase would print a whole batch).
    fn waits_for(&self) -> &'static str {
        match self {
            Phase::Pending { .. } => "the pending changes",
            Phase::Uploaded { .. } => "the server's upload ack",
            Phase::Acking { .. } => "the ack's record",
            Phase::State => "the sync state",
            Phase::Pulling => "the server's pull reply",
            Phase::BeginningFull => "a resync generation",
            Phase::Staging => "a staged batch",
            Phase::Writing { .. } => "a site write's end",
            Phase::Committing { .. } => "a batch's commit",
            Phase::Done => "nothing (the cycle is over)",
        }
    }
}

impl Stored {
    fn name(&self) -> &'static str {
        match self {
            Stored::State(_) => "a sync state",
            Stored::Pending(_) => "pending changes",
            Stored::Acked { .. } => "an ack's record",
            Stored::Full(_) => "a resync generation",
            Stored::Staged(..) => "a staged batch",
            Stored::Committed(_) => "a batch's commit",
        }
    }
}

fn out_of_order(got: &str, phase: &Phase) -> DirError {
    DirError::Cycle(format!("got {got} while waiting for {}", phase.waits_for()))
}

impl Cycle {
    /// A cycle that uploads up to `upload_chunk` changes per request and
    /// commits pulled updates every `apply_batch` of them, with a
    /// [`Op::Stage`] step first if `stages` (the store's
    /// [`CycleStore::STAGES`]); and its first step.
    pub fn new(upload_chunk: usize, apply_batch: usize, stages: bool) -> (Cycle, Step) {
        let upload_chunk = upload_chunk.max(1);
        let cycle = Cycle {
            phase: Phase::Pending { after_empty: false },
            upload_chunk,
            apply_batch: apply_batch.max(1),
            uploads: 0,
            report: CycleReport::default(),
            start: SyncState::default(),
            session: None,
            full_gen: None,
            buffer: Vec::new(),
            pull_ended: false,
            stages,
            restoring: false,
        };
        (cycle, Step::Store(Op::Pending(upload_chunk)))
    }

    /// Whether the server is still streaming the current pull, so that the
    /// next frame will be asked for ([`Step::Receive`]) once the store and
    /// site steps in hand are done. A shell may read that frame while a
    /// store step runs (receiving overlaps committing, as a resync wants)
    /// and feed it when asked.
    pub fn pull_streaming(&self) -> bool {
        self.session.is_some() && !self.pull_ended
    }

    /// Feeds the outcome of the last [`Step::Store`].
    pub fn stored(&mut self, outcome: Stored) -> Result<Step, DirError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match (phase, outcome) {
            (
                Phase::Pending { after_empty },
                Stored::Pending(Outgoing {
                    store_epoch,
                    changes,
                }),
            ) => {
                if after_empty && changes.is_empty() {
                    self.phase = Phase::State;
                    return Ok(Step::Store(Op::State));
                }
                self.uploads += 1;
                if self.uploads > MAX_UPLOADS {
                    return Err(DirError::Protocol("the upload never completed".into()));
                }
                self.phase = Phase::Uploaded {
                    sent: changes.len() as u64,
                };
                Ok(Step::Request(
                    DirUpload {
                        store_epoch,
                        changes,
                    }
                    .into(),
                ))
            }
            (Phase::Acking { sent }, Stored::Acked { renewed }) => {
                // After a renewal, what was sent was skipped by the server
                // and is queued still: it goes up at once, under the new
                // epoch. A server that skips it again ignores epochs.
                if renewed && self.report.renewed {
                    return Err(DirError::Protocol(
                        "the server acknowledged changes this store never made, twice in one cycle: it ignores the store's epoch".into(),
                    ));
                }
                self.report.renewed |= renewed;
                if !renewed {
                    self.report.uploaded += sent;
                }
                self.phase = Phase::Pending {
                    after_empty: sent == 0 && !renewed,
                };
                Ok(Step::Store(Op::Pending(self.upload_chunk)))
            }
            (Phase::State, Stored::State(state)) => {
                let (session, request) = PullSession::begin(&state, false);
                self.restoring = request.restore;
                self.start = state;
                self.session = Some(session);
                self.full_gen = None;
                self.pull_ended = false;
                self.phase = Phase::Pulling;
                Ok(Step::Request(request.into()))
            }
            (Phase::BeginningFull, Stored::Full(generation)) => {
                self.full_gen = Some(generation);
                self.phase = Phase::Pulling;
                Ok(Step::Receive)
            }
            (Phase::Staging, Stored::Staged(batch, writes)) => {
                if writes.is_empty() {
                    return Ok(self.commit(batch));
                }
                self.phase = Phase::Writing {
                    batch,
                    writes: writes.len() as u64,
                };
                Ok(Step::Write(writes))
            }
            (Phase::Committing { last }, Stored::Committed(applied)) => {
                self.report.applied += applied;
                if last && self.restoring {
                    // The restore is committed: now the changes made in
                    // the new store go up, and a second (incremental) pull
                    // brings what the server took meanwhile.
                    self.restoring = false;
                    self.report.restored = true;
                    self.phase = Phase::Pending { after_empty: false };
                    return Ok(Step::Store(Op::Pending(self.upload_chunk)));
                }
                if last {
                    return Ok(Step::Done(self.report));
                }
                self.phase = Phase::Pulling;
                Ok(Step::Receive)
            }
            (phase, outcome) => Err(out_of_order(outcome.name(), &phase)),
        }
    }

    /// Feeds the end of the last [`Step::Write`].
    pub fn written(&mut self) -> Result<Step, DirError> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Writing { batch, writes } => {
                self.report.applied += writes;
                Ok(self.commit(batch))
            }
            phase => Err(out_of_order("a write's end", &phase)),
        }
    }

    /// Feeds the server's reply to the last request.
    pub fn reply(&mut self, message: Message) -> Result<Step, DirError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match (phase, message) {
            (Phase::Uploaded { sent }, Message::DirUploadAck(ack)) => {
                self.phase = Phase::Acking { sent };
                Ok(Step::Store(Op::RecordAck(ack.applied_through)))
            }
            (Phase::Uploaded { .. }, other) => Err(DirError::Protocol(format!(
                "expected DirUploadAck, got {}",
                other.message_type().name()
            ))),
            (Phase::Pulling, message) => self.pulled(message),
            (phase, message) => Err(out_of_order(message.message_type().name(), &phase)),
        }
    }

    fn pulled(&mut self, message: Message) -> Result<Step, DirError> {
        let Some(session) = self.session.as_mut() else {
            return Err(out_of_order("a pull's reply", &Phase::Pulling));
        };
        match message {
            Message::DirPullStart(start) => {
                let full = session.start(&start)?;
                // Only a full answer restores (the store keeps its restore
                // pending otherwise, and asks again next cycle).
                self.restoring &= full;
                if full {
                    self.phase = Phase::BeginningFull;
                    return Ok(Step::Store(Op::BeginFull));
                }
                self.phase = Phase::Pulling;
                Ok(Step::Receive)
            }
            Message::DirUpdates(chunk) => {
                session.updates(&chunk)?;
                self.buffer.extend(chunk.updates);
                if self.buffer.len() < self.apply_batch {
                    self.phase = Phase::Pulling;
                    return Ok(Step::Receive);
                }
                let batch = self.batch(None);
                Ok(self.stage(batch))
            }
            Message::DirPullEnd(end) => {
                session.end(&end)?;
                self.pull_ended = true;
                self.report.full |= self.full_gen.is_some();
                let quiet = self.full_gen.is_none()
                    && self.buffer.is_empty()
                    && end.epoch == self.start.epoch
                    && end.high_water == self.start.mark;
                if quiet {
                    return Ok(Step::Done(self.report));
                }
                let batch = self.batch(Some(PullEnd {
                    epoch: end.epoch,
                    high_water: end.high_water,
                }));
                Ok(self.stage(batch))
            }
            other => Err(DirError::Protocol(format!(
                "unexpected {} in a pull",
                other.message_type().name()
            ))),
        }
    }

    fn batch(&mut self, end: Option<PullEnd>) -> Batch {
        Batch {
            full_gen: self.full_gen,
            updates: std::mem::take(&mut self.buffer),
            end,
        }
    }

    fn stage(&mut self, batch: Batch) -> Step {
        if !self.stages {
            return self.commit(batch);
        }
        self.phase = Phase::Staging;
        Step::Store(Op::Stage(batch))
    }

    fn commit(&mut self, batch: Batch) -> Step {
        self.phase = Phase::Committing {
            last: batch.end.is_some(),
        };
        Step::Store(Op::Commit(batch))
    }
}
