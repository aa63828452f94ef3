//! Splits query text into tokens, each carrying its character span and source text.
//!
//! Keywords are not distinguished here: SOQL keywords are only reserved in some positions
//! (`Order` is both an object name and the start of `ORDER BY`), so the parser decides.

use super::error::Diagnostic;

/// Character offsets into the query, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
}

/// One character of a string literal. The escape matters only to `LIKE`, where `\%` and `\_`
/// stand for themselves rather than for wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrChar {
    Plain(char),
    Escaped(char),
}

impl StrChar {
    pub(super) fn ch(self) -> char {
        match self {
            StrChar::Plain(ch) | StrChar::Escaped(ch) => ch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    Ident(String),
    Str(Vec<StrChar>),
    /// Digits with an optional fraction and sign, kept as written.
    Number(String),
    Comma,
    Dot,
    LParen,
    RParen,
    Op(CmpOp),
    /// A character the grammar has no use for (`:`, `;`, non-ASCII...). The parser reports it
    /// as an unexpected token, which keeps the lexer total.
    Other(char),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) span: Span,
    /// The token exactly as written, for error messages.
    pub(super) text: String,
}

impl Token {
    /// Whether this token is the (case-insensitive) keyword `word`.
    pub(super) fn is_word(&self, word: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(name) if name.eq_ignore_ascii_case(word))
    }
}

pub(super) fn tokenize(src: &[char]) -> Result<Vec<Token>, Diagnostic> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&ch) = src.get(pos) {
        if ch.is_whitespace() {
            pos += 1;
            continue;
        }
        let start = pos;
        let next = src.get(pos + 1).copied();
        let kind = if ch.is_ascii_alphabetic() || ch == '_' {
            pos = scan_while(src, pos, |c| c.is_ascii_alphanumeric() || c == '_');
            TokenKind::Ident(src[start..pos].iter().collect())
        } else if ch.is_ascii_digit()
            || ((ch == '-' || ch == '+') && next.is_some_and(|c| c.is_ascii_digit()))
        {
            pos = scan_number(src, pos + 1);
            TokenKind::Number(src[start..pos].iter().collect())
        } else if ch == '\'' {
            let (chars, end) = scan_string(src, pos)?;
            pos = end;
            TokenKind::Str(chars)
        } else {
            let (kind, len) = punctuation(ch, next);
            pos += len;
            kind
        };
        tokens.push(Token {
            kind,
            span: Span { start, end: pos },
            text: src[start..pos].iter().collect(),
        });
    }
    Ok(tokens)
}

fn scan_while(src: &[char], mut pos: usize, keep: impl Fn(char) -> bool) -> usize {
    while src.get(pos).is_some_and(|&c| keep(c)) {
        pos += 1;
    }
    pos
}

/// Scans the rest of a number whose first character is at `pos - 1`. A `.` belongs to the
/// number only when a digit follows, so `1.` leaves the dot for the parser to refuse.
fn scan_number(src: &[char], pos: usize) -> usize {
    let pos = scan_while(src, pos, |c| c.is_ascii_digit());
    let fraction_follows =
        src.get(pos) == Some(&'.') && src.get(pos + 1).is_some_and(|c| c.is_ascii_digit());
    if fraction_follows {
        scan_while(src, pos + 1, |c| c.is_ascii_digit())
    } else {
        pos
    }
}

