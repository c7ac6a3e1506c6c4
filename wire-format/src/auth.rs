//! Mutual authentication by challenge-response over a pre-shared key per
//! peer, as pure functions (no I/O, no randomness: callers bring nonces).
//!
//! Both proofs are HMAC-SHA256 over the same transcript (both names and roles,
//! both nonces, the chosen version) with a different label, so neither proof
//! can be replayed as the other, on another connection, or for another peer.
//!
//! ```text
//! client                                   server
//!   Hello{versions, role, node, nonce_c}  ->
//!                                         <- Challenge{version, role, node, nonce_s, proof_s}
//!   (check proof_s) Authenticate{proof_c} ->
//!                                         <- Welcome{session}  (or ErrorReply AuthFailed, close)
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::message::{Authenticate, Challenge, Hello, Role};

/// The protocol versions this build speaks.
pub const PROTOCOL_VERSION_MIN: u8 = 1;
pub const PROTOCOL_VERSION_MAX: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error(
        "no common protocol version: peer speaks {peer_min}..={peer_max}, we speak {PROTOCOL_VERSION_MIN}..={PROTOCOL_VERSION_MAX}"
    )]
    NoCommonVersion { peer_min: u8, peer_max: u8 },
    #[error("the server's proof is wrong: it does not hold our shared key")]
    BadServerProof,
    #[error("the client's proof is wrong: it does not hold the shared key")]
    BadClientProof,
    #[error("the server chose version {0}, which we did not offer")]
    VersionNotOffered(u8),
}

type HmacSha256 = Hmac<Sha256>;

fn transcript_mac(key: &[u8], label: &[u8], hello: &Hello, server: &Challenge) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.update(&[server.version, hello.role as u8, server.role as u8]);
    for name in [hello.node.as_str(), server.node.as_str()] {
        mac.update(&[name.len() as u8]);
        mac.update(name.as_bytes());
    }
    mac.update(&hello.nonce);
    mac.update(&server.nonce);
    mac
}

const SERVER_LABEL: &[u8] = b"MHUB v1 server proof";
const CLIENT_LABEL: &[u8] = b"MHUB v1 client proof";

/// Client: the first frame.
pub fn client_hello(role: Role, node: crate::Name, nonce: [u8; 32]) -> Hello {
    Hello {
        min_version: PROTOCOL_VERSION_MIN,
        max_version: PROTOCOL_VERSION_MAX,
        role,
        node,
        nonce,
    }
}

/// Server: answer a Hello from a peer whose key is `key`.
pub fn server_challenge(
    hello: &Hello,
    role: Role,
    node: crate::Name,
    nonce: [u8; 32],
    key: &[u8],
) -> Result<Challenge, HandshakeError> {
    let version = hello.max_version.min(PROTOCOL_VERSION_MAX);
    if version < hello.min_version || version < PROTOCOL_VERSION_MIN {
        return Err(HandshakeError::NoCommonVersion {
            peer_min: hello.min_version,
            peer_max: hello.max_version,
        });
    }
    let mut challenge = Challenge {
        version,
        role,
        node,
        nonce,
        proof: [0; 32],
    };
    challenge.proof = transcript_mac(key, SERVER_LABEL, hello, &challenge)
        .finalize()
        .into_bytes()
        .into();
    Ok(challenge)
}

/// Client: check the server's proof and produce ours.
pub fn client_authenticate(
    hello: &Hello,
    challenge: &Challenge,
    key: &[u8],
) -> Result<Authenticate, HandshakeError> {
    if challenge.version < hello.min_version || challenge.version > hello.max_version {
        return Err(HandshakeError::VersionNotOffered(challenge.version));
    }
    transcript_mac(key, SERVER_LABEL, hello, challenge)
        .verify_slice(&challenge.proof)
        .map_err(|_| HandshakeError::BadServerProof)?;
    Ok(Authenticate {
        proof: transcript_mac(key, CLIENT_LABEL, hello, challenge)
            .finalize()
            .into_bytes()
            .into(),
    })
}

/// Server: check the client's proof (in constant time).
pub fn server_verify(
    hello: &Hello,
    challenge: &Challenge,
    auth: &Authenticate,
    key: &[u8],
) -> Result<(), HandshakeError> {
    transcript_mac(key, CLIENT_LABEL, hello, challenge)
        .verify_slice(&auth.proof)
        .map_err(|_| HandshakeError::BadClientProof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Name;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn both_sides_accept_with_the_same_key() {
        let hello = client_hello(Role::Requestor, name("POA"), [1; 32]);
        let ch = server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"k").unwrap();
        let auth = client_authenticate(&hello, &ch, b"k").unwrap();
        server_verify(&hello, &ch, &auth, b"k").unwrap();
    }

    #[test]
    fn a_wrong_key_fails_on_either_side() {
        let hello = client_hello(Role::Requestor, name("POA"), [1; 32]);
        let ch = server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"server").unwrap();
        assert_eq!(
            client_authenticate(&hello, &ch, b"client"),
            Err(HandshakeError::BadServerProof)
        );
        let honest =
            server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"client").unwrap();
        let auth = client_authenticate(&hello, &honest, b"client").unwrap();
        assert_eq!(
            server_verify(&hello, &honest, &auth, b"server"),
            Err(HandshakeError::BadClientProof)
        );
    }

    #[test]
    fn the_server_proof_is_not_a_client_proof() {
        let hello = client_hello(Role::Requestor, name("POA"), [1; 32]);
        let ch = server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"k").unwrap();
        let reflected = Authenticate { proof: ch.proof };
        assert!(server_verify(&hello, &ch, &reflected, b"k").is_err());
    }

    #[test]
    fn a_proof_is_bound_to_the_claimed_name() {
        let hello = client_hello(Role::Requestor, name("POA"), [1; 32]);
        let ch = server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"k").unwrap();
        let auth = client_authenticate(&hello, &ch, b"k").unwrap();
        let renamed = Hello {
            node: name("POB"),
            ..hello
        };
        assert!(server_verify(&renamed, &ch, &auth, b"k").is_err());
    }

    #[test]
    fn versions_must_overlap() {
        let mut hello = client_hello(Role::Requestor, name("POA"), [1; 32]);
        hello.min_version = 2;
        hello.max_version = 3;
        assert!(matches!(
            server_challenge(&hello, Role::DsServer, name("H"), [2; 32], b"k"),
            Err(HandshakeError::NoCommonVersion { .. })
        ));
    }
}
