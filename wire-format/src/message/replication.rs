//! Exchange-style multi-master replication between servers of one site.

use bytes::{BufMut, BytesMut};

use super::Body;
use crate::WireError;
use crate::entry::{Entry, Name};
use crate::limits::{MAX_CHUNK_ITEMS, MAX_VECTOR_LEN};
use crate::primitives::{PResult, bool_, list, put_bool, put_list, u32_, u64_};

/// How far a puller has seen the changes that originated at `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorEntry {
    pub server: Name,
    pub seq: u64,
}

/// Puller -> peer: send the changes in your log after `after_usn` (your update
/// sequence number, as the puller last committed it in `epoch`), skipping any
/// whose origin sequence the `vector` says I have already seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepPull {
    pub epoch: u64,
    pub after_usn: u64,
    pub vector: Vec<VectorEntry>,
    pub max_changes: u32,
}

/// One replicated change and its position in the sender's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepChange {
    pub usn: u64,
    pub entry: Entry,
}

/// Peer -> puller: one chunk of changes, in increasing `usn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepChanges {
    pub changes: Vec<RepChange>,
}

/// Peer -> puller: end of the answer. The puller may record `high_water_usn`
/// for this peer once it committed the changes; `more` says another pull
/// would return more. An `epoch` other than the one asked for means the
/// sender's log restarted (a rebuilt server) and the puller must start from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepPullEnd {
    pub epoch: u64,
    pub high_water_usn: u64,
    pub more: bool,
}

/// Server -> peer, unsolicited: my log has grown to `high_water_usn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepNotify {
    pub epoch: u64,
    pub high_water_usn: u64,
}

/// Local client (a DS role of the same server) -> replicator: write these
/// entries into their folders. The replicator stamps each as its own change
/// (origin, next origin sequence, next version, time) and replicates it; a
/// tombstone deletes. Every entry must name a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteWrite {
    pub changes: Vec<Entry>,
}

/// Replicator -> client: the writes are committed; the replicator's log now
/// ends at `high_water_usn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteWriteAck {
    pub high_water_usn: u64,
}

impl Body for SiteWrite {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "site_write.changes",
            &self.changes,
            MAX_CHUNK_ITEMS,
            |o, e| e.encode(o),
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, changes) = list("site_write.changes", MAX_CHUNK_ITEMS, Entry::decode)(i)?;
        Ok((i, SiteWrite { changes }))
    }
}

impl Body for SiteWriteAck {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.high_water_usn);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, high_water_usn) = u64_(i)?;
        Ok((i, SiteWriteAck { high_water_usn }))
    }
}

impl Body for RepPull {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.after_usn);
        put_list(
            out,
            "rep_pull.vector",
            &self.vector,
            MAX_VECTOR_LEN,
            |o, v| {
                v.server.encode(o, "vector.server")?;
                o.put_u64(v.seq);
                Ok(())
            },
        )?;
        out.put_u32(self.max_changes);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, after_usn) = u64_(i)?;
        let (i, vector) = list("rep_pull.vector", MAX_VECTOR_LEN, |i| {
            let (i, server) = Name::decode("vector.server")(i)?;
            let (i, seq) = u64_(i)?;
            Ok((i, VectorEntry { server, seq }))
        })(i)?;
        let (i, max_changes) = u32_(i)?;
        Ok((
            i,
            RepPull {
                epoch,
                after_usn,
                vector,
                max_changes,
            },
        ))
    }
}

impl Body for RepChanges {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "rep_changes.changes",
            &self.changes,
            MAX_CHUNK_ITEMS,
            |o, c| {
                o.put_u64(c.usn);
                c.entry.encode(o)
            },
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, changes) = list("rep_changes.changes", MAX_CHUNK_ITEMS, |i| {
            let (i, usn) = u64_(i)?;
            let (i, entry) = Entry::decode(i)?;
            Ok((i, RepChange { usn, entry }))
        })(i)?;
        Ok((i, RepChanges { changes }))
    }
}

impl Body for RepPullEnd {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.high_water_usn);
        put_bool(out, self.more);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, high_water_usn) = u64_(i)?;
        let (i, more) = bool_("rep_pull_end.more")(i)?;
        Ok((
            i,
            RepPullEnd {
                epoch,
                high_water_usn,
                more,
            },
        ))
    }
}

impl Body for RepNotify {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.high_water_usn);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, high_water_usn) = u64_(i)?;
        Ok((
            i,
            RepNotify {
                epoch,
                high_water_usn,
            },
        ))
    }
}
