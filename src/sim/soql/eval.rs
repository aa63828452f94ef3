//! Runs a [`Plan`] over rows: filter, stable sort, limit.
//!
//! SOQL logic is two-valued: a null field is simply a value that equals only NULL, so
//! `Name != 'x'` and `Name NOT IN ('x')` keep rows whose `Name` is null.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::ast::{Direction, LiteralValue};
use super::lexer::CmpOp;
use super::like;
use super::resolve::{Filter, Plan, ResolvedPath, SortKey};

/// The rows the query returns, in output order.
pub(super) fn select_rows<'r>(
    plan: &Plan,
    rows: &'r [Map<String, Value>],
) -> Vec<&'r Map<String, Value>> {
    let mut kept: Vec<_> = rows
        .iter()
        .filter(|row| {
            plan.filter
                .as_ref()
                .is_none_or(|filter| matches(filter, row))
        })
        .collect();
    if !plan.order_by.is_empty() {
        kept.sort_by(|a, b| compare_rows(&plan.order_by, a, b));
    }
    if let Some(limit) = plan.limit {
        kept.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    kept
}

/// The non-null value at `path`; `None` when it or any relationship on the way is null or
/// absent.
pub(super) fn lookup<'r>(row: &'r Map<String, Value>, path: &ResolvedPath) -> Option<&'r Value> {
    let mut current = row;
    for hop in &path.hops {
        current = current.get(hop.relationship)?.as_object()?;
    }
    current.get(path.field).filter(|value| !value.is_null())
}

fn matches(filter: &Filter, row: &Map<String, Value>) -> bool {
    match filter {
        Filter::And(terms) => terms.iter().all(|term| matches(term, row)),
        Filter::Or(terms) => terms.iter().any(|term| matches(term, row)),
        Filter::Not(inner) => !matches(inner, row),
        Filter::Compare { path, op, value } => compare(lookup(row, path), *op, value),
        Filter::In {
            path,
            negated,
            values,
        } => {
            let field = lookup(row, path);
            let found = values.iter().any(|value| compare(field, CmpOp::Eq, value));
            found != *negated
        }
        Filter::Like { path, pattern } => match lookup(row, path) {
            Some(Value::String(text)) => like::matches(pattern, text),
            _ => false,
        },
    }
}

fn compare(field: Option<&Value>, op: CmpOp, literal: &LiteralValue) -> bool {
    match (field, literal) {
        (None, LiteralValue::Null) => op == CmpOp::Eq,
        (None, _) | (Some(_), LiteralValue::Null) => op == CmpOp::Ne,
        (Some(value), literal) => match order_against(value, literal) {
            Some(ordering) => satisfies(op, ordering),
            // Different kinds never compare equal, so only `!=` holds.
            None => op == CmpOp::Ne,
        },
    }
}

fn satisfies(op: CmpOp, ordering: Ordering) -> bool {
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    }
}

/// How a field value orders against a literal of the same kind; text is case-insensitive.
fn order_against(value: &Value, literal: &LiteralValue) -> Option<Ordering> {
    match (value, literal) {
        (Value::String(text), LiteralValue::Str(other)) => {
            Some(text.to_lowercase().cmp(&other.to_lowercase()))
        }
        (Value::Number(number), LiteralValue::Number(other)) => {
            number.as_f64().and_then(|n| n.partial_cmp(other))
        }
        (Value::Bool(flag), LiteralValue::Bool(other)) => Some(flag.cmp(other)),
        _ => None,
    }
}

fn compare_rows(keys: &[SortKey], a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    for key in keys {
        let ordering = match (lookup(a, &key.path), lookup(b, &key.path)) {
            (None, None) => Ordering::Equal,
            // Null placement is fixed by NULLS FIRST/LAST, independent of the direction.
            (None, Some(_)) if key.nulls_first => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) if key.nulls_first => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let ordering = order_values(x, y);
                match key.direction {
                    Direction::Asc => ordering,
                    Direction::Desc => ordering.reverse(),
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// A total order over non-null values: same kinds compare naturally (text case-insensitively);
/// mixed kinds, which well-formed sim data never has, order by kind.
fn order_values(x: &Value, y: &Value) -> Ordering {
    match (x, y) {
        (Value::String(a), Value::String(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            a.total_cmp(&b)
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => kind_rank(x).cmp(&kind_rank(y)),
    }
}

fn kind_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}
