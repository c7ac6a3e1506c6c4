//! The attribute types the address book knows (RFC 4519, RFC 2798's
//! inetOrgPerson, Exchange's proxyAddresses, the root DSE's of RFC 4512),
//! and how each matches: every one of them case-insensitively
//! (caseIgnoreMatch, caseIgnoreIA5Match for `mail`, objectIdentifierMatch
//! on names for `objectClass`).

use super::dn::canonical_type;

/// An attribute type, resolved once per filter or request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    ObjectClass,
    Cn,
    Sn,
    GivenName,
    DisplayName,
    Uid,
    Mail,
    /// `MS:NETWORK/PO/MAILBOX` and `SMTP:mailbox@po.network`: how
    /// Exchange published an MS Mail address.
    ProxyAddresses,
    O,
    Ou,
    NamingContexts,
    SupportedLdapVersion,
    SupportedExtension,
    SupportedControl,
    /// A type this directory has no definition of: a filter on it is
    /// Undefined (RFC 4511 4.5.1.7).
    Unknown(String),
}

impl Attr {
    pub fn parse(name: &str) -> Attr {
        match canonical_type(name).as_str() {
            "objectclass" => Attr::ObjectClass,
            "cn" => Attr::Cn,
            "sn" => Attr::Sn,
            "givenname" => Attr::GivenName,
            "displayname" => Attr::DisplayName,
            "uid" => Attr::Uid,
            "mail" => Attr::Mail,
            "proxyaddresses" => Attr::ProxyAddresses,
            "o" => Attr::O,
            "ou" => Attr::Ou,
            "namingcontexts" => Attr::NamingContexts,
            "supportedldapversion" => Attr::SupportedLdapVersion,
            "supportedextension" => Attr::SupportedExtension,
            "supportedcontrol" => Attr::SupportedControl,
            other => Attr::Unknown(other.to_owned()),
        }
    }

    /// The name a result carries.
    pub fn name(&self) -> &str {
        match self {
            Attr::ObjectClass => "objectClass",
            Attr::Cn => "cn",
            Attr::Sn => "sn",
            Attr::GivenName => "givenName",
            Attr::DisplayName => "displayName",
            Attr::Uid => "uid",
            Attr::Mail => "mail",
            Attr::ProxyAddresses => "proxyAddresses",
            Attr::O => "o",
            Attr::Ou => "ou",
            Attr::NamingContexts => "namingContexts",
            Attr::SupportedLdapVersion => "supportedLDAPVersion",
            Attr::SupportedExtension => "supportedExtension",
            Attr::SupportedControl => "supportedControl",
            Attr::Unknown(name) => name,
        }
    }

    /// The root DSE's attributes are operational (RFC 4512 5.1): sent
    /// only when asked for by name or with `+`.
    pub fn operational(&self) -> bool {
        matches!(
            self,
            Attr::NamingContexts
                | Attr::SupportedLdapVersion
                | Attr::SupportedExtension
                | Attr::SupportedControl
        )
    }

    /// Whether substring assertions are defined (objectClass has no
    /// substrings rule, the root DSE's are not searched that way).
    pub fn has_substrings(&self) -> bool {
        !matches!(self, Attr::ObjectClass | Attr::Unknown(_)) && !self.operational()
    }

    /// Whether `>=`/`<=` are defined (caseIgnoreOrderingMatch).
    pub fn has_ordering(&self) -> bool {
        matches!(
            self,
            Attr::Cn
                | Attr::Sn
                | Attr::GivenName
                | Attr::DisplayName
                | Attr::Uid
                | Attr::O
                | Attr::Ou
        )
    }
}

/// Every user attribute of a person, in the order a result lists them.
pub const PERSON: [Attr; 10] = [
    Attr::ObjectClass,
    Attr::Cn,
    Attr::Sn,
    Attr::GivenName,
    Attr::DisplayName,
    Attr::Uid,
    Attr::Mail,
    Attr::ProxyAddresses,
    Attr::O,
    Attr::Ou,
];

/// A person's object classes (RFC 2798 inetOrgPerson and its superiors),
/// as written and as compared.
pub const PERSON_CLASSES: [(&str, &str); 4] = [
    ("top", "top"),
    ("person", "person"),
    ("organizationalPerson", "organizationalperson"),
    ("inetOrgPerson", "inetorgperson"),
];

/// StartTLS (RFC 4511 4.14.1).
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
/// "Who am I?" (RFC 4532).
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
/// Simple paged results (RFC 2696).
pub const OID_PAGED: &str = "1.2.840.113556.1.4.319";
/// The Notice of Disconnection (RFC 4511 4.4.1).
pub const OID_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";
