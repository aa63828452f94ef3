//! The syntax tree of a parsed query. Names are kept as written (resolution against the
//! catalog happens later) and everything that can be blamed in an error carries its position.

use super::lexer::{CmpOp, StrChar};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Query {
    pub(super) select: Vec<Selected>,
    pub(super) from: Name,
    pub(super) filter: Option<Condition>,
    pub(super) order_by: Vec<OrderKey>,
    pub(super) limit: Option<u64>,
}

/// An identifier as written and the offset of its first character.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Name {
    pub(super) text: String,
    pub(super) at: usize,
}

/// `Name` or `Rel.Rel.Name`, as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldPath {
    pub(super) segments: Vec<String>,
    pub(super) at: usize,
    /// The path as written, dots included, for messages that quote it.
    pub(super) text: String,
}

/// A select-list item or filter operand.
///
/// Valid SOQL that the simulator does not evaluate (functions, subqueries) parses to
/// `Unsupported` instead of failing, so the object is resolved first and an unknown type is
/// reported as `INVALID_TYPE`, like Salesforce does.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Selected {
    Field(FieldPath),
    Unsupported { what: String, at: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        operand: Selected,
        op: CmpOp,
        value: Literal,
    },
    In {
        operand: Selected,
        negated: bool,
        values: InList,
    },
    Like {
        operand: Selected,
        pattern: Vec<StrChar>,
        at: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum InList {
    Values(Vec<Literal>),
    /// A semi-join `IN (SELECT ...)`.
    Subquery {
        at: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Literal {
    pub(super) value: LiteralValue,
    pub(super) at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum LiteralValue {
    Str(String),
    Number(f64),
    Bool(bool),
    Null,
}

impl LiteralValue {
    pub(super) fn kind(&self) -> LiteralKind {
        match self {
            LiteralValue::Str(_) => LiteralKind::Text,
            LiteralValue::Number(_) => LiteralKind::Number,
            LiteralValue::Bool(_) => LiteralKind::Boolean,
            LiteralValue::Null => LiteralKind::Null,
        }
    }
}

/// What a literal is, for type checks; a `LIKE` pattern counts as `Text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LiteralKind {
    Text,
    Number,
    Boolean,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct OrderKey {
    pub(super) path: FieldPath,
    pub(super) direction: Direction,
    pub(super) nulls_first: bool,
}
