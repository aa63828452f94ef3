//! Recursive-descent parser from tokens to [`Query`]. Total: every input ends in either a
//! tree or a positioned `MALFORMED_QUERY` diagnostic.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! query     := SELECT item (',' item)* FROM name [WHERE condition]
//!              [ORDER BY key (',' key)*] [LIMIT integer]
//! condition := [NOT] operand (AND operand)*  |  [NOT] operand (OR operand)*
//! operand   := '(' condition ')' | path op literal | path [NOT] IN '(' literal, ... ')'
//!            | path LIKE string
//! key       := path [ASC|DESC] [NULLS (FIRST|LAST)]
//! ```
//!
//! Like Salesforce, AND and OR may not be mixed at one level without parentheses, and NOT
//! only opens a condition (`A AND NOT B` must be written `A AND (NOT B)`).

use super::ast::{
    Condition, Direction, FieldPath, InList, Literal, LiteralValue, Name, OrderKey, Query, Selected,
};
use super::error::Diagnostic;
use super::lexer::{Token, TokenKind};

/// Words SOQL reserves; they can never name a field or object.
const RESERVED: &[&str] = &[
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES", "LAST",
    "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
];

/// Clause keywords of real SOQL that the simulator refuses, with the name used in the message.
const UNSUPPORTED_CLAUSES: &[(&str, &str)] = &[
    ("USING", "USING SCOPE"),
    ("WITH", "WITH"),
    ("GROUP", "GROUP BY"),
    ("HAVING", "HAVING"),
    ("OFFSET", "OFFSET"),
    ("FOR", "FOR VIEW/REFERENCE/UPDATE"),
    ("UPDATE", "UPDATE TRACKING/VIEWSTAT"),
];

/// How deeply parenthesised conditions may nest. Recursion depth follows nesting, so without
/// a bound a hostile query could overflow the stack, which aborts instead of failing cleanly.
const MAX_NESTING: usize = 64;

pub(super) fn parse(tokens: &[Token]) -> Result<Query, Diagnostic> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    parser.query()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connective {
    And,
    Or,
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// Current parenthesis nesting inside WHERE.
    depth: usize,
}

impl<'t> Parser<'t> {
    fn query(&mut self) -> Result<Query, Diagnostic> {
        self.expect_word("SELECT")?;
        let mut select = vec![self.select_item()?];
        while self.eat(&TokenKind::Comma) {
            select.push(self.select_item()?);
        }
        self.expect_word("FROM")?;
        let from = self.name()?;
        let filter = if self.eat_word("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_word("ORDER") {
            self.expect_word("BY")?;
            order_by.push(self.order_key()?);
            while self.eat(&TokenKind::Comma) {
                order_by.push(self.order_key()?);
            }
        }
        let limit = if self.eat_word("LIMIT") {
            Some(self.limit_value()?)
        } else {
            None
        };
        match self.peek() {
            None => Ok(Query {
                select,
                from,
                filter,
                order_by,
                limit,
            }),
            Some(token) => Err(Self::misplaced(token)),
        }
    }

