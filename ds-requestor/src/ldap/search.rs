//! A search (RFC 4511 4.5): the scope walked over the snapshot, the
//! filter, the size and time limits, paged results (RFC 2696), the
//! attributes a result carries, and the root DSE (RFC 4512 5.1).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapMsg, LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
    LdapSearchResultEntry, LdapSearchScope,
};

use super::core::{Policy, Session, msg, result};
use super::directory::{Directory, Located, Node};
use super::dn::Dn;
use super::filter::{Filter, Tri, Valued};
use super::schema::{Attr, OID_PAGED, OID_STARTTLS, OID_WHOAMI};

/// A node by position, kept between the pages of a paged search.
#[derive(Debug, Clone, Copy)]
pub(super) enum Hit {
    Org,
    Unit(usize),
    Person(usize),
}

/// A paged search in progress (RFC 2696): its matches in the snapshot
/// they came from, so every page comes from one consistent GAL.
pub(super) struct Paged {
    cookie: Vec<u8>,
    request: LdapSearchRequest,
    dir: Arc<Directory>,
    hits: Vec<Hit>,
    next: usize,
}

impl Session {
    pub(super) fn search(
        &mut self,
        id: i32,
        req: LdapSearchRequest,
        controls: &[LdapControl],
        dir: &Arc<Directory>,
        policy: &Policy,
        started: Instant,
    ) -> Vec<LdapMsg> {
        let done = |res: LdapResult, ctrl: Vec<LdapControl>| LdapMsg {
            msgid: id,
            op: LdapOp::SearchResultDone(res),
            ctrl,
        };
        let Some(base) = Dn::parse(&req.base) else {
            return vec![done(
                result(LdapResultCode::InvalidDNSyntax, "the base is not a DN"),
                vec![],
            )];
        };
        let filter = Filter::compile(&req.filter);
        let select = Selection::new(&req.attrs, req.typesonly);
        // RFC 4512 5.1: the root DSE, open to every client.
        if base.is_root() && req.scope == LdapSearchScope::Base {
            let root = RootDse::new(dir, policy);
            let mut out = Vec::new();
            if filter.eval(&root) == Tri::True {
                out.push(msg(id, LdapOp::SearchResultEntry(root.entry(&select))));
            }
            out.push(done(result(LdapResultCode::Success, ""), vec![]));
            return out;
        }
        if !self.may_search(policy) {
            return vec![done(
                result(
                    LdapResultCode::InsufficentAccessRights,
                    "anonymous searches are not allowed here: bind first",
                ),
                vec![],
            )];
        }
        let paging = controls.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some((*size, cookie.clone())),
            _ => None,
        });
        let deadline = started + effective_time_limit(req.timelimit, policy.time_limit);
        if let Some((size, cookie)) = paging {
            return self.page(id, req, size, cookie, dir, policy, &filter, &base, deadline);
        }
        let limit = effective_size_limit(req.sizelimit, policy.size_limit);
        let mut out = Vec::new();
        let code = match scan(dir, &base, req.scope, &filter, limit, deadline, |h| {
            out.push(msg(
                id,
                LdapOp::SearchResultEntry(entry(dir, node(dir, h), &select)),
            ));
        }) {
            Ok(Scan::Complete) => result(LdapResultCode::Success, ""),
            Ok(Scan::SizeLimit) => result(LdapResultCode::SizeLimitExceeded, ""),
            Ok(Scan::TimeLimit) => result(LdapResultCode::TimeLimitExceeded, ""),
            Err(res) => res,
        };
        out.push(done(code, vec![]));
        out
    }

    /// One page of a paged search (RFC 2696): the first request (empty
    /// cookie) finds every match; later ones hand out the next page; a
    /// size of 0 abandons it.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &mut self,
        id: i32,
        req: LdapSearchRequest,
        size: i64,
        cookie: Vec<u8>,
        dir: &Arc<Directory>,
        policy: &Policy,
        filter: &Filter,
        base: &Dn,
        deadline: Instant,
    ) -> Vec<LdapMsg> {
        let done = |res: LdapResult, cookie: Vec<u8>| LdapMsg {
            msgid: id,
            op: LdapOp::SearchResultDone(res),
            ctrl: vec![LdapControl::SimplePagedResults { size: 0, cookie }],
        };
        if !cookie.is_empty() {
            let same = self
                .paged
                .as_ref()
                .is_some_and(|p| p.cookie == cookie && p.request == req);
            if !same {
                return vec![done(
                    result(
                        LdapResultCode::UnwillingToPerform,
                        "unknown paged results cookie (RFC 2696: a cookie is good for the search that returned it)",
                    ),
                    Vec::new(),
                )];
            }
        } else {
            let total = effective_size_limit(req.sizelimit, usize::MAX);
            let mut hits = Vec::new();
            let outcome = scan(dir, base, req.scope.clone(), filter, total, deadline, |h| {
                hits.push(h)
            });
            let code = match outcome {
                Ok(Scan::Complete) => None,
                Ok(Scan::SizeLimit) => Some(LdapResultCode::SizeLimitExceeded),
                Ok(Scan::TimeLimit) => Some(LdapResultCode::TimeLimitExceeded),
                Err(res) => return vec![done(res, Vec::new())],
            };
            if let Some(code) = code {
                // Over a limit: the matches up to it, at once.
                let select = Selection::new(&req.attrs, req.typesonly);
                let mut out: Vec<LdapMsg> = hits
                    .iter()
                    .take(policy.size_limit)
                    .map(|h| {
                        msg(
                            id,
                            LdapOp::SearchResultEntry(entry(dir, node(dir, *h), &select)),
                        )
                    })
                    .collect();
                out.push(done(result(code, ""), Vec::new()));
                return out;
            }
            self.searches += 1;
            self.paged = Some(Paged {
                cookie: self.searches.to_be_bytes().to_vec(),
                request: req,
                dir: Arc::clone(dir),
                hits,
                next: 0,
            });
        }
        let Some(paged) = self.paged.as_mut() else {
            return vec![done(
                result(LdapResultCode::OperationsError, ""),
                Vec::new(),
            )];
        };
        let size = usize::try_from(size).unwrap_or(0).min(policy.size_limit);
        if size == 0 {
            self.paged = None;
            return vec![done(result(LdapResultCode::Success, ""), Vec::new())];
        }
        let select = Selection::new(&paged.request.attrs, paged.request.typesonly);
        let end = (paged.next + size).min(paged.hits.len());
        let pdir = &paged.dir;
        let mut out: Vec<LdapMsg> = paged.hits[paged.next..end]
            .iter()
            .map(|h| {
                msg(
                    id,
                    LdapOp::SearchResultEntry(entry(pdir, node(pdir, *h), &select)),
                )
            })
            .collect();
        paged.next = end;
        let cookie = if end < paged.hits.len() {
            paged.cookie.clone()
        } else {
            self.paged = None;
            Vec::new()
        };
        out.push(done(result(LdapResultCode::Success, ""), cookie));
        out
    }
}

