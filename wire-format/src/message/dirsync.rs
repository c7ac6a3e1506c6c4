//! MS Mail-style directory synchronization between a DS requestor (a post
//! office) and its DS server.

use bytes::{BufMut, BytesMut};

use super::Body;
use crate::WireError;
use crate::entry::Entry;
use crate::limits::MAX_CHUNK_ITEMS;
use crate::primitives::{PResult, bool_, list, put_bool, put_list, u64_};

/// Requestor -> server: the requestor's own changes, in order. Each entry's
/// `version.origin_seq` is the requestor's own sequence number; the server
/// skips any it has already applied, so replaying an upload is harmless.
/// An empty upload asks only for the acknowledgement.
///
/// `store_epoch` names the requestor store the sequence numbers belong to
/// (drawn at random when the store is created). The server's upload mark
/// holds only for that epoch: a new one (a lost, emptied or replaced store
/// counting from 1 again) starts the mark again from 0. 0 means "no epoch":
/// the mark is used as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUpload {
    pub store_epoch: u64,
    pub changes: Vec<Entry>,
}

/// Server -> requestor: every change up to `applied_through` is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUploadAck {
    pub applied_through: u64,
}

/// Requestor -> server: send me what I have not seen. `epoch` and `after` are
/// the server epoch and update number the requestor last committed (0, 0 for a
/// new requestor). The server answers with a full resync when the epoch
/// differs, when `after` is older than its change log, when `force_full`,
/// or when `restore`.
///
/// `restore`: the requestor's store is new and asks for its own post
/// offices' users too (which a pull otherwise never carries back), to take
/// them again as its own. Only a full answer carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirPull {
    pub epoch: u64,
    pub after: u64,
    pub force_full: bool,
    pub restore: bool,
}

/// Server -> requestor: starts the answer to a [`DirPull`]. When `full`, the
/// updates that follow are the complete set of live entries for this requestor
/// and anything the requestor imported that is not among them must go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirPullStart {
    pub epoch: u64,
    pub full: bool,
    pub high_water: u64,
}

/// One update: an entry (or tombstone) and the server update number it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUpdate {
    pub update_no: u64,
    pub entry: Entry,
}

/// Server -> requestor: one chunk of updates, in increasing `update_no` for an
/// incremental pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUpdates {
    pub updates: Vec<DirUpdate>,
}

/// Server -> requestor: the end of the answer; the requestor may now record
/// `high_water` as its mark. `sent` counts the updates, as a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirPullEnd {
    pub epoch: u64,
    pub high_water: u64,
    pub sent: u64,
}

/// Server -> requestor, unsolicited (request id 0): updates exist up to `high_water`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirNotify {
    pub epoch: u64,
    pub high_water: u64,
}

impl Body for DirUpload {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.store_epoch);
        put_list(
            out,
            "dir_upload.changes",
            &self.changes,
            MAX_CHUNK_ITEMS,
            |o, e| e.encode(o),
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, store_epoch) = u64_(i)?;
        let (i, changes) = list("dir_upload.changes", MAX_CHUNK_ITEMS, Entry::decode)(i)?;
        Ok((
            i,
            DirUpload {
                store_epoch,
                changes,
            },
        ))
    }
}

impl Body for DirUploadAck {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.applied_through);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, applied_through) = u64_(i)?;
        Ok((i, DirUploadAck { applied_through }))
    }
}

impl Body for DirPull {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.after);
        put_bool(out, self.force_full);
        put_bool(out, self.restore);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, after) = u64_(i)?;
        let (i, force_full) = bool_("dir_pull.force_full")(i)?;
        let (i, restore) = bool_("dir_pull.restore")(i)?;
        Ok((
            i,
            DirPull {
                epoch,
                after,
                force_full,
                restore,
            },
        ))
    }
}

impl Body for DirPullStart {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        put_bool(out, self.full);
        out.put_u64(self.high_water);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, full) = bool_("dir_pull_start.full")(i)?;
        let (i, high_water) = u64_(i)?;
        Ok((
            i,
            DirPullStart {
                epoch,
                full,
                high_water,
            },
        ))
    }
}

impl Body for DirUpdates {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "dir_updates.updates",
            &self.updates,
            MAX_CHUNK_ITEMS,
            |o, u| {
                o.put_u64(u.update_no);
                u.entry.encode(o)
            },
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, updates) = list("dir_updates.updates", MAX_CHUNK_ITEMS, |i| {
            let (i, update_no) = u64_(i)?;
            let (i, entry) = Entry::decode(i)?;
            Ok((i, DirUpdate { update_no, entry }))
        })(i)?;
        Ok((i, DirUpdates { updates }))
    }
}

impl Body for DirPullEnd {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.high_water);
        out.put_u64(self.sent);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, high_water) = u64_(i)?;
        let (i, sent) = u64_(i)?;
        Ok((
            i,
            DirPullEnd {
                epoch,
                high_water,
                sent,
            },
        ))
    }
}

impl Body for DirNotify {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u64(self.epoch);
        out.put_u64(self.high_water);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, epoch) = u64_(i)?;
        let (i, high_water) = u64_(i)?;
        Ok((i, DirNotify { epoch, high_water }))
    }
}
