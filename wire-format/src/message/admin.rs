//! Administration: what `netctl` (role Operator) asks of any process.

use bytes::{BufMut, BytesMut};

use super::Body;
use super::handshake::Role;
use crate::WireError;
use crate::entry::{Address, Attribute, Entry, Name};
use crate::limits::{
    MAX_ATTRIBUTES, MAX_CHUNK_ITEMS, MAX_DETAIL_LEN, MAX_ENDPOINT_LEN, MAX_PASSWORD_LEN,
    MAX_STATUS_ITEMS, MAX_STATUS_TEXT_LEN, MAX_SUMMARY_POST_OFFICES, MAX_TEXT_LEN,
};
use crate::primitives::{
    PResult, array32, bool_, fail, list, option, put_bool, put_list, put_option, put_string,
    string, u8_, u32_, u64_,
};

/// Operator -> any process: report your state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRequest;

/// One status value. Keys are dotted paths (`folder.F1.entries`); each role
/// documents the keys it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusValue {
    Count(u64),
    Text(String),
    Flag(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusItem {
    pub key: String,
    pub value: StatusValue,
}

/// Whether a process does its work. A degraded process is running and
/// answers, but part of its work fails until the cause is gone (its store
/// cannot be written, say on a full disk): the operator sees that, and why,
/// instead of a process merely "up".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Ok,
    /// Why, for the operator (at most `MAX_STATUS_TEXT_LEN` bytes).
    Degraded(String),
}

/// Any process -> operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub node: Name,
    pub role: Role,
    pub items: Vec<StatusItem>,
    pub health: Health,
}

/// Operator -> post office: add or change a local user. The password, if
/// given, is the user's POP3 password; it is stored only by the post office's
/// mail router and never enters the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpsert {
    pub address: Address,
    pub display_name: String,
    pub attributes: Vec<Attribute>,
    pub password: Option<String>,
}

/// Operator -> post office: delete a local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDelete {
    pub address: Address,
}

/// Operator -> requestor or replicator: run a sync cycle now; answered when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncNow;

/// Operator -> mail router: mail for `post_office` now goes to `next_hop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRoute {
    pub post_office: Name,
    pub next_hop: Name,
}

/// Operator -> directory holder: a page of the GAL, in address order, after
/// `after` (from the start when absent); only the users of `post_office`
/// when one is named (the holder filters, so checking one post office's
/// users does not carry the whole directory over the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListGal {
    pub after: Option<Address>,
    pub limit: u32,
    pub post_office: Option<Name>,
}

/// The answer to [`ListGal`]; `next` is where the following page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalPage {
    pub entries: Vec<Entry>,
    pub next: Option<Address>,
}

/// Operator -> DS server: forget this post office's requestor (patent step B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveRequestor {
    pub post_office: Name,
}

/// Operator -> DS server: accept this post office's requestor again (the
/// rollback of step B); the post office owns its users on this server again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequestor {
    pub post_office: Name,
}

/// Operator -> DS server: delete every entry of this post office (patent step C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePostOffice {
    pub post_office: Name,
}

/// Operator -> requestor: sync with server `server` at `endpoint` from now on
/// (patent step E); the requestor then does a full resync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repoint {
    pub server: Name,
    pub endpoint: String,
}

/// Operator -> requestor: summarise your GAL, one digest per post office
/// (see [`crate::gal_digest`]): enough to check it against the whole
/// directory without listing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalSummaryRequest;

/// The users of one post office in a GAL: how many, and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOfficeDigest {
    pub post_office: Name,
    pub entries: u64,
    pub digest: [u8; 32],
}

/// The answer to [`GalSummaryRequest`], by post office name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalSummary {
    pub post_offices: Vec<PostOfficeDigest>,
}

/// Any process -> operator: the request was carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminOk {
    pub detail: String,
}

impl Body for StatusRequest {
    fn encode_body(&self, _out: &mut BytesMut) -> Result<(), WireError> {
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        Ok((i, StatusRequest))
    }
}

impl Body for StatusReport {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.node.encode(out, "status.node")?;
        out.put_u8(self.role as u8);
        put_list(
            out,
            "status.items",
            &self.items,
            MAX_STATUS_ITEMS,
            |o, item| {
                put_string(o, "status.key", &item.key, MAX_STATUS_TEXT_LEN)?;
                match &item.value {
                    StatusValue::Count(n) => {
                        o.put_u8(1);
                        o.put_u64(*n);
                    }
                    StatusValue::Text(t) => {
                        o.put_u8(2);
                        put_string(o, "status.text", t, MAX_STATUS_TEXT_LEN)?;
                    }
                    StatusValue::Flag(b) => {
                        o.put_u8(3);
                        put_bool(o, *b);
                    }
                }
                Ok(())
            },
        )?;
        match &self.health {
            Health::Ok => out.put_u8(0),
            Health::Degraded(reason) => {
                out.put_u8(1);
                put_string(out, "status.degraded", reason, MAX_STATUS_TEXT_LEN)?;
            }
        }
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, node) = Name::decode("status.node")(i)?;
        let (i, role) = Role::decode(i)?;
        let (i, items) = list("status.items", MAX_STATUS_ITEMS, |i| {
            let (i, key) = string("status.key", MAX_STATUS_TEXT_LEN)(i)?;
            let (i, value) = match u8_(i)? {
                (i, 1) => {
                    let (i, n) = u64_(i)?;
                    (i, StatusValue::Count(n))
                }
                (i, 2) => {
                    let (i, t) = string("status.text", MAX_STATUS_TEXT_LEN)(i)?;
                    (i, StatusValue::Text(t))
                }
                (i, 3) => {
                    let (i, b) = bool_("status.flag")(i)?;
                    (i, StatusValue::Flag(b))
                }
                (_, tag) => return fail(format!("unknown status value tag {tag}")),
            };
            Ok((i, StatusItem { key, value }))
        })(i)?;
        let (i, health) = match u8_(i)? {
            (i, 0) => (i, Health::Ok),
            (i, 1) => {
                let (i, reason) = string("status.degraded", MAX_STATUS_TEXT_LEN)(i)?;
                (i, Health::Degraded(reason))
            }
            (_, tag) => return fail(format!("unknown health tag {tag}")),
        };
        Ok((
            i,
            StatusReport {
                node,
                role,
                items,
                health,
            },
        ))
    }
}

