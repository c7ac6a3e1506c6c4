//! Site mode (H2): the master list lives in the site directory, reached as a
//! client of the local site replicator over the wire protocol, behind the
//! same [`MasterList`] trait as the private store.
//!
//! * Update numbers are the replicator's USNs and the epoch is its epoch:
//!   its log already holds each (address, folder) once, at its latest
//!   change, in increasing order, which is exactly what a pull needs. So a
//!   restart of either process loses no mark, and a rebuilt replicator (new
//!   epoch) sends every requestor into a full resync.
//! * A requestor's upload goes to its post office's own folder
//!   (`FS-<PO>`); the upload marks and removed requestors are kept here, in
//!   a small store of this server ([`marks`]).
//! * An incremental pull streams the log from the requestor's mark up to
//!   the log end read at its start; later changes are above that mark and
//!   come next time. A full pull reads the live view ([`view`]) instead.
//!
//! The trait is synchronous and runs on the blocking pool; each call drives
//! the async client with the runtime's handle.

mod marks;
mod view;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dir_core::DirError;
use dir_core::server::{MasterList, PullEvent, PullPlan, PullSummary, UploadOutcome};
use peer_link::{LinkError, Timeouts};
use site_replicator::client::{LogRead, ReadCursor, SiteClient};
use tokio::runtime::Handle;
use wire_format::{Address, DirUpdate, Entry, Name, Role};

use crate::config::SiteSettings;
use marks::Marks;
use view::LiveView;

/// Changes asked for per log read.
const READ_MAX: u32 = 10_000;
/// Bytes of entries per SiteWrite, well under the 4 MiB frame limit.
const WRITE_BYTES: usize = 1 << 20;

pub struct SiteMaster {
    rt: Handle,
    site: SiteSettings,
    timeouts: Timeouts,
    pool: Mutex<Vec<SiteClient>>,
    epoch: Arc<AtomicU64>,
    marks: Marks,
    /// Built on the first listing or count, then caught up from the log.
    view: Mutex<Option<LiveView>>,
}

fn link(e: LinkError) -> DirError {
    DirError::Link(format!("site replicator: {e}"))
}

/// An upper bound of an entry's encoded size, for chunking writes.
fn size_of(entry: &Entry) -> usize {
    128 + entry.display_name.len()
        + entry
            .attributes
            .iter()
            .map(|a| 8 + a.key.as_str().len() + a.value.len())
            .sum::<usize>()
}

impl SiteMaster {
    /// Opens the local marks in `data_dir` and learns the replicator's epoch.
    pub async fn open(
        data_dir: &std::path::Path,
        site: SiteSettings,
        timeouts: Timeouts,
    ) -> Result<SiteMaster, DirError> {
        let master = SiteMaster {
            rt: Handle::current(),
            site,
            timeouts,
            pool: Mutex::new(Vec::new()),
            epoch: Arc::new(AtomicU64::new(0)),
            marks: Marks::open(data_dir)?,
            view: Mutex::new(None),
        };
        let mut client = master.connect().await?;
        let first = client.read(ReadCursor::default(), 1).await.map_err(link)?;
        master.epoch.store(first.next.epoch, Ordering::SeqCst);
        master.give_back(client);
        Ok(master)
    }

