//! What a report takes from the message it reports on.

/// The header section at the start of `text`: the lines up to the blank
/// line, or up to the first line that is not a header field (a text sent
/// without headers has none), each with its line end.
pub fn header_block(text: &[u8]) -> &[u8] {
    let mut end = 0;
    for line in text.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let folded = matches!(content.first(), Some(b' ' | b'\t')) && end > 0;
        if !(folded || is_field(content)) || !line.ends_with(b"\n") {
            break;
        }
        end += line.len();
    }
    &text[..end]
}

/// `name: value`, the name printable ASCII without a colon (RFC 5322 2.2).
fn is_field(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|b| (33..=126).contains(b)),
        _ => false,
    }
}

/// The `Subject:` of a header section, unfolded, when it is plain ASCII
/// (it is put into the report's own subject; other text is left out rather
/// than re-encoded).
pub fn subject(headers: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(headers).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let mut value = lines.by_ref().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("subject")
            .then(|| value.trim().to_owned())
    })?;
    for more in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        value.push(' ');
        value.push_str(more.trim());
    }
    (value.is_ascii() && !value.chars().any(|c| c.is_control()) && !value.is_empty())
        .then_some(value)
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
