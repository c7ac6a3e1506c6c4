//! Pre-shared keys for the tests' configuration files. The roles refuse a
//! key of fewer than 32 hex digits (`peer_link::check_strength`), so a
//! test key is its readable label written in hex, padded to 32 digits:
//! distinct labels give distinct keys, and a failing test's key can still
//! be read back.

/// The key for `label`: its bytes in hex, right-padded with `0` to at
/// least 32 digits.
pub fn key(label: &str) -> String {
    let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<32}")
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn keys_pass_the_roles_check_and_differ_by_label() {
        for label in [
            "",
            "a",
            "mail-key-H-POA",
            "a label much longer than sixteen bytes",
        ] {
            assert_eq!(peer_link::check_strength(label, &key(label)), Ok(()));
        }
        assert_ne!(key("site-H2-H3"), key("site-H2-H4"));
        assert_eq!(key("A"), "41000000000000000000000000000000");
    }
}
