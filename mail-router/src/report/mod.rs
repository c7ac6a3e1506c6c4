//! Non-delivery reports as RFC 3464 delivery status notifications, built
//! as plain functions: a `multipart/report; report-type=delivery-status`
//! with a part for people (who was not reached, and why), a
//! `message/delivery-status` part for programs, and the original message
//! (or, when it is large, its headers).
//!
//! A report's envelope sender is empty (RFC 5321 4.5.5; the wire carries
//! it as `MailKind::NonDelivery`), and a report is never answered by
//! another (RFC 3464 2), so two routers cannot bounce mail at each other
//! for ever.

mod original;

use std::fmt::Write;

use wire_format::{Address, MailKind, MailTransfer, Name};

use crate::routing::{copy_id, postmaster, smtp_address};
use crate::trace::{host_name, rfc5322_date};

pub use original::header_block;

/// The original message goes back whole when it is at most this big;
/// beyond it, its headers only (RFC 3462 allows either). A message refused
/// by policy goes back as its headers whatever its size.
pub const WHOLE_MESSAGE_UP_TO: usize = 64 * 1024;

/// Why a recipient was not reached: an RFC 3463 status and words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `class.subject.detail`, such as `5.1.1`.
    pub status: &'static str,
    pub reason: String,
}

impl Failure {
    /// The post office has no such mailbox (X.1.1, bad destination mailbox).
    pub fn no_mailbox() -> Failure {
        Failure {
            status: "5.1.1",
            reason: "no such mailbox".into(),
        }
    }

    /// No route to the post office (X.1.2, bad destination system).
    pub fn no_route(post_office: &Name) -> Failure {
        Failure {
            status: "5.1.2",
            reason: format!("no such post office, or no route to {post_office}"),
        }
    }

    /// Queued longer than the expiry (X.4.7, delivery time expired).
    pub fn expired(reason: String) -> Failure {
        Failure {
            status: "5.4.7",
            reason,
        }
    }

    /// Went round a routing loop to the hop limit (X.4.6).
    pub fn routing_loop(reason: String) -> Failure {
        Failure {
            status: "5.4.6",
            reason,
        }
    }

    /// A router refused it by policy (X.7.1, delivery not authorised).
    pub fn refused(reason: String) -> Failure {
        Failure {
            status: "5.7.1",
            reason,
        }
    }

    /// The SMTP reply code a status goes with, for `Diagnostic-Code`.
    fn reply_code(&self) -> u16 {
        match self.status.as_bytes() {
            [b'4', ..] => 450,
            [_, _, b'4', ..] => 554,
            _ => 550,
        }
    }
}

/// What a report is built from, besides the message it reports on.
pub struct Reporter {
    /// The router that gave up on the message (`Reporting-MTA`).
    pub node: Name,
    pub network: Name,
    pub now_ms: u64,
    /// When the message reached that router (`Arrival-Date`).
    pub arrived_ms: u64,
}

/// The report returned to the sender of `original` for the recipients in
/// `failed`, or None when `original` is itself a report (its envelope
/// sender is empty: nobody to tell).
///
/// The report's envelope comes from this router's POSTMASTER (the peer
/// that takes it checks a post office hands over only its own users'
/// mail), while its `From:` is MAILER-DAEMON at the sender's own post
/// office: the address the sender's mail program knows.
pub fn bounce(
    by: &Reporter,
    original: &MailTransfer,
    failed: &[(Address, Failure)],
) -> Option<MailTransfer> {
    if original.kind == MailKind::NonDelivery || failed.is_empty() {
        return None;
    }
    let id = copy_id(&original.message_id, &Name::new("NDR").ok()?);
    Some(MailTransfer {
        message_id: id,
        kind: MailKind::NonDelivery,
        from: Address::new(by.network, by.node, postmaster()),
        recipients: vec![original.from.clone()],
        hop_count: 0,
        submitted_at_ms: by.now_ms,
        body: text(by, &id, original, failed).into(),
    })
}

/// The report's text (RFC 3464 and RFC 3462).
fn text(
    by: &Reporter,
    id: &[u8; 16],
    original: &MailTransfer,
    failed: &[(Address, Failure)],
) -> Vec<u8> {
    let reporting = host_name(&by.node, &by.network);
    let sender = &original.from;
    let daemon = format!(
        "MAILER-DAEMON@{}",
        host_name(&sender.post_office, &sender.network)
    );
    let headers = header_block(&original.body);
    // A message refused by policy (X.7.x: say, a post office handing over
    // mail for a sender not its own) may be forged: its text does not go to
    // whoever it names as sender (that would be backscatter), its headers do.
    let refused = failed.iter().any(|(_, f)| f.status.starts_with("5.7."));
    let returned_whole = original.body.len() <= WHOLE_MESSAGE_UP_TO && !refused;
    let (kind, returned) = if returned_whole {
        ("message/rfc822", &original.body[..])
    } else {
        ("text/rfc822-headers", headers)
    };
    // A boundary must not occur in what it encloses (RFC 2046 5.1.1).
    let mut boundary = format!("report-{}", hex::encode(id));
    while original::contains(returned, boundary.as_bytes()) {
        boundary.push('x');
    }
    let subject = original::subject(headers).map_or_else(
        || "Undeliverable: your message".to_owned(),
        |s| format!("Undeliverable: {s}"),
    );
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "From: Mail Delivery System <{daemon}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id_hex}@{reporting}>\r\n\
         MIME-Version: 1.0\r\n\
         Auto-Submitted: auto-replied\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a delivery status notification (RFC 3464) in MIME format.\r\n\
         \r\n",
        to = smtp_address(sender),
        date = rfc5322_date(by.now_ms),
        id_hex = hex::encode(id),
    );
    // For people.
    let _ = write!(
        out,
        "--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is the mail system at {reporting}.\r\n\
         \r\n\
         Your message could not be delivered to:\r\n\
         \r\n"
    );
    for (r, f) in failed {
        let _ = write!(
            out,
            "  <{}>: {} ({})\r\n",
            smtp_address(r),
            f.reason,
            f.status
        );
    }
    let _ = write!(
        out,
        "\r\nThe message was sent with id {}; it is attached below.\r\n\r\n",
        hex::encode(original.message_id)
    );
    // For programs: per-message fields, then a block per recipient.
    let _ = write!(
        out,
        "--{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; {reporting}\r\n\
         Arrival-Date: {arrival}\r\n",
        arrival = rfc5322_date(by.arrived_ms),
    );
    for (r, f) in failed {
        let _ = write!(
            out,
            "\r\nFinal-Recipient: rfc822; {rcpt}\r\n\
             Action: failed\r\n\
             Status: {status}\r\n\
             Diagnostic-Code: smtp; {code} {status} {reason}\r\n",
            rcpt = smtp_address(r),
            status = f.status,
            code = f.reply_code(),
            reason = one_line(&f.reason),
        );
    }
    out.push_str("\r\n");
    // The original: whole when small, else its headers.
    let _ = write!(out, "--{boundary}\r\nContent-Type: {kind}\r\n");
    if !returned.is_ascii() {
        out.push_str("Content-Transfer-Encoding: 8bit\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(returned);
    if !returned.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    // The CRLF before a delimiter belongs to it (RFC 2046 5.1.1): without
    // this one, the original's last line end would be lost.
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// A reason on one line (a field value must not break the report's syntax).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
