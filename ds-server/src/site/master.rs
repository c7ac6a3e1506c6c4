//! [`MasterList`] on the site directory: the rules of each call in site
//! mode, on top of [`SiteMaster`]'s log reads, writes and live view.

use dir_core::DirError;
use dir_core::server::{
    MasterList, PageQuery, Pending, PullEvent, PullRequest, PullSink, PullSummary, Receives,
    StoreEpoch, StoreEpochRecord, UploadOutcome,
};
use site_client::ReadCursor;
use wire_format::{DirUpdate, Entry, Name};

use super::SiteMaster;
use super::view::LiveView;

impl SiteMaster {
    /// Writes the changes above the requestor's mark into their post
    /// offices' folders, then records the mark. A crash between the two
    /// makes the requestor send them again: the site then holds one more
    /// version of the same content, never a second entry.
    async fn upload(
        &self,
        requestor: Name,
        changes: Vec<Entry>,
    ) -> Result<UploadOutcome, DirError> {
        let mark = self.marks(move |m| m.upload_mark(&requestor)).await?;
        let total = changes.len();
        let mut fresh = Vec::new();
        let mut through = mark;
        for mut entry in changes.into_iter().filter(|c| c.version.origin_seq > mark) {
            let po = entry.address.post_office;
            entry.folder = Some(self.folder_of(&po)?);
            entry.owner = po;
            through = through.max(entry.version.origin_seq);
            fresh.push(entry);
        }
        let skipped = (total - fresh.len()) as u64;
        let applied = fresh.len() as u64;
        let high_water = self.write(fresh).await?;
        if applied > 0 {
            self.marks(move |m| m.set_upload_mark(&requestor, through))
                .await?;
        }
        Ok(UploadOutcome {
            applied_through: through,
            applied,
            skipped,
            high_water,
        })
    }

    /// Deletes the post office's users from its own folder (the only one
    /// this server writes for it).
    async fn purge(&self, post_office: Name) -> Result<(u64, u64), DirError> {
        let folder = self.folder_of(&post_office)?;
        let mut victims = Vec::new();
        self.scan(|_, mut e| {
            if !e.tombstone && e.folder == Some(folder) && e.address.post_office == post_office {
                e.tombstone = true;
                victims.push(e);
            }
        })
        .await?;
        let deleted = victims.len() as u64;
        Ok((deleted, self.write(victims).await?))
    }

