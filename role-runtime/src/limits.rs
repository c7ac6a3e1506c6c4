//! How much one process lets the world take: connections per listener and
//! the time a shutdown may spend finishing work in flight.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[limits]` table of every role's configuration. Each listener has
/// its own cap, so a flood on one port (idle SMTP sessions, say) leaves
/// file descriptors and memory for the others (the peer link, POP3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Connections the wire listener (peers and the operator) serves at
    /// once; one more gets a `Busy` error frame and is closed.
    pub wire_connections: usize,
    /// SMTP sessions served at once (post offices); one more gets
    /// `421 4.3.2` and is closed.
    pub smtp_connections: usize,
    /// POP3 sessions served at once (post offices); one more gets `-ERR`
    /// and is closed.
    pub pop3_connections: usize,
    /// How long SIGTERM waits for sessions to finish what they are doing
    /// before the process exits anyway.
    pub drain_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wire_connections: 256,
            smtp_connections: 500,
            pop3_connections: 200,
            drain_ms: 10_000,
        }
    }
}

impl Limits {
    pub fn drain(&self) -> Duration {
        Duration::from_millis(self.drain_ms)
    }

    /// Every cap at least 1 and the drain at most ten minutes; the reason
    /// names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, cap) in [
            ("limits.wire_connections", self.wire_connections),
            ("limits.smtp_connections", self.smtp_connections),
            ("limits.pop3_connections", self.pop3_connections),
        ] {
            if cap == 0 || cap > 100_000 {
                return Err(format!("{field} must be between 1 and 100000, not {cap}"));
            }
        }
        if self.drain_ms > 600_000 {
            return Err(format!(
                "limits.drain_ms must be at most 600000 (ten minutes), not {}",
                self.drain_ms
            ));
        }
        Ok(())
    }
}
