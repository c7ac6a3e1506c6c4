//! Directory entries and the names and addresses they are built from.

use std::fmt;
use std::str::FromStr;

use arrayvec::ArrayString;
use bytes::{BufMut, BytesMut};

use crate::WireError;
use crate::limits::{MAX_ATTRIBUTES, MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::primitives::{
    PResult, bool_, fail, list, option, put_bool, put_list, put_string, string, u16_, u64_,
};

const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

/// A validated name: a network, post office, mailbox, node or folder name.
/// 1 to 32 characters from `A-Z`, `0-9`, `-` and `_`; lower case input is
/// upper-cased by [`Name::new`], as MS Mail names are case-insensitive.
///
/// Stored inline (no heap allocation), so names are cheap to copy and to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(ArrayString<MAX_NAME_LEN>);

impl Name {
    pub fn new(raw: &str) -> Result<Name, NameError> {
        let upper = raw.to_ascii_uppercase();
        Self::check(&upper)?;
        ArrayString::from(&upper)
            .map(Name)
            .map_err(|_| NameError::Length(upper.len()))
    }

    fn check(s: &str) -> Result<(), NameError> {
        Self::check_bytes(s.as_bytes())
    }

    /// Valid name bytes are ASCII, so passing this check also proves UTF-8.
    fn check_bytes(raw: &[u8]) -> Result<(), NameError> {
        if raw.is_empty() || raw.len() > MAX_NAME_LEN {
            return Err(NameError::Length(raw.len()));
        }
        match raw.iter().find(|b| !NAME_BYTES[usize::from(**b)]) {
            Some(&bad) if bad.is_ascii() => Err(NameError::Character(char::from(bad))),
            Some(_) => Err(NameError::Character(char::REPLACEMENT_CHARACTER)),
            None => Ok(()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn decode<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> PResult<'a, Name> {
        move |i| {
            let (i, len) = u16_(i)?;
            let len = usize::from(len);
            if len > MAX_NAME_LEN {
                return fail(format!(
                    "{field}: {len} bytes, at most {MAX_NAME_LEN} allowed"
                ));
            }
            let (i, raw) = nom::bytes::complete::take(len)(i)?;
            // On the wire names are already canonical: lower case is refused,
            // so every name has exactly one encoding.
            if let Err(e) = Self::check_bytes(raw) {
                return fail(format!("{field}: {e}"));
            }
            match std::str::from_utf8(raw).map(ArrayString::from) {
                Ok(Ok(name)) => Ok((i, Name(name))),
                _ => fail(format!("{field}: not a valid name")),
            }
        }
    }

    pub(crate) fn encode(&self, out: &mut BytesMut, field: &'static str) -> Result<(), WireError> {
        put_string(out, field, &self.0, MAX_NAME_LEN)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name must be 1 to {MAX_NAME_LEN} characters long, not {0}")]
    Length(usize),
    #[error("a name may hold only A-Z, 0-9, '-' and '_', not {0:?}")]
    Character(char),
    #[error("an address is NETWORK/POSTOFFICE/MAILBOX, not {0:?}")]
    AddressShape(String),
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::new(s)
    }
}

/// `NETWORK/POSTOFFICE/MAILBOX`, the MS Mail address form (`ACME/POA/JSMITH`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub network: Name,
    pub post_office: Name,
    pub mailbox: Name,
}

impl Address {
    pub fn new(network: Name, post_office: Name, mailbox: Name) -> Address {
        Address {
            network,
            post_office,
            mailbox,
        }
    }

    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Address> {
        let (i, network) = Name::decode("address.network")(i)?;
        let (i, post_office) = Name::decode("address.post_office")(i)?;
        let (i, mailbox) = Name::decode("address.mailbox")(i)?;
        Ok((i, Address::new(network, post_office, mailbox)))
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.network.encode(out, "address.network")?;
        self.post_office.encode(out, "address.post_office")?;
        self.mailbox.encode(out, "address.mailbox")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.network, self.post_office, self.mailbox)
    }
}

impl FromStr for Address {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(p), Some(m), None) => {
                Ok(Address::new(Name::new(n)?, Name::new(p)?, Name::new(m)?))
            }
            _ => Err(NameError::AddressShape(s.to_owned())),
        }
    }
}

