//! Messages a group commit has just queued, handed to the forwarders in
//! memory: in the steady state a forwarder neither scans the queue nor reads
//! a message back from disk. The store stays the truth: whatever is dropped
//! here (over the cap, re-routed, after a restart) a forwarder's scan of the
//! store finds, and a message sent twice is stored once by the next hop.

use std::collections::HashMap;
use std::sync::Mutex;

use wire_format::{MailTransfer, Name};

use crate::routing::Disposition;
use crate::store::{Queued, Router};

/// Messages kept per next hop at most: a peer that is down costs a bounded
/// amount of memory, the rest waits for a scan.
const CAP: usize = 4096;

#[derive(Default)]
pub struct Outbox {
    by_hop: Mutex<HashMap<Name, Vec<(Queued, MailTransfer)>>>,
}

impl Outbox {
    /// Files committed messages under the next hop their route leads to now.
    pub fn publish(&self, router: &dyn Router, queued: Vec<(Queued, MailTransfer)>) {
        if queued.is_empty() {
            return;
        }
        let Ok(mut by_hop) = self.by_hop.lock() else {
            return;
        };
        for (q, m) in queued {
            if let Disposition::Forward(hop) = router.disposition(&q.post_office) {
                let waiting = by_hop.entry(hop).or_default();
                if waiting.len() < CAP {
                    waiting.push((q, m));
                }
            }
        }
    }

    /// Everything waiting for `hop`, oldest first.
    pub fn take(&self, hop: &Name) -> Vec<(Queued, MailTransfer)> {
        self.by_hop
            .lock()
            .ok()
            .and_then(|mut by_hop| by_hop.get_mut(hop).map(std::mem::take))
            .unwrap_or_default()
    }
}
