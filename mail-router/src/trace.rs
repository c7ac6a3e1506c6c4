//! Trace headers, as plain functions: the `Received:` line every router
//! prepends when it takes a message (RFC 5321 4.4), and the `Return-Path:`
//! and `Delivered-To:` lines of the final delivery (RFC 5321 4.4, RFC 9228).
//!
//! Custody never looks at these bytes: a message is known by its id (the
//! `seen` table), so a text that grows by a line at every hop is still the
//! same message to the next one.

use std::fmt::Write;

use wire_format::{Address, Name};

use crate::routing::smtp_address;

/// `poa.acme` for POA on ACME: how routers name themselves and each other
/// in trace headers (the same name SMTP greets with).
pub fn host_name(node: &Name, network: &Name) -> String {
    format!("{node}.{network}").to_ascii_lowercase()
}

/// Where a message came from, for the `from` clause of `Received:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// An SMTP client, known by its address (an address literal is a
    /// valid From-domain, RFC 5321 4.1.3 and 4.4), when it can be told.
    Client(Option<std::net::IpAddr>),
    /// A peer router of this network.
    Peer(String),
}

/// The `with` clause for mail a peer router handed over: the peer protocol
/// is not SMTP, and RFC 5321 4.4 lets a private protocol be named.
pub const PEER_PROTOCOL: &str = "MHUB";

/// One `Received:` header, folded, ending in CRLF:
///
/// ```text
/// Received: from poa.acme
///     by h.acme (mail-router) with MHUB id 0123...;
///     for <klee@pob.acme>; Wed, 02 Dec 2026 13:36:31 +0000
/// ```
///
/// `for` is given only for a single recipient (naming several would tell
/// each of them who else got a copy).
pub fn received(
    from: &From,
    by: &str,
    with: &str,
    id: &[u8; 16],
    recipients: &[Address],
    now_ms: u64,
) -> String {
    let mut out = String::with_capacity(200);
    let from = match from {
        From::Client(Some(ip)) => format!("[{ip}]"),
        // RFC 5321 gives no word for "unknown"; the client's side of a
        // socket is always known in practice, so this is a fallback only.
        From::Client(None) => "[unknown]".to_owned(),
        From::Peer(host) => host.clone(),
    };
    let _ = write!(
        out,
        "Received: from {from}\r\n\tby {by} (mail-router) with {with} id {}",
        hex::encode(id)
    );
    if let [one] = recipients {
        let _ = write!(out, "\r\n\tfor <{}>", smtp_address(one));
    }
    let _ = write!(out, ";\r\n\t{}\r\n", rfc5322_date(now_ms));
    out
}

/// `Return-Path:` (the envelope sender; `<>` for a report, whose envelope
/// sender is empty) and `Delivered-To:` (the mailbox it was delivered to),
/// as a post office puts them on top of a message it delivers.
pub fn delivery_headers(return_path: Option<&Address>, delivered_to: &Address) -> String {
    let path = return_path.map(smtp_address).unwrap_or_default();
    format!(
        "Return-Path: <{path}>\r\nDelivered-To: {}\r\n",
        smtp_address(delivered_to)
    )
}

/// `header` (whole lines, each ending in CRLF), then `text`.
pub fn prepend(header: &str, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + text.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(text);
    out
}

/// `Wed, 02 Dec 2026 13:36:31 +0000` (RFC 5322 3.3), in UTC.
pub fn rfc5322_date(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01, by
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_rfc5322_in_utc() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        // 2026-12-02 13:36:31 UTC.
        assert_eq!(
            rfc5322_date(1_796_218_591_000),
            "Wed, 02 Dec 2026 13:36:31 +0000"
        );
        // A leap day.
        assert_eq!(
            rfc5322_date(951_782_400_000),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
    }

    #[test]
    fn a_received_line_names_both_ends_the_protocol_the_id_and_one_recipient() {
        // RFC 5321 4.4: from, by, with, id, for, then "; date-time".
        let id = [0xab; 16];
        let line = received(
            &From::Peer("poa.acme".into()),
            "h.acme",
            PEER_PROTOCOL,
            &id,
            &[a("ACME/POB/KLEE")],
            0,
        );
        assert_eq!(
            line,
            format!(
                "Received: from poa.acme\r\n\tby h.acme (mail-router) with MHUB id {}\r\n\
                 \tfor <klee@pob.acme>;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n",
                "ab".repeat(16)
            )
        );
        let client = From::Client(Some("127.0.0.1".parse().unwrap()));
        let two = [a("ACME/POB/KLEE"), a("ACME/POD/AJONES")];
        let line = received(&client, "poa.acme", "ESMTP", &id, &two, 0);
        assert!(line.starts_with("Received: from [127.0.0.1]\r\n\tby poa.acme"));
        assert!(line.contains("with ESMTP id"));
        assert!(!line.contains("for <"), "{line}");
        // Every line but the first is a continuation (folded whitespace).
        for l in line.trim_end().split("\r\n").skip(1) {
            assert!(l.starts_with('\t'), "{l:?}");
        }
    }

    #[test]
    fn delivery_headers_give_the_envelope_sender_and_the_mailbox() {
        let to = a("ACME/POB/KLEE");
        assert_eq!(
            delivery_headers(Some(&a("ACME/POA/JSMITH")), &to),
            "Return-Path: <jsmith@poa.acme>\r\nDelivered-To: klee@pob.acme\r\n"
        );
        // A report's envelope sender is empty (RFC 3464 2, RFC 5321 4.5.5).
        assert!(delivery_headers(None, &to).starts_with("Return-Path: <>\r\n"));
        assert_eq!(
            prepend("A: b\r\n", b"Subject: x\r\n"),
            b"A: b\r\nSubject: x\r\n"
        );
    }
}
