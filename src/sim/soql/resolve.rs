//! Binds a parsed [`Query`] to the catalog: canonical object and field names, relationship
//! hops, duplicate and type checks. Produces the [`Plan`] the evaluator runs.
//!
//! The order of checks follows Salesforce: object first, then the select list in order, then
//! the filter, then ORDER BY; the first problem wins.

use serde_json::{Map, Value};

use super::ast::{
    Condition, Direction, FieldPath, InList, LiteralKind, LiteralValue, Query, Selected,
};
use super::error::Diagnostic;
use super::eval;
use super::lexer::{CmpOp, StrChar};
use super::{Catalog, ObjectSchema, SoqlErrorCode};

#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) object: ObjectSchema,
    pub(super) select: Vec<ResolvedPath>,
    pub(super) filter: Option<Filter>,
    pub(super) order_by: Vec<SortKey>,
    pub(super) limit: Option<u64>,
    pub(super) selects_single_row_fields: bool,
}

/// One relationship step: the canonical relationship name and the object it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hop {
    pub(super) relationship: &'static str,
    pub(super) target: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResolvedPath {
    pub(super) hops: Vec<Hop>,
    pub(super) field: &'static str,
}

#[derive(Debug, Clone)]
pub(super) enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        path: ResolvedPath,
        op: CmpOp,
        value: LiteralValue,
    },
    In {
        path: ResolvedPath,
        negated: bool,
        values: Vec<LiteralValue>,
    },
    Like {
        path: ResolvedPath,
        pattern: Vec<StrChar>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct SortKey {
    pub(super) path: ResolvedPath,
    pub(super) direction: Direction,
    pub(super) nulls_first: bool,
}

/// The queried object's schema, or `INVALID_TYPE` under the object name.
pub(super) fn object(catalog: &dyn Catalog, query: &Query) -> Result<ObjectSchema, Diagnostic> {
    catalog.schema(&query.from.text).copied().ok_or_else(|| {
        Diagnostic::at(
            SoqlErrorCode::InvalidType,
            query.from.at,
            format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom \
                 object, be sure to append the '__c' after the entity name. Please reference \
                 your WSDL or the describe call for the appropriate names.",
                query.from.text
            ),
        )
    })
}

/// `rows` are the object's rows; the filter's literal types are checked against the values
/// they hold, because the schema does not declare field types.
pub(super) fn plan(
    catalog: &dyn Catalog,
    object: ObjectSchema,
    query: &Query,
    rows: &[Map<String, Value>],
) -> Result<Plan, Diagnostic> {
    let binder = Binder {
        catalog,
        object,
        rows,
    };
    let mut select: Vec<ResolvedPath> = Vec::new();
    for item in &query.select {
        let field = binder.operand(item)?;
        let path = binder.path(field)?;
        if select.contains(&path) {
            return Err(Diagnostic::plain(
                SoqlErrorCode::MalformedQuery,
                format!("duplicate field selected: {}", field.text),
            ));
        }
        select.push(path);
    }
    let filter = query
        .filter
        .as_ref()
        .map(|condition| binder.condition(condition))
        .transpose()?;
    let order_by = query
        .order_by
        .iter()
        .map(|key| {
            Ok(SortKey {
                path: binder.path(&key.path)?,
                direction: key.direction,
                nulls_first: key.nulls_first,
            })
        })
        .collect::<Result<Vec<_>, Diagnostic>>()?;
    let selects_single_row_fields = select.iter().any(|path| {
        path.hops.is_empty()
            && object
                .single_row_fields
                .iter()
                .any(|field| field.eq_ignore_ascii_case(path.field))
    });
    Ok(Plan {
        object,
        select,
        filter,
        order_by,
        limit: query.limit,
        selects_single_row_fields,
    })
}

struct Binder<'a> {
    catalog: &'a dyn Catalog,
    object: ObjectSchema,
    rows: &'a [Map<String, Value>],
}

