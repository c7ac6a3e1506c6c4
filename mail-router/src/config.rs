//! The mail router's TOML configuration (`--config FILE`): the file schema
//! is [`Config`], checked into the [`Settings`] the router runs with; the
//! keys every role has are in `role_runtime::CommonConfig`.
//!
//! ```toml
//! node = "POA"                 # this node's name (a post office, a hub or the gateway)
//! network = "ACME"
//! mode = "post-office"         # "post-office", "hub" or "gateway"
//! data_dir = "/var/lib/mhub/poa-mail"
//! listen = "127.0.0.1:0"       # the wire listener: peers hand over mail, the operator administers
//! smtp_listen = "127.0.0.1:0"  # post office only: users submit mail
//! pop3_listen = "127.0.0.1:0"  # post office only: users collect mail
//! pop3s_listen = "127.0.0.1:0" # post office, optional: POP3 over implicit TLS
//!                              # (the port-995 service, RFC 8314); needs tls_cert
//! tls_cert = "/var/lib/mhub/poa-mail/tls/cert.pem" # optional, with tls_key: the
//! tls_key = "/var/lib/mhub/poa-mail/tls/key.pem"   # PEM chain and key of the client
//!                              # listeners; POP3 then offers STLS (RFC 2595)
//! pop3_allow_plaintext = false # USER/PASS and AUTH PLAIN outside TLS: by default
//!                              # refused when TLS is configured, allowed without
//! smtps_listen = "127.0.0.1:0" # post office, optional: SMTP over implicit TLS
//!                              # (the port-465 role, RFC 8314); needs tls_cert
//! submission_listen = "127.0.0.1:0" # post office, optional: message submission
//!                              # (the port-587 role, RFC 6409): STARTTLS, and
//!                              # AUTH before any mail, trusted or not; needs tls_cert
//! trusted_networks = ["127.0.0.0/8", "::1"] # SMTP clients from these networks
//!                              # (CIDR or one address) send to other post offices
//!                              # without AUTH, like Postfix's mynetworks; default
//!                              # none: everyone else authenticates (AUTH PLAIN or
//!                              # LOGIN with the POP3 password, under TLS)
//! operator_secret = "..."
//! hub = "H"                    # post office: where all other mail goes
//! max_hops = 16                # a message that passed this many routers is returned
//! expiry_secs = 86400          # undeliverable for this long: returned to the sender
//! seen_retention_secs = 604800 # how long a message id is remembered, so a
//!                              # re-sent copy is stored once; at least
//!                              # expiry_secs (a sender retries that long)
//! max_message_bytes = 26214400 # SMTP SIZE limit, default 25 MiB; at most
//!                              # 27,000,832 (a message fits in one wire frame)
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
//! Every key (`operator_secret`, each `secret`) is at least 32 hex digits
//! (128 bits: `openssl rand -hex 16`); an empty, shorter or non-hex one is
//! refused by name when the file is loaded (`peer_link::check_strength`).
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
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
pub use role_runtime::config::PeerConfig;
use role_runtime::config::{self, name};
use role_runtime::tls::TlsFiles;
use role_runtime::{CommonConfig, Limits, Secret};
use serde::{Deserialize, Serialize};
use wire_format::Name;

use crate::MailError;

/// What this router is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    PostOffice,
    Hub,
    Gateway,
}

