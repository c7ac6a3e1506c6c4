//! [`MasterList`] on the private redb store (a hub without a site): each
//! call runs on the blocking pool, since a redb commit waits for fsync.

use std::sync::Arc;

use dir_core::DirError;
use dir_core::server::{
    MasterList, PageQuery, Pending, PullEvent, PullRequest, PullSink, PullSummary, ServerStore,
    StoreEpoch, StoreEpochRecord, UploadOutcome,
};
use tokio::sync::mpsc;
use wire_format::{Entry, Name};

pub struct PrivateMaster {
    store: Arc<ServerStore>,
}

impl PrivateMaster {
    pub fn new(store: ServerStore) -> PrivateMaster {
        PrivateMaster {
            store: Arc::new(store),
        }
    }

    fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&ServerStore) -> Result<T, DirError> + Send + 'static,
    ) -> Pending<'static, T> {
        let store = Arc::clone(&self.store);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || op(&store))
                .await
                .map_err(|e| DirError::Task(e.to_string()))?
        })
    }

    /// The store streams from one snapshot on a blocking thread; a small
    /// channel keeps at most a few chunks in memory whatever the directory
    /// size.
    async fn stream_pull(
        &self,
        request: PullRequest,
        sink: &mut dyn PullSink,
    ) -> Result<PullSummary, DirError> {
        let PullRequest {
            plan,
            chunk,
            receives,
        } = request;
        let (tx, mut rx) = mpsc::channel::<PullEvent>(4);
        let store = Arc::clone(&self.store);
        let producer = tokio::task::spawn_blocking(move || {
            let send = |event| {
                tx.blocking_send(event)
                    .map_err(|_| DirError::Task("the connection went away".into()))
            };
            store.pull(plan, chunk, |e| receives(e), send)
        });
        while let Some(event) = rx.recv().await {
            if let Err(e) = sink.send(event).await {
                // Dropping the receiver stops the producer at its next chunk.
                drop(rx);
                let _ = producer.await;
                return Err(e);
            }
        }
        producer.await.map_err(|e| DirError::Task(e.to_string()))?
    }
}

impl MasterList for PrivateMaster {
    fn epoch(&self) -> u64 {
        self.store.epoch()
    }
    fn high_water(&self) -> Pending<'_, u64> {
        self.run(ServerStore::high_water)
    }
    fn floor(&self) -> Pending<'_, u64> {
        self.run(ServerStore::floor)
    }
    fn live_entries(&self) -> Pending<'_, u64> {
        self.run(ServerStore::live_entries)
    }
    fn upload_mark(&self, requestor: Name) -> Pending<'_, u64> {
        self.run(move |s| s.upload_mark(&requestor))
    }
    fn is_removed(&self, requestor: Name) -> Pending<'_, bool> {
        self.run(move |s| s.is_removed(&requestor))
    }
    fn store_epoch(&self, requestor: Name) -> Pending<'_, StoreEpochRecord> {
        self.run(move |s| s.store_epoch(&requestor))
    }
    fn note_store_epoch(&self, requestor: Name, epoch: u64) -> Pending<'_, StoreEpoch> {
        self.run(move |s| s.note_store_epoch(&requestor, epoch))
    }
    fn apply_upload(
        &self,
        requestor: Name,
        changes: Vec<Entry>,
        now_ms: u64,
    ) -> Pending<'_, UploadOutcome> {
        self.run(move |s| s.apply_upload(&requestor, &changes, now_ms))
    }
    fn remove_requestor(&self, requestor: Name) -> Pending<'_, ()> {
        self.run(move |s| s.remove_requestor(&requestor))
    }
    fn restore_requestor(&self, requestor: Name) -> Pending<'_, ()> {
        self.run(move |s| s.restore_requestor(&requestor))
    }
    fn raise_upload_mark(&self, requestor: Name, seq: u64) -> Pending<'_, u64> {
        self.run(move |s| s.raise_upload_mark(&requestor, seq))
    }
    fn purge_post_office(
        &self,
        post_office: Name,
        by: Name,
        now_ms: u64,
    ) -> Pending<'_, (u64, u64)> {
        self.run(move |s| s.purge_post_office(&post_office, &by, now_ms))
    }
    fn collect_tombstones(&self, before_ms: u64) -> Pending<'_, u64> {
        self.run(move |s| s.collect_tombstones(before_ms))
    }
    fn pull<'a>(
        &'a self,
        request: PullRequest,
        sink: &'a mut dyn PullSink,
    ) -> Pending<'a, PullSummary> {
        Box::pin(self.stream_pull(request, sink))
    }
    fn page(&self, q: PageQuery) -> Pending<'_, (Vec<Entry>, bool)> {
        self.run(move |s| s.page(q.after.as_ref(), q.limit, q.post_office.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dir_core::server::PullPlan;
    use wire_format::EntryVersion;

    fn user(mailbox: &str, seq: u64) -> Entry {
        let n = |s: &str| Name::new(s).unwrap();
        Entry {
            address: format!("ACME/POA/{mailbox}").parse().unwrap(),
            display_name: mailbox.to_owned(),
            attributes: Vec::new(),
            owner: n("POA"),
            folder: None,
            origin: n("POA"),
            version: EntryVersion {
                version: seq,
                changed_at_ms: 1,
                origin_seq: seq,
            },
            tombstone: false,
        }
    }

    /// Records what a pull sent; fails from the `fail_at`-th event on.
    struct Recorder {
        events: Vec<PullEvent>,
        fail_at: usize,
    }

    impl PullSink for Recorder {
        fn send(&mut self, event: PullEvent) -> Pending<'_, ()> {
            Box::pin(async move {
                if self.events.len() >= self.fail_at {
                    return Err(DirError::Link("the requestor went away".into()));
                }
                self.events.push(event);
                Ok(())
            })
        }
    }

    async fn master_with(users: usize) -> (tempfile::TempDir, PrivateMaster) {
        let dir = tempfile::tempdir().unwrap();
        let master = PrivateMaster::new(ServerStore::open(dir.path()).unwrap());
        let changes = (1..=users as u64)
            .map(|i| user(&format!("U{i}"), i))
            .collect();
        let poa = Name::new("POA").unwrap();
        master.apply_upload(poa, changes, 1).await.unwrap();
        (dir, master)
    }

    fn everything(chunk: usize) -> PullRequest {
        PullRequest {
            plan: PullPlan {
                full: true,
                after: 0,
            },
            chunk,
            receives: Arc::new(|_: &Entry| true),
        }
    }

    #[tokio::test]
    async fn a_pull_streams_its_chunks_in_order() {
        let (_dir, master) = master_with(5).await;
        let mut sink = Recorder {
            events: Vec::new(),
            fail_at: usize::MAX,
        };
        let summary = master.pull(everything(2), &mut sink).await.unwrap();
        assert_eq!((summary.sent, summary.high_water), (5, 5));
        let shape: Vec<usize> = sink
            .events
            .iter()
            .map(|e| match e {
                PullEvent::Start { .. } => 0,
                PullEvent::Updates(u) => u.len(),
            })
            .collect();
        assert_eq!(shape, vec![0, 2, 2, 1]);
    }

    #[tokio::test]
    async fn a_failing_sink_stops_the_pull_with_its_error() {
        let (_dir, master) = master_with(50).await;
        let mut sink = Recorder {
            events: Vec::new(),
            fail_at: 2,
        };
        let err = master.pull(everything(2), &mut sink).await.unwrap_err();
        assert!(err.to_string().contains("went away"), "{err}");
        assert_eq!(sink.events.len(), 2);
    }
}
