//! A POP3 session (RFC 1939: USER/PASS, STAT, LIST, UIDL, RETR, TOP, DELE,
//! NOOP, RSET, QUIT; RFC 2449 CAPA; RFC 5034 AUTH PLAIN; RFC 2595 STLS) as a
//! sans-IO state machine. Messages marked deleted are removed only when the client QUITs
//! from the transaction state. The shell (`net::pop3`) checks passwords,
//! slows failed logins ([`throttle`]) and holds the maildrop lock
//! ([`maildrop`]).

pub mod login;
pub mod maildrop;
pub mod throttle;
pub mod top;

use crate::command::verb_and_argument;
use crate::store::Stored;
pub use login::Login;

pub const MAX_LINE: usize = 512;

/// The store cannot be read now (a full disk made it fail, say): a
/// temporary error (RFC 3206 `SYS/TEMP`) that names no file.
pub const UNAVAILABLE: &str = "-ERR [SYS/TEMP] mailbox unavailable, try again later";

/// RFC 2449 §6: what CAPA lists, in either state. STLS comes with TLS
/// (see [`Pop3Session::capabilities`]); USER and SASL PLAIN only where a
/// password may be sent.
pub const CAPABILITIES: &[&str] = &[
    "TOP",
    "UIDL",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "PIPELINING",
    "IMPLEMENTATION mail-router",
];

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Reply(String),
    /// Multi-line reply: the first line, then `lines` (dot-stuffed and
    /// terminated here).
    Lines(String, Vec<String>),
    /// Check these credentials, then call [`Pop3Session::logged_in`] (or
    /// [`Pop3Session::in_use`] when another session holds the mailbox).
    /// A login whose `mailbox` is None is checked against no mailbox, with
    /// the same work, and fails.
    Login {
        login: Login,
        password: String,
    },
    /// Fetch the message with this store key, then call [`Pop3Session::retrieved`].
    Retrieve {
        key: Vec<u8>,
    },
    /// Fetch the message with this store key, then call [`Pop3Session::top`].
    Top {
        key: Vec<u8>,
        lines: usize,
    },
    /// RFC 2595 §4: send this `+OK`, then negotiate TLS on the connection
    /// (discarding anything the client sent after STLS), then call
    /// [`Pop3Session::tls_started`]; if negotiation fails, close.
    StartTls(String),
    /// Delete these, reply, close.
    Quit {
        delete: Vec<Vec<u8>>,
    },
    Close(String),
}

enum State {
    User,
    Pass(Login),
    /// AUTH PLAIN sent without an initial response: the next line is it.
    AuthPlain,
    Transaction {
        messages: Vec<Stored>,
        deleted: Vec<bool>,
    },
}

/// What the connection offers and allows about TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Security {
    /// TLS can be started with STLS (a certificate is configured).
    pub stls: bool,
    /// The connection is TLS already (pop3s, or after STLS).
    pub tls_active: bool,
    /// Passwords are taken outside TLS.
    pub allow_plaintext: bool,
}

impl Security {
    /// No TLS at all, passwords in clear: a post office without certificate.
    pub const PLAIN: Security = Security {
        stls: false,
        tls_active: false,
        allow_plaintext: true,
    };

    fn may_log_in(&self) -> bool {
        self.tls_active || self.allow_plaintext
    }
}

/// RFC 2595 §2.2 lets a server refuse passwords in clear; RFC 3206's AUTH
/// code says that it is the login, not the server, that failed.
pub const CLEARTEXT_REFUSED: &str =
    "-ERR [AUTH] no password over an unencrypted connection: use STLS first, or the pop3s port";

pub struct Pop3Session {
    state: State,
    security: Security,
    /// The post office's mail domain (`poc.acme`): `carol@poc.acme` logs in
    /// as CAROL.
    domain: String,
}

fn ok(text: impl Into<String>) -> Action {
    Action::Reply(format!("+OK {}", text.into()))
}

fn err(text: &str) -> Action {
    Action::Reply(format!("-ERR {text}"))
}

