//! Reading one process's status keys by name, each as the type it should
//! have: a key that is missing or of another type is unknown (`None`), so
//! the summary works with processes that report more or fewer keys.

use wire_format::StatusValue;

/// One process's status items ([`super::Report::items`]), read by key.
pub struct Keys<'a>(pub &'a [(String, StatusValue)]);

impl<'a> Keys<'a> {
    fn get(&self, key: &str) -> Option<&'a StatusValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn count(&self, key: &str) -> Option<u64> {
        match self.get(key)? {
            StatusValue::Count(n) => Some(*n),
            _ => None,
        }
    }

    pub fn text(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            StatusValue::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            StatusValue::Flag(b) => Some(*b),
            _ => None,
        }
    }

    /// A text key where empty means none: `Some` only for a real error.
    pub fn error(&self, key: &str) -> Option<String> {
        self.text(key).filter(|t| !t.is_empty()).map(str::to_owned)
    }

    /// The names N of the keys `PREFIX.N.SUFFIX` (e.g. every peer of
    /// `peer.N.connected`), in the report's order.
    pub fn names(&self, prefix: &str, suffix: &str) -> Vec<&'a str> {
        self.0
            .iter()
            .filter_map(|(k, _)| {
                k.strip_prefix(prefix)?
                    .strip_prefix('.')?
                    .strip_suffix(suffix)?
                    .strip_suffix('.')
            })
            .collect()
    }
}
