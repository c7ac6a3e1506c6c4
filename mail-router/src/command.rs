//! Client command lines of POP3 (RFC 1939), parsed with nom. The parser is
//! total: any text gives an answer, never a panic, and it only borrows from
//! the line (its length is bounded by the reader). SMTP command lines are
//! parsed by the `smtp-proto` crate instead (see [`crate::smtp`]).

use nom::bytes::complete::take_till;
use nom::character::complete::char;
use nom::combinator::{opt, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// A command line's verb, upper-cased, and the text after the space that
/// ends it (empty when there is none).
pub fn verb_and_argument(line: &str) -> (String, &str) {
    let parsed: IResult<&str, (&str, Option<&str>)> =
        (take_till(|c| c == ' '), opt(preceded(char(' '), rest))).parse(line);
    match parsed {
        Ok((_, (verb, argument))) => (verb.to_ascii_uppercase(), argument.unwrap_or("")),
        // take_till and opt cannot fail on text; keep the whole line as the verb.
        Err(_) => (line.to_ascii_uppercase(), ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_verb_is_upper_cased_and_split_at_the_first_space() {
        assert_eq!(verb_and_argument("user jsmith"), ("USER".into(), "jsmith"));
        assert_eq!(verb_and_argument("QUIT"), ("QUIT".into(), ""));
        assert_eq!(
            verb_and_argument("PASS two words"),
            ("PASS".into(), "two words")
        );
        assert_eq!(verb_and_argument(""), ("".into(), ""));
    }

    proptest! {
        #[test]
        fn any_line_gets_an_answer(line in ".{0,600}") {
            let (verb, argument) = verb_and_argument(&line);
            prop_assert!(verb.len() + argument.len() <= line.len());
        }
    }
}
