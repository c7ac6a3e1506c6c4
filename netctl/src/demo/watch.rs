//! What the demo watches while the migration runs: the directory changes it
//! makes at every post office, and the GAL gap (which post office could not
//! see which of the moving post office's users, and for how long).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wire_format::{Address, Name, UserUpsert};

use crate::migrate::plan::Target;
use crate::network::Network;
use crate::topology::RoleKind;

#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub made: u64,
    pub failed: u64,
}

/// Every `every`, changes the display name of one seed user at the next post
/// office in turn (so every post office's directory keeps changing), until
/// `stop`.
pub fn change_users_until(net: &Network, every: Duration, stop: Arc<AtomicBool>) -> Changes {
    let mut changes = Changes::default();
    let pos: Vec<_> = net.topology.post_offices().cloned().collect();
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for po in &pos {
            let Some(user) = po.users.last() else {
                continue;
            };
            let upsert = UserUpsert {
                address: Address::new(net.topology.network, po.name, user.mailbox),
                display_name: format!("{} (rev {round})", user.display_name),
                attributes: vec![],
                password: None,
            };
            let ok = net
                .connect(Target::new(po.name, RoleKind::DsRequestor))
                .ok()
                .and_then(|mut op| op.request(upsert).ok())
                .is_some_and(|m| matches!(m, wire_format::Message::AdminOk(_)));
            if ok {
                changes.made += 1;
            } else {
                changes.failed += 1;
            }
            std::thread::sleep(every);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        round += 1;
    }
    changes
}

#[derive(Debug, Default, Clone)]
pub struct Gap {
    /// (post office, user) pairs that were missing at least once.
    pub pairs: BTreeSet<(Name, String)>,
    pub first_seen: Option<Instant>,
    pub last_seen: Option<Instant>,
    pub samples: u64,
}

impl Gap {
    pub fn window(&self) -> Duration {
        match (self.first_seen, self.last_seen) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        }
    }
}

/// Samples every other post office's GAL for the users of `moving` (their
/// addresses as they were when the watch began) until `stop`.
///
/// Each observer is polled by its own thread, asking only for the moving
/// post offices' users, a few milliseconds apart: once the steps take
/// milliseconds, a gap as short as the patent method's C-to-G window would
/// fall between slower samples and go unreported.
pub fn watch_gap(net: &Network, moving: &[Name], stop: Arc<AtomicBool>) -> Gap {
    let mut watched = BTreeSet::new();
    for po in moving {
        if let Ok(entries) = net.directory_of(Target::new(*po, RoleKind::DsRequestor), Some(*po)) {
            watched.extend(entries.into_iter().map(|e| e.address.to_string()));
        }
    }
    let observers: Vec<Name> = net
        .post_offices()
        .into_iter()
        .filter(|p| !moving.contains(p))
        .collect();
    let seen = crate::parallel::on_threads(&observers, |&po| {
        watch_one(net, po, moving, &watched, &stop)
    });
    let mut gap = Gap::default();
    for one in seen.into_iter().flatten() {
        gap.pairs.extend(one.pairs);
        gap.samples += one.samples;
        gap.first_seen = gap.first_seen.into_iter().chain(one.first_seen).min();
        gap.last_seen = gap.last_seen.into_iter().chain(one.last_seen).max();
    }
    gap
}

/// The GAL gap as one post office sees it.
fn watch_one(
    net: &Network,
    observer: Name,
    moving: &[Name],
    watched: &BTreeSet<String>,
    stop: &AtomicBool,
) -> Gap {
    let mut gap = Gap::default();
    let at = Target::new(observer, RoleKind::DsRequestor);
    while !stop.load(Ordering::Relaxed) {
        let mut seen = BTreeSet::new();
        let listed = moving
            .iter()
            .all(|po| match net.directory_of(at, Some(*po)) {
                Ok(entries) => {
                    seen.extend(entries.into_iter().map(|e| e.address.to_string()));
                    true
                }
                Err(_) => false,
            });
        if listed {
            let now = Instant::now();
            for user in watched.difference(&seen) {
                gap.pairs.insert((observer, user.clone()));
                gap.first_seen.get_or_insert(now);
                gap.last_seen = Some(now);
            }
            gap.samples += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    gap
}
