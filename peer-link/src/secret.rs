//! Keys and passwords that must never reach a log line or a `Debug` dump,
//! and the one check every pre-shared key passes before it is used.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The fewest hex digits a pre-shared key may have: 128 bits.
///
/// The handshake lets anyone who sees one Challenge test guesses of the key
/// offline (the server proves first, with an HMAC under the key), so a key
/// must be too random to guess, not merely secret: a human-chosen word was
/// cracked from one captured Challenge. Hex digits are what a generator
/// such as `openssl rand -hex 16` writes, and counting them measures the
/// randomness we can vouch for; see docs/PROTOCOL.md, "Handshake".
pub const MIN_SECRET_HEX_DIGITS: usize = 32;

/// What to run to get a key that passes [`check_strength`].
pub const GENERATE_HINT: &str = "generate one with `openssl rand -hex 16`";

/// A pre-shared key refused by [`check_strength`]. The message names the
/// key (`key`, as the caller calls it: `operator_secret`,
/// `peers[H].secret`, ...) and never shows the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WeakSecret {
    #[error("{key} is empty, and an empty key would let anyone authenticate; {GENERATE_HINT}")]
    Empty { key: String },
    #[error(
        "{key} has a character that is not a hex digit (at position {position}); keys must be \
         at least {MIN_SECRET_HEX_DIGITS} random hex digits (128 bits); {GENERATE_HINT}"
    )]
    NotHex { key: String, position: usize },
    #[error(
        "{key} has {digits} hex digits, fewer than the {MIN_SECRET_HEX_DIGITS} (128 bits) a key \
         needs, because a captured handshake lets a short key be guessed offline; {GENERATE_HINT}"
    )]
    TooShort { key: String, digits: usize },
}

impl WeakSecret {
    /// The name of the refused key.
    pub fn key(&self) -> &str {
        match self {
            WeakSecret::Empty { key }
            | WeakSecret::NotHex { key, .. }
            | WeakSecret::TooShort { key, .. } => key,
        }
    }
}

/// Accepts `value` as a pre-shared key only if it is at least
/// [`MIN_SECRET_HEX_DIGITS`] hex digits (either case) and nothing else.
/// `key` names where the value came from, for the error.
///
/// Every place a key enters a process (a role's configuration, netctl's
/// topology `[secrets]`) calls this one function, so the rule is the same
/// everywhere.
pub fn check_strength(key: &str, value: &str) -> Result<(), WeakSecret> {
    if value.is_empty() {
        return Err(WeakSecret::Empty {
            key: key.to_owned(),
        });
    }
    // Position in characters, so a multi-byte character is counted once;
    // the character itself is not shown, being part of the key.
    if let Some(position) = value.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(WeakSecret::NotHex {
            key: key.to_owned(),
            position: position + 1,
        });
    }
    if value.len() < MIN_SECRET_HEX_DIGITS {
        return Err(WeakSecret::TooShort {
            key: key.to_owned(),
            digits: value.len(),
        });
    }
    Ok(())
}

/// A value whose `Debug` and `Display` print `<redacted>`. Reading it takes
/// a deliberate [`Secret::expose`]. Serde reads and writes the value itself
/// (`#[serde(transparent)]`): configuration files carry keys, and are
/// created 0600 by whoever writes them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// [`check_strength`] of this key, named `key` in the error.
    pub fn check_strength(&self, key: &str) -> Result<(), WeakSecret> {
        check_strength(key, &self.0)
    }

    /// The key bytes, as the handshake and the keyring take them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Config {
        name: String,
        key: Secret<String>,
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let config = Config {
            name: "POA".into(),
            key: Secret::from("hunter2-long-key"),
        };
        let shown = format!("{config:?} {} {:#?}", config.key, config);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("POA"));
        assert_eq!(config.key.expose(), "hunter2-long-key");
    }

    const GOOD: &str = "0123456789abcdefABCDEF0123456789";

    #[test]
    fn a_key_of_32_hex_digits_or_more_passes() {
        assert_eq!(GOOD.len(), MIN_SECRET_HEX_DIGITS);
        assert_eq!(check_strength("operator_secret", GOOD), Ok(()));
        let longer = "f".repeat(64);
        assert_eq!(check_strength("k", &longer), Ok(()));
        assert_eq!(Secret::from(GOOD).check_strength("k"), Ok(()));
    }

    #[test]
    fn an_empty_key_is_refused_by_name() {
        let err = check_strength("peers[H].secret", "").unwrap_err();
        assert_eq!(
            err,
            WeakSecret::Empty {
                key: "peers[H].secret".into()
            }
        );
        let shown = err.to_string();
        assert!(shown.starts_with("peers[H].secret is empty"), "{shown}");
        assert!(shown.contains("openssl rand -hex 16"), "{shown}");
    }

    #[test]
    fn a_short_key_is_refused_with_its_length_and_never_shown() {
        let err = check_strength("operator_secret", "abcdef0123").unwrap_err();
        assert_eq!(
            err,
            WeakSecret::TooShort {
                key: "operator_secret".into(),
                digits: 10
            }
        );
        let shown = err.to_string();
        assert!(
            shown.contains("operator_secret has 10 hex digits"),
            "{shown}"
        );
        assert!(!shown.contains("abcdef0123"), "{shown}");
        // One digit short of the bound.
        assert!(check_strength("k", &GOOD[1..]).is_err());
    }

    #[test]
    fn a_human_chosen_key_is_refused_however_long() {
        let passphrase = "horse battery staple, correct and long enough";
        let err = check_strength("secret", passphrase).unwrap_err();
        assert_eq!(
            err,
            WeakSecret::NotHex {
                key: "secret".into(),
                position: 1
            }
        );
        assert!(!err.to_string().contains("horse"));
        let with_space = format!("{GOOD} ");
        assert!(matches!(
            check_strength("secret", &with_space),
            Err(WeakSecret::NotHex { position: 33, .. })
        ));
        assert_eq!(err.key(), "secret");
    }

    #[test]
    fn serde_reads_and_writes_the_value_itself() {
        let config: Config = toml::from_str("name = \"POA\"\nkey = \"k-1\"\n").unwrap();
        assert_eq!(config.key.as_bytes(), b"k-1");
        let written = toml::to_string(&config).unwrap();
        assert!(written.contains("key = \"k-1\""), "{written}");
    }
}