    /// Shared with the notification watcher, which sees a rebuilt log first.
    pub fn epoch_cell(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.epoch)
    }

    async fn connect(&self) -> Result<SiteClient, DirError> {
        SiteClient::connect(
            &self.site.endpoint,
            &self.site.client,
            Role::DsServer,
            self.site.secret.as_bytes(),
            self.timeouts,
        )
        .await
        .map_err(link)
    }

    fn take(&self) -> Option<SiteClient> {
        self.pool.lock().ok().and_then(|mut p| p.pop())
    }

    /// A client goes back only after a clean exchange: one that failed may
    /// be out of step with its stream.
    fn give_back(&self, client: SiteClient) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(client);
        }
    }

    fn write(&self, changes: Vec<Entry>) -> Result<u64, DirError> {
        self.rt.block_on(async {
            let mut client = match self.take() {
                Some(c) => c,
                None => self.connect().await?,
            };
            let usn = client.write(changes).await.map_err(link)?;
            self.give_back(client);
            Ok(usn)
        })
    }

    /// Writes in frames of bounded size; returns the log end after the last.
    fn write_all(&self, changes: Vec<Entry>) -> Result<u64, DirError> {
        let mut usn = 0;
        let mut batch = Vec::new();
        let mut bytes = 0;
        for entry in changes {
            bytes += size_of(&entry);
            batch.push(entry);
            if bytes >= WRITE_BYTES {
                usn = self.write(std::mem::take(&mut batch))?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            usn = self.write(batch)?;
        }
        Ok(usn)
    }

    fn read(&self, cursor: ReadCursor) -> Result<LogRead, DirError> {
        let read = self.rt.block_on(async {
            let mut client = match self.take() {
                Some(c) => c,
                None => self.connect().await?,
            };
            let read = client.read(cursor, READ_MAX).await.map_err(link)?;
            self.give_back(client);
            Ok::<_, DirError>(read)
        })?;
        if read.restarted {
            self.epoch.store(read.next.epoch, Ordering::SeqCst);
            return Err(DirError::Store(
                "the site directory was rebuilt (new epoch); pull again for a full resync".into(),
            ));
        }
        Ok(read)
    }

    /// Every entry of the site log up to its end, tombstones included.
    fn scan(&self, mut each: impl FnMut(u64, Entry)) -> Result<u64, DirError> {
        let mut cursor = ReadCursor {
            epoch: self.epoch(),
            usn: 0,
        };
        loop {
            let read = self.read(cursor)?;
            for change in read.changes {
                each(change.usn, change.entry);
            }
            cursor = read.next;
            if !read.more {
                return Ok(cursor.usn);
            }
        }
    }

    /// Runs `f` on the live view caught up to the log's end. A view of an
    /// older epoch is dropped and rebuilt; one whose catch-up failed too,
    /// as it may have missed part of the log.
    fn with_view<T>(&self, f: impl FnOnce(&LiveView) -> T) -> Result<T, DirError> {
        self.view_then(true, f)
    }

    /// [`Self::with_view`] without reading the log's tail when a view of
    /// this epoch is already built: for a reader that wants nothing past a
    /// position it has already caught up to.
    fn with_view_as_is<T>(&self, f: impl FnOnce(&LiveView) -> T) -> Result<T, DirError> {
        self.view_then(false, f)
    }

    fn view_then<T>(&self, catch_up: bool, f: impl FnOnce(&LiveView) -> T) -> Result<T, DirError> {
        let mut slot = self
            .view
            .lock()
            .map_err(|_| DirError::Store("the live view's lock was poisoned".into()))?;
        let epoch = self.epoch();
        let (mut view, catch_up) = match slot.take() {
            Some(v) if v.epoch() == epoch => (v, catch_up),
            _ => (LiveView::new(epoch), true),
        };
        if catch_up {
            self.catch_up(&mut view)?;
        }
        let answer = f(&view);
        *slot = Some(view);
        Ok(answer)
    }

    /// Applies the log after the view's position, up to its end.
    fn catch_up(&self, view: &mut LiveView) -> Result<(), DirError> {
        loop {
            let read = self.read(ReadCursor {
                epoch: view.epoch(),
                usn: view.usn(),
            })?;
            for change in read.changes {
                view.apply(change.usn, change.entry);
            }
            view.caught_up_to(read.next.usn);
            if !read.more {
                return Ok(());
            }
        }
    }

    /// A full pull is the live set, which the view holds in memory: reading
    /// it from there instead of the whole log (tombstones and all, through
    /// the replicator) makes the resync that moves a post office to this
    /// hub several times faster. The view is locked one slice at a time, so
    /// listings and other pulls go on meanwhile; what changes after the
    /// pull's high water is left to the next pull.
    fn full_pull(
        &self,
        chunk: usize,
        receives: &dyn Fn(&Entry) -> bool,
        sink: &mut dyn FnMut(PullEvent) -> Result<(), DirError>,
    ) -> Result<PullSummary, DirError> {
        let (epoch, high_water) = self.with_view(|v| (v.epoch(), v.usn()))?;
        sink(PullEvent::Start { high_water })?;
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        let mut after: Option<String> = None;
        loop {
            // The view is already past `high_water`: no slice reads the log.
            let last = self.with_view_as_is(|view| {
                (view.epoch() == epoch).then(|| {
                    view.full_slice(after.as_deref(), chunk, high_water, receives, &mut batch)
                })
            })?;
            let Some(last) = last else {
                return Err(DirError::Store(
                    "the site directory was rebuilt (new epoch) during a full pull; pull again"
                        .into(),
                ));
            };
            while batch.len() >= chunk {
                let rest = batch.split_off(chunk);
                sent += batch.len() as u64;
                sink(PullEvent::Updates(std::mem::replace(&mut batch, rest)))?;
            }
            match last {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        if !batch.is_empty() {
            sent += batch.len() as u64;
            sink(PullEvent::Updates(batch))?;
        }
        Ok(PullSummary { high_water, sent })
    }

    fn folder_of(&self, post_office: &Name) -> Result<Name, DirError> {
        self.site.folder_of(post_office)
    }
}

impl MasterList for SiteMaster {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The replicator's log end (an empty SiteWrite is answered with it).
    fn high_water(&self) -> Result<u64, DirError> {
        self.write(Vec::new())
    }

    /// The replicator collects its own tombstones and keeps no floor: a
    /// requestor away longer than the site's tombstone lifetime must be
    /// resynced in full (Repoint to the same server), as a replica must be.
    fn floor(&self) -> Result<u64, DirError> {
        Ok(0)
    }

    fn live_entries(&self) -> Result<u64, DirError> {
        self.with_view(LiveView::live)
    }

    fn upload_mark(&self, requestor: &Name) -> Result<u64, DirError> {
        self.marks.upload_mark(requestor)
    }

    fn is_removed(&self, requestor: &Name) -> Result<bool, DirError> {
        self.marks.is_removed(requestor)
    }

    /// Writes the changes above the requestor's mark into their post
    /// offices' folders, then records the mark. A crash between the two
    /// makes the requestor send them again: the site then holds one more
    /// version of the same content, never a second entry.
    fn apply_upload(
        &self,
        requestor: &Name,
        changes: &[Entry],
        _now_ms: u64,
    ) -> Result<UploadOutcome, DirError> {
        let mark = self.marks.upload_mark(requestor)?;
        let mut fresh = Vec::new();
        let mut through = mark;
        for change in changes.iter().filter(|c| c.version.origin_seq > mark) {
            let mut entry = change.clone();
            let po = entry.address.post_office;
            entry.folder = Some(self.folder_of(&po)?);
            entry.owner = po;
            through = through.max(change.version.origin_seq);
            fresh.push(entry);
        }
        let skipped = (changes.len() - fresh.len()) as u64;
        if fresh.is_empty() {
            return Ok(UploadOutcome {
                applied_through: mark,
                applied: 0,
                skipped,
                high_water: self.high_water()?,
            });
        }
        let applied = fresh.len() as u64;
        let high_water = self.write_all(fresh)?;
        self.marks.set_upload_mark(requestor, through)?;
        Ok(UploadOutcome {
            applied_through: through,
            applied,
            skipped,
            high_water,
        })
    }

    fn remove_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        self.marks.set_removed(requestor, true)
    }

    fn restore_requestor(&self, requestor: &Name) -> Result<(), DirError> {
        self.marks.set_removed(requestor, false)
    }

    fn raise_upload_mark(&self, requestor: &Name, seq: u64) -> Result<u64, DirError> {
        let mark = self.marks.upload_mark(requestor)?.max(seq);
        self.marks.set_upload_mark(requestor, mark)?;
        Ok(mark)
    }

    /// Deletes the post office's users from its own folder (the only one
    /// this server writes for it).
    fn purge_post_office(
        &self,
        post_office: &Name,
        _by: &Name,
        _now_ms: u64,
    ) -> Result<(u64, u64), DirError> {
        let folder = self.folder_of(post_office)?;
        let mut victims = Vec::new();
        self.scan(|_, mut e| {
            if !e.tombstone && e.folder == Some(folder) && e.address.post_office == *post_office {
                e.tombstone = true;
                victims.push(e);
            }
        })?;
        let deleted = victims.len() as u64;
        if victims.is_empty() {
            return Ok((0, self.high_water()?));
        }
        Ok((deleted, self.write_all(victims)?))
    }

    fn collect_tombstones(&self, _before_ms: u64) -> Result<u64, DirError> {
        Ok(0)
    }

    fn pull(
        &self,
        plan: PullPlan,
        chunk: usize,
        receives: &dyn Fn(&Entry) -> bool,
        sink: &mut dyn FnMut(PullEvent) -> Result<(), DirError>,
    ) -> Result<PullSummary, DirError> {
        let chunk = chunk.max(1);
        if plan.full {
            return self.full_pull(chunk, receives, sink);
        }
        let epoch = self.epoch();
        let high_water = self.high_water()?;
        sink(PullEvent::Start { high_water })?;
        let mut cursor = ReadCursor {
            epoch,
            usn: plan.after,
        };
        let mut sent = 0u64;
        let mut batch = Vec::with_capacity(chunk);
        'pages: while cursor.usn < high_water {
            let read = self.read(cursor)?;
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
                    sink(PullEvent::Updates(std::mem::take(&mut batch)))?;
                }
            }
            cursor = read.next;
            if !read.more {
                break;
            }
        }
        if !batch.is_empty() {
            sink(PullEvent::Updates(batch))?;
        }
        Ok(PullSummary { high_water, sent })
    }

    /// Live entries in address order (one per address: a post office's own
    /// folder wins over F1 while a migration has it in both).
    fn page(
        &self,
        after: Option<&Address>,
        limit: usize,
        post_office: Option<&Name>,
    ) -> Result<(Vec<Entry>, bool), DirError> {
        let after = after.map(ToString::to_string);
        let prefix = self.site.folder_prefix.as_str();
        self.with_view(|view| view.page(after.as_deref(), limit, prefix, post_office))
    }
}