    /// The log from the requestor's mark up to the log end read now.
    async fn incremental_pull(
        &self,
        after: u64,
        chunk: usize,
        receives: Receives,
        sink: &mut dyn PullSink,
    ) -> Result<PullSummary, DirError> {
        let epoch = self.epoch();
        let high_water = self.log_end().await?;
        sink.send(PullEvent::Start { high_water }).await?;
        let mut cursor = ReadCursor { epoch, usn: after };
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        'pages: while cursor.usn < high_water {
            let read = self.read(cursor).await?;
            for change in read.changes {
                if change.usn > high_water {
                    break 'pages;
                }
                let entry = change.entry;
                if !receives(&entry) {
                    continue;
                }
                batch.push(DirUpdate {
                    update_no: change.usn,
                    entry,
                });
                sent += 1;
                if batch.len() >= chunk {
                    sink.send(PullEvent::Updates(std::mem::take(&mut batch)))
                        .await?;
                }
            }
            cursor = read.next;
            if !read.more {
                break;
            }
        }
        if !batch.is_empty() {
            sink.send(PullEvent::Updates(batch)).await?;
        }
        Ok(PullSummary { high_water, sent })
    }

    /// A full pull is the live set, which the view holds in memory: reading
    /// it from there instead of the whole log (tombstones and all, through
    /// the replicator) makes the resync that moves a post office to this
    /// hub several times faster. The view is locked one slice at a time, so
    /// listings and other pulls go on meanwhile; what changes after the
    /// pull's high water is left to the next pull.
    async fn full_pull(
        &self,
        chunk: usize,
        receives: Receives,
        sink: &mut dyn PullSink,
    ) -> Result<PullSummary, DirError> {
        let (epoch, high_water) = self.with_view(|v| (v.epoch(), v.usn())).await?;
        sink.send(PullEvent::Start { high_water }).await?;
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        let mut after: Option<String> = None;
        loop {
            // The view is already past `high_water`: no slice reads the log.
            let last = self
                .with_view_as_is(|view| {
                    (view.epoch() == epoch).then(|| {
                        view.full_slice(after.as_deref(), chunk, high_water, &*receives, &mut batch)
                    })
                })
                .await?;
            let Some(last) = last else {
                return Err(DirError::Store(
                    "the site directory was rebuilt (new epoch) during a full pull; pull again"
                        .into(),
                ));
            };
            while batch.len() >= chunk {
                let rest = batch.split_off(chunk);
                sent += batch.len() as u64;
                sink.send(PullEvent::Updates(std::mem::replace(&mut batch, rest)))
                    .await?;
            }
            match last {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        if !batch.is_empty() {
            sent += batch.len() as u64;
            sink.send(PullEvent::Updates(batch)).await?;
        }
        Ok(PullSummary { high_water, sent })
    }
}

impl MasterList for SiteMaster {
    fn epoch(&self) -> u64 {
        SiteMaster::epoch(self)
    }

    fn high_water(&self) -> Pending<'_, u64> {
        Box::pin(self.log_end())
    }

    /// The replicator collects its own tombstones and keeps no floor: a
    /// requestor away longer than the site's tombstone lifetime must be
    /// resynced in full (Repoint to the same server), as a replica must be.
    fn floor(&self) -> Pending<'_, u64> {
        Box::pin(async { Ok(0) })
    }

    fn live_entries(&self) -> Pending<'_, u64> {
        Box::pin(self.with_view(LiveView::live))
    }

    fn upload_mark(&self, requestor: Name) -> Pending<'_, u64> {
        Box::pin(self.marks(move |m| m.upload_mark(&requestor)))
    }

    fn is_removed(&self, requestor: Name) -> Pending<'_, bool> {
        Box::pin(self.marks(move |m| m.is_removed(&requestor)))
    }

    fn store_epoch(&self, requestor: Name) -> Pending<'_, StoreEpochRecord> {
        Box::pin(self.marks(move |m| m.store_epoch(&requestor)))
    }

    fn note_store_epoch(&self, requestor: Name, epoch: u64) -> Pending<'_, StoreEpoch> {
        Box::pin(self.marks(move |m| m.note_store_epoch(&requestor, epoch)))
    }

    fn apply_upload(
        &self,
        requestor: Name,
        changes: Vec<Entry>,
        _now_ms: u64,
    ) -> Pending<'_, UploadOutcome> {
        Box::pin(self.upload(requestor, changes))
    }

    fn remove_requestor(&self, requestor: Name) -> Pending<'_, ()> {
        Box::pin(self.marks(move |m| m.set_removed(&requestor, true)))
    }

    fn restore_requestor(&self, requestor: Name) -> Pending<'_, ()> {
        Box::pin(self.marks(move |m| m.set_removed(&requestor, false)))
    }

    fn raise_upload_mark(&self, requestor: Name, seq: u64) -> Pending<'_, u64> {
        Box::pin(self.marks(move |m| {
            let mark = m.upload_mark(&requestor)?.max(seq);
            m.set_upload_mark(&requestor, mark)?;
            Ok(mark)
        }))
    }

    fn purge_post_office(
        &self,
        post_office: Name,
        _by: Name,
        _now_ms: u64,
    ) -> Pending<'_, (u64, u64)> {
        Box::pin(self.purge(post_office))
    }

    fn collect_tombstones(&self, _before_ms: u64) -> Pending<'_, u64> {
        Box::pin(async { Ok(0) })
    }

    fn pull<'a>(
        &'a self,
        request: PullRequest,
        sink: &'a mut dyn PullSink,
    ) -> Pending<'a, PullSummary> {
        let PullRequest {
            plan,
            chunk,
            receives,
        } = request;
        let chunk = chunk.max(1);
        if plan.full {
            Box::pin(self.full_pull(chunk, receives, sink))
        } else {
            Box::pin(self.incremental_pull(plan.after, chunk, receives, sink))
        }
    }

    /// Live entries in address order (one per address: a post office's own
    /// folder wins over F1 while a migration has it in both).
    fn page(&self, q: PageQuery) -> Pending<'_, (Vec<Entry>, bool)> {
        let after = q.after.map(|a| a.to_string());
        Box::pin(self.with_view(move |view| {
            let prefix = self.site.folder_prefix.as_str();
            view.page(after.as_deref(), q.limit, prefix, q.post_office.as_ref())
        }))
    }
}
