//! The operator's connection to a process: the wire protocol as `OPERATOR`.

use std::time::Duration;

use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{
    Entry, GalSummaryRequest, ListGal, Message, Name, PostOfficeDigest, Role, StatusValue,
};

pub struct Operator {
    runtime: tokio::runtime::Runtime,
    conn: Connection,
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(3),
        handshake: Duration::from_secs(3),
        reply: Duration::from_secs(30),
        write: Duration::from_secs(5),
    }
}

impl Operator {
    pub fn connect(endpoint: &str, secret: &str) -> Result<Operator, LinkError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LinkError::Connect {
                endpoint: endpoint.to_owned(),
                source: e,
            })?;
        let me = Name::new("OPERATOR").unwrap_or_else(|_| unreachable!("a valid constant name"));
        let conn = runtime.block_on(Connection::connect(
            endpoint,
            &me,
            Role::Operator,
            secret.as_bytes(),
            timeouts(),
        ))?;
        Ok(Operator { runtime, conn })
    }

    pub fn request(&mut self, message: impl Into<Message>) -> Result<Message, LinkError> {
        self.runtime.block_on(self.conn.request(message))
    }

    pub fn status(&mut self) -> Result<Vec<(String, StatusValue)>, LinkError> {
        match self.request(wire_format::StatusRequest)? {
            Message::StatusReport(r) => Ok(r.items.into_iter().map(|i| (i.key, i.value)).collect()),
            other => Err(LinkError::unexpected("StatusReport", &other)),
        }
    }

    /// The GAL's users per post office, as counts and digests.
    pub fn gal_summary(&mut self) -> Result<Vec<PostOfficeDigest>, LinkError> {
        match self.request(GalSummaryRequest)? {
            Message::GalSummary(summary) => Ok(summary.post_offices),
            other => Err(LinkError::unexpected("GalSummary", &other)),
        }
    }

    /// The whole directory the process serves (tombstones included), paged
    /// in address order; only `post_office`'s users when one is named.
    pub fn list_gal(&mut self, post_office: Option<Name>) -> Result<Vec<Entry>, LinkError> {
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let page = ListGal {
                after: after.take(),
                limit: 1000,
                post_office,
            };
            match self.request(page)? {
                Message::GalPage(page) => {
                    entries.extend(page.entries);
                    match page.next {
                        Some(next) => after = Some(next),
                        None => return Ok(entries),
                    }
                }
                other => return Err(LinkError::unexpected("GalPage", &other)),
            }
        }
    }
}
