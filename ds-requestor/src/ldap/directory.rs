//! One snapshot of the GAL as a directory information tree (see
//! docs/LDAP.md):
//!
//! ```text
//! o=ACME                          organization (the naming context)
//!   ou=POA,o=ACME                 organizationalUnit per post office
//!     uid=JSMITH,ou=POA,o=ACME    inetOrgPerson per user
//! ```
//!
//! Built once per change of the GAL and shared by every search until the
//! next: each value is kept as written and case-folded, so a search folds
//! only its assertion values.

use std::collections::HashMap;

use arrayvec::ArrayVec;
use wire_format::{Address, Entry, Name};

use super::dn::{Dn, fold};
use super::schema::{Attr, PERSON_CLASSES};

/// An attribute's values, each as written and as compared.
pub type Values<'a> = ArrayVec<(&'a str, &'a str), 4>;

/// A user.
pub struct Person {
    pub dn: String,
    pub post_office: Name,
    pub mailbox: Name,
    /// Its post office's unit in [`Directory::units`].
    unit: usize,
    display: (String, String),
    sn: (String, String),
    given: Option<(String, String)>,
    uid: String,
    mail: String,
    ms: (String, String),
    smtp: (String, String),
}

/// The organization or a post office's unit.
pub struct Container {
    pub dn: String,
    /// `o` or `ou` and its value.
    attr: Attr,
    value: (String, String),
    /// Index range of its people in [`Directory::people`] (a unit), or
    /// of its units in [`Directory::units`] (the organization).
    pub children: std::ops::Range<usize>,
}

