//! Connection set-up: version negotiation, roles, mutual authentication, keep-alive.

use bytes::{BufMut, BytesMut};

use super::Body;
use crate::WireError;
use crate::entry::Name;
use crate::primitives::{PResult, array32, fail, u8_, u64_};

/// What a peer is; a server checks it against what it expects on that port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// A post office's directory (or the bridge's requestor towards H).
    Requestor = 1,
    DsServer = 2,
    SiteReplicator = 3,
    MailRouter = 4,
    /// An administrator's tool such as `netctl`.
    Operator = 5,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Requestor,
        Role::DsServer,
        Role::SiteReplicator,
        Role::MailRouter,
        Role::Operator,
    ];

    pub(crate) fn decode(i: &[u8]) -> PResult<'_, Role> {
        let (i, code) = u8_(i)?;
        match Role::ALL.iter().find(|r| **r as u8 == code) {
            Some(role) => Ok((i, *role)),
            None => fail(format!("unknown role {code}")),
        }
    }
}

/// Client -> server, first frame of every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub min_version: u8,
    pub max_version: u8,
    pub role: Role,
    pub node: Name,
    pub nonce: [u8; 32],
}

/// Server -> client: the chosen version, and the server's proof that it knows
/// the key shared with `Hello::node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub version: u8,
    pub role: Role,
    pub node: Name,
    pub nonce: [u8; 32],
    pub proof: [u8; 32],
}

/// Client -> server: the client's proof over the same transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    pub proof: [u8; 32],
}

/// Server -> client: authenticated; `session` names the connection in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub session: u64,
}

/// Either side: are you alive? Answered by a [`Pong`] with the same token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub token: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub token: u64,
}

impl Body for Hello {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u8(self.min_version);
        out.put_u8(self.max_version);
        out.put_u8(self.role as u8);
        self.node.encode(out, "hello.node")?;
        out.put_slice(&self.nonce);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, min_version) = u8_(i)?;
        let (i, max_version) = u8_(i)?;
        let (i, role) = Role::decode(i)?;
        let (i, node) = Name::decode("hello.node")(i)?;
        let (i, nonce) = array32(i)?;
        Ok((
            i,
            Hello {
                min_version,
                max_version,
                role,
                node,
                nonce,
            },
        ))
    }
}

impl Body for Challenge {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_u8(self.version);
        out.put_u8(self.role as u8);
        self.node.encode(out, "challenge.node")?;
        out.put_slice(&self.nonce);
        out.put_slice(&self.proof);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, version) = u8_(i)?;
        let (i, role) = Role::decode(i)?;
        let (i, node) = Name::decode("challenge.node")(i)?;
        let (i, nonce) = array32(i)?;
        let (i, proof) = array32(i)?;
        Ok((
            i,
            Challenge {
                version,
                role,
                node,
                nonce,
                proof,
            },
        ))
    }
}

impl Body for Authenticate {
    fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
        out.put_slice(&self.proof);
        Ok(())
    }
    fn decode_body(i: &[u8]) -> PResult<'_, Self> {
        let (i, proof) = array32(i)?;
        Ok((i, Authenticate { proof }))
    }
}

macro_rules! token_body {
    ($ty:ident, $field:ident) => {
        impl Body for $ty {
            fn encode_body(&self, out: &mut BytesMut) -> Result<(), WireError> {
                out.put_u64(self.$field);
                Ok(())
            }
            fn decode_body(i: &[u8]) -> PResult<'_, Self> {
                let (i, $field) = u64_(i)?;
                Ok((i, $ty { $field }))
            }
        }
    };
}
token_body!(Welcome, session);
token_body!(Ping, token);
token_body!(Pong, token);