/// `sizeLimit` 0 is no limit of the client's (RFC 4511 4.5.1.4); the
/// server's applies either way.
fn effective_size_limit(client: i32, server: usize) -> usize {
    match usize::try_from(client) {
        Ok(n) if n > 0 => n.min(server),
        _ => server,
    }
}

fn effective_time_limit(client: i32, server: Duration) -> Duration {
    match u64::try_from(client) {
        Ok(n) if n > 0 => Duration::from_secs(n).min(server),
        _ => server,
    }
}

pub(super) fn hit(located: &Located) -> Hit {
    match located {
        Located::Org => Hit::Org,
        Located::Unit(u) => Hit::Unit(*u),
        Located::Person(p) => Hit::Person(*p),
    }
}

pub(super) fn node(dir: &Directory, hit: Hit) -> Node<'_> {
    match hit {
        Hit::Org => Node::Org(&dir.org),
        Hit::Unit(u) => Node::Unit(&dir.units[u]),
        Hit::Person(p) => Node::Person(&dir.people[p]),
    }
}

enum Scan {
    Complete,
    SizeLimit,
    TimeLimit,
}

struct Evaluated<'a> {
    node: Node<'a>,
    dir: &'a Directory,
}

impl Valued for Evaluated<'_> {
    fn folded(&self, attr: &Attr, each: &mut dyn FnMut(&str) -> bool) -> bool {
        self.node
            .values(attr, self.dir)
            .iter()
            .any(|(_, folded)| each(folded))
    }
}