/// Dot-stuffs and terminates a multi-line body for the wire.
pub fn multiline(first: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + first.len() + 16);
    out.extend_from_slice(first.as_bytes());
    out.extend_from_slice(b"\r\n");
    let text = body.strip_suffix(b"\r\n").unwrap_or(body);
    if !text.is_empty() {
        for line in text.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl Pop3Session {
    /// `hostname` is also the post office's mail domain.
    pub fn new(hostname: &str) -> (Pop3Session, String) {
        Pop3Session::with_security(hostname, Security::PLAIN)
    }

    /// A session on a connection with these TLS offers and rules.
    pub fn with_security(hostname: &str, security: Security) -> (Pop3Session, String) {
        (
            Pop3Session {
                state: State::User,
                security,
                domain: hostname.to_owned(),
            },
            format!("+OK {hostname} POP3 ready"),
        )
    }

    /// The CAPA list on this connection now: STLS while TLS can still be
    /// started (RFC 2595 §4), USER and SASL PLAIN where a password may be
    /// sent (RFC 2595 §2.2: no mechanism is advertised that is refused).
    pub fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = CAPABILITIES.iter().map(|c| (*c).to_owned()).collect();
        if self.security.may_log_in() {
            caps.splice(2..2, ["USER".to_owned(), "SASL PLAIN".to_owned()]);
        }
        if self.security.stls && !self.security.tls_active {
            caps.push("STLS".into());
        }
        caps
    }

    /// TLS is now active after [`Action::StartTls`]. RFC 2595 §4: the
    /// client starts over in the AUTHORIZATION state and the server forgets
    /// what it was told in clear.
    pub fn tls_started(&mut self) {
        self.security.tls_active = true;
        self.state = State::User;
    }

    fn end_auth(&mut self) {
        if let State::AuthPlain = self.state {
            self.state = State::User;
        }
    }

    /// The answer to an AUTH PLAIN response (initial or continued).
    fn auth_plain(&mut self, response: &str) -> Action {
        self.state = State::User;
        match login::plain(response, &self.domain) {
            Ok((login, password)) => Action::Login { login, password },
            Err(login::PlainError::NotBase64) => err("the response is not base64"),
            Err(login::PlainError::Malformed) => {
                err("the response is not authzid NUL authcid NUL password")
            }
        }
    }

    fn message_number(&self, arg: &str) -> Result<usize, Action> {
        let State::Transaction { messages, deleted } = &self.state else {
            return Err(err("not logged in"));
        };
        match arg.trim().parse::<usize>() {
            Ok(n) if n >= 1 && n <= messages.len() && !deleted[n - 1] => Ok(n - 1),
            Ok(_) => Err(err("no such message")),
            Err(_) => Err(err("a message number is needed")),
        }
    }

    pub fn line(&mut self, line: &[u8]) -> Action {
        // A bad line ends an AUTH exchange too: the next line is a command.
        if line.len() > MAX_LINE {
            self.end_auth();
            return err("line too long");
        }
        let Ok(text) = std::str::from_utf8(line) else {
            self.end_auth();
            return err("not valid text");
        };
        if let State::AuthPlain = self.state {
            // RFC 5034 §4: "*" cancels the exchange.
            if text.trim() == "*" {
                self.state = State::User;
                return err("authentication cancelled");
            }
            return self.auth_plain(text);
        }
        let (verb, arg) = verb_and_argument(text);
        match (&mut self.state, verb.as_str()) {
            (_, "CAPA") => Action::Lines("+OK capability list follows".into(), self.capabilities()),
            // RFC 2595 §4: only in the AUTHORIZATION state, once.
            (State::User | State::Pass(_), "STLS") => {
                if self.security.tls_active {
                    err("TLS is already active")
                } else if !self.security.stls {
                    err("TLS is not offered here")
                } else {
                    self.state = State::User;
                    Action::StartTls("+OK begin TLS negotiation".into())
                }
            }
            (State::User | State::Pass(_), "USER" | "PASS" | "AUTH")
                if !self.security.may_log_in() =>
            {
                self.state = State::User;
                Action::Reply(CLEARTEXT_REFUSED.into())
            }
            (_, "QUIT") => match &self.state {
                State::Transaction { messages, deleted } => Action::Quit {
                    delete: messages
                        .iter()
                        .zip(deleted)
                        .filter(|(_, d)| **d)
                        .map(|(m, _)| m.key.clone())
                        .collect(),
                },
                _ => Action::Close("+OK bye".into()),
            },
            (_, "NOOP") => ok(""),
            // Any name is taken: which mailboxes exist shows only after PASS,
            // and then no differently from a wrong password.
            (State::User, "USER") if !arg.trim().is_empty() => {
                self.state = State::Pass(login::login(arg, &self.domain));
                ok("send PASS")
            }
            (State::User, "USER") => err("a mailbox name is needed"),
            (State::Pass(_), "PASS") => {
                let State::Pass(login) = std::mem::replace(&mut self.state, State::User) else {
                    unreachable!()
                };
                Action::Login {
                    login,
                    password: arg.to_owned(),
                }
            }
            (State::User | State::Pass(_), "AUTH") => {
                self.state = State::User;
                let mut words = arg.split_whitespace();
                match (words.next(), words.next(), words.next()) {
                    // RFC 1734 clients ask for the mechanisms with a bare AUTH.
                    (None, _, _) => {
                        Action::Lines("+OK SASL mechanisms follow".into(), vec!["PLAIN".into()])
                    }
                    (Some(m), None, None) if m.eq_ignore_ascii_case("PLAIN") => {
                        self.state = State::AuthPlain;
                        Action::Reply("+ ".into())
                    }
                    (Some(m), Some(initial), None) if m.eq_ignore_ascii_case("PLAIN") => {
                        self.auth_plain(initial)
                    }
                    _ => err("unsupported SASL mechanism; PLAIN is offered"),
                }
            }
            (State::User | State::Pass(_) | State::AuthPlain, _) => err("USER and PASS first"),
            (State::Transaction { messages, deleted }, "STAT") => {
                let live = messages.iter().zip(deleted.iter()).filter(|(_, d)| !**d);
                let (count, size) = live.fold((0, 0), |(c, s), (m, _)| (c + 1, s + m.size));
                ok(format!("{count} {size}"))
            }
            (State::Transaction { .. }, "LIST" | "UIDL") => {
                let uidl = verb == "UIDL";
                let State::Transaction { messages, deleted } = &self.state else {
                    unreachable!()
                };
                let show = |i: usize| {
                    if uidl {
                        format!("{} {}", i + 1, messages[i].uid)
                    } else {
                        format!("{} {}", i + 1, messages[i].size)
                    }
                };
                if arg.trim().is_empty() {
                    let lines = (0..messages.len())
                        .filter(|i| !deleted[*i])
                        .map(show)
                        .collect::<Vec<_>>();
                    Action::Lines(format!("+OK {} messages", lines.len()), lines)
                } else {
                    match self.message_number(arg) {
                        Ok(i) => ok(show(i)),
                        Err(e) => e,
                    }
                }
            }
            (State::Transaction { .. }, "RETR") => match self.message_number(arg) {
                Ok(i) => {
                    let State::Transaction { messages, .. } = &self.state else {
                        unreachable!()
                    };
                    Action::Retrieve {
                        key: messages[i].key.clone(),
                    }
                }
                Err(e) => e,
            },
            (State::Transaction { .. }, "TOP") => {
                let mut words = arg.split_whitespace();
                let (Some(number), Some(lines), None) = (words.next(), words.next(), words.next())
                else {
                    return err("TOP needs a message number and a line count");
                };
                let Ok(lines) = lines.parse::<usize>() else {
                    return err("the line count is not a number");
                };
                match self.message_number(number) {
                    Ok(i) => {
                        let State::Transaction { messages, .. } = &self.state else {
                            unreachable!()
                        };
                        Action::Top {
                            key: messages[i].key.clone(),
                            lines,
                        }
                    }
                    Err(e) => e,
                }
            }
            (State::Transaction { .. }, "DELE") => match self.message_number(arg) {
                Ok(i) => {
                    if let State::Transaction { deleted, .. } = &mut self.state {
                        deleted[i] = true;
                    }
                    ok(format!("message {} deleted", i + 1))
                }
                Err(e) => e,
            },
            (State::Transaction { deleted, .. }, "RSET") => {
                deleted.iter_mut().for_each(|d| *d = false);
                ok("")
            }
            _ => err("unknown command"),
        }
    }

    /// The outcome of a Login action: the mailbox's messages, or None when
    /// the credentials were wrong.
    pub fn logged_in(&mut self, messages: Option<Vec<Stored>>) -> Action {
        match messages {
            Some(messages) => {
                let deleted = vec![false; messages.len()];
                let n = messages.len();
                self.state = State::Transaction { messages, deleted };
                ok(format!("{n} messages"))
            }
            None => {
                self.state = State::User;
                err("[AUTH] wrong mailbox or password")
            }
        }
    }

    /// The outcome of a Login action with the right password whose mailbox
    /// another session holds (RFC 1939 §8, RFC 2449 `IN-USE`).
    pub fn in_use(&mut self) -> Action {
        self.state = State::User;
        err("[IN-USE] the mailbox is open in another session; try again when it ends")
    }

    /// The outcome of a Login action whose credentials could not be checked
    /// (the store cannot be read): not "wrong password", which would send
    /// the user to reset a password that is fine.
    pub fn login_unavailable(&mut self) -> Action {
        self.state = State::User;
        Action::Reply(UNAVAILABLE.into())
    }

    /// The bytes to send for a RETR whose message text is `body`.
    pub fn retrieved(&self, body: Option<Vec<u8>>) -> Vec<u8> {
        match body {
            Some(body) => multiline(&format!("+OK {} octets", body.len()), &body),
            None => b"-ERR message vanished\r\n".to_vec(),
        }
    }

    /// The bytes to send for a TOP of `lines` lines whose message text is `body`.
    pub fn top(&self, body: Option<Vec<u8>>, lines: usize) -> Vec<u8> {
        match body {
            Some(body) => multiline("+OK top of message follows", top::top(&body, lines)),
            None => b"-ERR message vanished\r\n".to_vec(),
        }
    }
}

#[cfg(test)]
mod tests;
