//! What a submission server adds to a message's header (RFC 6409 8.2 and
//! 8.3): `Date:` and `Message-ID:` when the client left them out. Trace
//! fields (`Received:`, `Return-Path:`, `Delivered-To:`) are the routers'
//! business at each hop, not this module's.

use crate::trace::rfc5322_date;

/// Adds `Date:` (the time of submission, `now_ms` since the Unix epoch,
/// in UTC) and `Message-ID:` (`<id@hostname>`) at the top of `data` when
/// its header section has none. A text whose first line is no header field
/// gets an empty line after the added fields, so that it stays the body.
///
/// The text is moved within its own buffer when that has room (it usually
/// has: a vector grows by doubling), so a large message is not copied into
/// a second one.
pub fn complete_headers(data: &mut Vec<u8>, now_ms: u64, id: &str, hostname: &str) {
    let (mut has_date, mut has_message_id, mut has_header) = (false, false, false);
    for line in header_lines(data) {
        has_header = true;
        has_date |= is_field(line, b"date");
        has_message_id |= is_field(line, b"message-id");
    }
    let mut added = Vec::new();
    if !has_date {
        added.extend_from_slice(format!("Date: {}\r\n", rfc5322_date(now_ms)).as_bytes());
    }
    if !has_message_id {
        added.extend_from_slice(format!("Message-ID: <{id}@{hostname}>\r\n").as_bytes());
    }
    if added.is_empty() {
        return;
    }
    if !has_header && !data.starts_with(b"\r\n") {
        added.extend_from_slice(b"\r\n");
    }
    data.splice(0..0, added);
}

/// The lines of the header section: up to the first empty line, or the
/// first line that is no field (nor a field's continuation).
fn header_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .enumerate()
        .take_while(|(n, line)| is_field_line(line) || (*n > 0 && line[0].is_ascii_whitespace()))
        .map(|(_, line)| line)
}

/// `name:` with a name of printable ASCII other than `:` (RFC 5322 3.6.8),
/// white space before the colon allowed (its obsolete syntax, 4.5).
fn is_field_line(line: &[u8]) -> bool {
    line.iter().position(|b| *b == b':').is_some_and(|colon| {
        let name = line[..colon].trim_ascii_end();
        !name.is_empty() && name.iter().all(|b| (33..=126).contains(b))
    })
}

fn is_field(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name)
        && line[name.len()..].trim_ascii_start().starts_with(b":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(text: &[u8]) -> String {
        let mut data = text.to_vec();
        complete_headers(&mut data, 1_796_218_554_000, "abc", "poa.acme");
        String::from_utf8(data).unwrap()
    }

    /// RFC 6409 8.2 and 8.3: both added when missing, at the top.
    #[test]
    fn missing_date_and_message_id_are_added() {
        assert_eq!(
            completed(b"Subject: hi\r\n\r\nbody\r\n"),
            "Date: Wed, 02 Dec 2026 13:35:54 +0000\r\nMessage-ID: <abc@poa.acme>\r\n\
             Subject: hi\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn present_ones_are_kept_in_any_case() {
        let text = "DATE: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id : <x@y>\r\n\r\nb\r\n";
        assert_eq!(completed(text.as_bytes()), text);
        // Only the header section counts, continuation lines included.
        let text = "Subject: a\r\n long\r\nMessage-ID: <x@y>\r\n\r\nDate: not a header\r\n";
        assert_eq!(
            completed(text.as_bytes()),
            format!("Date: Wed, 02 Dec 2026 13:35:54 +0000\r\n{text}")
        );
    }

    #[test]
    fn a_text_without_a_header_keeps_its_body() {
        assert_eq!(
            completed(b"just a body\r\n"),
            "Date: Wed, 02 Dec 2026 13:35:54 +0000\r\nMessage-ID: <abc@poa.acme>\r\n\
             \r\njust a body\r\n"
        );
        assert_eq!(
            completed(b"\r\nbody\r\n"),
            "Date: Wed, 02 Dec 2026 13:35:54 +0000\r\nMessage-ID: <abc@poa.acme>\r\n\
             \r\nbody\r\n"
        );
        assert_eq!(
            completed(b""),
            "Date: Wed, 02 Dec 2026 13:35:54 +0000\r\nMessage-ID: <abc@poa.acme>\r\n\r\n"
        );
    }
}