/// Scans a single-quoted literal starting at the quote; returns its characters and the
/// offset just past the closing quote.
fn scan_string(src: &[char], open: usize) -> Result<(Vec<StrChar>, usize), Diagnostic> {
    let mut chars = Vec::new();
    let mut pos = open + 1;
    loop {
        match src.get(pos) {
            None => {
                return Err(Diagnostic::malformed_at(
                    open,
                    "unterminated string literal",
                ));
            }
            Some('\'') => return Ok((chars, pos + 1)),
            Some('\\') => {
                let escaped = match src.get(pos + 1) {
                    Some('n' | 'N') => StrChar::Plain('\n'),
                    Some('r' | 'R') => StrChar::Plain('\r'),
                    Some('t' | 'T') => StrChar::Plain('\t'),
                    Some('b' | 'B') => StrChar::Plain('\u{8}'),
                    Some('f' | 'F') => StrChar::Plain('\u{c}'),
                    Some(&c @ ('\'' | '"' | '\\')) => StrChar::Plain(c),
                    Some(&c @ ('%' | '_')) => StrChar::Escaped(c),
                    Some(&c) => {
                        return Err(Diagnostic::malformed_at(
                            pos,
                            format!("invalid escape sequence '\\{c}' in string literal"),
                        ));
                    }
                    None => {
                        return Err(Diagnostic::malformed_at(
                            open,
                            "unterminated string literal",
                        ));
                    }
                };
                chars.push(escaped);
                pos += 2;
            }
            Some(&c) => {
                chars.push(StrChar::Plain(c));
                pos += 1;
            }
        }
    }
}

/// The token for a punctuation character and how many characters it spans.
fn punctuation(ch: char, next: Option<char>) -> (TokenKind, usize) {
    match (ch, next) {
        (',', _) => (TokenKind::Comma, 1),
        ('.', _) => (TokenKind::Dot, 1),
        ('(', _) => (TokenKind::LParen, 1),
        (')', _) => (TokenKind::RParen, 1),
        ('=', _) => (TokenKind::Op(CmpOp::Eq), 1),
        ('!', Some('=')) => (TokenKind::Op(CmpOp::Ne), 2),
        ('<', Some('>')) => (TokenKind::Op(CmpOp::Ne), 2),
        ('<', Some('=')) => (TokenKind::Op(CmpOp::Le), 2),
        ('<', _) => (TokenKind::Op(CmpOp::Lt), 1),
        ('>', Some('=')) => (TokenKind::Op(CmpOp::Ge), 2),
        ('>', _) => (TokenKind::Op(CmpOp::Gt), 1),
        (other, _) => (TokenKind::Other(other), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let chars: Vec<char> = src.chars().collect();
        match tokenize(&chars) {
            Ok(tokens) => tokens.into_iter().map(|t| t.kind).collect(),
            Err(err) => panic!("tokenize failed: {err:?}"),
        }
    }

    #[test]
    fn operators_take_the_longest_match() {
        assert_eq!(
            kinds("= != <> < <= > >="),
            vec![
                TokenKind::Op(CmpOp::Eq),
                TokenKind::Op(CmpOp::Ne),
                TokenKind::Op(CmpOp::Ne),
                TokenKind::Op(CmpOp::Lt),
                TokenKind::Op(CmpOp::Le),
                TokenKind::Op(CmpOp::Gt),
                TokenKind::Op(CmpOp::Ge),
            ]
        );
    }

    #[test]
    fn numbers_keep_sign_and_fraction_but_not_a_trailing_dot() {
        assert_eq!(
            kinds("-12 3.5 7."),
            vec![
                TokenKind::Number("-12".into()),
                TokenKind::Number("3.5".into()),
                TokenKind::Number("7".into()),
                TokenKind::Dot,
            ]
        );
    }

    #[test]
    fn string_escapes_decode_and_like_wildcards_stay_marked() {
        assert_eq!(
            kinds(r"'a\'b\\c\n\%'"),
            vec![TokenKind::Str(vec![
                StrChar::Plain('a'),
                StrChar::Plain('\''),
                StrChar::Plain('b'),
                StrChar::Plain('\\'),
                StrChar::Plain('c'),
                StrChar::Plain('\n'),
                StrChar::Escaped('%'),
            ])]
        );
    }

    #[test]
    fn spans_count_characters_not_bytes() {
        let chars: Vec<char> = "'é' x".chars().collect();
        let tokens = tokenize(&chars).unwrap_or_default();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[1].span, Span { start: 4, end: 5 });
    }
}
