use std::collections::HashMap;
use std::fmt;

use wire_format::{Name, Role};

/// Pre-shared keys by peer name, and the role each peer must present.
/// `Debug` never prints a key.
#[derive(Clone, Default)]
pub struct Keyring {
    peers: HashMap<Name, (Vec<Role>, Vec<u8>)>,
}

impl Keyring {
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Allows `peer` to connect in any of `roles` with `secret`.
    pub fn insert(&mut self, peer: Name, roles: &[Role], secret: impl Into<Vec<u8>>) {
        self.peers.insert(peer, (roles.to_vec(), secret.into()));
    }

    pub fn remove(&mut self, peer: &Name) -> bool {
        self.peers.remove(peer).is_some()
    }

    /// The key for `peer` connecting as `role`, if that is allowed.
    pub fn key_for(&self, peer: &Name, role: Role) -> Option<&[u8]> {
        self.peers
            .get(peer)
            .filter(|(roles, _)| roles.contains(&role))
            .map(|(_, key)| key.as_slice())
    }

    pub fn peers(&self) -> impl Iterator<Item = &Name> {
        self.peers.keys()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("peers", &self.peers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
