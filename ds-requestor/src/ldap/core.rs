//! The address book without sockets: one client's session state, and for
//! each request the responses (RFC 4511). The shell (`shell`) reads the
//! requests, runs [`Session::handle`] off the async threads, writes what
//! it returns and does what its [`Action`] says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapCompareRequest, LdapExtendedRequest, LdapExtendedResponse,
    LdapMsg, LdapOp, LdapResult, LdapResultCode,
};

use super::config::BindPolicy;
use super::directory::Directory;
use super::dn::Dn;
use super::schema::{Attr, OID_DISCONNECTION, OID_STARTTLS, OID_WHOAMI};
use super::search::{Paged, hit, node};

/// What the server offers every session.
#[derive(Debug, Clone)]
pub struct Policy {
    pub bind: BindPolicy,
    /// Most entries in one search result, or in one page of a paged one.
    pub size_limit: usize,
    pub time_limit: Duration,
    /// StartTLS is offered (the listener has a certificate).
    pub starttls: bool,
}

/// What the shell does after writing the responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Start TLS on the connection (the success response is written
    /// first, in clear, RFC 4511 4.14.2).
    StartTls,
    /// End the connection (unbind, or a protocol error after the Notice
    /// of Disconnection).
    Close,
}

pub struct Reply {
    pub messages: Vec<LdapMsg>,
    pub action: Action,
}

/// Who the client is (RFC 4513 5): anonymous until a bind succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Identity {
    Anonymous,
    Account(String),
}

pub struct Session {
    pub(super) identity: Identity,
    tls: bool,
    /// The paged search in progress (`search`).
    pub(super) paged: Option<Paged>,
    /// Paged searches begun, for their cookies.
    pub(super) searches: u64,
}

pub(super) fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_owned(),
        referral: Vec::new(),
    }
}

pub(super) fn msg(msgid: i32, op: LdapOp) -> LdapMsg {
    LdapMsg {
        msgid,
        op,
        ctrl: Vec::new(),
    }
}

/// The unsolicited Notice of Disconnection (RFC 4511 4.4.1), sent before
/// the server ends a session: on a malformed request (protocolError),
/// when it drains (unavailable), when it is full (busy).
pub fn disconnection(code: LdapResultCode, message: &str) -> LdapMsg {
    msg(
        0,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: Some(OID_DISCONNECTION.to_owned()),
            value: None,
        }),
    )
}

const READ_ONLY: &str =
    "this address book is read-only: the post office's operator changes users (netctl user)";

impl Session {
    pub fn new(tls: bool) -> Session {
        Session {
            identity: Identity::Anonymous,
            tls,
            paged: None,
            searches: 0,
        }
    }

    /// TLS is now active on the connection.
    pub fn tls_started(&mut self) {
        self.tls = true;
    }

    pub(super) fn may_search(&self, policy: &Policy) -> bool {
        policy.bind.anonymous || self.identity != Identity::Anonymous
    }

    /// Answers one request. `started` is when it arrived (its time limit
    /// counts from there).
    pub fn handle(
        &mut self,
        request: LdapMsg,
        dir: &Arc<Directory>,
        policy: &Policy,
        started: Instant,
    ) -> Reply {
        let id = request.msgid;
        let one = |op| Reply {
            messages: vec![msg(id, op)],
            action: Action::Continue,
        };
        let unwilling = || result(LdapResultCode::UnwillingToPerform, READ_ONLY);
        match request.op {
            LdapOp::BindRequest(bind) => one(LdapOp::BindResponse(LdapBindResponse {
                res: self.bind(&bind.dn, &bind.cred, policy),
                saslcreds: None,
            })),
            LdapOp::UnbindRequest => Reply {
                messages: Vec::new(),
                action: Action::Close,
            },
            LdapOp::SearchRequest(search) => Reply {
                messages: self.search(id, search, &request.ctrl, dir, policy, started),
                action: Action::Continue,
            },
            // RFC 4511 4.6-4.9: a read-only server refuses every update.
            LdapOp::ModifyRequest(_) => one(LdapOp::ModifyResponse(unwilling())),
            LdapOp::AddRequest(_) => one(LdapOp::AddResponse(unwilling())),
            LdapOp::DelRequest(_) => one(LdapOp::DelResponse(unwilling())),
            LdapOp::ModifyDNRequest(_) => one(LdapOp::ModifyDNResponse(unwilling())),
            LdapOp::CompareRequest(c) => one(LdapOp::CompareResult(self.compare(&c, dir, policy))),
            // RFC 4511 4.11: no response; searches here end before the
            // next request is read, so there is nothing to abandon.
            LdapOp::AbandonRequest(_) => Reply {
                messages: Vec::new(),
                action: Action::Continue,
            },
            LdapOp::ExtendedRequest(ext) => self.extended(id, &ext, policy),
            // A response from a client: not a request (RFC 4511 4.1.1).
            _ => Reply {
                messages: vec![disconnection(
                    LdapResultCode::ProtocolError,
                    "a client sends requests, not responses",
                )],
                action: Action::Close,
            },
        }
    }

