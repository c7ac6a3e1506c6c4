//! Names every role agrees on.

use wire_format::Name;

/// The operator (netctl) authenticates under this name, with the
/// `operator_secret` of the process it talks to.
pub const OPERATOR: &str = "OPERATOR";

/// [`OPERATOR`] as a wire name.
pub fn operator() -> Name {
    // A constant, checked by the test below: upper-case ASCII, 8 bytes.
    Name::new(OPERATOR).unwrap_or_else(|e| unreachable!("OPERATOR is a valid name: {e}"))
}

/// A keyring that admits the operator with `secret`; the role adds its
/// peers to it.
pub fn keyring_with_operator(secret: &[u8]) -> peer_link::Keyring {
    let mut keyring = peer_link::Keyring::new();
    keyring.insert(operator(), &[wire_format::Role::Operator], secret.to_vec());
    keyring
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operator_name_is_a_valid_wire_name() {
        assert_eq!(super::operator().to_string(), super::OPERATOR);
    }
}
