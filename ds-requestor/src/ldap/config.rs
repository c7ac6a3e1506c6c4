//! The `[ldap]` table of the requestor's file, and the settings it is
//! checked into. No table: no address book.
//!
//! ```toml
//! [ldap]
//! listen = "127.0.0.1:389"          # plain LDAP (StartTLS when TLS is set)
//! ldaps_listen = "127.0.0.1:636"    # optional: LDAP over implicit TLS
//! tls_cert = "/var/lib/mhub/tls/poa.pem"  # both or neither, as the mail
//! tls_key = "/var/lib/mhub/tls/poa.key"   # router's (role_runtime::tls)
//! anonymous = true                  # default: anyone may search
//! bind_dn = "cn=reader,o=ACME"      # optional: a simple bind's DN ...
//! bind_password_file = "/etc/mhub/ldap-reader.pw"  # ... and its password
//! size_limit = 500                  # most entries per search (or page)
//! time_limit_secs = 10              # longest search
//! connections = 64                  # clients served at once
//! idle_timeout_secs = 300           # a silent client is closed
//! ```

use std::path::PathBuf;
use std::time::Duration;

use role_runtime::Secret;
use role_runtime::tls::TlsFiles;
use serde::{Deserialize, Serialize};

use super::dn::Dn;

/// slapd's default `sizelimit`.
const DEFAULT_SIZE_LIMIT: usize = 500;
const DEFAULT_TIME_LIMIT_SECS: u64 = 10;
const DEFAULT_CONNECTIONS: usize = 64;
const DEFAULT_IDLE_SECS: u64 = 300;

/// The `[ldap]` table as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// Plain LDAP's `host:port` (port 0 for any); announced as
    /// `listening ldap HOST:PORT`.
    pub listen: Option<String>,
    /// LDAPS (implicit TLS); needs `tls_cert`/`tls_key`; announced as
    /// `listening ldaps HOST:PORT`.
    pub ldaps_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Whether a client that has not bound (or bound anonymously) may
    /// search (default true). The root DSE is open to everyone (RFC 4512
    /// 5.1).
    pub anonymous: Option<bool>,
    /// The one DN a simple bind is accepted for, with the password in
    /// `bind_password_file` (its first line; the file is read at start).
    pub bind_dn: Option<String>,
    pub bind_password_file: Option<PathBuf>,
    pub size_limit: Option<usize>,
    pub time_limit_secs: Option<u64>,
    pub connections: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
}

/// The checked `[ldap]` table.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    pub listen: Option<String>,
    pub ldaps_listen: Option<String>,
    pub tls: Option<TlsFiles>,
    pub policy: BindPolicy,
    /// The server's most entries per search, and per page of a paged one.
    pub size_limit: usize,
    pub time_limit: Duration,
    pub connections: usize,
    pub idle_timeout: Duration,
}

/// Who may search.
#[derive(Debug, Clone, Default)]
pub struct BindPolicy {
    pub anonymous: bool,
    /// The DN and password of the one simple bind accepted.
    pub account: Option<(Dn, Secret<String>)>,
}

impl LdapConfig {
    pub fn check(self) -> Result<LdapSettings, String> {
        let tls = TlsFiles::from_keys(self.tls_cert.as_deref(), self.tls_key.as_deref())
            .map_err(|e| format!("ldap.{e}"))?;
        if self.listen.is_none() && self.ldaps_listen.is_none() {
            return Err("ldap: set listen or ldaps_listen (or remove the [ldap] table)".into());
        }
        if self.ldaps_listen.is_some() && tls.is_none() {
            return Err("ldap.ldaps_listen needs ldap.tls_cert and ldap.tls_key".into());
        }
        let account = match (self.bind_dn, self.bind_password_file) {
            (Some(dn), Some(file)) => {
                let parsed =
                    Dn::parse(&dn).ok_or_else(|| format!("ldap.bind_dn {dn:?} is not a DN"))?;
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("ldap.bind_password_file {}: {e}", file.display()))?;
                let password = text.lines().next().unwrap_or("").to_owned();
                if password.is_empty() {
                    return Err(format!(
                        "ldap.bind_password_file {} is empty",
                        file.display()
                    ));
                }
                Some((parsed, Secret::new(password)))
            }
            (None, None) => None,
            _ => return Err("ldap.bind_dn and ldap.bind_password_file go together".into()),
        };
        let anonymous = self.anonymous.unwrap_or(true);
        if !anonymous && account.is_none() {
            return Err("ldap.anonymous = false needs ldap.bind_dn (nobody could search)".into());
        }
        let size_limit = self.size_limit.unwrap_or(DEFAULT_SIZE_LIMIT);
        if size_limit == 0 || size_limit > 1_000_000 {
            return Err(format!(
                "ldap.size_limit must be between 1 and 1000000, not {size_limit}"
            ));
        }
        let connections = self.connections.unwrap_or(DEFAULT_CONNECTIONS);
        if connections == 0 || connections > 100_000 {
            return Err(format!(
                "ldap.connections must be between 1 and 100000, not {connections}"
            ));
        }
        Ok(LdapSettings {
            listen: self.listen,
            ldaps_listen: self.ldaps_listen,
            tls,
            policy: BindPolicy { anonymous, account },
            size_limit,
            time_limit: Duration::from_secs(
                self.time_limit_secs
                    .unwrap_or(DEFAULT_TIME_LIMIT_SECS)
                    .clamp(1, 3600),
            ),
            connections,
            idle_timeout: Duration::from_secs(
                self.idle_timeout_secs
                    .unwrap_or(DEFAULT_IDLE_SECS)
                    .clamp(1, 86_400),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LdapSettings, String> {
        toml::from_str::<LdapConfig>(text)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn the_bind_password_comes_from_its_file_and_never_shows() {
        let dir = std::env::temp_dir().join(format!("ldap-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "hunter2-secret\n").unwrap();
        let text = format!(
            "listen = \"127.0.0.1:0\"\nanonymous = false\nbind_dn = \"cn=reader,o=ACME\"\nbind_password_file = \"{}\"\n",
            file.display()
        );
        let settings = parse(&text).unwrap();
        let (dn, secret) = settings.policy.account.as_ref().unwrap();
        assert_eq!(*dn, Dn::parse("CN=Reader,O=acme").unwrap());
        assert_eq!(secret.expose(), "hunter2-secret");
        assert!(!format!("{settings:?}").contains("hunter2"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn inconsistent_tables_are_refused_by_key() {
        let refused = |text: &str, key: &str| {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{e}");
        };
        refused("anonymous = true\n", "listen");
        refused("ldaps_listen = \"127.0.0.1:0\"\n", "ldaps_listen");
        refused("listen = \"x\"\ntls_cert = \"/c\"\n", "tls_key");
        refused("listen = \"x\"\nbind_dn = \"cn=r\"\n", "bind_password_file");
        refused("listen = \"x\"\nanonymous = false\n", "bind_dn");
        refused("listen = \"x\"\nsize_limit = 0\n", "size_limit");
        refused("listen = \"x\"\nlisten_port = 1\n", "listen_port");
        let defaults = parse("listen = \"127.0.0.1:0\"\n").unwrap();
        assert!(defaults.policy.anonymous && defaults.tls.is_none());
        assert_eq!(defaults.size_limit, 500);
    }
}
