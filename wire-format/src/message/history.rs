//! Run history: what `netctl history` asks of any process, and its answer.
//! Each process keeps a bounded log of what it did (a dirsync cycle, a
//! replication session, an upload it applied); see docs/ARCHITECTURE.md,
//! "Run history", for what is recorded and when.

use bytes::{BufMut, BytesMut};

use super::Body;
use crate::WireError;
use crate::entry::Name;
use crate::limits::{MAX_HISTORY_EVENTS, MAX_HISTORY_TEXT_LEN};
use crate::primitives::{
    PResult, bool_, fail, list, option, put_bool, put_list, put_option, put_string, string, u8_,
    u32_, u64_,
};

/// Operator -> any process: your newest events, newest first: at most
/// `max` (and at most [`MAX_HISTORY_EVENTS`]), only those that ended at or
/// after `since_ms` (milliseconds since the Unix epoch; 0: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    pub since_ms: u64,
    pub max: u32,
}

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HistoryKind {
    /// A DS requestor's dirsync cycle with its server (`peer`).
    DirsyncCycle = 1,
    /// A site replicator's pull session from one partner (`peer`).
    Replication = 2,
    /// A DS server's applying of one requestor's (`peer`) upload.
    Upload = 3,
}

impl HistoryKind {
    pub const ALL: [HistoryKind; 3] = [
        HistoryKind::DirsyncCycle,
        HistoryKind::Replication,
        HistoryKind::Upload,
    ];

    /// The name `netctl history` shows and `--json` carries.
    pub fn name(self) -> &'static str {
        match self {
            HistoryKind::DirsyncCycle => "dirsync",
            HistoryKind::Replication => "replication",
            HistoryKind::Upload => "upload",
        }
    }

    fn decode(i: &[u8]) -> PResult<'_, HistoryKind> {
        let (i, code) = u8_(i)?;
        match HistoryKind::ALL.iter().find(|k| **k as u8 == code) {
            Some(kind) => Ok((i, *kind)),
            None => fail(format!("history.kind: unknown kind {code}")),
        }
    }
}

/// One thing a process did. Counts are of directory changes (one entry's
/// new version each): `sent` the peer took from this process, `received`
/// it got from the peer, `applied` of those changed its directory, and
/// `refused` the rest (stale, already seen, lost a conflict, not the
/// sender's to write). `added`, `updated` and `deleted` sort every change
/// moved, sent or received: a deletion (tombstone), an entry's first
/// version, any other version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Increases by one per recorded event of this process; never reused.
    pub seq: u64,
    pub kind: HistoryKind,
    /// The other side: the server, the replication partner, the requestor.
    pub peer: Option<Name>,
    pub started_ms: u64,
    pub ended_ms: u64,
    /// A full resync rather than an incremental pull.
    pub full: bool,
    pub sent: u64,
    pub received: u64,
    pub applied: u64,
    pub added: u64,
    pub updated: u64,
    pub deleted: u64,
    pub refused: u64,
    /// Cycles or sessions with this peer since the previous recorded event
    /// that were not recorded: idle ones, and repeats of the same failure.
    pub quiet_before: u64,
    /// Why it failed (at most [`MAX_HISTORY_TEXT_LEN`] bytes); none: it
    /// succeeded.
    pub error: Option<String>,
}

/// The answer to [`HistoryRequest`]: events newest first (descending `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub events: Vec<HistoryEvent>,
}

impl Body for HistoryRequest {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.since_ms);
        out.put_u32(self.max);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, since_ms) = u64_(i)?;
        let (i, max) = u32_(i)?;
        Ok((i, HistoryRequest { since_ms, max }))
    }
}

impl HistoryEvent {
    fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.seq);
        out.put_u8(self.kind as u8);
        put_option(out, self.peer.as_ref(), |o, p| p.encode(o, "history.peer"))?;
        out.put_u64(self.started_ms);
        out.put_u64(self.ended_ms);
        put_bool(out, self.full);
        for n in [
            self.sent,
            self.received,
            self.applied,
            self.added,
            self.updated,
            self.deleted,
            self.refused,
            self.quiet_before,
        ] {
            out.put_u64(n);
        }
        put_option(out, self.error.as_ref(), |o, e| {
            put_string(o, "history.error", e, MAX_HISTORY_TEXT_LEN)
        })
    }

    fn decode(i: &[u8]) -> PResult<'_, HistoryEvent> {
        let (i, seq) = u64_(i)?;
        let (i, kind) = HistoryKind::decode(i)?;
        let (i, peer) = option("history.peer", Name::decode("history.peer"))(i)?;
        let (i, started_ms) = u64_(i)?;
        let (i, ended_ms) = u64_(i)?;
        let (i, full) = bool_("history.full")(i)?;
        let (i, sent) = u64_(i)?;
        let (i, received) = u64_(i)?;
        let (i, applied) = u64_(i)?;
        let (i, added) = u64_(i)?;
        let (i, updated) = u64_(i)?;
        let (i, deleted) = u64_(i)?;
        let (i, refused) = u64_(i)?;
        let (i, quiet_before) = u64_(i)?;
        let (i, error) = option(
            "history.error",
            string("history.error", MAX_HISTORY_TEXT_LEN),
        )(i)?;
        Ok((
            i,
            HistoryEvent {
                seq,
                kind,
                peer,
                started_ms,
                ended_ms,
                full,
                sent,
                received,
                applied,
                added,
                updated,
                deleted,
                refused,
                quiet_before,
                error,
            },
        ))
    }

    /// The event's bytes as they travel in a [`HistoryPage`]; a process
    /// keeps its log in this form too, so one encoding is tested once.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.to_vec())
    }

    /// The inverse of [`HistoryEvent::to_bytes`]; every byte must be used.
    pub fn from_bytes(bytes: &[u8]) -> Result<HistoryEvent, WireError> {
        let malformed = |reason: String| WireError::Malformed {
            message: "HistoryEvent",
            reason,
        };
        match HistoryEvent::decode(bytes) {
            Ok(([], event)) => Ok(event),
            Ok((rest, _)) => Err(malformed(format!("{} trailing bytes", rest.len()))),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(malformed(e.reason.into_owned())),
            Err(nom::Err::Incomplete(_)) => Err(malformed("ends too early".into())),
        }
    }
}

impl Body for HistoryPage {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "history.events",
            &self.events,
            MAX_HISTORY_EVENTS,
            |o, e| e.encode(o),
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, events) = list("history.events", MAX_HISTORY_EVENTS, HistoryEvent::decode)(i)?;
        Ok((i, HistoryPage { events }))
    }
}
