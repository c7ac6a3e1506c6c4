//! An SMTP submission session (RFC 5321 subset) as a sans-IO state machine:
//! feed it lines, each with the line ending the client sent, act on what it
//! returns. It accepts mail only from users of this post office, to
//! addresses of this network: never an open relay. Command lines are parsed
//! by the `smtp-proto` crate (RFC 5321 and its extensions' parameters); this
//! module maps its requests and errors to replies.
//!
//! Line discipline (RFC 5321 2.3.8, 4.1.1.4): only CRLF ends a line. The
//! shell cuts the input after each LF, so a piece may end with a bare LF;
//! the session, not the reader, decides what that means:
//! * a command piece ending with a bare LF, or holding a CR or LF inside,
//!   gets `500 5.5.2`, and so does every piece after it up to the next CRLF:
//!   `MAIL ...\nRCPT ...\r\n` runs no command at all;
//! * in DATA only a `.` piece right after a CRLF and ending with CRLF (the
//!   bytes CRLF.CRLF) ends the message; a message that holds a bare CR or LF
//!   anywhere is refused whole at that end (`550 5.6.0`), never normalised
//!   and never split, so `\n.\n` and its relatives (CVE-2023-51764) cannot
//!   smuggle a second message past this router or a later hop.
//!
//! Recipients are checked at RCPT time (RFC 5321 3.3): a mailbox of this
//! post office must exist (`550 5.1.1`); `user+detail` is `user` (the
//! detail is dropped, names have no `+`); case never matters. Mail for
//! another post office of the network is accepted: a post office knows
//! only its own users and its hub, and the hub decides.
//!
//! TLS and authentication:
//! * STARTTLS (RFC 3207) is offered when the listener has a certificate;
//!   its `220` is [`Action::StartTls`], and once the shell's handshake is
//!   done ([`SmtpSession::tls_started`]) the session starts over without a
//!   greeting: the client must EHLO again, and nothing it said before
//!   counts (RFC 3207 4.2). The session takes no line between the two: a
//!   command pipelined after STARTTLS was sent in clear and may have been
//!   injected (CVE-2011-0411), so the shell drops what it has buffered.
//! * AUTH (RFC 4954; PLAIN and LOGIN, see [`auth`]) is offered under TLS
//!   only (`530 5.7.0` in clear); the password is the user's POP3 one, and
//!   the shell checks it ([`Action::Auth`], [`SmtpSession::authenticated`]),
//!   slowed after failures as POP3's logins are.
//! * Policy: an authenticated client sends only as itself (`553 5.7.1` for
//!   any other MAIL FROM, POSTMASTER included). Mail for another post
//!   office needs AUTH (`530 5.7.0` at RCPT) unless the client's address
//!   is trusted (`trusted_networks`, like Postfix's `mynetworks`); mail
//!   between users of this post office does not. A submission listener
//!   (RFC 6409) takes no mail at all without AUTH, trusted or not.

pub mod auth;
mod headers;

pub use headers::complete_headers;

use std::borrow::Cow;

use role_runtime::Secret;
use smtp_proto::{
    Error as ParseError, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MailFrom, RcptTo, Request,
};
use wire_format::{Address, Name};

use crate::pop3::Login;
use crate::routing::{POSTMASTER, parse_smtp_address, postmaster};

/// A command line longer than this is refused (RFC 5321 allows 512).
pub const MAX_COMMAND_LINE: usize = 512;
pub const MAX_RECIPIENTS: usize = 100;
/// Bytes reserved for a message's text when DATA starts, when the client
/// did not announce its size.
const TYPICAL_MESSAGE: usize = 4 * 1024;
/// Room for the fields [`complete_headers`] may add, so that adding them
/// moves the text within its buffer instead of copying it to a new one.
const ADDED_HEADER_ROOM: usize = 256;
/// The store could not take the message (a full disk, say): the client
/// keeps it and tries again (RFC 5321 451: local error in processing).
const NOT_STORED: &str = "451 4.3.0 Not stored, try again later";
/// The sender could not be looked up now (the store cannot be read).
const NOT_NOW: &str = "451 4.3.0 Cannot check the sender now, try again later";
/// The recipient could not be looked up now (the store cannot be read).
const RECIPIENT_NOT_NOW: &str = "451 4.3.0 Cannot check the recipient now, try again later";
/// A command line with a CR or LF that is not its CRLF end (RFC 5321 2.3.8).
const BARE_LINE_END: &str = "500 5.5.2 Bare CR or LF in a command: lines end with CRLF only";
/// A message with a CR or LF that is not part of a CRLF (RFC 5321 2.3.8):
/// refused whole, so that no hop reads an end of data the client did not
/// send (CVE-2023-51764).
const BARE_IN_MESSAGE: &str =
    "550 5.6.0 Message refused: bare CR or LF in its text, lines end with CRLF only";

