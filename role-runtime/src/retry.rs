//! How long a background task waits before it tries a failed exchange again.

use std::time::Duration;

/// The pause after a failed dirsync cycle, site read or watch before the
/// next attempt: short enough that a restarted peer is picked up at once,
/// long enough that a dead one costs nothing.
pub const RETRY: Duration = Duration::from_millis(500);