/// The mail router's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `node`, `network`, `data_dir`, `listen` (peers hand over mail, the
    /// operator administers), `operator_secret`, `[limits]`.
    #[serde(flatten)]
    pub common: CommonConfig,
    /// `"post-office"`, `"hub"` or `"gateway"`.
    pub mode: Mode,
    /// Post office only: where users submit mail.
    pub smtp_listen: Option<String>,
    /// Post office only: where users collect mail.
    pub pop3_listen: Option<String>,
    /// Post office, optional: POP3 over implicit TLS (RFC 8314, port 995);
    /// needs `tls_cert` and `tls_key`.
    pub pop3s_listen: Option<String>,
    /// The PEM certificate chain of the client listeners (leaf first); with
    /// `tls_key`, POP3 offers STLS and `pop3s_listen` may be set. Neither:
    /// no TLS.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`'s first certificate (keep it 0600).
    pub tls_key: Option<PathBuf>,
    /// Whether USER/PASS and AUTH PLAIN are taken on a POP3 connection
    /// that is not TLS (a password in clear). Default: refused when TLS is
    /// configured (clients use STLS or pop3s), allowed when it is not.
    pub pop3_allow_plaintext: Option<bool>,
    /// Post office, optional: SMTP over implicit TLS (RFC 8314, port 465);
    /// needs `tls_cert` and `tls_key`.
    pub smtps_listen: Option<String>,
    /// Post office, optional: message submission (RFC 6409, port 587):
    /// STARTTLS, and AUTH before any mail; needs `tls_cert` and `tls_key`.
    pub submission_listen: Option<String>,
    /// SMTP clients whose address is in one of these networks (CIDR, or a
    /// single address) may send to other post offices without AUTH (not
    /// on the submission listener). Default: none.
    #[serde(default)]
    pub trusted_networks: Vec<String>,
    /// Post office only: where all its other mail goes.
    pub hub: Option<String>,
    /// A message that passed this many routers is returned (default 16).
    pub max_hops: Option<u8>,
    /// Undeliverable for this long: returned to the sender (default a day).
    pub expiry_secs: Option<u64>,
    /// How long a message id is remembered, so a re-sent copy is stored
    /// once (default a week); at least `expiry_secs`, as a sender retries
    /// that long.
    pub seen_retention_secs: Option<u64>,
    /// SMTP SIZE limit, by default [`DEFAULT_MAX_MESSAGE_BYTES`], at most
    /// [`MAX_MESSAGE_BYTES`]: a message must fit in one wire frame.
    pub max_message_bytes: Option<usize>,
    /// Memory for the store's page cache (default [`DEFAULT_CACHE_MIB`]);
    /// a post office's mailboxes do not all stay in memory.
    pub cache_mib: Option<usize>,
    /// Routers this one hands mail to or takes mail from.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// Hub and gateway: post office to next hop.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// Post office: seed users of the first start (more, and changes, with
    /// UserUpsert).
    #[serde(default)]
    pub users: Vec<UserConfig>,
}

/// One `[[users]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub mailbox: String,
    /// Without one, no POP3 login until one is set.
    pub password: Option<Secret<String>>,
}

const DEFAULT_MAX_HOPS: u8 = 16;
const DEFAULT_EXPIRY_SECS: u64 = 86_400;
/// A week: well past the default expiry, after which no sender resends.
const DEFAULT_SEEN_RETENTION_SECS: u64 = 7 * 86_400;
/// The largest message a router hands on: it must fit in one frame of the
/// wire protocol with its envelope (up to 1,000 recipients), so a message
/// accepted by SMTP can never be stuck in a queue for being too big.
pub const MAX_MESSAGE_BYTES: usize = wire_format::limits::DEFAULT_MAX_FRAME_BODY - 256 * 1024;
/// 25 MiB, the limit of the big public mail services: a user's attachment
/// that leaves one of them arrives here.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
const _: () = assert!(DEFAULT_MAX_MESSAGE_BYTES <= MAX_MESSAGE_BYTES);

/// The store's page cache, in MiB. redb's default, 1 GiB, let a post
/// office's memory grow with the mail in its mailboxes (133 MiB after
/// 30,000 messages of 2 KiB in the mail bench); the pages a router uses
/// again (queue, ids, the trees' branches) fit in far less: 64 MiB left
/// the bench's throughput as it was, with POB at 74 MiB.
pub const DEFAULT_CACHE_MIB: usize = 64;
/// Larger would overflow the byte count on a 32-bit target, and is more
/// memory than any router here should hold.
const MAX_CACHE_MIB: usize = 1 << 11;

#[derive(Debug, Clone)]
pub struct Peer {
    pub name: Name,
    pub secret: Secret<String>,
    pub endpoint: Option<String>,
}

/// The configuration, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node: Name,
    pub network: Name,
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub listen: String,
    pub smtp_listen: Option<String>,
    pub pop3_listen: Option<String>,
    /// POP3 over implicit TLS.
    pub pop3s_listen: Option<String>,
    /// The client listeners' certificate and key, when TLS is configured.
    pub tls: Option<TlsFiles>,
    /// USER/PASS and AUTH PLAIN outside TLS are taken.
    pub pop3_allow_plaintext: bool,
    /// SMTP over implicit TLS.
    pub smtps_listen: Option<String>,
    /// SMTP submission (AUTH always required).
    pub submission_listen: Option<String>,
    /// SMTP clients that may send to other post offices without AUTH.
    pub trusted_networks: Vec<IpNet>,
    pub operator_secret: Secret<String>,
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
    pub users: Vec<(Name, Option<Secret<String>>)>,
    /// The `[limits]` table: connection caps and the shutdown drain.
    pub limits: Limits,
}

impl AsRef<Limits> for Settings {
    fn as_ref(&self) -> &Limits {
        &self.limits
    }
}

