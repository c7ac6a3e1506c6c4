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

#[cfg(test)]
mod tests {
    use dir_core::requestor::Batch;
    use wire_format::{Address, DirUpdate, DirUpload, EntryVersion, Name};

    use super::*;

    fn entry(mailbox: &str, version: u64, tombstone: bool) -> Entry {
        let n = |s: &str| Name::new(s).unwrap();
        Entry {
            address: Address::new(n("ACME"), n("POA"), n(mailbox)),
            display_name: mailbox.into(),
            attributes: Vec::new(),
            owner: n("POA"),
            folder: None,
            origin: n("POA"),
            version: EntryVersion {
                version,
                ..EntryVersion::default()
            },
            tombstone,
        }
    }

    #[test]
    fn an_upload_counts_once_acked_and_not_when_the_store_was_renewed() {
        let mut tally = Tally::default();
        let upload = DirUpload {
            store_epoch: 1,
            changes: vec![entry("NEW", 1, false), entry("OLD", 4, false)],
        };
        tally.request(&upload.clone().into());
        tally.after(
            Tally::before(&Op::RecordAck(2)),
            &Stored::Acked { renewed: true },
        );
        assert_eq!(
            tally.run,
            Run::default(),
            "skipped by the server: sent again"
        );
        tally.request(&upload.into());
        tally.after(
            Tally::before(&Op::RecordAck(2)),
            &Stored::Acked { renewed: false },
        );
        let r = &tally.run;
        assert_eq!((r.sent, r.added, r.updated, r.received), (2, 1, 1, 0));
    }

    #[test]
    fn a_committed_batch_counts_what_it_brought() {
        let mut tally = Tally::default();
        let batch = Batch {
            full_gen: None,
            updates: [
                entry("A", 1, false),
                entry("B", 3, true),
                entry("C", 0, false),
            ]
            .into_iter()
            .enumerate()
            .map(|(n, entry)| DirUpdate {
                update_no: n as u64,
                entry,
            })
            .collect(),
            end: None,
        };
        let pending = Tally::before(&Op::Commit(batch));
        tally.after(pending, &Stored::Committed(3));
        let r = &tally.run;
        assert_eq!(
            (r.received, r.added, r.deleted, r.updated, r.sent),
            (3, 2, 1, 0, 0)
        );
        // An outcome other than the commit it waited for counts nothing.
        let batch = Batch {
            full_gen: None,
            updates: Vec::new(),
            end: None,
        };
        tally.after(Tally::before(&Op::Commit(batch)), &Stored::Full(1));
        assert_eq!(tally.run.received, 3);
    }
}
