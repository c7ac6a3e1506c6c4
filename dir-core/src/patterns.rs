//! Name patterns used by export configurations: `*` (everything), a name, or
//! a prefix ending in `*`.

use wire_format::Name;

/// Does any of `patterns` allow `name`?
pub fn matches(patterns: &[String], name: &Name) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.as_str().starts_with(&prefix.to_ascii_uppercase()),
        None => p.eq_ignore_ascii_case(name.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_prefix_and_exact_names() {
        let n = |s: &str| Name::new(s).unwrap();
        assert!(matches(&["*".into()], &n("POA")));
        assert!(matches(&["PO*".into()], &n("POB")));
        assert!(matches(&["poc".into()], &n("POC")));
        assert!(!matches(&["POC".into()], &n("POD")));
        assert!(!matches(&[], &n("POD")));
    }
}