/// Walks the scope (RFC 4511 4.5.1.2) in tree order and hands each node
/// the filter matches to `found`, at most `limit` of them.
fn scan(
    dir: &Directory,
    base: &Dn,
    scope: LdapSearchScope,
    filter: &Filter,
    limit: usize,
    deadline: Instant,
    mut found: impl FnMut(Hit),
) -> Result<Scan, LdapResult> {
    // The candidates: the base's own node (if in scope), then its
    // subordinates, one level or all.
    let (own, units, people): (Option<Hit>, std::ops::Range<usize>, std::ops::Range<usize>) =
        match (base.is_root(), dir.locate(base)) {
            // Below the root DSE: the naming context (one level), or all.
            (true, _) => match scope {
                LdapSearchScope::OneLevel => (Some(Hit::Org), 0..0, 0..0),
                _ => (Some(Hit::Org), 0..dir.units.len(), 0..dir.people.len()),
            },
            (false, Some(Located::Org)) => match scope {
                LdapSearchScope::Base => (Some(Hit::Org), 0..0, 0..0),
                LdapSearchScope::OneLevel => (None, 0..dir.units.len(), 0..0),
                LdapSearchScope::Subtree => {
                    (Some(Hit::Org), 0..dir.units.len(), 0..dir.people.len())
                }
                LdapSearchScope::Children => (None, 0..dir.units.len(), 0..dir.people.len()),
            },
            (false, Some(Located::Unit(u))) => {
                let children = dir.units[u].children.clone();
                match scope {
                    LdapSearchScope::Base => (Some(Hit::Unit(u)), 0..0, 0..0),
                    LdapSearchScope::OneLevel | LdapSearchScope::Children => (None, 0..0, children),
                    LdapSearchScope::Subtree => (Some(Hit::Unit(u)), 0..0, children),
                }
            }
            (false, Some(Located::Person(p))) => match scope {
                LdapSearchScope::Base | LdapSearchScope::Subtree => {
                    (Some(Hit::Person(p)), 0..0, 0..0)
                }
                _ => (None, 0..0, 0..0),
            },
            (false, None) => {
                return Err(LdapResult {
                    matcheddn: dir.matched(base),
                    ..result(LdapResultCode::NoSuchObject, "no such entry")
                });
            }
        };
    let candidates = own
        .into_iter()
        .chain(units.map(Hit::Unit))
        .chain(people.map(Hit::Person));
    let mut count = 0;
    for (scanned, h) in candidates.enumerate() {
        if scanned % 4096 == 4095 && Instant::now() > deadline {
            return Ok(Scan::TimeLimit);
        }
        let evaluated = Evaluated {
            node: node(dir, h),
            dir,
        };
        if filter.eval(&evaluated) == Tri::True {
            if count == limit {
                return Ok(Scan::SizeLimit);
            }
            count += 1;
            found(h);
        }
    }
    Ok(Scan::Complete)
}

/// Which attributes a result carries (RFC 4511 4.5.1.8).
struct Selection {
    all_user: bool,
    all_operational: bool,
    named: Vec<Attr>,
    types_only: bool,
}

impl Selection {
    fn new(attrs: &[String], types_only: bool) -> Selection {
        // No list, or "*": every user attribute; "1.1" alone: none.
        let none = attrs.len() == 1 && attrs[0] == "1.1";
        Selection {
            all_user: !none && (attrs.is_empty() || attrs.iter().any(|a| a == "*")),
            all_operational: attrs.iter().any(|a| a == "+"),
            named: attrs
                .iter()
                .filter(|a| !matches!(a.as_str(), "*" | "+" | "1.1"))
                .map(|a| Attr::parse(a))
                .collect(),
            types_only,
        }
    }

    fn wants(&self, attr: &Attr) -> bool {
        if attr.operational() {
            self.all_operational || self.named.contains(attr)
        } else {
            self.all_user || self.named.contains(attr)
        }
    }

    fn attribute<'a>(
        &self,
        attr: &Attr,
        values: impl Iterator<Item = &'a str>,
    ) -> LdapPartialAttribute {
        LdapPartialAttribute {
            atype: attr.name().to_owned(),
            vals: if self.types_only {
                Vec::new()
            } else {
                values.map(|v| v.as_bytes().to_vec()).collect()
            },
        }
    }
}

fn entry(dir: &Directory, node: Node<'_>, select: &Selection) -> LdapSearchResultEntry {
    let attributes = node
        .attributes()
        .iter()
        .filter(|a| select.wants(a))
        .filter_map(|a| {
            let values = node.values(a, dir);
            (!values.is_empty()).then(|| select.attribute(a, values.iter().map(|(raw, _)| *raw)))
        })
        .collect();
    LdapSearchResultEntry {
        dn: node.dn().to_owned(),
        attributes,
    }
}

/// The root DSE (RFC 4512 5.1).
struct RootDse {
    attrs: Vec<(Attr, Vec<String>)>,
}

impl RootDse {
    fn new(dir: &Directory, policy: &Policy) -> RootDse {
        let mut extensions = vec![OID_WHOAMI.to_owned()];
        if policy.starttls {
            extensions.push(OID_STARTTLS.to_owned());
        }
        RootDse {
            attrs: vec![
                (Attr::ObjectClass, vec!["top".into()]),
                (Attr::NamingContexts, vec![dir.org.dn.clone()]),
                (Attr::SupportedLdapVersion, vec!["3".into()]),
                (Attr::SupportedExtension, extensions),
                (Attr::SupportedControl, vec![OID_PAGED.into()]),
            ],
        }
    }

    fn entry(&self, select: &Selection) -> LdapSearchResultEntry {
        LdapSearchResultEntry {
            dn: String::new(),
            attributes: self
                .attrs
                .iter()
                .filter(|(a, _)| select.wants(a))
                .map(|(a, v)| select.attribute(a, v.iter().map(String::as_str)))
                .collect(),
        }
    }
}

impl Valued for RootDse {
    fn folded(&self, attr: &Attr, each: &mut dyn FnMut(&str) -> bool) -> bool {
        self.attrs
            .iter()
            .filter(|(a, _)| a == attr)
            .flat_map(|(_, v)| v)
            .any(|v| each(&super::dn::fold(v)))
    }
}