/// An optional directory attribute such as `PHONE` or `TITLE`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attribute {
    pub key: Name,
    pub value: String,
}

impl Attribute {
    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Attribute> {
        let (i, key) = Name::decode("attribute.key")(i)?;
        let (i, value) = string("attribute.value", MAX_TEXT_LEN)(i)?;
        Ok((i, Attribute { key, value }))
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.key.encode(out, "attribute.key")?;
        put_string(out, "attribute.value", &self.value, MAX_TEXT_LEN)
    }
}

/// Replication metadata of an entry: which version this is and where and when
/// it was made, so every server orders changes of one entry the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct EntryVersion {
    /// Bumped by every change of the entry.
    pub version: u64,
    /// Milliseconds since the Unix epoch when the change was made.
    pub changed_at_ms: u64,
    /// Sequence number of the change at its originating server.
    pub origin_seq: u64,
}

/// One directory entry: a user of some post office, or its tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub address: Address,
    pub display_name: String,
    pub attributes: Vec<Attribute>,
    /// The node that is authoritative for this entry: its post office, or the
    /// bridge after a handover migration.
    pub owner: Name,
    /// The site-directory folder holding the entry (F1, FS1, ...), if any.
    pub folder: Option<Name>,
    /// The server (or requestor) where the change described by `version` was made.
    pub origin: Name,
    pub version: EntryVersion,
    /// A deleted entry, kept so the delete replicates.
    pub tombstone: bool,
}

impl Entry {
    pub fn decode(i: &[u8]) -> PResult<'_, Entry> {
        let (i, address) = Address::decode(i)?;
        let (i, display_name) = string("entry.display_name", MAX_TEXT_LEN)(i)?;
        let (i, attributes) = list("entry.attributes", MAX_ATTRIBUTES, Attribute::decode)(i)?;
        let (i, owner) = Name::decode("entry.owner")(i)?;
        let (i, folder) = option("entry.folder", Name::decode("entry.folder"))(i)?;
        let (i, origin) = Name::decode("entry.origin")(i)?;
        let (i, version) = u64_(i)?;
        let (i, changed_at_ms) = u64_(i)?;
        let (i, origin_seq) = u64_(i)?;
        let (i, tombstone) = bool_("entry.tombstone")(i)?;
        Ok((
            i,
            Entry {
                address,
                display_name,
                attributes,
                owner,
                folder,
                origin,
                version: EntryVersion {
                    version,
                    changed_at_ms,
                    origin_seq,
                },
                tombstone,
            },
        ))
    }

    pub fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        self.address.encode(out)?;
        put_string(out, "entry.display_name", &self.display_name, MAX_TEXT_LEN)?;
        put_list(
            out,
            "entry.attributes",
            &self.attributes,
            MAX_ATTRIBUTES,
            |o, a| a.encode(o),
        )?;
        self.owner.encode(out, "entry.owner")?;
        crate::primitives::put_option(out, self.folder.as_ref(), |out, f| {
            f.encode(out, "entry.folder")
        })?;
        self.origin.encode(out, "entry.origin")?;
        out.put_u64(self.version.version);
        out.put_u64(self.version.changed_at_ms);
        out.put_u64(self.version.origin_seq);
        put_bool(out, self.tombstone);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_upper_cased_and_checked() {
        assert_eq!(Name::new("poa").unwrap().as_str(), "POA");
        assert_eq!(Name::new(""), Err(NameError::Length(0)));
        assert_eq!(Name::new("A.B"), Err(NameError::Character('.')));
        assert_eq!(Name::new(&"X".repeat(33)), Err(NameError::Length(33)));
    }

    #[test]
    fn addresses_parse_from_ms_mail_form() {
        let a: Address = "acme/poa/jsmith".parse().unwrap();
        assert_eq!(a.to_string(), "ACME/POA/JSMITH");
        assert!("ACME/POA".parse::<Address>().is_err());
        assert!("ACME/POA/J/X".parse::<Address>().is_err());
    }
}
