//! A blocking operator client for tests: it speaks the wire protocol to any
//! role process as `OPERATOR` (role Operator), like `netctl` does, or as a
//! named client in another role.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{Entry, ListGal, Message, Name, Role, StatusValue};

pub struct Client {
    runtime: tokio::runtime::Runtime,
    conn: Connection,
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        handshake: Duration::from_secs(5),
        reply: Duration::from_secs(60),
        write: Duration::from_secs(10),
    }
}

impl Client {
    /// Connects as `name` in `role` with `secret`.
    pub fn connect(
        endpoint: SocketAddr,
        name: &str,
        role: Role,
        secret: &str,
    ) -> Result<Client, LinkError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a test runtime");
        let me = Name::new(name).expect("a valid client name");
        let conn = runtime.block_on(Connection::connect(
            &endpoint.to_string(),
            &me,
            role,
            secret.as_bytes(),
            timeouts(),
        ))?;
        Ok(Client { runtime, conn })
    }

    /// Connects as the operator.
    pub fn operator(endpoint: SocketAddr, secret: &str) -> Result<Client, LinkError> {
        Client::connect(endpoint, "OPERATOR", Role::Operator, secret)
    }

    pub fn request(&mut self, message: impl Into<Message>) -> Result<Message, LinkError> {
        self.runtime.block_on(self.conn.request(message))
    }

    /// The status report as a map from key to value.
    pub fn status(&mut self) -> Result<BTreeMap<String, StatusValue>, LinkError> {
        match self.request(wire_format::StatusRequest)? {
            Message::StatusReport(r) => Ok(r.items.into_iter().map(|i| (i.key, i.value)).collect()),
            other => Err(LinkError::unexpected("StatusReport", &other)),
        }
    }

    /// A counter from the status report (0 when absent).
    pub fn count(&mut self, key: &str) -> Result<u64, LinkError> {
        Ok(match self.status()?.get(key) {
            Some(StatusValue::Count(n)) => *n,
            _ => 0,
        })
    }

    /// The whole GAL / directory listing, paged.
    pub fn gal(&mut self) -> Result<Vec<Entry>, LinkError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            match self.request(ListGal {
                after: after.take(),
                limit: 2000,
                post_office: None,
            })? {
                Message::GalPage(page) => {
                    out.extend(page.entries);
                    match page.next {
                        Some(next) => after = Some(next),
                        None => return Ok(out),
                    }
                }
                other => return Err(LinkError::unexpected("GalPage", &other)),
            }
        }
    }
}

/// A canonical, sorted, one-line-per-entry dump of a directory, for comparing
/// servers byte for byte (replication metadata included).
pub fn dump(entries: &[Entry]) -> String {
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                e.address,
                e.folder.map(|f| f.to_string()).unwrap_or_default(),
                e.display_name,
                e.owner,
                e.origin,
                e.version.version,
                e.version.changed_at_ms,
                e.version.origin_seq,
                e.tombstone
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}