impl Body for UserUpsert {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.address.encode(out)?;
        put_string(out, "user.display_name", &self.display_name, MAX_TEXT_LEN)?;
        put_list(
            out,
            "user.attributes",
            &self.attributes,
            MAX_ATTRIBUTES,
            |o, a| a.encode(o),
        )?;
        put_option(out, self.password.as_ref(), |o, p| {
            put_string(o, "user.password", p, MAX_PASSWORD_LEN)
        })
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, address) = Address::decode(i)?;
        let (i, display_name) = string("user.display_name", MAX_TEXT_LEN)(i)?;
        let (i, attributes) = list("user.attributes", MAX_ATTRIBUTES, Attribute::decode)(i)?;
        let (i, password) = option("user.password", string("user.password", MAX_PASSWORD_LEN))(i)?;
        Ok((
            i,
            UserUpsert {
                address,
                display_name,
                attributes,
                password,
            },
        ))
    }
}

impl Body for UserDelete {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.address.encode(out)
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, address) = Address::decode(i)?;
        Ok((i, UserDelete { address }))
    }
}

impl Body for SyncNow {
    fn encode_body(&self, _out: &mut BytesMut) -> Result<(), WireError> {
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        Ok((i, SyncNow))
    }
}

impl Body for SetRoute {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.post_office.encode(out, "set_route.post_office")?;
        self.next_hop.encode(out, "set_route.next_hop")
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, post_office) = Name::decode("set_route.post_office")(i)?;
        let (i, next_hop) = Name::decode("set_route.next_hop")(i)?;
        Ok((
            i,
            SetRoute {
                post_office,
                next_hop,
            },
        ))
    }
}

impl Body for ListGal {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_option(out, self.after.as_ref(), |o, a| a.encode(o))?;
        out.put_u32(self.limit);
        put_option(out, self.post_office.as_ref(), |o, p| {
            p.encode(o, "list_gal.post_office")
        })
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, after) = option("list_gal.after", Address::decode)(i)?;
        let (i, limit) = u32_(i)?;
        let (i, post_office) =
            option("list_gal.post_office", Name::decode("list_gal.post_office"))(i)?;
        Ok((
            i,
            ListGal {
                after,
                limit,
                post_office,
            },
        ))
    }
}

impl Body for GalPage {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "gal_page.entries",
            &self.entries,
            MAX_CHUNK_ITEMS,
            |o, e| e.encode(o),
        )?;
        put_option(out, self.next.as_ref(), |o, a| a.encode(o))
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, entries) = list("gal_page.entries", MAX_CHUNK_ITEMS, Entry::decode)(i)?;
        let (i, next) = option("gal_page.next", Address::decode)(i)?;
        Ok((i, GalPage { entries, next }))
    }
}

macro_rules! post_office_body {
    ($ty:ident, $field:literal) => {
        impl Body for $ty {
            fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
                self.post_office.encode(out, $field)
            }
            fn decode_body(i: &[u8]) -> PResult<'_, Self> {
                let (i, post_office) = Name::decode($field)(i)?;
                Ok((i, $ty { post_office }))
            }
        }
    };
}
post_office_body!(RemoveRequestor, "remove_requestor.post_office");
post_office_body!(PurgePostOffice, "purge.post_office");
post_office_body!(RestoreRequestor, "restore_requestor.post_office");

impl Body for Repoint {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.server.encode(out, "repoint.server")?;
        put_string(out, "repoint.endpoint", &self.endpoint, MAX_ENDPOINT_LEN)
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, server) = Name::decode("repoint.server")(i)?;
        let (i, endpoint) = string("repoint.endpoint", MAX_ENDPOINT_LEN)(i)?;
        Ok((i, Repoint { server, endpoint }))
    }
}

impl Body for GalSummaryRequest {
    fn encode_body(&self, _out: &mut BytesMut) -> Result<(), WireError> {
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        Ok((i, GalSummaryRequest))
    }
}

impl Body for GalSummary {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_list(
            out,
            "gal_summary.post_offices",
            &self.post_offices,
            MAX_SUMMARY_POST_OFFICES,
            |o, d| {
                d.post_office.encode(o, "gal_summary.post_office")?;
                o.put_u64(d.entries);
                o.put_slice(&d.digest);
                Ok(())
            },
        )
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, post_offices) = list("gal_summary.post_offices", MAX_SUMMARY_POST_OFFICES, |i| {
            let (i, post_office) = Name::decode("gal_summary.post_office")(i)?;
            let (i, entries) = u64_(i)?;
            let (i, digest) = array32(i)?;
            Ok((
                i,
                PostOfficeDigest {
                    post_office,
                    entries,
                    digest,
                },
            ))
        })(i)?;
        Ok((i, GalSummary { post_offices }))
    }
}

impl Body for AdminOk {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        put_string(out, "admin_ok.detail", &self.detail, MAX_DETAIL_LEN)
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, detail) = string("admin_ok.detail", MAX_DETAIL_LEN)(i)?;
        Ok((i, AdminOk { detail }))
    }
}
