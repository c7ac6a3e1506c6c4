//! An SMTP submission session (RFC 5321 subset) as a sans-IO state machine:
//! feed it lines (without CRLF), act on what it returns. It accepts mail only
//! from users of this post office, to addresses of this network: never an
//! open relay. Command lines are parsed by the `smtp-proto` crate (RFC 5321
//! and its extensions' parameters); this module maps its requests and errors
//! to replies.

use std::borrow::Cow;

use smtp_proto::{
    Error as ParseError, MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MailFrom, RcptTo, Request,
};
use wire_format::{Address, Name};

use crate::routing::{POSTMASTER, parse_smtp_address, postmaster};

/// A command line longer than this is refused (RFC 5321 allows 512).
pub const MAX_COMMAND_LINE: usize = 512;
pub const MAX_RECIPIENTS: usize = 100;
/// Bytes reserved for a message's text when DATA starts.
const TYPICAL_MESSAGE: usize = 4 * 1024;
/// The store could not take the message (a full disk, say): the client
/// keeps it and tries again (RFC 5321 451: local error in processing).
const NOT_STORED: &str = "451 4.3.0 Not stored, try again later";
/// The sender could not be looked up now (the store cannot be read).
const NOT_NOW: &str = "451 4.3.0 Cannot check the sender now, try again later";

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
    /// The command line with its CRLF put back, as `smtp-proto` parses it;
    /// kept between lines so that a line needs no new buffer.
    command: Vec<u8>,
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
/// BODY=7BIT/8BITMIME), which RFC 5321 4.1.1.11 answers with 555. The
/// struct is taken apart field by field so that a new one in a later
/// `smtp-proto` must be decided here.
fn unoffered_mail_parameter(from: &MailFrom<Cow<'_, str>>) -> bool {
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
        || auth.is_some()
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
        let session = SmtpSession {
            config,
            state: State::Connected,
            from: None,
            recipients: Vec::new(),
            data: Vec::new(),
            too_big: false,
            command: Vec::with_capacity(MAX_COMMAND_LINE + 2),
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
    /// this post office exists, or `None` when that cannot be told now (the
    /// store cannot be read): the client is then told to try again later,
    /// never that the user does not exist.
    pub fn line(&mut self, line: &[u8], is_local_user: impl Fn(&Name) -> Option<bool>) -> Action {
        if self.state == State::Data {
            return self.data_line(line);
        }
        if line.len() > MAX_COMMAND_LINE {
            return reply("500 5.5.6 Command line too long");
        }
        // RFC 5321 2.3.8: CR and LF only come together, as the line's end
        // (which the shell took off). smtp-proto would skip a CR and stop
        // at an LF, reading a different command than the client sent.
        if std::str::from_utf8(line).is_err() || line.contains(&b'\r') || line.contains(&b'\n') {
            return reply("500 5.5.2 Command is not valid text");
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
                Action::Reply(format!(
                    "250-{} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 PIPELINING",
                    self.config.hostname, host, self.config.max_size
                ))
            }
            Request::Helo { .. } => {
                self.state = State::Ready;
                self.reset();
                Action::Reply(format!("250 {}", self.config.hostname))
            }
            Request::Mail { from } => self.mail(&from, is_local_user),
            Request::Rcpt { to } => self.rcpt(&to, line),
            Request::Data => match self.state {
                State::Mail if !self.recipients.is_empty() => {
                    self.state = State::Data;
                    // Room for a typical message at once, instead of a
                    // dozen doublings as its lines arrive.
                    self.data.reserve(TYPICAL_MESSAGE.min(self.config.max_size));
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
            // Known to RFC 5321 or an extension, not offered here.
            Request::Lhlo { .. }
            | Request::Bdat { .. }
            | Request::Auth { .. }
            | Request::Expn { .. }
            | Request::Help { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. }
            | Request::StartTls => reply("502 5.5.1 Command not implemented"),
        }
    }

    fn mail(
        &mut self,
        path: &MailFrom<Cow<'_, str>>,
        is_local_user: impl Fn(&Name) -> Option<bool>,
    ) -> Action {
        match self.state {
            State::Connected => return reply("503 5.5.1 Say EHLO or HELO first"),
            State::Mail | State::Data => return reply("503 5.5.1 Sender already given"),
            State::Ready => {}
        }
        if unoffered_mail_parameter(path) {
            return reply("555 5.5.4 Only the SIZE and BODY parameters are supported");
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
        self.state = State::Mail;
        reply("250 2.1.0 Sender OK")
    }

    fn rcpt(&mut self, path: &RcptTo<Cow<'_, str>>, line: &[u8]) -> Action {
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
            parse_smtp_address(&path.address)
        };
        match to {
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

    fn local(m: &Name) -> Option<bool> {
        Some(m.as_str() == "JSMITH")
    }

    /// Ends the message under way: the sender, the recipients and the
    /// text the session hands the shell to store.
    fn submission(s: &mut SmtpSession) -> (String, Vec<String>, Vec<u8>) {
        match s.line(b".", local) {
            Action::Submit {
                from,
                recipients,
                data,
            } => (
                from.to_string(),
                recipients.iter().map(ToString::to_string).collect(),
                data,
            ),
            other => panic!("not a submission: {other:?}"),
        }
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
        let (from, to, data) = submission(&mut s);
        assert_eq!(from, "ACME/POA/JSMITH");
        assert_eq!(to[0], "ACME/POD/AJONES");
        assert_eq!(data, b"Subject: hi\r\n\r\n.leading dot\r\n");
        assert!(s.submitted(Some("x".into())).starts_with("250"));
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

    #[test]
    fn a_store_that_fails_is_a_temporary_refusal_that_names_no_file() {
        let mut s = in_mail();
        assert_eq!(code(s.line(b"RCPT TO:<ajones@pod.acme>", local)), "250");
        assert_eq!(code(s.line(b"DATA", local)), "354");
        s.line(b"hello", local);
        submission(&mut s);
        assert_eq!(s.submitted(None), "451 4.3.0 Not stored, try again later");
        // The session goes on: the client may send again.
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
        // A sender that cannot be looked up is not refused for good.
        let mut s = session();
        s.line(b"EHLO client", local);
        let unknown = |_: &Name| None;
        assert_eq!(
            s.line(b"MAIL FROM:<jsmith@poa.acme>", unknown),
            Action::Reply(NOT_NOW.into())
        );
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
    }

    /// A session past EHLO and a valid MAIL FROM.
    fn in_mail() -> SmtpSession {
        let mut s = session();
        s.line(b"EHLO client", local);
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
        s
    }

    #[test]
    fn the_ehlo_reply_offers_size_8bitmime_and_pipelining() {
        let mut s = session();
        assert_eq!(
            s.line(b"ehlo client.example", local),
            Action::Reply(
                "250-poa.acme greets client.example\r\n250-SIZE 100\r\n\
                 250-8BITMIME\r\n250 PIPELINING"
                    .into()
            )
        );
        assert_eq!(
            s.line(b"HELO x", local),
            Action::Reply("250 poa.acme".into())
        );
    }

    #[test]
    fn verbs_and_keywords_come_in_any_case_and_spacing() {
        let mut s = session();
        assert_eq!(code(s.line(b"eHlO client", local)), "250");
        assert_eq!(
            code(s.line(b"mail from: <JSmith@POA.acme> size=20 BODY=8bitmime", local)),
            "250"
        );
        assert_eq!(code(s.line(b"Rcpt To:<klee@pob.acme>", local)), "250");
        // A source route is accepted and ignored (RFC 5321 4.1.1.3, C).
        assert_eq!(
            code(s.line(b"RCPT TO:<@hub.acme:ajones@pod.acme>", local)),
            "250"
        );
        assert_eq!(code(s.line(b"noop", local)), "250");
        assert_eq!(code(s.line(b"vrfy jsmith", local)), "252");
        assert_eq!(code(s.line(b"data", local)), "354");
        assert_eq!(s.line(b"body", local), Action::None);
        let (from, to, _) = submission(&mut s);
        assert_eq!(from, "ACME/POA/JSMITH");
        assert_eq!(to, ["ACME/POB/KLEE", "ACME/POD/AJONES"]);
    }

    #[test]
    fn rset_drops_the_envelope_and_quit_closes() {
        let mut s = in_mail();
        s.line(b"RCPT TO:<klee@pob.acme>", local);
        assert_eq!(code(s.line(b"RSET", local)), "250");
        assert_eq!(code(s.line(b"DATA", local)), "503");
        assert_eq!(code(s.line(b"RCPT TO:<klee@pob.acme>", local)), "503");
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "250");
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
        assert!(matches!(s.line(b"quit", local), Action::Close(r) if r.starts_with("221")));
    }

    #[test]
    fn recipients_are_counted_once_and_bounded() {
        let mut s = in_mail();
        for i in 0..MAX_RECIPIENTS {
            let line = format!("RCPT TO:<u{i}@pob.acme>");
            assert_eq!(code(s.line(line.as_bytes(), local)), "250");
            if i == 0 {
                // The same one again is no new recipient.
                assert_eq!(code(s.line(line.as_bytes(), local)), "250");
            }
        }
        assert_eq!(code(s.line(b"RCPT TO:<one@more.acme>", local)), "452");
        s.line(b"DATA", local);
        s.line(b"x", local);
        assert_eq!(submission(&mut s).1.len(), MAX_RECIPIENTS);
    }

    #[test]
    fn paths_must_be_bracketed_and_senders_local() {
        let mut s = session();
        s.line(b"EHLO x", local);
        // RFC 5321 4.1.2: Reverse-path = Path = "<" ... ">".
        assert_eq!(code(s.line(b"MAIL FROM:jsmith@poa.acme", local)), "501");
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme", local)), "501");
        assert_eq!(code(s.line(b"MAIL jsmith@poa.acme", local)), "501");
        assert_eq!(code(s.line(b"MAIL", local)), "501");
        assert_eq!(code(s.line(b"MAIL TO:<jsmith@poa.acme>", local)), "501");
        // The null reverse path is valid syntax but no user here.
        assert_eq!(code(s.line(b"MAIL FROM:<>", local)), "553");
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@acme>", local)), "553");
        assert_eq!(
            code(s.line(b"MAIL FROM:<jsmith..x@poa.acme>", local)),
            "553"
        );
        assert_eq!(code(s.line(b"MAIL FROM:<nodomain>", local)), "553");
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.other>", local)), "550");
        let mut s = in_mail();
        assert_eq!(code(s.line(b"RCPT TO:klee@pob.acme", local)), "501");
        assert_eq!(code(s.line(b"RCPT FROM:<klee@pob.acme>", local)), "501");
        assert_eq!(code(s.line(b"RCPT TO:<klee@@pob.acme>", local)), "553");
        assert_eq!(code(s.line(b"RCPT TO:<>", local)), "550");
    }

    #[test]
    fn postmaster_without_a_domain_is_this_post_offices_postmaster() {
        let mut s = in_mail();
        for line in [
            b"RCPT TO:<postmaster>".as_slice(),
            b"RCPT TO:<PostMaster>",
            b"RCPT TO:<postmaster@poa.acme>",
            b"RCPT TO:<Postmaster@pob.acme>",
        ] {
            assert_eq!(code(s.line(line, local)), "250", "{line:?}");
        }
        s.line(b"DATA", local);
        // The first three are one recipient, named three ways.
        assert_eq!(
            submission(&mut s).1,
            ["ACME/POA/POSTMASTER", "ACME/POB/POSTMASTER"]
        );
    }

    #[test]
    fn parameters_are_checked_against_what_ehlo_offered() {
        let mut s = session();
        s.line(b"EHLO x", local);
        // In order: the session's state carries from line to line.
        let lines: [(&[u8], &str); 14] = [
            (b"MAIL FROM:<jsmith@poa.acme> SIZE=abc", "501"),
            (b"MAIL FROM:<jsmith@poa.acme> SIZE=", "501"),
            // Past usize::MAX, as the old parser's `parse::<usize>` did.
            (
                b"MAIL FROM:<jsmith@poa.acme> SIZE=99999999999999999999",
                "501",
            ),
            (b"MAIL FROM:<jsmith@poa.acme> BODY=9BIT", "501"),
            // Unknown to smtp-proto, or known but not offered here: 555.
            (b"MAIL FROM:<jsmith@poa.acme> X-FOO=1", "555"),
            (b"MAIL FROM:<jsmith@poa.acme> SMTPUTF8", "555"),
            (b"MAIL FROM:<jsmith@poa.acme> RET=HDRS", "555"),
            (b"MAIL FROM:<jsmith@poa.acme> REQUIRETLS", "555"),
            (b"MAIL FROM:<jsmith@poa.acme> BODY=BINARYMIME", "555"),
            (b"MAIL FROM:<jsmith@poa.acme> SIZE=100", "250"),
            (b"RCPT TO:<klee@pob.acme> NOTIFY=NEVER", "555"),
            (b"RCPT TO:<klee@pob.acme> X-BAR", "555"),
            (b"RCPT TO:<klee@pob.acme> NOTIFY=SOMETIMES", "501"),
            // None of the recipients was taken.
            (b"DATA", "554"),
        ];
        for (line, expected) in lines {
            let text = String::from_utf8_lossy(line);
            assert_eq!(code(s.line(line, local)), expected, "{text}");
        }
        // The parameter's name comes back, on one line.
        match s.line(b"RCPT TO:<klee@pob.acme> x-bar=1", local) {
            Action::Reply(r) => assert_eq!(r, "555 5.5.4 Unsupported parameter X-BAR=1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_size_limit_holds_whatever_size_was_announced() {
        // smtp-proto 0.2.5 reads a SIZE of more than 20 digits modulo its
        // overflow (this one as 50); the announcement is only advisory, the
        // data itself is counted.
        let mut s = session();
        s.line(b"EHLO x", local);
        let wrapped = b"MAIL FROM:<jsmith@poa.acme> SIZE=100000000000000000000050";
        assert_eq!(code(s.line(wrapped, local)), "250");
        s.line(b"RCPT TO:<a@pob.acme>", local);
        s.line(b"DATA", local);
        for _ in 0..20 {
            s.line(b"0123456789", local);
        }
        assert_eq!(code(s.line(b".", local)), "552");
    }

    #[test]
    fn smtp_proto_errors_map_to_replies() {
        let cases = [
            (ParseError::UnknownCommand, "500"),
            (
                ParseError::SyntaxError {
                    syntax: "EHLO domain",
                },
                "501",
            ),
            (ParseError::InvalidSenderAddress, "553"),
            (ParseError::InvalidRecipientAddress, "553"),
            (ParseError::InvalidParameter { param: "SIZE" }, "501"),
            (
                ParseError::UnsupportedParameter { param: "X".into() },
                "555",
            ),
            (ParseError::NeedsMoreData { bytes_left: 0 }, "501"),
            (ParseError::ResponseTooLong, "501"),
            (ParseError::InvalidResponse { code: 0 }, "501"),
        ];
        for (error, want) in cases {
            assert_eq!(code(parse_error(error.clone())), want, "{error:?}");
        }
    }

    #[test]
    fn other_commands_and_malformed_lines_get_their_codes() {
        let mut s = session();
        assert_eq!(code(s.line(b"", local)), "500");
        assert_eq!(code(s.line(b"MAILX FROM:<jsmith@poa.acme>", local)), "500");
        assert_eq!(code(s.line(b"TOOLONGVERB", local)), "500");
        // RFC 5321 4.1.1.1: EHLO and HELO name the client; VRFY a user.
        assert_eq!(code(s.line(b"EHLO", local)), "501");
        assert_eq!(code(s.line(b"HELO", local)), "501");
        assert_eq!(code(s.line(b"VRFY", local)), "501");
        for verb in [
            "STARTTLS",
            "AUTH PLAIN",
            "HELP",
            "EXPN staff",
            "BDAT 10 LAST",
            "ETRN x",
            "LHLO x",
        ] {
            assert_eq!(code(s.line(verb.as_bytes(), local)), "502", "{verb}");
        }
        // Not text, or a CR or LF inside the line: refused before parsing.
        assert_eq!(code(s.line(b"NOOP \xff", local)), "500");
        assert_eq!(code(s.line(b"NO\rOP", local)), "500");
        assert_eq!(code(s.line(b"NOOP\nQUIT", local)), "500");
        // Still at the start: nothing above said EHLO.
        assert_eq!(code(s.line(b"MAIL FROM:<jsmith@poa.acme>", local)), "503");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_get_a_reply_and_never_a_panic(
            lines in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..600), 0..8),
        ) {
            let mut s = session();
            s.line(b"EHLO x", local);
            for line in &lines {
                match s.line(line, local) {
                    Action::Reply(r) | Action::Close(r) => {
                        proptest::prop_assert!(r.len() >= 3 && r.as_bytes()[..3].iter().all(u8::is_ascii_digit), "{r:?}");
                        for reply_line in r.split("\r\n") {
                            proptest::prop_assert!(!reply_line.contains(['\r', '\n']));
                        }
                    }
                    Action::None | Action::Submit { .. } => {}
                }
            }
        }

        #[test]
        fn command_like_lines_never_panic(
            verb in "(?i)(mail from:|rcpt to:|ehlo|helo|vrfy|noop|data|rset|auth|bdat) ?",
            path in "<?[a-z@.\"\\:,]{0,20}>?",
            params in "( [A-Za-z=0-9;,+-]{0,12}){0,4}",
        ) {
            let mut s = in_mail();
            let line = format!("{verb}{path}{params}");
            let _ = s.line(line.as_bytes(), local);
        }
    }
}
