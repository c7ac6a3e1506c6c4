//! What a submission server adds to a message's header (RFC 6409 8.2 and
//! 8.3): `Date:` and `Message-ID:` when the client left them out. Trace
//! fields (`Received:`, `Return-Path:`, `Delivered-To:`) are the routers'
//! business at each hop, not this module's.

/// Adds `Date:` (the time of submission, `now_secs` since the Unix epoch,
/// in UTC) and `Message-ID:` (`<id@hostname>`) at the top of `data` when
/// its header section has none. A text whose first line is no header field
/// gets an empty line after the added fields, so that it stays the body.
///
/// The text is moved within its own buffer when that has room (it usually
/// has: a vector grows by doubling), so a large message is not copied into
/// a second one.
pub fn complete_headers(data: &mut Vec<u8>, now_secs: u64, id: &str, hostname: &str) {
    let (mut has_date, mut has_message_id, mut has_header) = (false, false, false);
    for line in header_lines(data) {
        has_header = true;
        has_date |= is_field(line, b"date");
        has_message_id |= is_field(line, b"message-id");
    }
    let mut added = Vec::new();
    if !has_date {
        added.extend_from_slice(format!("Date: {}\r\n", rfc5322_date(now_secs)).as_bytes());
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

/// RFC 5322 3.3 date-time in UTC: `Wed, 02 Dec 2026 13:35:54 +0000`.
pub fn rfc5322_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let rest = secs % 86_400;
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 as (year, month 1-12, day 1-31), by Howard
/// Hinnant's `civil_from_days` (proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
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

    fn completed(text: &[u8]) -> String {
        let mut data = text.to_vec();
        complete_headers(&mut data, 1_796_218_554, "abc", "poa.acme");
        String::from_utf8(data).unwrap()
    }

    #[test]
    fn dates_are_rfc5322_in_utc() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_796_218_554),
            "Wed, 02 Dec 2026 13:35:54 +0000"
        );
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
