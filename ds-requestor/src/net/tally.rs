//! What a cycle moved, for its run-history event: the changes the server
//! took (an upload's, counted once its ack is recorded and only if the
//! store did not find itself renewed, as `CycleReport::uploaded` counts
//! them) and the updates committed from the pull, each sorted as added,
//! updated or deleted (`role_runtime::history::Run::classify`).

use dir_core::requestor::{Op, Stored};
use role_runtime::history::Run;
use wire_format::{Entry, Message};

/// The cycle's event so far, and the upload waiting for its ack.
#[derive(Debug, Default)]
pub struct Tally {
    pub run: Run,
    upload: Run,
}

/// What a store step will count once it succeeds.
pub enum Pending {
    Nothing,
    Ack,
    Commit(Run),
}

fn sorted<'a>(entries: impl Iterator<Item = &'a Entry>) -> Run {
    let mut counts = Run::default();
    for entry in entries {
        counts.classify(entry);
    }
    counts
}

impl Tally {
    /// A request is going to the server: an upload is held until its ack.
    pub fn request(&mut self, message: &Message) {
        if let Message::DirUpload(upload) = message {
            self.upload = sorted(upload.changes.iter());
            self.upload.sent = upload.changes.len() as u64;
        }
    }

    /// Before a store step: what it will count.
    pub fn before(op: &Op) -> Pending {
        match op {
            Op::RecordAck(_) => Pending::Ack,
            Op::Commit(batch) => {
                let mut counts = sorted(batch.updates.iter().map(|u| &u.entry));
                counts.received = batch.updates.len() as u64;
                Pending::Commit(counts)
            }
            _ => Pending::Nothing,
        }
    }

    /// After a store step succeeded with `stored`.
    pub fn after(&mut self, pending: Pending, stored: &Stored) {
        let counts = match (pending, stored) {
            (Pending::Ack, Stored::Acked { renewed: false }) => std::mem::take(&mut self.upload),
            (Pending::Commit(counts), Stored::Committed(_)) => counts,
            _ => return,
        };
        let run = &mut self.run;
        run.sent += counts.sent;
        run.received += counts.received;
        run.added += counts.added;
        run.updated += counts.updated;
        run.deleted += counts.deleted;
    }
}