/// RFC 4954 6 / RFC 3207 4: the action needs AUTH first.
const AUTH_REQUIRED: &str = "530 5.7.0 Authentication required";

pub struct SmtpConfig {
    pub hostname: String,
    pub post_office: Name,
    pub network: Name,
    pub max_size: usize,
    /// The listener has a certificate: STARTTLS is offered (when the
    /// connection is not TLS already).
    pub starttls: bool,
    /// The connection is TLS from its first byte (the smtps listener).
    pub tls: bool,
    /// A submission listener (RFC 6409): no mail without AUTH, whoever
    /// the client is.
    pub submission: bool,
    /// The client's address is in `trusted_networks`: it may send to other
    /// post offices without AUTH (not on a submission listener).
    pub trusted: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this reply (CRLF is added per line).
    Reply(String),
    /// Send this reply and close.
    Close(String),
    /// Store this message durably, then call [`SmtpSession::submitted`].
    /// `data` is the text as the client sent it; the shell adds what RFC
    /// 6409 8 asks of a submission server with [`complete_headers`].
    Submit {
        from: Address,
        recipients: Vec<Address>,
        data: Vec<u8>,
    },
    /// Nothing to send (a DATA line was taken).
    None,
    /// Send this `220`, then the TLS handshake on the connection, dropping
    /// whatever the client sent after STARTTLS (RFC 3207 5; CVE-2011-0411),
    /// then call [`SmtpSession::tls_started`]. If the handshake fails,
    /// close: there is no channel left to say so.
    StartTls(String),
    /// Check this user's (POP3) password, slowed after failures, then call
    /// [`SmtpSession::authenticated`]. A login whose `mailbox` is None is
    /// checked against no mailbox, with the same work, and fails.
    Auth {
        login: Login,
        password: Secret<String>,
    },
}

/// How the shell's check of AUTH credentials ended.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The password is this mailbox's.
    Accepted(Name),
    /// A wrong password, a missing mailbox or a name of no mailbox here.
    Refused,
    /// The store could not be read: the client may try again later.
    Unavailable,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Connected,
    Ready,
    Mail,
    Data,
    /// STARTTLS was answered: only the handshake may come.
    StartingTls,
}

pub struct SmtpSession {
    config: SmtpConfig,
    state: State,
    from: Option<Address>,
    recipients: Vec<Address>,
    /// The SIZE the client announced at MAIL (0: none), at most the limit.
    announced: usize,
    data: Vec<u8>,
    too_big: bool,
    /// The message under way holds a bare CR or LF: refused at its end.
    bare_line_end: bool,
    /// The last piece ended with CRLF: the next one starts a line (in DATA,
    /// a `.` there may end the message; in commands, a new command).
    after_crlf: bool,
    /// The command line with its CRLF put back, as `smtp-proto` parses it;
    /// kept between lines so that a line needs no new buffer.
    command: Vec<u8>,
    /// The connection is TLS (from the start, or since STARTTLS).
    tls: bool,
    /// The mailbox the client authenticated as (AUTH succeeded).
    user: Option<Name>,
    /// An AUTH exchange waiting for the client's next response.
    exchange: Option<auth::Exchange>,
    /// An AUTH is being checked by the shell.
    checking_auth: bool,
}

/// Whether the path in a RCPT line is `<postmaster>`, in any case.
fn names_postmaster(line: &[u8]) -> bool {
    let Some(open) = line.iter().position(|b| *b == b'<') else {
        return false;
    };
    let path = &line[open + 1..];
    path.iter()
        .position(|b| *b == b'>')
        .is_some_and(|close| path[..close].eq_ignore_ascii_case(POSTMASTER.as_bytes()))
}

/// `user+detail@domain` as `user@domain` (plus-addressing: the detail is
/// the user's to sort by; mailbox names have no `+`). A quoted local part
/// is left alone, for the address parser to refuse.
fn without_detail(address: &str) -> Cow<'_, str> {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.starts_with('"') => match local.split_once('+') {
            Some((user, _detail)) => Cow::Owned(format!("{user}@{domain}")),
            None => Cow::Borrowed(address),
        },
        _ => Cow::Borrowed(address),
    }
}

