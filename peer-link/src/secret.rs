//! Keys and passwords that must never reach a log line or a `Debug` dump.

use std::fmt;

use serde::{Deserialize, Serialize};

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

    #[test]
    fn serde_reads_and_writes_the_value_itself() {
        let config: Config = toml::from_str("name = \"POA\"\nkey = \"k-1\"\n").unwrap();
        assert_eq!(config.key.as_bytes(), b"k-1");
        let written = toml::to_string(&config).unwrap();
        assert!(written.contains("key = \"k-1\""), "{written}");
    }
}
