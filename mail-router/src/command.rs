//! Client command lines of SMTP (RFC 5321 4.1) and POP3 (RFC 1939), parsed
//! with nom. The parsers are total: any text gives an answer, never a panic,
//! and they only borrow from the line (its length is bounded by the reader).

use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_till, take_till1, take_until};
use nom::character::complete::{char, space0, space1};
use nom::combinator::{all_consuming, not, opt, rest};
use nom::multi::many0;
use nom::sequence::{delimited, preceded};
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

/// The argument of `MAIL FROM:` or `RCPT TO:`: the address inside `<...>`
/// (or a bare one) and the ESMTP parameters after it.
#[derive(Debug, PartialEq, Eq)]
pub struct PathArgument<'a> {
    pub address: &'a str,
    pub params: Vec<Param<'a>>,
}

/// An ESMTP parameter, `KEYWORD[=value]` (RFC 5321 4.1.2).
#[derive(Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub keyword: &'a str,
    pub value: Option<&'a str>,
}

impl Param<'_> {
    /// Keywords are case-insensitive.
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword)
    }
}

fn param(input: &str) -> IResult<&str, Param<'_>> {
    let (input, keyword) = take_till1(|c| c == '=' || c == ' ')(input)?;
    let (input, value) = opt(preceded(char('='), take_till(|c| c == ' '))).parse(input)?;
    Ok((input, Param { keyword, value }))
}

/// `FROM:<address> params` (with `keyword` `FROM:`) or `TO:<address>`
/// (`TO:`), the keyword in any case; `None` if the text is not of that
/// shape.
pub fn path_argument<'a>(argument: &'a str, keyword: &str) -> Option<PathArgument<'a>> {
    let address = alt((
        delimited(char('<'), take_until(">"), char('>')),
        // An unclosed `<` is a syntax error, not a bare address.
        preceded(not(char('<')), take_till1(|c| c == ' ')),
    ));
    let mut line = all_consuming((
        preceded((space0, tag_no_case(keyword), space0), address),
        many0(preceded(space1, param)),
        space0,
    ));
    let (_, (address, params, _)) = line.parse(argument).ok()?;
    Some(PathArgument { address, params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_verb_is_upper_cased_and_split_at_the_first_space() {
        assert_eq!(
            verb_and_argument("ehlo client.example"),
            ("EHLO".into(), "client.example")
        );
        assert_eq!(verb_and_argument("QUIT"), ("QUIT".into(), ""));
        assert_eq!(
            verb_and_argument("PASS two words"),
            ("PASS".into(), "two words")
        );
        assert_eq!(verb_and_argument(""), ("".into(), ""));
    }

    #[test]
    fn paths_come_bracketed_or_bare_with_parameters_in_any_case() {
        let mail = path_argument(" from:<jsmith@poa.acme> SIZE=1000 body=8BITMIME", "FROM:");
        let mail = mail.unwrap();
        assert_eq!(mail.address, "jsmith@poa.acme");
        assert!(mail.params[0].is("size"));
        assert_eq!(mail.params[0].value, Some("1000"));
        assert!(mail.params[1].is("BODY"));
        assert_eq!(mail.params[1].value, Some("8BITMIME"));
        let rcpt = path_argument("TO: klee@pob.acme", "TO:").unwrap();
        assert_eq!((rcpt.address, rcpt.params.len()), ("klee@pob.acme", 0));
        // The null reverse path is a path (the session refuses it later).
        assert_eq!(path_argument("FROM:<>", "FROM:").unwrap().address, "");
        let flag = path_argument("FROM:<a@b.c> SMTPUTF8", "FROM:").unwrap();
        assert_eq!(
            flag.params[0],
            Param {
                keyword: "SMTPUTF8",
                value: None
            }
        );
    }

    #[test]
    fn other_shapes_are_no_path() {
        for bad in [
            "",
            "FROM",
            "TO:<a@b.c>",
            "FROM:<a@b.c",
            "FROM:",
            "FROM:<a@b.c>x",
        ] {
            assert_eq!(path_argument(bad, "FROM:"), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_line_gets_an_answer(line in ".{0,600}") {
            let (verb, argument) = verb_and_argument(&line);
            prop_assert!(verb.len() + argument.len() <= line.len());
            let _ = path_argument(&line, "FROM:");
            let _ = path_argument(argument, "TO:");
        }
    }
}
