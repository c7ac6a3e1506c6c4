//! The smallest SMTP submitter and POP3 collector the operator needs: to send
//! the migration's test mails and the demo's traffic through the post
//! offices' real SMTP and POP3 listeners, as any mail client would.
//!
//! POP3 goes over TLS (STLS, RFC 2595) when the post office has a
//! certificate, checked against the trust anchors netctl knows (the network
//! CA it made, or the operator's own certificate chain): the post offices
//! netctl starts take no password in clear.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use base64::Engine;
use thiserror::Error;
use wire_format::Address;

const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// A reply line longer than this is not a mail server talking.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum MailClientError {
    #[error("{server}: {source}")]
    Io {
        server: String,
        source: std::io::Error,
    },
    #[error("{server} answered {command:?} with {reply:?}")]
    Refused {
        server: String,
        command: String,
        reply: String,
    },
}

/// A post office's POP3 listener, as netctl's client reaches it.
#[derive(Debug, Clone)]
pub struct Pop3Server {
    /// The plain POP3 listener's `host:port`.
    pub endpoint: String,
    /// A PEM file of certificates trusted as anchors: STLS is started and
    /// the certificate checked for the endpoint's host. None: no TLS.
    pub trust: Option<PathBuf>,
}

/// A connection, plain or TLS after STLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The client side of TLS trusting exactly the certificates in `trust`.
fn tls_config(trust: &std::path::Path) -> Result<Arc<ClientConfig>, std::io::Error> {
    let bad = |e: &dyn std::fmt::Display| {
        std::io::Error::other(format!("trust file {}: {e}", trust.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(trust).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `ACME/POA/JSMITH` is `jsmith@poa.acme`.
pub fn smtp_address(a: &Address) -> String {
    format!("{}@{}.{}", a.mailbox, a.post_office, a.network).to_ascii_lowercase()
}

struct Lines {
    server: String,
    stream: BufReader<Conn>,
}

impl Lines {
    fn connect(server: &str) -> Result<Lines, MailClientError> {
        let io = |source| MailClientError::Io {
            server: server.to_owned(),
            source,
        };
        let addr = server
            .to_socket_addrs()
            .map_err(io)?
            .next()
            .ok_or_else(|| io(std::io::Error::other("no address")))?;
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        Ok(Lines {
            server: server.to_owned(),
            stream: BufReader::new(Conn::Plain(stream)),
        })
    }

    /// TLS on the connection after the server said yes to STLS, checked
    /// against `trust` for the host of the endpoint.
    fn start_tls(self, trust: &std::path::Path) -> Result<Lines, MailClientError> {
        let host = (self.server.rsplit_once(':'))
            .map_or(self.server.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let config = tls_config(trust).map_err(|e| self.io(e))?;
        let name = ServerName::try_from(host).map_err(|e| self.io(std::io::Error::other(e)))?;
        let connection =
            ClientConnection::new(config, name).map_err(|e| self.io(std::io::Error::other(e)))?;
        let Conn::Plain(tcp) = self.stream.into_inner() else {
            return Err(MailClientError::Io {
                server: self.server,
                source: std::io::Error::other("TLS is already active"),
            });
        };
        Ok(Lines {
            server: self.server,
            stream: BufReader::new(Conn::Tls(Box::new(StreamOwned::new(connection, tcp)))),
        })
    }

    fn io(&self, source: std::io::Error) -> MailClientError {
        MailClientError::Io {
            server: self.server.clone(),
            source,
        }
    }

    fn line(&mut self) -> Result<String, MailClientError> {
        let mut buf = Vec::new();
        let n = Read::by_ref(&mut self.stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.io(e))?;
        if n == 0 || !buf.ends_with(b"\n") {
            return Err(self.io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed or line too long",
            )));
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    fn send(&mut self, text: &str) -> Result<(), MailClientError> {
        let stream = self.stream.get_mut();
        (stream
            .write_all(text.as_bytes())
            .and_then(|()| stream.flush()))
        .map_err(|e| MailClientError::Io {
            server: self.server.clone(),
            source: e,
        })
    }

    fn refused(&self, command: &str, reply: String) -> MailClientError {
        MailClientError::Refused {
            server: self.server.clone(),
            command: command.to_owned(),
            reply,
        }
    }

    /// An SMTP reply (multi-line ones joined); an error unless its code
    /// starts with `expect`.
    fn smtp_reply(&mut self, command: &str, expect: char) -> Result<(), MailClientError> {
        loop {
            let line = self.line()?;
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return if line.starts_with(expect) {
                Ok(())
            } else {
                Err(self.refused(command, line))
            };
        }
    }

    fn smtp(&mut self, command: &str, expect: char) -> Result<(), MailClientError> {
        self.send(&format!("{command}\r\n"))?;
        self.smtp_reply(command, expect)
    }

    fn pop3(&mut self, command: &str) -> Result<String, MailClientError> {
        self.send(&format!("{command}\r\n"))?;
        let shown = if command.starts_with("PASS") {
            "PASS ****"
        } else {
            command
        };
        let line = self.line()?;
        if line.starts_with("+OK") {
            Ok(line)
        } else {
            Err(self.refused(shown, line))
        }
    }

    /// A POP3 multi-line answer, un-dot-stuffed.
    fn pop3_lines(&mut self) -> Result<Vec<String>, MailClientError> {
        let mut out = Vec::new();
        loop {
            let line = self.line()?;
            if line == "." {
                return Ok(out);
            }
            out.push(line.strip_prefix('.').map(str::to_owned).unwrap_or(line));
        }
    }
}

/// How [`send`] authenticates, as a mail client of a post office that
/// trusts no network does: STARTTLS (RFC 3207) checked against `trust`,
/// then AUTH PLAIN (RFC 4954, RFC 4616) as the sender with its POP3
/// password.
pub struct SmtpLogin<'a> {
    /// A PEM file of certificates trusted as anchors (see `crate::tls::trust`).
    pub trust: &'a std::path::Path,
    pub password: &'a str,
}

/// Submits one message over SMTP, logged in as the sender when `login` is
/// given. `body` lines are CRLF-joined and dot-stuffed here.
pub fn send(
    smtp: &str,
    login: Option<SmtpLogin<'_>>,
    from: &Address,
    to: &Address,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(), MailClientError> {
    let mut s = Lines::connect(smtp)?;
    s.smtp_reply("(greeting)", '2')?;
    s.smtp("EHLO netctl", '2')?;
    if let Some(login) = login {
        s.smtp("STARTTLS", '2')?;
        s = s.start_tls(login.trust)?;
        // RFC 3207 4.2: the session starts over under TLS.
        s.smtp("EHLO netctl", '2')?;
        let plain = format!("\0{}\0{}", from.mailbox, login.password);
        let response = base64::engine::general_purpose::STANDARD.encode(plain);
        s.send(&format!("AUTH PLAIN {response}\r\n"))?;
        // The command holds the password: the error names AUTH PLAIN only.
        s.smtp_reply("AUTH PLAIN", '2')?;
    }
    s.smtp(&format!("MAIL FROM:<{}>", smtp_address(from)), '2')?;
    s.smtp(&format!("RCPT TO:<{}>", smtp_address(to)), '2')?;
    s.smtp("DATA", '3')?;
    let mut data = format!(
        "From: <{}>\r\nTo: <{}>\r\n",
        smtp_address(from),
        smtp_address(to)
    );
    for (k, v) in headers {
        data.push_str(&format!("{k}: {v}\r\n"));
    }
    data.push_str("\r\n");
    for line in body.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    s.send(&data)?;
    s.smtp_reply("DATA (end)", '2')?;
    let _ = s.smtp("QUIT", '2');
    Ok(())
}

/// Every message in a POP3 mailbox, as lines; those `delete` picks are
/// removed when the session ends.
pub fn collect(
    pop3: &Pop3Server,
    mailbox: &str,
    password: &str,
    delete: &dyn Fn(&[String]) -> bool,
) -> Result<Vec<Vec<String>>, MailClientError> {
    let mut s = Lines::connect(&pop3.endpoint)?;
    let greeting = s.line()?;
    if !greeting.starts_with("+OK") {
        return Err(s.refused("(greeting)", greeting));
    }
    if let Some(trust) = &pop3.trust {
        s.pop3("STLS")?;
        s = s.start_tls(trust)?;
    }
    s.pop3(&format!("USER {mailbox}"))?;
    s.pop3(&format!("PASS {password}"))?;
    let stat = s.pop3("STAT")?;
    let count: usize = stat
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| s.refused("STAT", stat.clone()))?;
    let mut messages = Vec::with_capacity(count.min(100_000));
    for i in 1..=count {
        s.pop3(&format!("RETR {i}"))?;
        let message = s.pop3_lines()?;
        if delete(&message) {
            s.pop3(&format!("DELE {i}"))?;
        }
        messages.push(message);
    }
    s.pop3("QUIT")?;
    Ok(messages)
}

/// The value of header `name` in a message's lines (first match, headers only).
pub fn header<'a>(message: &'a [String], name: &str) -> Option<&'a str> {
    message.iter().take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire_format::Name;

    #[test]
    fn smtp_form_of_an_address_is_lower_case() {
        let n = |s| Name::new(s).unwrap();
        let a = Address::new(n("ACME"), n("POA"), n("JSMITH"));
        assert_eq!(smtp_address(&a), "jsmith@poa.acme");
    }

    #[test]
    fn headers_are_found_only_in_the_header_block() {
        let m: Vec<String> = ["Subject: hi", "X-Netctl-Id: 7", "", "X-Netctl-Id: 9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(header(&m, "x-netctl-id"), Some("7"));
        assert_eq!(header(&m, "missing"), None);
    }
}