fn reply(text: &str) -> Action {
    Action::Reply(text.to_owned())
}

/// The reply to a line `smtp-proto` refused.
fn parse_error(error: ParseError) -> Action {
    match error {
        ParseError::UnknownCommand => reply("500 5.5.2 Command not recognized"),
        ParseError::SyntaxError { syntax } => Action::Reply(format!("501 5.5.4 Syntax: {syntax}")),
        ParseError::InvalidSenderAddress => {
            reply("553 5.1.7 Sender must be mailbox@postoffice.network")
        }
        ParseError::InvalidRecipientAddress => reply("553 5.1.3 Bad recipient address syntax"),
        ParseError::InvalidParameter { param } => {
            Action::Reply(format!("501 5.5.4 Invalid {param} parameter"))
        }
        // RFC 5321 4.1.1.11: a parameter the server does not know is 555.
        // The name is the client's (upper-cased, no white space); the line
        // had no CR or LF, so the echo stays one reply line.
        ParseError::UnsupportedParameter { param } => {
            Action::Reply(format!("555 5.5.4 Unsupported parameter {param}"))
        }
        // Not expected of one whole line (NeedsMoreData) nor of a request
        // (the response errors); still a syntax error, never a panic.
        ParseError::NeedsMoreData { .. }
        | ParseError::ResponseTooLong
        | ParseError::InvalidResponse { .. } => reply("501 5.5.2 Syntax error"),
    }
}

/// `MAIL FROM` parameters other than those the EHLO reply offers (SIZE,
/// BODY=7BIT/8BITMIME, and AUTH= (RFC 4954 5) when AUTH is offered), which
/// RFC 5321 4.1.1.11 answers with 555. The AUTH= value is not used: this
/// router hands no message to another SMTP server. The struct is taken
/// apart field by field so that a new one in a later `smtp-proto` must be
/// decided here.
fn unoffered_mail_parameter(from: &MailFrom<Cow<'_, str>>, auth_offered: bool) -> bool {
    let MailFrom {
        address: _,
        size: _,
        flags,
        trans_id,
        by,
        env_id,
        solicit,
        mtrk,
        auth,
        hold_for,
        hold_until,
        mt_priority,
    } = from;
    flags & !(MAIL_BODY_7BIT | MAIL_BODY_8BITMIME) != 0
        || trans_id.is_some()
        || *by != 0
        || env_id.is_some()
        || solicit.is_some()
        || mtrk.is_some()
        || (auth.is_some() && !auth_offered)
        || *hold_for != 0
        || *hold_until != 0
        || *mt_priority != 0
}

/// `RCPT TO` parameters: none is offered (DSN, RRVS and CONNEG are not).
fn unoffered_rcpt_parameter(to: &RcptTo<Cow<'_, str>>) -> bool {
    let RcptTo {
        address: _,
        orcpt,
        rrvs,
        flags,
    } = to;
    orcpt.is_some() || *rrvs != 0 || *flags != 0
}

impl SmtpSession {
    pub fn new(config: SmtpConfig) -> (SmtpSession, String) {
        let greeting = format!(
            "220 {} ESMTP mhub post office {} ready",
            config.hostname, config.post_office
        );
        let tls = config.tls;
        let session = SmtpSession {
            config,
            tls,
            user: None,
            exchange: None,
            checking_auth: false,
            state: State::Connected,
            from: None,
            recipients: Vec::new(),
            announced: 0,
            data: Vec::new(),
            too_big: false,
            bare_line_end: false,
            after_crlf: true,
            command: Vec::with_capacity(MAX_COMMAND_LINE + 2),
        };
        (session, greeting)
    }

    fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
        self.announced = 0;
        self.data = Vec::new();
        self.too_big = false;
        self.bare_line_end = false;
        if self.state != State::Connected {
            self.state = State::Ready;
        }
    }

    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// The mailbox the client authenticated as, if it did.
    pub fn user(&self) -> Option<&Name> {
        self.user.as_ref()
    }

    /// The TLS handshake after STARTTLS succeeded: the session starts over
    /// (RFC 3207 4.2: the client must EHLO again; nothing said in clear
    /// counts). There is no new greeting.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.state = State::Connected;
        self.user = None;
        self.exchange = None;
        self.after_crlf = true;
        self.reset();
    }

    /// The reply once the shell checked the credentials of [`Action::Auth`].
    pub fn authenticated(&mut self, outcome: AuthOutcome) -> String {
        self.checking_auth = false;
        match outcome {
            AuthOutcome::Accepted(mailbox) => {
                self.user = Some(mailbox);
                "235 2.7.0 Authentication successful".into()
            }
            AuthOutcome::Refused => "535 5.7.8 Authentication credentials invalid".into(),
            AuthOutcome::Unavailable => "454 4.7.0 Temporary authentication failure".into(),
        }
    }

    /// The step of an AUTH exchange as an action.
    fn auth_step(&mut self, step: auth::Step) -> Action {
        match step {
            auth::Step::Challenge(challenge, exchange) => {
                self.exchange = Some(exchange);
                reply(challenge)
            }
            auth::Step::Credentials(login, password) => {
                self.checking_auth = true;
                Action::Auth { login, password }
            }
            auth::Step::Refused(refusal) => reply(refusal),
        }
    }

    /// One piece of input from the client: the bytes up to and including
    /// an LF (or fewer, at most a line's length, when the shell cut a long
    /// line). `is_local_user` says whether a mailbox of this post office
    /// exists, or `None` when that cannot be told now (the store cannot be
    /// read): the client is then told to try again later, never that the
    /// user does not exist.
    pub fn line(&mut self, piece: &[u8], is_local_user: impl Fn(&Name) -> Option<bool>) -> Action {
        match self.state {
            State::Data => return self.data_line(piece),
            // The shell hands over no line between STARTTLS and the
            // handshake; one that comes anyway was sent in clear after
            // STARTTLS and is never run.
            State::StartingTls => {
                return Action::Close("421 4.7.0 TLS negotiation expected, closing".into());
            }
            _ => {}
        }
        // A bad line ends an AUTH exchange too (it is no response).
        let exchange = self.exchange.take();
        let starts_line = self.after_crlf;
        let Some(line) = piece.strip_suffix(b"\r\n") else {
            // A bare LF (or no end at all): the client's line goes on in
            // the next piece, which is refused too.
            self.after_crlf = false;
            return reply(BARE_LINE_END);
        };
        self.after_crlf = true;
        if !starts_line {
            return reply(BARE_LINE_END);
        }
        if line.len() > MAX_COMMAND_LINE {
            return reply("500 5.5.6 Command line too long");
        }
        // RFC 5321 2.3.8: CR and LF only come together, as the line's end.
        // smtp-proto would skip a CR and stop at an LF, reading a different
        // command than the client sent.
        if line.contains(&b'\r') || line.contains(&b'\n') {
            return reply(BARE_LINE_END);
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return reply("500 5.5.2 Command is not valid text");
        };
        if let Some(exchange) = exchange {
            let step = auth::respond(exchange, text, &self.config.hostname);
            return self.auth_step(step);
        }
        let mut command = std::mem::take(&mut self.command);
        command.clear();
        command.extend_from_slice(line);
        command.extend_from_slice(b"\r\n");
        let action = match Request::parse(&mut command.iter()) {
            Ok(request) => self.request(request, line, is_local_user),
            Err(error) => parse_error(error),
        };
        self.command = command;
        action
    }

    fn request(
        &mut self,
        request: Request<Cow<'_, str>>,
        line: &[u8],
        is_local_user: impl Fn(&Name) -> Option<bool>,
    ) -> Action {
        match request {
            Request::Ehlo { host } => {
                self.state = State::Ready;
                self.reset();
                let mut extensions = format!(
                    "250-{} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n\
                     250-ENHANCEDSTATUSCODES\r\n250-PIPELINING",
                    self.config.hostname, host, self.config.max_size
                );
                if self.config.starttls && !self.tls {
                    extensions.push_str("\r\n250-STARTTLS");
                }
                // RFC 4954 4: a password is only ever sent under TLS.
                if self.tls {
                    extensions.push_str(&format!("\r\n250-AUTH {}", auth::MECHANISMS));
                }
                // The last line of a multi-line reply has a space.
                if let Some(last) = extensions.rfind("250-") {
                    extensions.replace_range(last..last + 4, "250 ");
                }
                Action::Reply(extensions)
            }
            Request::Helo { .. } => {
                self.state = State::Ready;
                self.reset();
                Action::Reply(format!("250 {}", self.config.hostname))
            }
            Request::Mail { from } => self.mail(&from, is_local_user),
            Request::Rcpt { to } => self.rcpt(&to, line, is_local_user),
            Request::Data => match self.state {
                State::Mail if !self.recipients.is_empty() => {
                    self.state = State::Data;
                    // The DATA line itself ended with CRLF.
                    self.after_crlf = true;
                    // The whole message at once when its size was announced
                    // (one buffer, never copied to a bigger one: a 25 MiB
                    // message would otherwise pass through 16 and 32 MiB
                    // ones), else room for a typical one instead of a dozen
                    // doublings as its lines arrive.
                    let expected = match self.announced {
                        0 => TYPICAL_MESSAGE.min(self.config.max_size),
                        announced => announced,
                    };
                    self.data.reserve(expected + ADDED_HEADER_ROOM);
                    reply("354 End data with <CR><LF>.<CR><LF>")
                }
                State::Mail => reply("554 5.5.1 No valid recipients"),
                _ => reply("503 5.5.1 MAIL first"),
            },
            Request::Rset => {
                self.reset();
                reply("250 2.0.0 OK")
            }
            Request::Noop { .. } => reply("250 2.0.0 OK"),
            Request::Quit => Action::Close("221 2.0.0 Bye".into()),
            Request::Vrfy { .. } => reply("252 2.5.2 Cannot VRFY user, but will accept message"),
            Request::StartTls if self.config.starttls && !self.tls => match self.state {
                State::Connected => reply("503 5.5.1 Say EHLO first"),
                _ => {
                    self.state = State::StartingTls;
                    Action::StartTls("220 2.0.0 Ready to start TLS".into())
                }
            },
            Request::StartTls if self.tls => reply("503 5.5.1 TLS is already active"),
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response),
            // Known to RFC 5321 or an extension, not offered here.
            Request::Lhlo { .. }
            | Request::Bdat { .. }
            | Request::Expn { .. }
            | Request::Help { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::StartTls => reply("502 5.5.1 Command not implemented"),
        }
    }

    /// `AUTH mechanism [initial-response]` (RFC 4954 4).
    fn auth(&mut self, mechanism: u64, initial: &str) -> Action {
        match self.state {
            State::Connected => return reply("503 5.5.1 Say EHLO first"),
            State::Mail | State::Data => {
                return reply("503 5.5.1 AUTH is not permitted during a mail transaction");
            }
            State::Ready | State::StartingTls => {}
        }
        if !self.tls {
            return Action::Reply(if self.config.starttls {
                "530 5.7.0 Must issue a STARTTLS command first".into()
            } else {
                "530 5.7.0 AUTH needs TLS, which this listener does not have".into()
            });
        }
        if self.user.is_some() || self.checking_auth {
            return reply("503 5.5.1 Already authenticated");
        }
        match auth::start(mechanism, initial, &self.config.hostname) {
            Some(step) => self.auth_step(step),
            None => Action::Reply(format!(
                "504 5.5.4 Unrecognized authentication type: use {}",
                auth::MECHANISMS
            )),
        }
    }

    fn mail(
        &mut self,
        path: &MailFrom<Cow<'_, str>>,
        is_local_user: impl Fn(&Name) -> Option<bool>,
    ) -> Action {
        match self.state {
            State::Connected | State::StartingTls => {
                return reply("503 5.5.1 Say EHLO or HELO first");
            }
            State::Mail | State::Data => return reply("503 5.5.1 Sender already given"),
            State::Ready => {}
        }
        if unoffered_mail_parameter(path, self.tls) {
            return reply("555 5.5.4 Only the SIZE, BODY and AUTH parameters are supported");
        }
        if self.config.submission && self.user.is_none() {
            return reply(AUTH_REQUIRED);
        }
        if path.size > self.config.max_size {
            return Action::Reply(format!(
                "552 5.3.4 Message size exceeds the limit of {} bytes",
                self.config.max_size
            ));
        }
        // The null reverse path `<>` (address "") is no user of this post
        // office either.
        let Some(from) = parse_smtp_address(&path.address) else {
            return reply("553 5.1.7 Sender must be mailbox@postoffice.network");
        };
        // RFC 4954 / 6409 6.1: an authenticated client sends as itself.
        if let Some(user) = &self.user {
            let own = Address::new(self.config.network, self.config.post_office, *user);
            if from != own {
                return Action::Reply(format!(
                    "553 5.7.1 Sender address not yours: you are authenticated as {}",
                    format!("{user}@{}", self.config.hostname).to_ascii_lowercase()
                ));
            }
        }
        let local =
            from.post_office == self.config.post_office && from.network == self.config.network;
        let known = if local {
            match is_local_user(&from.mailbox) {
                Some(known) => known,
                None => return reply(NOT_NOW),
            }
        } else {
            false
        };
        if !known {
            return Action::Reply(format!(
                "550 5.7.1 Only users of {} may send here",
                format!("{}.{}", self.config.post_office, self.config.network).to_ascii_lowercase()
            ));
        }
        self.from = Some(from);
        self.announced = path.size;
        self.state = State::Mail;
        reply("250 2.1.0 Sender OK")
    }

    fn rcpt(
        &mut self,
        path: &RcptTo<Cow<'_, str>>,
        line: &[u8],
        is_local_user: impl Fn(&Name) -> Option<bool>,
    ) -> Action {
        if self.state != State::Mail {
            return reply("503 5.5.1 MAIL first");
        }
        if unoffered_rcpt_parameter(path) {
            return reply("555 5.5.4 No RCPT parameters are supported");
        }
        // smtp-proto reads `<postmaster>` as the empty path `<>`, which is
        // no forward path at all: the line tells the two apart.
        let to = if path.address.is_empty() {
            names_postmaster(line)
                .then(|| Address::new(self.config.network, self.config.post_office, postmaster()))
        } else {
            parse_smtp_address(&without_detail(&path.address))
        };
        let Some(to) = to.filter(|to| to.network == self.config.network) else {
            return reply("550 5.7.1 Relaying denied: only addresses of this network");
        };
        if to.post_office != self.config.post_office && self.user.is_none() && !self.config.trusted
        {
            return reply(AUTH_REQUIRED);
        }
        if to.post_office == self.config.post_office {
            match is_local_user(&to.mailbox) {
                Some(true) => {}
                Some(false) => {
                    return Action::Reply(format!(
                        "550 5.1.1 No such user here: {}@{}.{}",
                        to.mailbox, to.post_office, to.network
                    ));
                }
                None => return reply(RECIPIENT_NOT_NOW),
            }
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            return reply("452 4.5.3 Too many recipients");
        }
        if !self.recipients.contains(&to) {
            self.recipients.push(to);
        }
        reply("250 2.1.5 Recipient OK")
    }

    /// One piece of the message: a line, or the part of one up to a bare LF.
    fn data_line(&mut self, piece: &[u8]) -> Action {
        let starts_line = self.after_crlf;
        let line = match piece.strip_suffix(b"\r\n") {
            Some(line) => {
                self.after_crlf = true;
                line
            }
            None => {
                self.after_crlf = false;
                self.bare_line_end = true;
                piece
            }
        };
        if starts_line && self.after_crlf && line == b"." {
            return self.end_of_data();
        }
        if line.contains(&b'\r') || line.contains(&b'\n') {
            self.bare_line_end = true;
        }
        if self.bare_line_end || self.too_big {
            // Refused at the end whatever follows: keep nothing.
            self.data = Vec::new();
            return Action::None;
        }
        // RFC 5321 4.5.2: a leading period is deleted (clients double it).
        let line = line.strip_prefix(b".").unwrap_or(line);
        if self.data.len() + line.len() + 2 > self.config.max_size {
            self.too_big = true;
            self.data = Vec::new();
        } else {
            self.data.extend_from_slice(line);
            self.data.extend_from_slice(b"\r\n");
        }
        Action::None
    }

    fn end_of_data(&mut self) -> Action {
        self.state = State::Ready;
        if self.bare_line_end {
            self.reset();
            return reply(BARE_IN_MESSAGE);
        }
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
        Action::Submit {
            from,
            recipients,
            data: std::mem::take(&mut self.data),
        }
    }

    /// The reply once the shell stored (or failed to store) the message.
    /// The reply once the store has taken the message (`Some` of its id)
    /// or failed to (`None`). Why it failed is the shell's to log: the
    /// client only learns to try again, never the store's file names.
    pub fn submitted(&mut self, stored: Option<String>) -> String {
        self.reset();
        match stored {
            Some(id) => format!("250 2.0.0 OK queued as {id}"),
            None => NOT_STORED.to_owned(),
        }
    }
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