impl Binder<'_> {
    fn operand<'q>(&self, operand: &'q Selected) -> Result<&'q FieldPath, Diagnostic> {
        match operand {
            Selected::Field(path) => Ok(path),
            Selected::Unsupported { what, at } => Err(Diagnostic::unsupported(*at, what)),
        }
    }

    fn path(&self, path: &FieldPath) -> Result<ResolvedPath, Diagnostic> {
        let Some((last, relationships)) = path.segments.split_last() else {
            // The parser never produces an empty path; refuse rather than panic if it did.
            return Err(Diagnostic::malformed_at(path.at, "empty field path"));
        };
        let mut current = self.object;
        let mut hops = Vec::new();
        for segment in relationships {
            let next = current
                .relationships
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(segment))
                .and_then(|&(name, target)| {
                    self.catalog.schema(target).map(|schema| (name, *schema))
                });
            let Some((relationship, target)) = next else {
                return Err(Diagnostic::at(
                    SoqlErrorCode::InvalidField,
                    path.at,
                    format!(
                        "Didn't understand relationship '{segment}' in field path. If you are \
                         attempting to use a custom relationship, be sure to append the '__r' \
                         after the custom relationship name. Please reference your WSDL or the \
                         describe call for the appropriate names."
                    ),
                ));
            };
            hops.push(Hop {
                relationship,
                target: target.name,
            });
            current = target;
        }
        // A relationship name alone is not a column, so it is not looked up among them.
        match current.fields.iter().find(|f| f.eq_ignore_ascii_case(last)) {
            Some(field) => Ok(ResolvedPath { hops, field }),
            None => Err(Diagnostic::at(
                SoqlErrorCode::InvalidField,
                path.at,
                format!(
                    "No such column '{last}' on entity '{}'. If you are attempting to use a \
                     custom field, be sure to append the '__c' after the custom field name. \
                     Please reference your WSDL or the describe call for the appropriate names.",
                    current.name
                ),
            )),
        }
    }

    fn condition(&self, condition: &Condition) -> Result<Filter, Diagnostic> {
        Ok(match condition {
            Condition::And(terms) => Filter::And(self.conditions(terms)?),
            Condition::Or(terms) => Filter::Or(self.conditions(terms)?),
            Condition::Not(inner) => Filter::Not(Box::new(self.condition(inner)?)),
            Condition::Compare { operand, op, value } => {
                let path = self.path(self.operand(operand)?)?;
                check_literal(&path, self.field_kind(&path), value.value.kind(), value.at)?;
                Filter::Compare {
                    path,
                    op: *op,
                    value: value.value.clone(),
                }
            }
            Condition::In {
                operand,
                negated,
                values,
            } => {
                let path = self.path(self.operand(operand)?)?;
                let values = match values {
                    InList::Values(values) => values,
                    InList::Subquery { at } => {
                        return Err(Diagnostic::unsupported(*at, "a semi-join subquery"));
                    }
                };
                let field_kind = self.field_kind(&path);
                for value in values {
                    check_literal(&path, field_kind, value.value.kind(), value.at)?;
                }
                Filter::In {
                    path,
                    negated: *negated,
                    values: values.iter().map(|v| v.value.clone()).collect(),
                }
            }
            Condition::Like {
                operand,
                pattern,
                at,
            } => {
                let path = self.path(self.operand(operand)?)?;
                check_literal(&path, self.field_kind(&path), LiteralKind::Text, *at)?;
                Filter::Like {
                    path,
                    pattern: pattern.clone(),
                }
            }
        })
    }

    fn conditions(&self, terms: &[Condition]) -> Result<Vec<Filter>, Diagnostic> {
        terms.iter().map(|term| self.condition(term)).collect()
    }

    /// The kind of value the rows hold at `path`. The schema declares no field types, so the
    /// data is the only witness; `None` if no row has a scalar there or the rows disagree
    /// (then nothing is refused, since the sim data gives no single answer).
    fn field_kind(&self, path: &ResolvedPath) -> Option<FieldKind> {
        let mut seen: Option<FieldKind> = None;
        for row in self.rows {
            let kind = match eval::lookup(row, path) {
                Some(Value::String(_)) => FieldKind::Text,
                Some(Value::Bool(_)) => FieldKind::Boolean,
                Some(Value::Number(n)) if n.is_f64() => FieldKind::Double,
                Some(Value::Number(_)) => FieldKind::Integer,
                _ => continue,
            };
            seen = match (seen, kind) {
                (None, kind) => Some(kind),
                (Some(a), b) if a == b => Some(a),
                (Some(FieldKind::Integer), FieldKind::Double)
                | (Some(FieldKind::Double), FieldKind::Integer) => Some(FieldKind::Double),
                _ => return None,
            };
        }
        seen
    }
}

/// Refuses a literal whose kind cannot match the field, the way Salesforce refuses
/// `Active = 'true'`. NULL fits every field; a field of unknown kind accepts anything.
fn check_literal(
    path: &ResolvedPath,
    field: Option<FieldKind>,
    literal: LiteralKind,
    at: usize,
) -> Result<(), Diagnostic> {
    let Some(field) = field else {
        return Ok(());
    };
    let fits = matches!(
        (field, literal),
        (_, LiteralKind::Null)
            | (FieldKind::Text, LiteralKind::Text)
            | (FieldKind::Boolean, LiteralKind::Boolean)
            | (FieldKind::Integer | FieldKind::Double, LiteralKind::Number)
    );
    if fits {
        return Ok(());
    }
    let (type_name, quoting) = match field {
        FieldKind::Text => ("string", "should be enclosed in quotes"),
        FieldKind::Boolean => ("boolean", "should not be enclosed in quotes"),
        FieldKind::Integer => ("integer", "should not be enclosed in quotes"),
        FieldKind::Double => ("double", "should not be enclosed in quotes"),
    };
    Err(Diagnostic::malformed_at(
        at,
        format!(
            "value of filter criterion for field '{}' must be of type {type_name} and {quoting}",
            path.field
        ),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Text,
    Boolean,
    Integer,
    Double,
}
