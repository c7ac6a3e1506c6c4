//! What only the bridge (H3's requestor towards the old hub H) does: its
//! directory is the site directory of H3's site replicator, reached as a
//! client over the wire protocol.
//!
//! * Everything H sends goes into the import folder (F1). H never sends
//!   back what this bridge uploaded (it strips by origin), so F1 holds the
//!   old network only, and a full resync from H deletes from F1 what H no
//!   longer has. (That part is the cycle's, with `dir_core::requestor::Bridge`.)
//! * Changes in the export folders (FS-*, written by H2's DS server and
//!   replicated here) go up to H as this requestor's own changes: [`intake`]
//!   queues them before each cycle. The F1 entries it wrote itself are never
//!   exported: an entry never travels back to the side it came from.
//! * Only changes of content travel (the `BridgeStore` remembers what is in
//!   F1 and what went up), so a replay or a repeated full resync adds nothing.

use std::sync::Arc;

use dir_core::requestor::{BridgeStore, SiteCursor};
use dir_core::{DirError, patterns};
use peer_link::{LinkError, Timeouts};
use site_client::{ReadCursor, SiteClient};
use tracing::debug;
use wire_format::{Entry, Name, Role};

use crate::blocking;
use crate::config::SiteSettings;

/// Changes per read of the site log.
const READ_MAX: u32 = 10_000;

fn link(e: LinkError) -> DirError {
    DirError::Link(format!("site replicator: {e}"))
}

pub async fn connect(site: &SiteSettings, timeouts: Timeouts) -> Result<SiteClient, DirError> {
    SiteClient::connect(
        &site.endpoint,
        &site.client,
        Role::Requestor,
        site.secret.as_bytes(),
        timeouts,
    )
    .await
    .map_err(link)
}

/// Writes entries to the site (in frames of bounded size).
pub async fn write(client: &mut SiteClient, entries: Vec<Entry>) -> Result<(), DirError> {
    client.write_all(entries).await.map_err(link)?;
    Ok(())
}

/// Which site changes go up to the server, and as what.
#[derive(Clone)]
struct Export {
    node: Name,
    import_folder: Name,
    folders: Vec<String>,
}

impl Export {
    /// The entry H gets for a site change, if it is one of an export folder:
    /// no folder (H's network has none), owned by its post office.
    fn of(&self, entry: &Entry) -> Option<Entry> {
        let folder = entry.folder?;
        if folder == self.import_folder || !patterns::matches(&self.folders, &folder) {
            return None;
        }
        let mut out = entry.clone();
        out.folder = None;
        out.owner = out.address.post_office;
        out.origin = self.node;
        Some(out)
    }
}

/// Reads the site log to its end, queueing export-folder changes for H;
/// the cursor commits with them. Returns how many were queued.
pub async fn intake(
    store: &Arc<BridgeStore>,
    site: &SiteSettings,
    node: Name,
    client: &mut SiteClient,
) -> Result<u64, DirError> {
    let export = Export {
        node,
        import_folder: site.import_folder,
        folders: site.export.clone(),
    };
    let mut queued = 0;
    loop {
        let at = blocking::run(store, |s| Ok(s.state()?.site)).await?;
        let cursor = ReadCursor {
            epoch: at.epoch,
            usn: at.usn,
        };
        let read = client.read(cursor, READ_MAX).await.map_err(link)?;
        if read.changes.is_empty() && read.next == cursor {
            return Ok(queued);
        }
        let more = read.more;
        let changes = read.changes.clone();
        let rule = export.clone();
        let superseded =
            blocking::run(store, move |s| s.superseded(&changes, |e| rule.of(e))).await?;
        if !superseded.is_empty() {
            // The import folder's copy leaves before the intake forgets it,
            // so the address is held once, by its own post office's folder.
            debug!(
                n = superseded.len(),
                "import-folder copies superseded by an export folder"
            );
            let deletes = superseded
                .into_iter()
                .map(|mut e| {
                    e.tombstone = true;
                    e.folder = Some(site.import_folder);
                    e
                })
                .collect();
            write(client, deletes).await?;
        }
        let rule = export.clone();
        let next = SiteCursor {
            epoch: read.next.epoch,
            usn: read.next.usn,
        };
        queued += blocking::run(store, move |s| {
            s.intake(&read.changes, next, |e| rule.of(e))
        })
        .await?;
        if !more {
            return Ok(queued);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn only_export_folders_go_up_as_the_bridges_own_changes() {
        let export = Export {
            node: n("H3"),
            import_folder: n("FSX"),
            folders: vec!["FS*".into()],
        };
        let mut entry = Entry {
            address: "ACME/POC/JSMITH".parse().unwrap(),
            display_name: "John Smith".into(),
            attributes: Vec::new(),
            owner: n("H2"),
            folder: Some(n("FS-POC")),
            origin: n("H2"),
            version: Default::default(),
            tombstone: false,
        };
        let up = export.of(&entry).unwrap();
        assert_eq!((up.folder, up.owner, up.origin), (None, n("POC"), n("H3")));
        // The import folder never goes back, even when the pattern matches it.
        entry.folder = Some(n("FSX"));
        assert!(export.of(&entry).is_none());
        entry.folder = Some(n("F1"));
        assert!(export.of(&entry).is_none());
        entry.folder = None;
        assert!(export.of(&entry).is_none());
    }
}
