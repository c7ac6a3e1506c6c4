//! Search filters (RFC 4511 4.5.1.7), evaluated in three values: a filter
//! on an attribute type the directory does not know, or with a matching
//! rule the type has not, is Undefined, which NOT keeps Undefined and
//! which the search treats as FALSE. Assertion values are folded once,
//! when the filter is compiled, and compared with the entries' folded
//! values (every attribute here matches case-insensitively).

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::dn::fold;
use super::schema::Attr;

/// A filter's outcome on one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Undefined,
}

/// What a filter reads from an entry: the values of an attribute, each
/// as written and folded.
pub trait Valued {
    fn folded(&self, attr: &Attr, each: &mut dyn FnMut(&str) -> bool) -> bool;
}

#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equal(Attr, String),
    Substring(Attr, Substrings),
    Greater(Attr, String),
    Less(Attr, String),
    Present(Attr),
    /// An extensible match (RFC 4511 4.5.1.7.7): no matching rules are
    /// offered, so it is Undefined.
    Undefined,
}

#[derive(Debug, Clone)]
pub struct Substrings {
    initial: Option<String>,
    any: Vec<String>,
    last: Option<String>,
}

impl Filter {
    pub fn compile(filter: &LdapFilter) -> Filter {
        match filter {
            LdapFilter::And(list) => Filter::And(list.iter().map(Filter::compile).collect()),
            LdapFilter::Or(list) => Filter::Or(list.iter().map(Filter::compile).collect()),
            LdapFilter::Not(inner) => Filter::Not(Box::new(Filter::compile(inner))),
            // approxMatch is the equality of these attributes (RFC 4511
            // 4.5.1.7.6 lets a server do so).
            LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => {
                Filter::Equal(Attr::parse(a), fold(v))
            }
            LdapFilter::Substring(a, s) => Filter::Substring(Attr::parse(a), Substrings::new(s)),
            LdapFilter::GreaterOrEqual(a, v) => Filter::Greater(Attr::parse(a), fold(v)),
            LdapFilter::LessOrEqual(a, v) => Filter::Less(Attr::parse(a), fold(v)),
            LdapFilter::Present(a) => Filter::Present(Attr::parse(a)),
            LdapFilter::Extensible(_) => Filter::Undefined,
        }
    }

    pub fn eval(&self, entry: &dyn Valued) -> Tri {
        match self {
            Filter::And(list) => {
                let mut out = Tri::True;
                for f in list {
                    match f.eval(entry) {
                        Tri::False => return Tri::False,
                        Tri::Undefined => out = Tri::Undefined,
                        Tri::True => {}
                    }
                }
                out
            }
            Filter::Or(list) => {
                let mut out = Tri::False;
                for f in list {
                    match f.eval(entry) {
                        Tri::True => return Tri::True,
                        Tri::Undefined => out = Tri::Undefined,
                        Tri::False => {}
                    }
                }
                out
            }
            Filter::Not(inner) => match inner.eval(entry) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                Tri::Undefined => Tri::Undefined,
            },
            // Presence is never Undefined: an unknown type is absent.
            Filter::Present(a) => tri(entry.folded(a, &mut |_| true)),
            Filter::Equal(a, v) => known(a, true, || entry.folded(a, &mut |x| x == v)),
            Filter::Substring(a, s) => known(a, a.has_substrings(), || {
                entry.folded(a, &mut |x| s.matches(x))
            }),
            Filter::Greater(a, v) => known(a, a.has_ordering(), || {
                entry.folded(a, &mut |x| x >= v.as_str())
            }),
            Filter::Less(a, v) => known(a, a.has_ordering(), || {
                entry.folded(a, &mut |x| x <= v.as_str())
            }),
            Filter::Undefined => Tri::Undefined,
        }
    }
}

fn tri(b: bool) -> Tri {
    if b { Tri::True } else { Tri::False }
}

fn known(a: &Attr, rule: bool, test: impl FnOnce() -> bool) -> Tri {
    if matches!(a, Attr::Unknown(_)) || !rule {
        Tri::Undefined
    } else {
        tri(test())
    }
}

impl Substrings {
    fn new(s: &LdapSubstringFilter) -> Substrings {
        Substrings {
            initial: s.initial.as_deref().map(fold),
            any: s.any.iter().map(|a| fold(a)).collect(),
            last: s.final_.as_deref().map(fold),
        }
    }

    /// caseIgnoreSubstringsMatch: the initial part at the start, each
    /// `any` in order after it, the final part at the end, none
    /// overlapping.
    fn matches(&self, value: &str) -> bool {
        let mut rest = value;
        if let Some(initial) = &self.initial {
            match rest.strip_prefix(initial.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        for any in &self.any {
            match rest.find(any.as_str()) {
                Some(at) => rest = &rest[at + any.len()..],
                None => return false,
            }
        }
        match &self.last {
            Some(last) => rest.ends_with(last.as_str()),
            None => true,
        }
    }
}
