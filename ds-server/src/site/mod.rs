//! Site mode (H2): the master list lives in the site directory, reached as a
//! client of the local site replicator over the wire protocol, behind the
//! same [`MasterList`](dir_core::server::MasterList) trait as the private
//! store ([`master`] implements it).
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
//! * The log end is where the live view stands once caught up: reading it
//!   is a read of the log's tail, never a write.

mod marks;
mod master;
mod view;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dir_core::DirError;
use peer_link::{LinkError, Timeouts};
use site_client::{LogRead, ReadCursor, SiteClient};
use wire_format::{Entry, Name, Role};

use crate::config::SiteSettings;
use marks::Marks;
use view::LiveView;

/// Changes asked for per log read.
const READ_MAX: u32 = 10_000;

pub struct SiteMaster {
    site: SiteSettings,
    timeouts: Timeouts,
    /// Idle connections to the replicator; each call takes one (or opens
    /// one), so calls from many requestors run side by side.
    pool: Mutex<Vec<SiteClient>>,
    epoch: Arc<AtomicU64>,
    marks: Arc<Marks>,
    /// Built on first use, then caught up from the log. An async lock: a
    /// catch-up holds it across reads of the log.
    view: tokio::sync::Mutex<Option<LiveView>>,
}

fn link(e: LinkError) -> DirError {
    DirError::Link(format!("site replicator: {e}"))
}

impl SiteMaster {
    /// Opens the local marks in `data_dir` and learns the replicator's epoch.
    pub async fn open(
        data_dir: &std::path::Path,
        site: SiteSettings,
        timeouts: Timeouts,
    ) -> Result<SiteMaster, DirError> {
        let master = SiteMaster {
            site,
            timeouts,
            pool: Mutex::new(Vec::new()),
            epoch: Arc::new(AtomicU64::new(0)),
            marks: Arc::new(Marks::open(data_dir)?),
            view: tokio::sync::Mutex::new(None),
        };
        let mut client = master.client().await?;
        let first = client.read(ReadCursor::default(), 1).await.map_err(link)?;
        master.epoch.store(first.next.epoch, Ordering::SeqCst);
        master.give_back(client);
        Ok(master)
    }

    /// Shared with the notification watcher, which sees a rebuilt log first.
    pub fn epoch_cell(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.epoch)
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    async fn client(&self) -> Result<SiteClient, DirError> {
        if let Some(client) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(client);
        }
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

    /// A client goes back only after a clean exchange: one that failed may
    /// be out of step with its stream.
    fn give_back(&self, client: SiteClient) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(client);
        }
    }

    /// Runs a call of the marks store (a redb commit) on the blocking pool.
    async fn marks<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Marks) -> Result<T, DirError> + Send + 'static,
    ) -> Result<T, DirError> {
        let marks = Arc::clone(&self.marks);
        tokio::task::spawn_blocking(move || op(&marks))
            .await
            .map_err(|e| DirError::Task(e.to_string()))?
    }

    /// Writes in frames of bounded size; returns the log end after the
    /// last. Nothing to write reads the log end instead.
    async fn write(&self, changes: Vec<Entry>) -> Result<u64, DirError> {
        if changes.is_empty() {
            return self.log_end().await;
        }
        let mut client = self.client().await?;
        let end = client.write_all(changes).await.map_err(link)?;
        self.give_back(client);
        match end {
            Some(end) => Ok(end),
            None => self.log_end().await,
        }
    }

    async fn read(&self, cursor: ReadCursor) -> Result<LogRead, DirError> {
        let mut client = self.client().await?;
        let read = client.read(cursor, READ_MAX).await.map_err(link)?;
        self.give_back(client);
        if read.restarted {
            self.epoch.store(read.next.epoch, Ordering::SeqCst);
            return Err(DirError::Store(
                "the site directory was rebuilt (new epoch); pull again for a full resync".into(),
            ));
        }
        Ok(read)
    }

    /// The replicator's log end: the live view caught up to it. Usually
    /// one read that returns nothing, as the view is kept current.
    async fn log_end(&self) -> Result<u64, DirError> {
        self.with_view(LiveView::usn).await
    }

    /// Every entry of the site log up to its end, tombstones included.
    async fn scan(&self, mut each: impl FnMut(u64, Entry) + Send) -> Result<u64, DirError> {
        let mut cursor = ReadCursor {
            epoch: self.epoch(),
            usn: 0,
        };
        loop {
            let read = self.read(cursor).await?;
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
    async fn with_view<T>(&self, f: impl FnOnce(&LiveView) -> T + Send) -> Result<T, DirError> {
        self.view_then(true, f).await
    }

    /// [`Self::with_view`] without reading the log's tail when a view of
    /// this epoch is already built: for a reader that wants nothing past a
    /// position it has already caught up to.
    async fn with_view_as_is<T>(
        &self,
        f: impl FnOnce(&LiveView) -> T + Send,
    ) -> Result<T, DirError> {
        self.view_then(false, f).await
    }

    async fn view_then<T>(
        &self,
        catch_up: bool,
        f: impl FnOnce(&LiveView) -> T + Send,
    ) -> Result<T, DirError> {
        let mut slot = self.view.lock().await;
        let epoch = self.epoch();
        let (mut view, catch_up) = match slot.take() {
            Some(v) if v.epoch() == epoch => (v, catch_up),
            _ => (LiveView::new(epoch), true),
        };
        if catch_up {
            self.catch_up(&mut view).await?;
        }
        let answer = f(&view);
        *slot = Some(view);
        Ok(answer)
    }

    /// Applies the log after the view's position, up to its end.
    async fn catch_up(&self, view: &mut LiveView) -> Result<(), DirError> {
        loop {
            let read = self
                .read(ReadCursor {
                    epoch: view.epoch(),
                    usn: view.usn(),
                })
                .await?;
            for change in read.changes {
                view.apply(change.usn, change.entry);
            }
            view.caught_up_to(read.next.usn);
            if !read.more {
                return Ok(());
            }
        }
    }

    fn folder_of(&self, post_office: &Name) -> Result<Name, DirError> {
        self.site.folder_of(post_office)
    }
}
