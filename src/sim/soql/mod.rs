//! The simulated org's SOQL subset: a parser and an evaluator over the sim's records.
//!
//! The server hands [`run`] the query text, a [`Catalog`] (the objects visible on the endpoint
//! being queried, standard or Tooling) and the URL prefix for `attributes.url`. Everything that
//! is not in the subset is refused with the error code Salesforce uses for it, so a client that
//! drifts from real SOQL fails here first.
//!
//! The pipeline is `lexer` (tokens with character spans) → `parser` (syntax tree) → `resolve`
//! (names bound to the catalog, types checked) → `eval` (filter, sort, limit) → `output`
//! (record JSON). Errors travel as positioned diagnostics and are rendered once, in `error`.

use serde_json::{Map, Value};

use error::Diagnostic;

mod ast;
mod error;
mod eval;
mod lexer;
mod like;
mod output;
mod parser;
mod resolve;
#[cfg(test)]
mod tests;

/// Describes one sObject type visible to a query.
#[derive(Debug, Clone, Copy)]
pub struct ObjectSchema {
    /// The canonical API name, e.g. `FlowDefinition`.
    pub name: &'static str,
    /// Scalar fields with their canonical casing. Always includes `Id` where the object has one.
    pub fields: &'static [&'static str],
    /// Relationship name and the API name of the object it points to, e.g.
    /// `("ActiveVersion", "Flow")`.
    pub relationships: &'static [(&'static str, &'static str)],
    /// Fields Salesforce only returns when the result has at most one row
    /// (`Metadata`, `FullName` on Tooling objects).
    pub single_row_fields: &'static [&'static str],
}

/// The objects a query may name, and their rows.
pub trait Catalog {
    /// The schema of `object`, matched case-insensitively; `None` if the type is not visible
    /// on this endpoint.
    fn schema(&self, object: &str) -> Option<&ObjectSchema>;

    /// Every row of `object` (canonical name). Each row is a JSON object keyed by canonical
    /// field names; a relationship is either `null` or a nested row of the target object
    /// (which itself may nest further relationships).
    fn rows(&self, object: &str) -> Vec<Map<String, Value>>;
}

/// The result of a query, before pagination.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// Canonical name of the queried object (`entityTypeName` on Tooling).
    pub object: &'static str,
    /// Records in Salesforce's JSON shape: `attributes` first, then the selected fields in
    /// select order; relationships nested with their own `attributes`.
    pub records: Vec<Value>,
    /// Whether a single-row-only field (`Metadata`, `FullName`) was selected.
    pub selects_single_row_fields: bool,
}

/// Salesforce's error codes for a query the org refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoqlErrorCode {
    MalformedQuery,
    InvalidField,
    InvalidType,
}

impl SoqlErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SoqlErrorCode::MalformedQuery => "MALFORMED_QUERY",
            SoqlErrorCode::InvalidField => "INVALID_FIELD",
            SoqlErrorCode::InvalidType => "INVALID_TYPE",
        }
    }
}

/// A refused query: the code and the full message as Salesforce words it (including the
/// query echo, caret line and `ERROR at Row:1:Column:N` where Salesforce gives them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct SoqlError {
    pub code: SoqlErrorCode,
    pub message: String,
}

/// Parses and evaluates `soql` against `catalog`. `url_prefix` is the sobjects path used in
/// `attributes.url`, e.g. `/services/data/v66.0/tooling/sobjects`.
pub fn run(soql: &str, catalog: &dyn Catalog, url_prefix: &str) -> Result<QueryOutput, SoqlError> {
    if soql.trim().is_empty() {
        return Err(SoqlError {
            code: SoqlErrorCode::MalformedQuery,
            message: "SOQL statements cannot be empty or null".to_owned(),
        });
    }
    execute(soql, catalog, url_prefix).map_err(|diagnostic| diagnostic.render(soql))
}

fn execute(soql: &str, catalog: &dyn Catalog, url_prefix: &str) -> Result<QueryOutput, Diagnostic> {
    let chars: Vec<char> = soql.chars().collect();
    let tokens = lexer::tokenize(&chars)?;
    let query = parser::parse(&tokens)?;
    let object = resolve::object(catalog, &query)?;
    let rows = catalog.rows(object.name);
    let plan = resolve::plan(catalog, object, &query, &rows)?;
    let selected = eval::select_rows(&plan, &rows);
    Ok(QueryOutput {
        object: object.name,
        records: output::records(&plan, &selected, url_prefix),
        selects_single_row_fields: plan.selects_single_row_fields,
    })
}
