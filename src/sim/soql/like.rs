//! `LIKE` pattern matching: `%` matches any run, `_` one character, case-insensitively.
//! Escaped `\%` / `\_` match themselves.

use super::lexer::StrChar;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    AnyRun,
    AnyOne,
    Char(char),
}

pub(super) fn matches(pattern: &[StrChar], text: &str) -> bool {
    let pieces: Vec<Piece> = pattern
        .iter()
        .flat_map(|c| match c {
            StrChar::Plain('%') => vec![Piece::AnyRun],
            StrChar::Plain('_') => vec![Piece::AnyOne],
            other => other.ch().to_lowercase().map(Piece::Char).collect(),
        })
        .collect();
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Dynamic programming over (piece, char) keeps long `%a%a%a` patterns linear in memory
    // and quadratic in time instead of exponential backtracking.
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for piece in &pieces {
        let mut next = vec![false; text.len() + 1];
        match piece {
            Piece::AnyRun => {
                let mut any = false;
                for (i, slot) in next.iter_mut().enumerate() {
                    any |= reachable[i];
                    *slot = any;
                }
            }
            Piece::AnyOne => {
                next[1..].copy_from_slice(&reachable[..text.len()]);
            }
            Piece::Char(expected) => {
                for (i, &actual) in text.iter().enumerate() {
                    next[i + 1] = reachable[i] && actual == *expected;
                }
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(pattern: &str) -> Vec<StrChar> {
        pattern.chars().map(StrChar::Plain).collect()
    }

    #[test]
    fn wildcards_and_case() {
        assert!(matches(&plain("acc%"), "Account_After_Save"));
        assert!(matches(&plain("%after%"), "Account_After_Save"));
        assert!(matches(&plain("a_c"), "ABC"));
        assert!(!matches(&plain("a_c"), "abbc"));
        assert!(matches(&plain("%"), ""));
        assert!(!matches(&plain("_"), ""));
        assert!(!matches(&plain("acc"), "account"));
    }

    #[test]
    fn escaped_wildcards_are_literal() {
        let pattern = vec![
            StrChar::Plain('a'),
            StrChar::Escaped('_'),
            StrChar::Plain('%'),
        ];
        assert!(matches(&pattern, "a_bc"));
        assert!(!matches(&pattern, "abc"));
    }

    #[test]
    fn pathological_pattern_finishes() {
        let pattern = plain(&"%a".repeat(200));
        let text = "a".repeat(199) + "b";
        assert!(!matches(&pattern, &text));
    }
}
