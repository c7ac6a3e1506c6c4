use std::collections::HashMap;

use wire_format::{Name, Role};

use crate::Secret;

/// Pre-shared keys by peer name, and the role each peer must present.
/// `Debug` never prints a key.
#[derive(Clone, Default, Debug)]
pub struct Keyring {
    peers: HashMap<Name, (Vec<Role>, Secret<Vec<u8>>)>,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Allows `peer` to connect in any of `roles` with `secret`.
    pub fn insert(&mut self, peer: Name, roles: &[Role], secret: impl Into<Vec<u8>>) {
        self.peers
            .insert(peer, (roles.to_vec(), Secret::new(secret.into())));
    }

    pub fn remove(&mut self, peer: &Name) -> bool {
        self.peers.remove(peer).is_some()
    }

    /// The key for `peer` connecting as `role`, if that is allowed.
    ///
    /// An empty key is never returned: the roles refuse one when they load
    /// their configuration ([`crate::check_strength`]), and should one reach
    /// the keyring another way the peer is treated as unknown rather than
    /// let in by anyone who proves the empty key.
    pub fn key_for(&self, peer: &Name, role: Role) -> Option<&[u8]> {
        self.peers
            .get(peer)
            .filter(|(roles, key)| roles.contains(&role) && !key.expose().is_empty())
            .map(|(_, key)| key.expose().as_slice())
    }

    pub fn peers(&self) -> impl Iterator<Item = &Name> {
        self.peers.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_peers_and_never_shows_a_key() {
        let mut keyring = Keyring::new();
        let peer = Name::new("POA").unwrap();
        keyring.insert(peer, &[Role::Requestor], b"poa-secret-key".to_vec());
        let shown = format!("{keyring:?}");
        assert!(shown.contains("POA"), "{shown}");
        assert!(!shown.contains("poa-secret-key"), "{shown}");
        assert_eq!(
            keyring.key_for(&peer, Role::Requestor),
            Some(&b"poa-secret-key"[..])
        );
        assert_eq!(keyring.key_for(&peer, Role::Operator), None);
    }

    #[test]
    fn an_empty_key_admits_nobody() {
        let mut keyring = Keyring::new();
        let peer = Name::new("POA").unwrap();
        keyring.insert(peer, &[Role::Requestor], Vec::new());
        assert_eq!(keyring.key_for(&peer, Role::Requestor), None);
    }
}
