//! An SMTP submission session (RFC 5321 subset) as a sans-IO state machine:
//! feed it lines (without CRLF), act on what it returns. It accepts mail only
//! from users of this post office, to addresses of this network: never an
//! open relay.

use wire_format::{Address, Name};

use crate::command::{path_argument, verb_and_argument};
use crate::routing::parse_smtp_address;

/// A command line longer than this is refused (RFC 5321 allows 512).
pub const MAX_COMMAND_LINE: usize = 512;
pub const MAX_RECIPIENTS: usize = 100;

pub struct SmtpConfig {
    pub hostname: String,
    pub post_office: Name,
    pub network: Name,
    pub max_size: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this reply (CRLF is added per line).
    Reply(String),
    /// Send this reply and close.
    Close(String),
    /// Store this message durably, then call [`SmtpSession::submitted`].
    Submit {
        from: Address,
        recipients: Vec<Address>,
        data: Vec<u8>,
    },
    /// Nothing to send (a DATA line was taken).
    None,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Connected,
    Ready,
    Mail,
    Data,
}

pub struct SmtpSession {
    config: SmtpConfig,
    state: State,
    from: Option<Address>,
    recipients: Vec<Address>,
    data: Vec<u8>,
    too_big: bool,
}

fn reply(text: &str) -> Action {
    Action::Reply(text.to_owned())
}

impl SmtpSession {
    pub fn new(config: SmtpConfig) -> (SmtpSession, String) {
        let greeting = format!(
            "220 {} ESMTP mhub post office {} ready",
            config.hostname, config.post_office
        );
        let session = SmtpSession {
            config,
            state: State::Connected,
            from: None,
            recipients: Vec::new(),
            data: Vec::new(),
            too_big: false,
        };
        (session, greeting)
    }

    fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
        self.data.clear();
        self.too_big = false;
        if self.state != State::Connected {
            self.state = State::Ready;
        }
    }

    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// One line from the client. `is_local_user` says whether a mailbox of
    /// this post office exists.
    pub fn line(&mut self, line: &[u8], is_local_user: impl Fn(&Name) -> bool) -> Action {
        if self.state == State::Data {
            return self.data_line(line);
        }
        if line.len() > MAX_COMMAND_LINE {
            return reply("500 5.5.6 Command line too long");
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return reply("500 5.5.2 Command is not valid text");
        };
        let (verb, rest) = verb_and_argument(text);
        match verb.as_str() {
            "EHLO" => {
                self.state = State::Ready;
                self.reset();
                Action::Reply(format!(
                    "250-{} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 PIPELINING",
                    self.config.hostname,
                    rest.trim(),
                    self.config.max_size
                ))
            }
            "HELO" => {
                self.state = State::Ready;
                self.reset();
                Action::Reply(format!("250 {}", self.config.hostname))
            }
            "MAIL" => self.mail(rest, is_local_user),
            "RCPT" => self.rcpt(rest),
            "DATA" => match self.state {
                State::Mail if !self.recipients.is_empty() => {
                    self.state = State::Data;
                    reply("354 End data with <CR><LF>.<CR><LF>")
                }
                State::Mail => reply("554 5.5.1 No valid recipients"),
                _ => reply("503 5.5.1 MAIL first"),
            },
            "RSET" => {
                self.reset();
                reply("250 2.0.0 OK")
            }
            "NOOP" => reply("250 2.0.0 OK"),
            "QUIT" => Action::Close("221 2.0.0 Bye".into()),
            "VRFY" => reply("252 2.5.2 Cannot VRFY user, but will accept message"),
            _ => reply("500 5.5.2 Command not recognized"),
        }
    }

    fn mail(&mut self, rest: &str, is_local_user: impl Fn(&Name) -> bool) -> Action {
        match self.state {
            State::Connected => return reply("503 5.5.1 Say EHLO or HELO first"),
            State::Mail | State::Data => return reply("503 5.5.1 Sender already given"),
            State::Ready => {}
        }
        let Some(path) = path_argument(rest, "FROM:") else {
            return reply("501 5.5.4 Syntax: MAIL FROM:<address>");
        };
        for param in &path.params {
            if param.is("SIZE") {
                match param.value.unwrap_or("").parse::<usize>() {
                    Ok(n) if n > self.config.max_size => {
                        return Action::Reply(format!(
                            "552 5.3.4 Message size exceeds the limit of {} bytes",
                            self.config.max_size
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return reply("501 5.5.4 SIZE must be a number"),
                }
            }
        }
        let Some(from) = parse_smtp_address(path.address) else {
            return reply("553 5.1.7 Sender must be mailbox@postoffice.network");
        };
        if from.post_office != self.config.post_office
            || from.network != self.config.network
            || !is_local_user(&from.mailbox)
        {
            return Action::Reply(format!(
                "550 5.7.1 Only users of {} may send here",
                format!("{}.{}", self.config.post_office, self.config.network).to_ascii_lowercase()
            ));
        }
        self.from = Some(from);
        self.state = State::Mail;
        reply("250 2.1.0 Sender OK")
    }

    fn rcpt(&mut self, rest: &str) -> Action {
        if self.state != State::Mail {
            return reply("503 5.5.1 MAIL first");
        }
        let Some(path) = path_argument(rest, "TO:") else {
            return reply("501 5.5.4 Syntax: RCPT TO:<address>");
        };
        match parse_smtp_address(path.address) {
            Some(to) if to.network == self.config.network => {
                if self.recipients.len() >= MAX_RECIPIENTS {
                    return reply("452 4.5.3 Too many recipients");
                }
                if !self.recipients.contains(&to) {
                    self.recipients.push(to);
                }
                reply("250 2.1.5 Recipient OK")
            }
            _ => reply("550 5.7.1 Relaying denied: only addresses of this network"),
        }
    }

    fn data_line(&mut self, line: &[u8]) -> Action {
        if line == b"." {
            self.state = State::Ready;
            if self.too_big {
                self.reset();
                return Action::Reply(format!(
                    "552 5.3.4 Message size exceeds the limit of {} bytes",
                    self.config.max_size
                ));
            }
            let (Some(from), recipients) = (self.from.take(), std::mem::take(&mut self.recipients))
            else {
                return reply("503 5.5.1 MAIL first");
            };
            return Action::Submit {
                from,
                recipients,
                data: std::mem::take(&mut self.data),
            };
        }
        // RFC 5321 4.5.2: a leading period is deleted (clients double it).
        let line = line.strip_prefix(b".").unwrap_or(line);
        if self.data.len() + line.len() + 2 > self.config.max_size {
            self.too_big = true;
            self.data.clear();
        } else if !self.too_big {
            self.data.extend_from_slice(line);
            self.data.extend_from_slice(b"\r\n");
        }
        Action::None
    }

    /// The reply once the shell stored (or failed to store) the message.
    pub fn submitted(&mut self, result: Result<String, String>) -> String {
        self.reset();
        match result {
            Ok(id) => format!("250 2.0.0 OK queued as {id}"),
            Err(e) => format!("451 4.3.0 Not stored, try again later: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SmtpSession {
        SmtpSession::new(SmtpConfig {
            hostname: "poa.acme".into(),
            post_office: Name::new("POA").unwrap(),
            network: Name::new("ACME").unwrap(),
            max_size: 100,
        })
        .0
    }

    fn local(m: &Name) -> bool {
        m.as_str() == "JSMITH"
    }

    fn code(a: Action) -> String {
        match a {
            Action::Reply(r) | Action::Close(r) => r[..3].to_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_local_user_submits_to_anyone_in_the_network() {
        let mut s = session();
        assert_eq!(code(s.line(b"EHLO client", local)), "250");
        assert_eq!(
            code(s.line(b"MAIL FROM:<jsmith@poa.acme> SIZE=20", local)),
            "250"
        );
        assert_eq!(code(s.line(b"RCPT TO:<ajones@pod.acme>", local)), "250");
        assert_eq!(code(s.line(b"DATA", local)), "354");
        assert_eq!(s.line(b"Subject: hi", local), Action::None);
        assert_eq!(s.line(b"", local), Action::None);
        assert_eq!(s.line(b"..leading dot", local), Action::None);
        match s.line(b".", local) {
            Action::Submit {
                from,
                recipients,
                data,
            } => {
                assert_eq!(from.to_string(), "ACME/POA/JSMITH");
                assert_eq!(recipients[0].to_string(), "ACME/POD/AJONES");
                assert_eq!(data, b"Subject: hi\r\n\r\n.leading dot\r\n");
            }
            other => panic!("{other:?}"),
        }
        assert!(s.submitted(Ok("x".into())).starts_with("250"));
        assert_eq!(code(s.line(b"QUIT", local)), "221");
    }

    #[test]
    fn it_is_never_an_open_relay() {
        let mut s = session();
        s.line(b"HELO x", local);
        assert_eq!(
            code(s.line(b"MAIL FROM:<eve@pob.acme>", local)),
            "550",
            "another post office's sender"
        );
        assert_eq!(
            code(s.line(b"MAIL FROM:<nobody@poa.acme>", local)),
            "550",
            "not a user here"
        );
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
        assert_eq!(code(s.line(b"RCPT TO:<someone@example.com>", local)), "550");
        assert_eq!(code(s.line(b"RCPT TO:<x@poa.other>", local)), "550");
        assert_eq!(code(s.line(b"DATA", local)), "554");
    }

    #[test]
    fn order_and_size_are_enforced() {
        let mut s = session();
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
        s.line(b"EHLO x", local);
        assert_eq!(code(s.line(b"RCPT TO:<a@pob.acme>", local)), "503");
        assert_eq!(
            code(s.line(b"MAIL FROM:<jsmith@poa.acme> SIZE=1000", local)),
            "552"
        );
        s.line(b"MAIL FROM:<jsmith@poa.acme>", local);
        s.line(b"RCPT TO:<a@pob.acme>", local);
        s.line(b"DATA", local);
        for _ in 0..20 {
            s.line(b"0123456789", local);
        }
        assert_eq!(code(s.line(b".", local)), "552");
        assert_eq!(code(s.line(&[b'X'; 600], local)), "500");
        assert_eq!(code(s.line(b"BOGUS", local)), "500");
    }
}