/// One `trusted_networks` entry: `10.0.0.0/8`, `::1/128`, or one address.
fn trusted_network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!(
                "trusted_networks entry {raw:?} is not a network (like \"127.0.0.0/8\" or \
                 \"::1/128\") nor an IP address"
            )
        })
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, MailError> {
        Ok(config::load(path, Settings::check)?)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Settings, MailError> {
        Ok(config::parse(text, origin, Settings::check)?)
    }

    /// Every rule of the file beyond its syntax; the reason names the key.
    fn check(config: Config) -> Result<Settings, String> {
        let (node, network) = config.common.validate()?;
        let hub = config.hub.as_deref().map(|h| name("hub", h)).transpose()?;
        if config.mode == Mode::PostOffice {
            if hub.is_none() {
                return Err("a post office needs `hub`, where its outgoing mail goes".into());
            }
            if config.smtp_listen.is_none() || config.pop3_listen.is_none() {
                return Err("a post office needs `smtp_listen` and `pop3_listen`".into());
            }
        }
        let tls = TlsFiles::from_keys(config.tls_cert.as_deref(), config.tls_key.as_deref())?;
        if config.pop3s_listen.is_some() && tls.is_none() {
            return Err(
                "pop3s_listen needs tls_cert and tls_key (the certificate and key it serves)"
                    .into(),
            );
        }
        let pop3_allow_plaintext = config.pop3_allow_plaintext.unwrap_or(tls.is_none());
        for (key, listen) in [
            ("smtps_listen", &config.smtps_listen),
            ("submission_listen", &config.submission_listen),
        ] {
            if listen.is_some() && tls.is_none() {
                return Err(format!(
                    "{key} needs tls_cert and tls_key: its clients authenticate under TLS"
                ));
            }
        }
        let trusted_networks = config
            .trusted_networks
            .iter()
            .map(|n| trusted_network(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut peers = Vec::new();
        for p in config.peers {
            let peer = p.validate("peers")?;
            if peer == node {
                return Err(format!("peer {peer} is this router itself"));
            }
            peers.push(Peer {
                name: peer,
                secret: p.secret,
                endpoint: p.endpoint,
            });
        }
        let mut routes = BTreeMap::new();
        for (po, hop) in &config.routes {
            routes.insert(name("route", po)?, name("next hop", hop)?);
        }
        let mut users = Vec::new();
        for u in config.users {
            users.push((name("mailbox", &u.mailbox)?, u.password));
        }
        let max_message_bytes = config
            .max_message_bytes
            .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        if max_message_bytes > MAX_MESSAGE_BYTES {
            return Err(format!(
                "max_message_bytes {max_message_bytes} is more than a wire frame carries \
                 ({MAX_MESSAGE_BYTES})"
            ));
        }
        let expiry_secs = config.expiry_secs.unwrap_or(DEFAULT_EXPIRY_SECS);
        let seen_retention_secs = config
            .seen_retention_secs
            .unwrap_or(DEFAULT_SEEN_RETENTION_SECS);
        if seen_retention_secs < expiry_secs {
            return Err(format!(
                "seen_retention_secs {seen_retention_secs} is shorter than expiry_secs \
                 {expiry_secs}: a copy re-sent by a peer still retrying could be delivered twice"
            ));
        }
        let max_hops = config.max_hops.unwrap_or(DEFAULT_MAX_HOPS);
        if max_hops == 0 {
            return Err("max_hops must be at least 1".into());
        }
        let cache_mib = config.cache_mib.unwrap_or(DEFAULT_CACHE_MIB);
        if !(1..=MAX_CACHE_MIB).contains(&cache_mib) {
            return Err(format!(
                "cache_mib {cache_mib} is not between 1 and {MAX_CACHE_MIB}"
            ));
        }
        Ok(Settings {
            node,
            network,
            mode: config.mode,
            data_dir: config.common.data_dir,
            listen: config.common.listen,
            smtp_listen: config.smtp_listen,
            pop3_listen: config.pop3_listen,
            pop3s_listen: config.pop3s_listen,
            tls,
            pop3_allow_plaintext,
            smtps_listen: config.smtps_listen,
            submission_listen: config.submission_listen,
            trusted_networks,
            operator_secret: config.common.operator_secret,
            hub,
            max_hops,
            expiry: Duration::from_secs(expiry_secs),
            seen_retention: Duration::from_secs(seen_retention_secs),
            max_message_bytes,
            cache_bytes: cache_mib << 20,
            peers,
            routes,
            users,
            limits: config.common.limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use role_runtime::RuntimeError;

    const HUB: &str = r#"
node = "H"
network = "ACME"
mode = "hub"
data_dir = "/tmp/h"
listen = "127.0.0.1:0"
operator_secret = "0c0ffee0c0ffee0c0ffee0c0ffee0c0f"
"#;

    fn refused(text: &str) -> String {
        match Settings::parse(text, "test.toml") {
            Err(MailError::Runtime(RuntimeError::ConfigInvalid { reason, .. })) => reason,
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

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = refused(&format!("{HUB}max_hop = 3\n"));
        assert!(err.contains("unknown field `max_hop`"), "{err}");
        let user = format!("{HUB}[[users]]\nmailbox = \"A\"\npasswd = \"x\"\n");
        assert!(refused(&user).contains("unknown field `passwd`"));
    }

    #[test]
    fn debug_never_shows_a_key() {
        let text = format!(
            "{HUB}[[peers]]\nname = \"POA\"\nsecret = \"bee4bee4bee4bee4bee4bee4bee4bee4\"\n\
             [[users]]\nmailbox = \"JSMITH\"\npassword = \"user-password\"\n"
        );
        let shown = format!("{:?}", Settings::parse(&text, "t").unwrap());
        for key in [
            "bee4bee4bee4bee4bee4bee4bee4bee4",
            "user-password",
            "\"0c0ffee0c0ffee0c0ffee0c0ffee0c0f\"",
        ] {
            assert!(!shown.contains(key), "{key} in {shown}");
        }
        assert!(shown.contains("JSMITH"));
    }

    #[test]
    fn an_empty_or_short_peer_key_is_refused_by_name() {
        for weak in ["", "0123456789"] {
            let text = format!("{HUB}[[peers]]\nname = \"POA\"\nsecret = \"{weak}\"\n");
            let err = refused(&text);
            assert!(err.starts_with("peers[POA].secret "), "{err}");
            assert!(err.contains("openssl rand -hex 16"), "{err}");
        }
        let op = HUB.replace("0c0ffee0c0ffee0c0ffee0c0ffee0c0f", "");
        assert!(refused(&op).starts_with("operator_secret is empty"));
    }

    #[test]
    fn tls_needs_both_files_and_plaintext_logins_follow_it() {
        let po = format!(
            "{}hub = \"H2\"\nsmtp_listen = \"127.0.0.1:0\"\npop3_listen = \"127.0.0.1:0\"\n",
            HUB.replace("\"hub\"", "\"post-office\"")
        );
        let plain = Settings::parse(&po, "test.toml").unwrap();
        assert!(plain.tls.is_none() && plain.pop3_allow_plaintext);
        assert!(refused(&format!("{po}tls_cert = \"c.pem\"\n")).contains("tls_key"));
        assert!(refused(&format!("{po}pop3s_listen = \"127.0.0.1:0\"\n")).contains("tls_cert"));
        let tls = format!("{po}tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n");
        let with_tls = Settings::parse(&tls, "test.toml").unwrap();
        assert!(with_tls.tls.is_some() && !with_tls.pop3_allow_plaintext);
        let allowed = format!("{tls}pop3_allow_plaintext = true\n");
        assert!(
            Settings::parse(&allowed, "test.toml")
                .unwrap()
                .pop3_allow_plaintext
        );
    }

    #[test]
    fn trusted_networks_and_the_tls_smtp_listeners() {
        let po = format!(
            "{}hub = \"H2\"\nsmtp_listen = \"127.0.0.1:0\"\npop3_listen = \"127.0.0.1:0\"\n",
            HUB.replace("\"hub\"", "\"post-office\"")
        );
        assert!(
            Settings::parse(&po, "t.toml")
                .unwrap()
                .trusted_networks
                .is_empty()
        );
        let nets = format!("{po}trusted_networks = [\"127.0.0.0/8\", \"::1\", \"10.1.2.3\"]\n");
        let parsed = Settings::parse(&nets, "t.toml").unwrap().trusted_networks;
        assert_eq!(parsed.len(), 3);
        assert!(parsed[0].contains(&"127.9.9.9".parse::<IpAddr>().unwrap()));
        assert!(parsed[2].contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        let bad = refused(&format!("{po}trusted_networks = [\"10.0.0.0/33\"]\n"));
        assert!(
            bad.contains("trusted_networks") && bad.contains("10.0.0.0/33"),
            "{bad}"
        );
        for key in ["smtps_listen", "submission_listen"] {
            let e = refused(&format!("{po}{key} = \"127.0.0.1:0\"\n"));
            assert!(e.contains(key) && e.contains("tls_cert"), "{e}");
        }
        let tls = format!(
            "{po}tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nsmtps_listen = \"127.0.0.1:0\"\n\
             submission_listen = \"127.0.0.1:0\"\n"
        );
        let s = Settings::parse(&tls, "t.toml").unwrap();
        assert!(s.smtps_listen.is_some() && s.submission_listen.is_some());
    }
}