    /// RFC 4513 5.1: anonymous (empty DN and password), unauthenticated
    /// (a DN without a password: refused), or name and password.
    fn bind(&mut self, dn: &str, cred: &LdapBindCred, policy: &Policy) -> LdapResult {
        // A bind, even a failed one, starts over as anonymous (RFC 4511
        // 4.2.1), and ends a paged search.
        self.identity = Identity::Anonymous;
        self.paged = None;
        let LdapBindCred::Simple(password) = cred else {
            return result(
                LdapResultCode::AuthMethodNotSupported,
                "only simple binds are offered",
            );
        };
        match (dn.is_empty(), password.is_empty()) {
            (true, true) if policy.bind.anonymous => result(LdapResultCode::Success, ""),
            (true, true) => result(
                LdapResultCode::InappropriateAuthentication,
                "anonymous binds are not allowed here: bind with a name and password",
            ),
            (false, true) => result(
                LdapResultCode::UnwillingToPerform,
                "unauthenticated binds (a name without a password) are refused (RFC 4513 5.1.2)",
            ),
            _ => {
                let accepted = policy.bind.account.as_ref().is_some_and(|(name, secret)| {
                    Dn::parse(dn).is_some_and(|d| d == *name)
                        & constant_time_eq(password.as_bytes(), secret.expose().as_bytes())
                });
                if accepted {
                    self.identity = Identity::Account(dn.to_owned());
                    result(LdapResultCode::Success, "")
                } else {
                    result(LdapResultCode::InvalidCredentials, "")
                }
            }
        }
    }

    fn extended(&mut self, id: i32, ext: &LdapExtendedRequest, policy: &Policy) -> Reply {
        let reply = |res: LdapResult, name: Option<&str>, value: Option<Vec<u8>>, action| Reply {
            messages: vec![msg(
                id,
                LdapOp::ExtendedResponse(LdapExtendedResponse {
                    res,
                    name: name.map(str::to_owned),
                    value,
                }),
            )],
            action,
        };
        match ext.name.as_str() {
            OID_STARTTLS if policy.starttls && !self.tls => reply(
                result(LdapResultCode::Success, ""),
                Some(OID_STARTTLS),
                None,
                Action::StartTls,
            ),
            // RFC 4511 4.14.1: TLS is started once per connection.
            OID_STARTTLS if policy.starttls => reply(
                result(LdapResultCode::OperationsError, "TLS is already active"),
                Some(OID_STARTTLS),
                None,
                Action::Continue,
            ),
            OID_WHOAMI => {
                let who = match &self.identity {
                    Identity::Anonymous => String::new(),
                    Identity::Account(dn) => format!("dn:{dn}"),
                };
                reply(
                    result(LdapResultCode::Success, ""),
                    None,
                    Some(who.into_bytes()),
                    Action::Continue,
                )
            }
            // RFC 4511 4.12: an unrecognized request name is a protocolError.
            _ => reply(
                result(
                    LdapResultCode::ProtocolError,
                    "extended operation not supported",
                ),
                None,
                None,
                Action::Continue,
            ),
        }
    }

    fn compare(&self, c: &LdapCompareRequest, dir: &Directory, policy: &Policy) -> LdapResult {
        if !self.may_search(policy) {
            return result(LdapResultCode::InsufficentAccessRights, "bind first");
        }
        let Some(dn) = Dn::parse(&c.dn) else {
            return result(LdapResultCode::InvalidDNSyntax, "");
        };
        let Some(node) = dir.locate(&dn).map(|l| node(dir, hit(&l))) else {
            return LdapResult {
                matcheddn: dir.matched(&dn),
                ..result(LdapResultCode::NoSuchObject, "")
            };
        };
        let attr = Attr::parse(&c.atype);
        if matches!(attr, Attr::Unknown(_)) {
            return result(LdapResultCode::UndefinedAttributeType, "");
        }
        let values = node.values(&attr, dir);
        if values.is_empty() {
            return result(LdapResultCode::NoSuchAttribute, "");
        }
        let wanted = super::dn::fold(&String::from_utf8_lossy(&c.val));
        if values.iter().any(|(_, folded)| *folded == wanted) {
            result(LdapResultCode::CompareTrue, "")
        } else {
            result(LdapResultCode::CompareFalse, "")
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
