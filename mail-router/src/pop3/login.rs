//! Who a POP3 login names: `CAROL`, `carol` or `carol@poc.acme` (the post
//! office's own address, without case) all name mailbox CAROL; and the
//! SASL PLAIN message of RFC 4616 that AUTH PLAIN (RFC 5034) carries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wire_format::Name;

/// A login as the client gave it. `mailbox` is None when it names no
/// mailbox of this post office (another post office's address, a name no
/// mailbox can have): such a login is refused like a wrong password, after
/// the same work, so that the answer does not tell which names exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub mailbox: Option<Name>,
    /// What failed logins are counted under: the mailbox name, or the
    /// login as given (lower case) when it names none.
    pub key: String,
}

/// `domain` is the post office's own mail domain (`poc.acme`).
pub fn login(user: &str, domain: &str) -> Login {
    let user = user.trim();
    let local = match user.rsplit_once('@') {
        Some((local, d)) if d.eq_ignore_ascii_case(domain) => Some(local),
        Some(_) => None,
        None => Some(user),
    };
    match local.and_then(|l| Name::new(l).ok()) {
        Some(mailbox) => Login {
            mailbox: Some(mailbox),
            key: mailbox.as_str().to_owned(),
        },
        None => Login {
            mailbox: None,
            key: user.to_ascii_lowercase(),
        },
    }
}

/// Why an AUTH PLAIN response was not a SASL PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub enum PlainError {
    NotBase64,
    Malformed,
}

/// Decodes the base64 PLAIN message `authzid NUL authcid NUL passwd` into
/// the login and the password. An authorisation identity other than the
/// login's own mailbox (acting for another user) names no mailbox here.
pub fn plain(response: &str, domain: &str) -> Result<(Login, String), PlainError> {
    let response = response.trim();
    // RFC 5034 §4: "=" is an empty initial response.
    let raw = if response == "=" {
        Vec::new()
    } else {
        STANDARD
            .decode(response)
            .map_err(|_| PlainError::NotBase64)?
    };
    let text = String::from_utf8(raw).map_err(|_| PlainError::Malformed)?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PlainError::Malformed);
    };
    if authcid.is_empty() {
        return Err(PlainError::Malformed);
    }
    let mut who = login(authcid, domain);
    if !authzid.is_empty() && login(authzid, domain).mailbox != who.mailbox {
        who.mailbox = None;
    }
    Ok((who, password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(user: &str) -> Option<String> {
        login(user, "poc.acme")
            .mailbox
            .map(|m| m.as_str().to_owned())
    }

    #[test]
    fn a_name_or_the_post_offices_own_address_names_the_mailbox() {
        assert_eq!(mailbox("CAROL").as_deref(), Some("CAROL"));
        assert_eq!(mailbox("carol").as_deref(), Some("CAROL"));
        assert_eq!(mailbox("carol@poc.acme").as_deref(), Some("CAROL"));
        assert_eq!(mailbox("Carol@POC.Acme").as_deref(), Some("CAROL"));
    }

    #[test]
    fn another_post_offices_address_names_no_mailbox_here() {
        assert_eq!(mailbox("carol@pob.acme"), None);
        assert_eq!(mailbox("carol@poc.acme.evil"), None);
        assert_eq!(mailbox("no such name!"), None);
        assert_eq!(login("Carol@POB.acme", "poc.acme").key, "carol@pob.acme");
    }

    #[test]
    fn plain_messages_decode_to_login_and_password() {
        let b64 = |s: &str| STANDARD.encode(s);
        let (who, pw) = plain(&b64("\0carol\0s3cret"), "poc.acme").unwrap();
        assert_eq!(
            who.mailbox.map(|m| m.as_str().to_owned()).as_deref(),
            Some("CAROL")
        );
        assert_eq!(pw, "s3cret");
        let (who, _) = plain(&b64("carol@poc.acme\0carol\0pw"), "poc.acme").unwrap();
        assert!(who.mailbox.is_some());
        // Acting for another user is not offered.
        let (who, _) = plain(&b64("dave\0carol\0pw"), "poc.acme").unwrap();
        assert_eq!(who.mailbox, None);
        assert_eq!(plain("not base64!", "poc.acme"), Err(PlainError::NotBase64));
        assert_eq!(
            plain(&b64("carol\0pw"), "poc.acme"),
            Err(PlainError::Malformed)
        );
        assert_eq!(plain("=", "poc.acme"), Err(PlainError::Malformed));
    }
}
