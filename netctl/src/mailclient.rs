//! The smallest SMTP submitter and POP3 collector the operator needs: to send
//! the migration's test mails and the demo's traffic through the post
//! offices' real SMTP and POP3 listeners, as any mail client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

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

/// `ACME/POA/JSMITH` is `jsmith@poa.acme`.
pub fn smtp_address(a: &Address) -> String {
    format!("{}@{}.{}", a.mailbox, a.post_office, a.network).to_ascii_lowercase()
}

struct Lines {
    server: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
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
        let writer = stream.try_clone().map_err(io)?;
        Ok(Lines {
            server: server.to_owned(),
            reader: BufReader::new(stream),
            writer,
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
        let n = Read::by_ref(&mut self.reader)
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
        self.writer
            .write_all(text.as_bytes())
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

/// Submits one message over SMTP. `body` lines are CRLF-joined and
/// dot-stuffed here.
pub fn send(
    smtp: &str,
    from: &Address,
    to: &Address,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(), MailClientError> {
    let mut s = Lines::connect(smtp)?;
    s.smtp_reply("(greeting)", '2')?;
    s.smtp("EHLO netctl", '2')?;
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
    pop3: &str,
    mailbox: &str,
    password: &str,
    delete: &dyn Fn(&[String]) -> bool,
) -> Result<Vec<Vec<String>>, MailClientError> {
    let mut s = Lines::connect(pop3)?;
    let greeting = s.line()?;
    if !greeting.starts_with("+OK") {
        return Err(s.refused("(greeting)", greeting));
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
