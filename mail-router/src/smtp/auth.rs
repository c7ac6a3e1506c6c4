//! The SASL exchange of SMTP AUTH (RFC 4954) for the two mechanisms every
//! client has: PLAIN (RFC 4616; decoded by [`crate::pop3::login::plain`],
//! the same message POP3's AUTH PLAIN carries) and LOGIN (the
//! `Username:`/`Password:` prompts of draft-murchison-sasl-login). A login
//! names a mailbox as POP3's does (`CAROL`, `carol`, `carol@poa.acme`),
//! and the password is the user's POP3 password: the shell checks it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use role_runtime::Secret;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};

use crate::pop3::login::{self, Login, PlainError};

/// What EHLO lists after `AUTH` (under TLS only).
pub const MECHANISMS: &str = "PLAIN LOGIN";

/// RFC 4954 4: the client cancelled the exchange with `*`.
const CANCELLED: &str = "501 5.0.0 Authentication cancelled";
const NOT_BASE64: &str = "501 5.5.2 Cannot decode the response: it is not base64";
const NOT_PLAIN: &str =
    "501 5.5.2 The PLAIN response is not authzid NUL authcid NUL password (RFC 4616)";
const NOT_TEXT: &str = "501 5.5.2 The response is not UTF-8 text";

/// An exchange waiting for the client's next response line.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchange {
    /// AUTH PLAIN without an initial response: the `334 ` was sent.
    Plain,
    /// AUTH LOGIN: `Username:` was asked.
    LoginUser,
    /// AUTH LOGIN: `Password:` was asked for this login.
    LoginPassword(Login),
}

/// The next step of an exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this `334` challenge and wait for the response.
    Challenge(&'static str, Exchange),
    /// The credentials are complete: check them.
    Credentials(Login, Secret<String>),
    /// The exchange ends with this reply.
    Refused(&'static str),
}

/// RFC 4954 4: the empty challenge (PLAIN's server sends nothing).
const EMPTY_CHALLENGE: &str = "334 ";
/// base64 of `Username:` and `Password:`, as every LOGIN client expects.
const USERNAME: &str = "334 VXNlcm5hbWU6";
const PASSWORD: &str = "334 UGFzc3dvcmQ6";

/// The step after `AUTH mechanism [initial-response]`; `None` for a
/// mechanism that is not offered. `domain` is the post office's own mail
/// domain, so that `carol@poa.acme` names CAROL.
pub fn start(mechanism: u64, initial: &str, domain: &str) -> Option<Step> {
    let initial = initial.trim();
    Some(match mechanism {
        AUTH_PLAIN if initial.is_empty() => Step::Challenge(EMPTY_CHALLENGE, Exchange::Plain),
        AUTH_PLAIN => plain(initial, domain),
        AUTH_LOGIN if initial.is_empty() => Step::Challenge(USERNAME, Exchange::LoginUser),
        // RFC 4954 4: an initial response is the answer to the first
        // challenge, here the user name.
        AUTH_LOGIN => respond(Exchange::LoginUser, initial, domain),
        _ => return None,
    })
}

/// The step after the client's response `line` to the challenge of
/// `exchange`.
pub fn respond(exchange: Exchange, line: &str, domain: &str) -> Step {
    let line = line.trim();
    if line == "*" {
        return Step::Refused(CANCELLED);
    }
    match exchange {
        Exchange::Plain => plain(line, domain),
        Exchange::LoginUser => match decode(line) {
            Ok(user) => Step::Challenge(
                PASSWORD,
                Exchange::LoginPassword(login::login(&user, domain)),
            ),
            Err(refusal) => Step::Refused(refusal),
        },
        Exchange::LoginPassword(who) => match decode(line) {
            Ok(password) => Step::Credentials(who, Secret::new(password)),
            Err(refusal) => Step::Refused(refusal),
        },
    }
}

fn plain(response: &str, domain: &str) -> Step {
    match login::plain(response, domain) {
        Ok((who, password)) => Step::Credentials(who, Secret::new(password)),
        Err(PlainError::NotBase64) => Step::Refused(NOT_BASE64),
        Err(PlainError::Malformed) => Step::Refused(NOT_PLAIN),
    }
}

/// A LOGIN response: base64 of UTF-8 text (`=` is the empty one).
fn decode(response: &str) -> Result<String, &'static str> {
    if response == "=" {
        return Ok(String::new());
    }
    let raw = STANDARD.decode(response).map_err(|_| NOT_BASE64)?;
    String::from_utf8(raw).map_err(|_| NOT_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn mailbox(login: &Login) -> Option<&str> {
        login.mailbox.as_ref().map(|m| m.as_str())
    }

    #[test]
    fn plain_with_and_without_an_initial_response() {
        let Some(Step::Credentials(who, pw)) = start(AUTH_PLAIN, &b64("\0carol\0pw"), "poa.acme")
        else {
            panic!("no credentials")
        };
        assert_eq!((mailbox(&who), pw.expose().as_str()), (Some("CAROL"), "pw"));
        let Some(Step::Challenge(challenge, exchange)) = start(AUTH_PLAIN, "", "poa.acme") else {
            panic!("no challenge")
        };
        assert_eq!(challenge, "334 ");
        let Step::Credentials(who, _) = respond(exchange, &b64("\0carol@poa.acme\0pw"), "poa.acme")
        else {
            panic!("no credentials")
        };
        assert_eq!(mailbox(&who), Some("CAROL"));
        assert_eq!(
            respond(Exchange::Plain, "not base64!", "poa.acme"),
            Step::Refused(NOT_BASE64)
        );
        assert_eq!(
            respond(Exchange::Plain, &b64("carol\0pw"), "poa.acme"),
            Step::Refused(NOT_PLAIN)
        );
    }

    #[test]
    fn login_asks_for_the_name_then_the_password() {
        let Some(Step::Challenge(USERNAME, exchange)) = start(AUTH_LOGIN, "", "poa.acme") else {
            panic!("no Username: challenge")
        };
        let Step::Challenge(PASSWORD, exchange) = respond(exchange, &b64("carol"), "poa.acme")
        else {
            panic!("no Password: challenge")
        };
        let Step::Credentials(who, pw) = respond(exchange, &b64("s3cret"), "poa.acme") else {
            panic!("no credentials")
        };
        assert_eq!(
            (mailbox(&who), pw.expose().as_str()),
            (Some("CAROL"), "s3cret")
        );
        // The initial response is the user name.
        let Some(Step::Challenge(PASSWORD, _)) = start(AUTH_LOGIN, &b64("carol"), "poa.acme")
        else {
            panic!("no Password: challenge")
        };
    }

    #[test]
    fn a_star_cancels_and_other_mechanisms_are_not_offered() {
        assert_eq!(
            respond(Exchange::LoginUser, "*", "poa.acme"),
            Step::Refused(CANCELLED)
        );
        assert_eq!(
            respond(Exchange::Plain, "*", "poa.acme"),
            Step::Refused(CANCELLED)
        );
        assert_eq!(start(smtp_proto::AUTH_CRAM_MD5, "", "poa.acme"), None);
        // Another post office's user names no mailbox here.
        let Step::Challenge(_, Exchange::LoginPassword(who)) =
            respond(Exchange::LoginUser, &b64("carol@pob.acme"), "poa.acme")
        else {
            panic!("no Password: challenge")
        };
        assert_eq!(who.mailbox, None);
    }
}
