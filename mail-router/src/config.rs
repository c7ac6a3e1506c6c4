//! The mail router's TOML configuration (`--config FILE`).
//!
//! ```toml
//! node = "POA"                 # this node's name (a post office, a hub or the gateway)
//! network = "ACME"
//! mode = "post-office"         # "post-office", "hub" or "gateway"
//! data_dir = "/var/lib/mhub/poa-mail"
//! listen = "127.0.0.1:0"       # the wire listener: peers hand over mail, the operator administers
//! smtp_listen = "127.0.0.1:0"  # post office only: users submit mail
//! pop3_listen = "127.0.0.1:0"  # post office only: users collect mail
//! operator_secret = "..."
//! hub = "H"                    # post office: where all other mail goes
//! max_hops = 16                # a message that passed this many routers is returned
//! expiry_secs = 86400          # undeliverable for this long: returned to the sender
//! seen_retention_secs = 604800 # how long a message id is remembered, so a
//!                              # re-sent copy is stored once; at least
//!                              # expiry_secs (a sender retries that long)
//! max_message_bytes = 3932160  # SMTP SIZE limit (at most this, the default:
//!                              # a message must fit in one wire frame)
//! cache_mib = 64               # memory for the store's page cache; a post
//!                              # office's mailboxes do not all stay in memory
//!
//! [[peers]]                    # routers this one hands mail to or takes mail from
//! name = "H"
//! secret = "..."               # the same on both ends
//! endpoint = "127.0.0.1:7100"  # optional; may be set at run time (Repoint)
//!
//! [routes]                     # hub and gateway: post office -> next hop
//! POA = "POA"
//! POD = "H3"
//!
//! [[users]]                    # post office: seed users of the first start (more,
//! mailbox = "JSMITH"           # and changes, with UserUpsert)
//! password = "..."             # optional: without one, no POP3 login until set
//! ```
//!
//! Every post office also has the mailbox POSTMASTER, made at start if
//! missing and never deleted: RFC 5321 4.5.1 says mail to `<postmaster>`
//! (no domain) and to postmaster at the post office must be accepted. Give
//! it a password (a `[[users]]` seed or UserUpsert) to read it over POP3.
//!
//! Who dials whom: the sender always dials the next hop's `listen` endpoint,
//! so each router needs the endpoints of the routers it sends to. With port 0
//! they are told at run time with `Repoint{server, endpoint}`; `netctl`
//! chooses every port before it starts anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use wire_format::Name;

use crate::MailError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    PostOffice,
    Hub,
    Gateway,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node: String,
    network: String,
    mode: Mode,
    data_dir: PathBuf,
    listen: String,
    smtp_listen: Option<String>,
    pop3_listen: Option<String>,
    operator_secret: String,
    hub: Option<String>,
    #[serde(default = "default_max_hops")]
    max_hops: u8,
    #[serde(default = "default_expiry_secs")]
    expiry_secs: u64,
    #[serde(default = "default_seen_retention_secs")]
    seen_retention_secs: u64,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: usize,
    #[serde(default = "default_cache_mib")]
    cache_mib: usize,
    #[serde(default)]
    peers: Vec<PeerFile>,
    #[serde(default)]
    routes: BTreeMap<String, String>,
    #[serde(default)]
    users: Vec<UserFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerFile {
    name: String,
    secret: String,
    endpoint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    mailbox: String,
    password: Option<String>,
}

fn default_max_hops() -> u8 {
    16
}
fn default_expiry_secs() -> u64 {
    86_400
}
/// A week: well past the default expiry, after which no sender resends.
fn default_seen_retention_secs() -> u64 {
    7 * 86_400
}
/// The largest message a router hands on: it must fit in one frame of the
/// wire protocol with its envelope (up to 1,000 recipients), so a message
/// accepted by SMTP can never be stuck in a queue for being too big.
pub const MAX_MESSAGE_BYTES: usize = wire_format::limits::DEFAULT_MAX_FRAME_BODY - 256 * 1024;

fn default_max_message_bytes() -> usize {
    MAX_MESSAGE_BYTES
}

/// The store's page cache, in MiB. redb's default, 1 GiB, let a post
/// office's memory grow with the mail in its mailboxes (133 MiB after
/// 30,000 messages of 2 KiB in the mail bench); the pages a router uses
/// again (queue, ids, the trees' branches) fit in far less: 64 MiB left
/// the bench's throughput as it was, with POB at 74 MiB.
pub const DEFAULT_CACHE_MIB: usize = 64;
/// Larger would overflow the byte count on a 32-bit target, and is more
/// memory than any router here should hold.
const MAX_CACHE_MIB: usize = 1 << 11;

fn default_cache_mib() -> usize {
    DEFAULT_CACHE_MIB
}

#[derive(Clone)]
pub struct Peer {
    pub name: Name,
    pub secret: String,
    pub endpoint: Option<String>,
}

