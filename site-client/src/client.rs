//! The connection to the local site replicator. The caller keeps the
//! [`ReadCursor`] durably, in the same transaction as whatever it did with
//! the changes, so it never skips or repeats a change after a crash.

use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{Entry, Message, Name, RepChange, RepPull, Role, SiteWrite};

use crate::batch::{WRITE_BYTES, batches};

/// Where a reader of the site log stands: the replicator's epoch and the last
/// USN it has processed. A cursor from another epoch reads from the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCursor {
    pub epoch: u64,
    pub usn: u64,
}

/// One read of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    pub changes: Vec<RepChange>,
    /// The cursor to store once `changes` are dealt with.
    pub next: ReadCursor,
    /// True when the replicator's epoch differs from the cursor's: this read
    /// starts from the beginning and the caller should treat it as a full resync.
    pub restarted: bool,
    pub more: bool,
}

pub struct SiteClient {
    conn: Connection,
}

impl SiteClient {
    /// Connects to the local site replicator as `me` (the node's name) in
    /// `role` (DsServer or Requestor) with the node's local key.
    pub async fn connect(
        endpoint: &str,
        me: &Name,
        role: Role,
        key: &[u8],
        timeouts: Timeouts,
    ) -> Result<SiteClient, LinkError> {
        Ok(SiteClient {
            conn: Connection::connect(endpoint, me, role, key, timeouts).await?,
        })
    }

    /// Writes entries (each naming its folder) in one frame; returns the
    /// replicator's new log end. An empty write changes nothing and tells
    /// the log end. See [`SiteClient::write_all`] for writes of any size.
    pub async fn write(&mut self, changes: Vec<Entry>) -> Result<u64, LinkError> {
        match self.conn.request(SiteWrite { changes }).await? {
            Message::SiteWriteAck(ack) => Ok(ack.high_water_usn),
            other => Err(LinkError::unexpected("SiteWriteAck", &other)),
        }
    }

    /// Writes entries in frames of bounded size ([`WRITE_BYTES`]); returns
    /// the log end after the last frame, or None when there was nothing to
    /// write. Each frame commits on its own: after an error, the frames
    /// before it are written.
    pub async fn write_all(&mut self, changes: Vec<Entry>) -> Result<Option<u64>, LinkError> {
        let mut end = None;
        for batch in batches(changes, WRITE_BYTES) {
            end = Some(self.write(batch).await?);
        }
        Ok(end)
    }

    /// Reads up to `max` changes after `cursor`. Every change is returned (an
    /// empty vector): the reader wants the whole log, including its own writes.
    pub async fn read(&mut self, cursor: ReadCursor, max: u32) -> Result<LogRead, LinkError> {
        let pull = RepPull {
            epoch: cursor.epoch,
            after_usn: cursor.usn,
            vector: Vec::new(),
            max_changes: max,
        };
        let id = self.conn.send_request(pull).await?;
        let mut changes = Vec::new();
        loop {
            match self.conn.recv_reply(id).await? {
                Message::RepChanges(chunk) => changes.extend(chunk.changes),
                Message::RepPullEnd(end) => {
                    return Ok(LogRead {
                        changes,
                        next: ReadCursor {
                            epoch: end.epoch,
                            usn: end.high_water_usn,
                        },
                        restarted: end.epoch != cursor.epoch,
                        more: end.more,
                    });
                }
                other => return Err(LinkError::unexpected("RepChanges or RepPullEnd", &other)),
            }
        }
    }

    /// Waits up to `within` for the replicator to say its log grew; returns
    /// the new log end, or None on timeout. Call after a `read`, which
    /// subscribes the connection to notifications.
    pub async fn wait_for_change(
        &mut self,
        within: std::time::Duration,
    ) -> Result<Option<u64>, LinkError> {
        if let Some(Message::RepNotify(n)) = self.conn.take_unsolicited().map(|f| f.message) {
            return Ok(Some(n.high_water_usn));
        }
        match tokio::time::timeout(within, self.conn.next()).await {
            Err(_) => Ok(None),
            Ok(Ok(Some(frame))) => match frame.message {
                Message::RepNotify(n) => Ok(Some(n.high_water_usn)),
                other => Err(LinkError::unexpected("RepNotify", &other)),
            },
            Ok(Ok(None)) => Err(LinkError::Closed),
            Ok(Err(e)) => Err(e),
        }
    }
}
