//! A blocking client for one process's wire listener: `netctl` speaks to
//! processes as `OPERATOR`, and the integration tests also as a named peer in
//! another role (a requestor, a site client) to exercise what peers may do.

use std::fmt::Display;
use std::time::Duration;

use peer_link::{Connection, LinkError, Timeouts};
use wire_format::{
    Entry, GalSummaryRequest, ListGal, Message, Name, PostOfficeDigest, Role, StatusValue,
};

pub struct Operator {
    runtime: tokio::runtime::Runtime,
    conn: Connection,
}

/// A migration step or a resync on a loaded host can take long to answer;
/// waiting beats reporting a slow process as failed.
fn timeouts() -> Timeouts {
    Timeouts {
        reply: Duration::from_secs(60),
        ..Timeouts::default()
    }
}

impl Operator {
    /// Connects to `endpoint` (`host:port`) as `OPERATOR` in role Operator.
    pub fn connect(endpoint: impl Display, secret: &str) -> Result<Operator, LinkError> {
        let me = Name::new("OPERATOR").unwrap_or_else(|_| unreachable!("a valid constant name"));
        Operator::connect_as(endpoint, &me, Role::Operator, secret)
    }

    /// Connects to `endpoint` as `me` in `role`, proving `secret`.
    pub fn connect_as(
        endpoint: impl Display,
        me: &Name,
        role: Role,
        secret: &str,
    ) -> Result<Operator, LinkError> {
        let endpoint = endpoint.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LinkError::Connect {
                endpoint: endpoint.clone(),
                source: e,
            })?;
        let conn = runtime.block_on(Connection::connect(
            &endpoint,
            me,
            role,
            secret.as_bytes(),
            timeouts(),
        ))?;
        Ok(Operator { runtime, conn })
    }

    pub fn request(&mut self, message: impl Into<Message>) -> Result<Message, LinkError> {
        self.runtime.block_on(self.conn.request(message))
    }

    /// The status report, in the order the process gave it.
    pub fn status(&mut self) -> Result<Vec<(String, StatusValue)>, LinkError> {
        match self.request(wire_format::StatusRequest)? {
            Message::StatusReport(r) => Ok(r.items.into_iter().map(|i| (i.key, i.value)).collect()),
            other => Err(LinkError::unexpected("StatusReport", &other)),
        }
    }

    /// A counter from the status report; 0 when the process does not report
    /// it (counters appear once something has been counted).
    pub fn count(&mut self, key: &str) -> Result<u64, LinkError> {
        Ok(self
            .status()?
            .into_iter()
            .find_map(|(k, v)| match v {
                StatusValue::Count(n) if k == key => Some(n),
                _ => None,
            })
            .unwrap_or(0))
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