/// The configuration, checked. `Debug` leaves out every secret.
#[derive(Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub listen: String,
    pub smtp_listen: Option<String>,
    pub pop3_listen: Option<String>,
    pub operator_secret: String,
    pub hub: Option<Name>,
    pub max_hops: u8,
    pub expiry: Duration,
    /// How long a message id is remembered (duplicates refused).
    pub seen_retention: Duration,
    pub max_message_bytes: usize,
    /// The store's page cache, in bytes.
    pub cache_bytes: usize,
    pub peers: Vec<Peer>,
    pub routes: BTreeMap<Name, Name>,
    /// Seed users of the store's first start; without a password a user
    /// cannot log in to POP3 until one is set (UserUpsert).
    pub users: Vec<(Name, Option<String>)>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("node", &self.node)
            .field("mode", &self.mode)
            .field(
                "peers",
                &self.peers.iter().map(|p| p.name).collect::<Vec<_>>(),
            )
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, MailError> {
        let text = std::fs::read_to_string(path).map_err(|source| MailError::ConfigRead {
            path: path.display().to_string(),
            source,
        })?;
        Settings::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, MailError> {
        let invalid = |reason: String| MailError::ConfigInvalid {
            path: origin.to_owned(),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let name = |what: &str, raw: &str| {
            Name::new(raw).map_err(|e| invalid(format!("{what} {raw:?}: {e}")))
        };
        let node = name("node", &file.node)?;
        let hub = file.hub.as_deref().map(|h| name("hub", h)).transpose()?;
        if file.mode == Mode::PostOffice {
            if hub.is_none() {
                return Err(invalid(
                    "a post office needs `hub`, where its outgoing mail goes".into(),
                ));
            }
            if file.smtp_listen.is_none() || file.pop3_listen.is_none() {
                return Err(invalid(
                    "a post office needs `smtp_listen` and `pop3_listen`".into(),
                ));
            }
        }
        let mut peers = Vec::new();
        for p in file.peers {
            let peer = name("peer", &p.name)?;
            if peer == node {
                return Err(invalid(format!("peer {peer} is this router itself")));
            }
            peers.push(Peer {
                name: peer,
                secret: p.secret,
                endpoint: p.endpoint,
            });
        }
        let mut routes = BTreeMap::new();
        for (po, hop) in &file.routes {
            routes.insert(name("route", po)?, name("next hop", hop)?);
        }
        let mut users = Vec::new();
        for u in file.users {
            users.push((name("mailbox", &u.mailbox)?, u.password));
        }
        if file.max_message_bytes > MAX_MESSAGE_BYTES {
            return Err(invalid(format!(
                "max_message_bytes {} is more than a wire frame carries ({MAX_MESSAGE_BYTES})",
                file.max_message_bytes
            )));
        }
        if file.seen_retention_secs < file.expiry_secs {
            return Err(invalid(format!(
                "seen_retention_secs {} is shorter than expiry_secs {}: a copy re-sent \
                 by a peer still retrying could be delivered twice",
                file.seen_retention_secs, file.expiry_secs
            )));
        }
        if file.max_hops == 0 {
            return Err(invalid("max_hops must be at least 1".into()));
        }
        if !(1..=MAX_CACHE_MIB).contains(&file.cache_mib) {
            return Err(invalid(format!(
                "cache_mib {} is not between 1 and {MAX_CACHE_MIB}",
                file.cache_mib
            )));
        }
        Ok(Settings {
            node,
            network: name("network", &file.network)?,
            mode: file.mode,
            data_dir: file.data_dir,
            listen: file.listen,
            smtp_listen: file.smtp_listen,
            pop3_listen: file.pop3_listen,
            operator_secret: file.operator_secret,
            hub,
            max_hops: file.max_hops,
            expiry: Duration::from_secs(file.expiry_secs),
            seen_retention: Duration::from_secs(file.seen_retention_secs),
            max_message_bytes: file.max_message_bytes,
            cache_bytes: file.cache_mib << 20,
            peers,
            routes,
            users,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str = r#"
node = "H"
network = "ACME"
mode = "hub"
data_dir = "/tmp/h"
listen = "127.0.0.1:0"
operator_secret = "op"
"#;

    fn refused(text: &str) -> String {
        match Settings::parse(text, "test.toml") {
            Err(MailError::ConfigInvalid { reason, .. }) => reason,
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("accepted: {text}"),
        }
    }

    #[test]
    fn message_ids_are_kept_a_week_by_default_and_never_less_than_the_expiry() {
        let settings = Settings::parse(HUB, "test.toml").unwrap();
        assert_eq!(settings.seen_retention, Duration::from_secs(7 * 86_400));
        assert!(settings.seen_retention >= settings.expiry);
        let short = format!("{HUB}expiry_secs = 600\nseen_retention_secs = 599\n");
        assert!(refused(&short).contains("seen_retention_secs 599"));
        let equal = format!("{HUB}expiry_secs = 600\nseen_retention_secs = 600\n");
        assert!(Settings::parse(&equal, "test.toml").is_ok());
    }

    #[test]
    fn the_store_cache_is_64_mib_unless_set_within_bounds() {
        let settings = Settings::parse(HUB, "test.toml").unwrap();
        assert_eq!(settings.cache_bytes, 64 << 20);
        let set = Settings::parse(&format!("{HUB}cache_mib = 8\n"), "test.toml").unwrap();
        assert_eq!(set.cache_bytes, 8 << 20);
        assert!(refused(&format!("{HUB}cache_mib = 0\n")).contains("cache_mib 0"));
        assert!(refused(&format!("{HUB}cache_mib = 4096\n")).contains("cache_mib 4096"));
    }

    #[test]
    fn a_post_office_needs_its_hub_and_client_listeners() {
        let po = HUB.replace("\"hub\"", "\"post-office\"");
        assert!(refused(&po).contains("needs `hub`"));
        let with_hub = format!("{po}hub = \"H2\"\n");
        assert!(refused(&with_hub).contains("smtp_listen"));
    }
}
