//! Distinguished names (RFC 4514) as the address book compares them: a
//! list of `type=value` RDNs, leaf first, each type by its canonical short
//! name and each value case-folded (every naming attribute here matches
//! with caseIgnoreMatch), so `UID=jsmith, OU=poa,o=Acme` is the entry
//! `uid=JSMITH,ou=POA,o=ACME`.

/// A parsed, normalized DN; the root DSE's is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Dn(pub Vec<(String, String)>);

impl Dn {
    /// `None` for what is not a DN (an RDN without `=`, an empty type).
    pub fn parse(text: &str) -> Option<Dn> {
        if text.trim().is_empty() {
            return Some(Dn::default());
        }
        let mut rdns = Vec::new();
        for rdn in split_unescaped(text, ',') {
            let (kind, value) = rdn.split_once('=')?;
            let kind = kind.trim();
            if kind.is_empty() {
                return None;
            }
            rdns.push((canonical_type(kind), fold(&unescape(value.trim())?)));
        }
        Some(Dn(rdns))
    }

    /// The DN of an entry below `parent`.
    pub fn child(parent: &Dn, kind: &str, value: &str) -> Dn {
        let mut rdns = Vec::with_capacity(parent.0.len() + 1);
        rdns.push((canonical_type(kind), fold(value)));
        rdns.extend(parent.0.iter().cloned());
        Dn(rdns)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self` is `ancestor` or below it.
    pub fn within(&self, ancestor: &Dn) -> bool {
        self.0.len() >= ancestor.0.len() && self.0[self.0.len() - ancestor.0.len()..] == ancestor.0
    }

    /// The DN `n` levels up (the parent for 1).
    pub fn up(&self, n: usize) -> Dn {
        Dn(self.0.iter().skip(n).cloned().collect())
    }
}

/// Attribute type names are case-insensitive, and a few have long names
/// (RFC 4519); a DN or a filter may use either.
pub fn canonical_type(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.as_str() {
        "commonname" | "2.5.4.3" => "cn",
        "surname" | "2.5.4.4" => "sn",
        "gn" | "2.5.4.42" => "givenname",
        "userid" | "0.9.2342.19200300.100.1.1" => "uid",
        "rfc822mailbox" | "0.9.2342.19200300.100.1.3" => "mail",
        "organizationname" | "2.5.4.10" => "o",
        "organizationalunitname" | "2.5.4.11" => "ou",
        "2.5.4.0" => "objectclass",
        "2.16.840.1.113730.3.1.241" => "displayname",
        _ => return lower,
    }
    .to_owned()
}

/// caseIgnoreMatch's preparation (RFC 4518, simplified to what directory
/// names hold): case folded, outer spaces dropped, inner runs of spaces
/// one space.
pub fn fold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

fn split_unescaped(text: &str, at: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == at => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// RFC 4514 2.4: `\,` for a special character, `\2C` for a byte in hex.
fn unescape(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'\\' {
            bytes.push(b);
            rest = tail;
            continue;
        }
        match tail {
            [h, l, more @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = [*h, *l];
                let text = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(text, 16).ok()?);
                rest = more;
            }
            [c, more @ ..] => {
                bytes.push(*c);
                rest = more;
            }
            [] => return None,
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_dns_compare_case_and_space_insensitively() {
        let a = Dn::parse("UID=jsmith, OU=poa,o=Acme").unwrap();
        let b = Dn::parse("uid=JSMITH,ou=POA,o=ACME").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            Dn::parse("commonName=J\\2c Smith,o=ACME").unwrap(),
            Dn::parse("cn=j\\, smith,o=acme").unwrap()
        );
        assert!(Dn::parse("").unwrap().is_root());
        assert!(Dn::parse("nonsense").is_none());
        assert!(a.within(&Dn::parse("o=acme").unwrap()));
        assert!(!Dn::parse("o=acme").unwrap().within(&a));
        assert_eq!(a.up(1), Dn::parse("ou=POA,o=ACME").unwrap());
    }
}
