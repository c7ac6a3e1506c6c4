//! A POP3 session (RFC 1939: USER/PASS, STAT, LIST, UIDL, RETR, DELE, NOOP,
//! RSET, QUIT) as a sans-IO state machine. Messages marked deleted are
//! removed only when the client QUITs from the transaction state.

use wire_format::Name;

use crate::command::verb_and_argument;
use crate::store::Stored;

pub const MAX_LINE: usize = 512;

/// The store cannot be read now (a full disk made it fail, say): a
/// temporary error (RFC 3206 `SYS/TEMP`) that names no file.
pub const UNAVAILABLE: &str = "-ERR [SYS/TEMP] mailbox unavailable, try again later";

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Reply(String),
    /// Multi-line reply: the first line, then `lines` (dot-stuffed and
    /// terminated here).
    Lines(String, Vec<String>),
    /// Check these credentials, then call [`Pop3Session::logged_in`].
    Login {
        mailbox: Name,
        password: String,
    },
    /// Fetch the message with this store key, then call [`Pop3Session::retrieved`].
    Retrieve {
        key: Vec<u8>,
    },
    /// Delete these, reply, close.
    Quit {
        delete: Vec<Vec<u8>>,
    },
    Close(String),
}

enum State {
    User,
    Pass(Name),
    Transaction {
        messages: Vec<Stored>,
        deleted: Vec<bool>,
    },
}

pub struct Pop3Session {
    state: State,
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
    pub fn new(hostname: &str) -> (Pop3Session, String) {
        (
            Pop3Session { state: State::User },
            format!("+OK {hostname} POP3 ready"),
        )
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
        if line.len() > MAX_LINE {
            return err("line too long");
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return err("not valid text");
        };
        let (verb, arg) = verb_and_argument(text);
        match (&mut self.state, verb.as_str()) {
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
            (State::User, "USER") => match Name::new(arg.trim()) {
                Ok(mailbox) => {
                    self.state = State::Pass(mailbox);
                    ok("send PASS")
                }
                Err(_) => err("no such mailbox name"),
            },
            (State::Pass(mailbox), "PASS") => Action::Login {
                mailbox: *mailbox,
                password: arg.to_owned(),
            },
            (State::User | State::Pass(_), _) => err("USER and PASS first"),
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
                err("wrong mailbox or password")
            }
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(uid: &str, size: usize) -> Stored {
        Stored {
            key: uid.as_bytes().to_vec(),
            uid: uid.into(),
            size,
        }
    }

    #[test]
    fn a_user_logs_in_lists_retrieves_and_deletes() {
        let (mut s, greeting) = Pop3Session::new("poa.acme");
        assert!(greeting.starts_with("+OK"));
        assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
        assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
        match s.line(b"PASS secret") {
            Action::Login { mailbox, password } => {
                assert_eq!(mailbox.as_str(), "JSMITH");
                assert_eq!(password, "secret");
            }
            other => panic!("{other:?}"),
        }
        s.logged_in(Some(vec![stored("a1", 10), stored("b2", 20)]));
        assert_eq!(s.line(b"STAT"), ok("2 30"));
        assert_eq!(s.line(b"UIDL 2"), ok("2 b2"));
        assert_eq!(
            s.line(b"RETR 1"),
            Action::Retrieve {
                key: b"a1".to_vec()
            }
        );
        assert_eq!(s.line(b"DELE 1"), ok("message 1 deleted"));
        assert_eq!(s.line(b"RETR 1"), err("no such message"));
        assert_eq!(
            s.line(b"LIST"),
            Action::Lines("+OK 1 messages".into(), vec!["2 20".into()])
        );
        assert_eq!(
            s.line(b"QUIT"),
            Action::Quit {
                delete: vec![b"a1".to_vec()]
            }
        );
    }

    #[test]
    fn a_wrong_password_goes_back_to_user() {
        let (mut s, _) = Pop3Session::new("x");
        s.line(b"USER jsmith");
        s.line(b"PASS nope");
        assert_eq!(s.logged_in(None), err("wrong mailbox or password"));
        assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
        assert_eq!(s.line(b"RSET"), err("USER and PASS first"));
        assert_eq!(s.line(b"QUIT"), Action::Close("+OK bye".into()));
    }

    #[test]
    fn a_login_the_store_cannot_check_is_a_temporary_error_not_a_wrong_password() {
        let (mut s, _) = Pop3Session::new("x");
        s.line(b"USER jsmith");
        s.line(b"PASS right");
        assert_eq!(
            s.login_unavailable(),
            Action::Reply("-ERR [SYS/TEMP] mailbox unavailable, try again later".into())
        );
        assert_eq!(s.line(b"STAT"), err("USER and PASS first"));
        assert!(matches!(s.line(b"USER jsmith"), Action::Reply(r) if r.starts_with("+OK")));
    }

    #[test]
    fn bodies_are_dot_stuffed_and_terminated() {
        assert_eq!(
            multiline("+OK", b"a\r\n.b\r\n"),
            b"+OK\r\na\r\n..b\r\n.\r\n"
        );
        assert_eq!(multiline("+OK", b""), b"+OK\r\n.\r\n");
    }
}
