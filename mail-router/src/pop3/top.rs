//! TOP (RFC 1939 §7): the header, the blank line after it and the first
//! `n` lines of the body.

/// The part of `message` that `TOP msg n` sends (before dot-stuffing). A
/// message without a blank line is all header and is sent whole.
pub fn top(message: &[u8], n: usize) -> &[u8] {
    let mut pos = 0;
    let mut in_header = true;
    let mut body_lines = 0;
    while pos < message.len() {
        if !in_header {
            if body_lines == n {
                return &message[..pos];
            }
            body_lines += 1;
        }
        let end = message[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(message.len(), |i| pos + i + 1);
        let line = &message[pos..end];
        if in_header && (line == b"\r\n" || line == b"\n") {
            in_header = false;
        }
        pos = end;
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"Subject: hi\r\nFrom: a@b\r\n\r\none\r\n.two\r\nthree\r\n";

    #[test]
    fn top_zero_is_the_header_and_the_blank_line() {
        assert_eq!(top(MESSAGE, 0), b"Subject: hi\r\nFrom: a@b\r\n\r\n");
    }

    #[test]
    fn top_n_adds_n_body_lines_and_no_more_than_there_are() {
        assert_eq!(
            top(MESSAGE, 2),
            b"Subject: hi\r\nFrom: a@b\r\n\r\none\r\n.two\r\n"
        );
        assert_eq!(top(MESSAGE, 99_999_999), MESSAGE);
    }

    #[test]
    fn a_message_without_a_body_is_sent_whole() {
        assert_eq!(top(b"Subject: x\r\n", 0), b"Subject: x\r\n");
        assert_eq!(top(b"", 5), b"");
    }
}