    fn select_item(&mut self) -> Result<Selected, Diagnostic> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected());
        };
        match &token.kind {
            TokenKind::LParen => {
                let at = token.span.start;
                self.skip_parenthesized()?;
                Ok(Selected::Unsupported {
                    what: "a subquery".to_owned(),
                    at,
                })
            }
            _ if token.is_word("TYPEOF") => {
                Err(Diagnostic::unsupported(token.span.start, "TYPEOF"))
            }
            _ => self.operand_path(),
        }
    }

    /// A field path, or a function call (`COUNT()`, `toLabel(Name)`) kept as unsupported.
    fn operand_path(&mut self) -> Result<Selected, Diagnostic> {
        if let (Some(name), Some(next)) = (self.peek(), self.tokens.get(self.pos + 1))
            && matches!(name.kind, TokenKind::Ident(_))
            && !is_reserved(name)
            && next.kind == TokenKind::LParen
        {
            let what = format!("the function {}()", name.text);
            let at = name.span.start;
            self.pos += 1;
            self.skip_parenthesized()?;
            return Ok(Selected::Unsupported { what, at });
        }
        Ok(Selected::Field(self.field_path()?))
    }

    fn field_path(&mut self) -> Result<FieldPath, Diagnostic> {
        let first = self.name()?;
        let at = first.at;
        let mut text = first.text.clone();
        let mut segments = vec![first.text];
        while self.eat(&TokenKind::Dot) {
            let segment = self.identifier()?;
            text.push('.');
            text.push_str(&segment.text);
            segments.push(segment.text);
        }
        Ok(FieldPath { segments, at, text })
    }

    /// An identifier that is not a reserved word (field or object name).
    fn name(&mut self) -> Result<Name, Diagnostic> {
        match self.peek() {
            Some(token) if is_reserved(token) => Err(self.unexpected()),
            _ => self.identifier(),
        }
    }

    /// Any identifier; after a dot even reserved-looking words are plain names.
    fn identifier(&mut self) -> Result<Name, Diagnostic> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Ident(text),
                span,
                ..
            }) => {
                let name = Name {
                    text: text.clone(),
                    at: span.start,
                };
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn condition(&mut self) -> Result<Condition, Diagnostic> {
        let first = if self.eat_word("NOT") {
            Condition::Not(Box::new(self.operand()?))
        } else {
            self.operand()?
        };
        let mut connective = None;
        let mut terms = vec![first];
        loop {
            let next = if self.peek_word("AND") {
                Connective::And
            } else if self.peek_word("OR") {
                Connective::Or
            } else {
                break;
            };
            if connective.is_some_and(|seen| seen != next) {
                // Salesforce refuses `A AND B OR C` rather than picking a precedence.
                return Err(self.unexpected());
            }
            connective = Some(next);
            self.pos += 1;
            terms.push(self.operand()?);
        }
        Ok(match connective {
            None => terms.remove(0),
            Some(Connective::And) => Condition::And(terms),
            Some(Connective::Or) => Condition::Or(terms),
        })
    }

    fn operand(&mut self) -> Result<Condition, Diagnostic> {
        if let Some(open) = self.peek()
            && open.kind == TokenKind::LParen
        {
            if self.depth >= MAX_NESTING {
                return Err(Diagnostic::malformed_at(
                    open.span.start,
                    format!("conditions may not be nested more than {MAX_NESTING} deep"),
                ));
            }
            self.pos += 1;
            self.depth += 1;
            let inner = self.condition();
            self.depth -= 1;
            let inner = inner?;
            self.expect(&TokenKind::RParen)?;
            return Ok(inner);
        }
        let operand = self.operand_path()?;
        let Some(token) = self.peek() else {
            return Err(self.unexpected());
        };
        if let TokenKind::Op(op) = token.kind {
            self.pos += 1;
            let value = self.literal()?;
            return Ok(Condition::Compare { operand, op, value });
        }
        if token.is_word("INCLUDES") || token.is_word("EXCLUDES") {
            return Err(Diagnostic::unsupported(
                token.span.start,
                &token.text.to_ascii_uppercase(),
            ));
        }
        if self.eat_word("LIKE") {
            return match self.peek() {
                Some(Token {
                    kind: TokenKind::Str(chars),
                    span,
                    ..
                }) => {
                    let like = Condition::Like {
                        operand,
                        pattern: chars.clone(),
                        at: span.start,
                    };
                    self.pos += 1;
                    Ok(like)
                }
                _ => Err(self.unexpected()),
            };
        }
        let negated = self.eat_word("NOT");
        if !self.eat_word("IN") {
            return Err(self.unexpected());
        }
        let values = self.in_list()?;
        Ok(Condition::In {
            operand,
            negated,
            values,
        })
    }

    fn in_list(&mut self) -> Result<InList, Diagnostic> {
        if let Some(open) = self.peek()
            && open.kind == TokenKind::LParen
            && self
                .tokens
                .get(self.pos + 1)
                .is_some_and(|t| t.is_word("SELECT"))
        {
            let at = open.span.start;
            self.skip_parenthesized()?;
            return Ok(InList::Subquery { at });
        }
        self.expect(&TokenKind::LParen)?;
        let mut values = vec![self.literal()?];
        while self.eat(&TokenKind::Comma) {
            values.push(self.literal()?);
        }
        self.expect(&TokenKind::RParen)?;
        Ok(InList::Values(values))
    }

    fn literal(&mut self) -> Result<Literal, Diagnostic> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected());
        };
        let value = match &token.kind {
            TokenKind::Str(chars) => LiteralValue::Str(chars.iter().map(|c| c.ch()).collect()),
            TokenKind::Number(text) => match text.parse::<f64>() {
                Ok(number) => LiteralValue::Number(number),
                Err(_) => return Err(self.unexpected()),
            },
            _ if token.is_word("TRUE") => LiteralValue::Bool(true),
            _ if token.is_word("FALSE") => LiteralValue::Bool(false),
            _ if token.is_word("NULL") => LiteralValue::Null,
            _ => return Err(self.unexpected()),
        };
        let literal = Literal {
            value,
            at: token.span.start,
        };
        self.pos += 1;
        Ok(literal)
    }

    fn order_key(&mut self) -> Result<OrderKey, Diagnostic> {
        let path = self.field_path()?;
        let direction = if self.eat_word("DESC") {
            Direction::Desc
        } else {
            self.eat_word("ASC");
            Direction::Asc
        };
        // Salesforce's default puts nulls first ascending and last descending.
        let mut nulls_first = direction == Direction::Asc;
        if self.eat_word("NULLS") {
            if self.eat_word("FIRST") {
                nulls_first = true;
            } else if self.eat_word("LAST") {
                nulls_first = false;
            } else {
                return Err(self.unexpected());
            }
        }
        Ok(OrderKey {
            path,
            direction,
            nulls_first,
        })
    }

    fn limit_value(&mut self) -> Result<u64, Diagnostic> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Number(text),
                span,
                ..
            }) => {
                if text.starts_with('-') {
                    return Err(Diagnostic::malformed_at(
                        span.start,
                        "LIMIT must be a non-negative value",
                    ));
                }
                if !text.chars().all(|c| c.is_ascii_digit()) {
                    return Err(self.unexpected());
                }
                // Past u64 every row fits anyway, so saturate rather than refuse.
                let limit = text.parse::<u64>().unwrap_or(u64::MAX);
                self.pos += 1;
                Ok(limit)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Skips a balanced `( ... )` starting at the current `(`, for constructs kept unparsed.
    fn skip_parenthesized(&mut self) -> Result<(), Diagnostic> {
        let mut depth = 0usize;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.pos += 1;
            if depth == 0 {
                return Ok(());
            }
        }
        Err(self.unexpected())
    }

    /// The error for a token where the query should have ended or moved to a later clause.
    fn misplaced(token: &Token) -> Diagnostic {
        match UNSUPPORTED_CLAUSES
            .iter()
            .find(|(word, _)| token.is_word(word))
        {
            Some((_, clause)) => Diagnostic::unsupported(token.span.start, clause),
            None => unexpected_token(token),
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, word: &str) -> bool {
        self.peek().is_some_and(|token| token.is_word(word))
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let matched = self.peek().is_some_and(|token| &token.kind == kind);
        if matched {
            self.pos += 1;
        }
        matched
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let matched = self.peek_word(word);
        if matched {
            self.pos += 1;
        }
        matched
    }

    fn expect(&mut self, kind: &TokenKind) -> Result<(), Diagnostic> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), Diagnostic> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// `unexpected token` at the current token, or `<EOF>` just past the last token.
    fn unexpected(&self) -> Diagnostic {
        match self.peek() {
            Some(token) => unexpected_token(token),
            None => {
                let end = self.tokens.last().map_or(0, |token| token.span.end);
                Diagnostic::malformed_at(end, "unexpected token: <EOF>")
            }
        }
    }
}

fn is_reserved(token: &Token) -> bool {
    RESERVED.iter().any(|word| token.is_word(word))
}

fn unexpected_token(token: &Token) -> Diagnostic {
    Diagnostic::malformed_at(
        token.span.start,
        format!("unexpected token: '{}'", token.text),
    )
}