/// A node of the tree, for filters and results.
#[derive(Clone, Copy)]
pub enum Node<'a> {
    Org(&'a Container),
    Unit(&'a Container),
    Person(&'a Person),
}

pub struct Directory {
    pub network: Name,
    /// `o=NETWORK`: the naming context.
    pub base: Dn,
    pub org: Container,
    pub units: Vec<Container>,
    /// Sorted by post office then mailbox, so each unit's people are one
    /// range.
    pub people: Vec<Person>,
    /// Which node a DN names: (unit index, person index or None).
    index: HashMap<Dn, (usize, Option<usize>)>,
}

/// Where a DN is in the tree.
pub enum Located {
    Org,
    Unit(usize),
    Person(usize),
}

/// `ACME/POA/JSMITH` is `jsmith@poa.acme`, as the mail routers address it
/// (`mail_router::routing::smtp_address`).
pub fn smtp_address(a: &Address) -> String {
    format!("{}@{}.{}", a.mailbox, a.post_office, a.network).to_ascii_lowercase()
}

fn pair(raw: String) -> (String, String) {
    let folded = fold(&raw);
    (raw, folded)
}

/// `sn` is the display name's last word, `givenName` the words before it
/// (none for a one-word name); an empty display name gives the mailbox.
fn names(display: &str, mailbox: &str) -> (String, String, Option<String>) {
    let display = display.trim();
    if display.is_empty() {
        return (mailbox.to_owned(), mailbox.to_owned(), None);
    }
    match display.rsplit_once(char::is_whitespace) {
        Some((given, sn)) => (
            display.to_owned(),
            sn.to_owned(),
            Some(given.trim_end().to_owned()),
        ),
        None => (display.to_owned(), display.to_owned(), None),
    }
}

impl Directory {
    /// The tree of `entries` (tombstones are left out).
    pub fn build(network: Name, entries: impl IntoIterator<Item = Entry>) -> Directory {
        let base = Dn::child(&Dn::default(), "o", network.as_str());
        let mut people: Vec<Person> = entries
            .into_iter()
            .filter(|e| !e.tombstone && e.address.network == network)
            .map(|e| {
                let a = &e.address;
                let (cn, sn, given) = names(&e.display_name, a.mailbox.as_str());
                let mail = smtp_address(a);
                Person {
                    dn: format!("uid={},ou={},o={}", a.mailbox, a.post_office, a.network),
                    post_office: a.post_office,
                    mailbox: a.mailbox,
                    unit: 0,
                    display: pair(cn),
                    sn: pair(sn),
                    given: given.map(pair),
                    uid: a.mailbox.as_str().to_ascii_lowercase(),
                    ms: pair(format!("MS:{}/{}/{}", a.network, a.post_office, a.mailbox)),
                    smtp: pair(format!("SMTP:{mail}")),
                    mail,
                }
            })
            .collect();
        people.sort_by_key(|p| (p.post_office, p.mailbox));
        let mut units: Vec<Container> = Vec::new();
        let mut index = HashMap::with_capacity(people.len() + 16);
        for (i, p) in people.iter_mut().enumerate() {
            if units
                .last()
                .is_none_or(|u| u.value.0 != p.post_office.as_str())
            {
                let po = p.post_office.as_str();
                units.push(Container {
                    dn: format!("ou={po},o={network}"),
                    attr: Attr::Ou,
                    value: pair(po.to_owned()),
                    children: i..i,
                });
                index.insert(Dn::child(&base, "ou", po), (units.len() - 1, None));
            }
            let u = units.len() - 1;
            units[u].children.end = i + 1;
            p.unit = u;
            let unit_dn = Dn::child(&base, "ou", p.post_office.as_str());
            index.insert(Dn::child(&unit_dn, "uid", p.mailbox.as_str()), (u, Some(i)));
        }
        Directory {
            org: Container {
                dn: format!("o={network}"),
                attr: Attr::O,
                value: pair(network.as_str().to_owned()),
                children: 0..units.len(),
            },
            network,
            base,
            units,
            people,
            index,
        }
    }

    /// Where `dn` is, if it names an entry.
    pub fn locate(&self, dn: &Dn) -> Option<Located> {
        if *dn == self.base {
            return Some(Located::Org);
        }
        self.index.get(dn).map(|(unit, person)| match person {
            Some(p) => Located::Person(*p),
            None => Located::Unit(*unit),
        })
    }

    /// The deepest entry above a DN that names none (a noSuchObject
    /// result's matchedDN, RFC 4511 4.1.9).
    pub fn matched(&self, dn: &Dn) -> String {
        (1..=dn.0.len())
            .map(|n| dn.up(n))
            .find_map(|up| match self.locate(&up)? {
                Located::Org => Some(self.org.dn.clone()),
                Located::Unit(u) => Some(self.units[u].dn.clone()),
                Located::Person(p) => Some(self.people[p].dn.clone()),
            })
            .unwrap_or_default()
    }
}

impl<'a> Node<'a> {
    pub fn dn(&self) -> &'a str {
        match self {
            Node::Org(c) | Node::Unit(c) => &c.dn,
            Node::Person(p) => &p.dn,
        }
    }

    /// The user attributes this node has, in result order.
    pub fn attributes(&self) -> &'static [Attr] {
        match self {
            Node::Org(_) => &[Attr::ObjectClass, Attr::O],
            Node::Unit(_) => &[Attr::ObjectClass, Attr::Ou],
            Node::Person(_) => &super::schema::PERSON,
        }
    }

    /// The values of `attr` (empty: the node has no such attribute).
    /// `dir` is the directory the node is in.
    pub fn values(&self, attr: &Attr, dir: &'a Directory) -> Values<'a> {
        let mut out = Values::new();
        match (self, attr) {
            (Node::Org(c) | Node::Unit(c), a) if *a == c.attr => push(&mut out, &c.value),
            (Node::Org(_), Attr::ObjectClass) => {
                out.push(("top", "top"));
                out.push(("organization", "organization"));
            }
            (Node::Unit(_), Attr::ObjectClass) => {
                out.push(("top", "top"));
                out.push(("organizationalUnit", "organizationalunit"));
            }
            (Node::Person(p), a) => match a {
                Attr::ObjectClass => out.extend(PERSON_CLASSES),
                Attr::Cn | Attr::DisplayName => push(&mut out, &p.display),
                Attr::Sn => push(&mut out, &p.sn),
                Attr::GivenName => {
                    if let Some(g) = &p.given {
                        push(&mut out, g);
                    }
                }
                Attr::Uid => out.push((p.mailbox.as_str(), &p.uid)),
                Attr::Mail => out.push((&p.mail, &p.mail)),
                Attr::ProxyAddresses => {
                    push(&mut out, &p.smtp);
                    push(&mut out, &p.ms);
                }
                // o and ou come from the tree above the person.
                Attr::O => push(&mut out, &dir.org.value),
                Attr::Ou => push(&mut out, &dir.units[p.unit].value),
                _ => {}
            },
            _ => {}
        }
        out
    }
}

fn push<'a>(out: &mut Values<'a>, v: &'a (String, String)) {
    out.push((v.0.as_str(), v.1.as_str()));
}
