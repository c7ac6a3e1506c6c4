//! What the client listeners have seen since the process started, for the
//! status report (`smtp.connections`, `smtp.rejected.<code>`,
//! `pop3.connections`) and so for the metrics endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ClientCounts {
    /// Connections admitted by the smtp, smtps and submission listeners.
    pub smtp_connections: AtomicU64,
    /// Connections admitted by the pop3 and pop3s listeners.
    pub pop3_connections: AtomicU64,
    /// SMTP replies sent with a 4xx or 5xx code, by code (at most 200
    /// codes, so the map stays small whatever clients do).
    smtp_rejected: Mutex<BTreeMap<u16, u64>>,
}

impl ClientCounts {
    pub fn smtp_connection(&self) {
        self.smtp_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pop3_connection(&self) {
        self.pop3_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an SMTP reply about to be sent if it refuses something: its
    /// code (the first three characters, RFC 5321 4.2) is 4xx or 5xx.
    pub fn smtp_replied(&self, reply: &str) {
        let Some(code) = reply.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
            return;
        };
        if (400..600).contains(&code) {
            let mut rejected = self.smtp_rejected.lock().unwrap_or_else(|p| p.into_inner());
            *rejected.entry(code).or_default() += 1;
        }
    }

    pub fn smtp_rejected(&self) -> BTreeMap<u16, u64> {
        let rejected = self.smtp_rejected.lock().unwrap_or_else(|p| p.into_inner());
        rejected.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_4xx_and_5xx_replies_count_by_code() {
        let counts = ClientCounts::default();
        for reply in [
            "250 2.1.5 Ok",
            "550 5.1.1 No such user here",
            "550-5.1.1 first line\r\n550 5.1.1 last line",
            "421 4.4.2 Timeout, closing",
            "354 Start mail input",
            "",
            "5",
            "999 nonsense",
        ] {
            counts.smtp_replied(reply);
        }
        let rejected: Vec<(u16, u64)> = counts.smtp_rejected().into_iter().collect();
        assert_eq!(rejected, vec![(421, 1), (550, 2)]);
    }
}
