//! Query diagnostics and their rendering into Salesforce's error text.
//!
//! Every stage (lexer, parser, resolver) reports a [`Diagnostic`] that knows *where* the
//! problem is as a character offset into the query; only [`Diagnostic::render`] turns that into
//! the `ERROR at Row:R:Column:C` caret form, so positions are computed in one place.

use super::{SoqlError, SoqlErrorCode};

/// A refusal found while processing a query, not yet rendered against the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Diagnostic {
    code: SoqlErrorCode,
    /// Character offset (not byte offset) of the offending token; `None` for the errors
    /// Salesforce reports without a caret.
    at: Option<usize>,
    detail: String,
}

impl Diagnostic {
    pub(super) fn at(code: SoqlErrorCode, at: usize, detail: impl Into<String>) -> Self {
        Diagnostic {
            code,
            at: Some(at),
            detail: detail.into(),
        }
    }

    pub(super) fn plain(code: SoqlErrorCode, detail: impl Into<String>) -> Self {
        Diagnostic {
            code,
            at: None,
            detail: detail.into(),
        }
    }

    pub(super) fn malformed_at(at: usize, detail: impl Into<String>) -> Self {
        Self::at(SoqlErrorCode::MalformedQuery, at, detail)
    }

    /// A construct that is valid SOQL but deliberately outside the simulator's subset.
    pub(super) fn unsupported(at: usize, what: &str) -> Self {
        Self::malformed_at(at, format!("{what} is not supported by the simulated org"))
    }

    pub(super) fn render(self, query: &str) -> SoqlError {
        let message = match self.at {
            Some(at) => caret_message(query, at, &self.detail),
            None => self.detail,
        };
        SoqlError {
            code: self.code,
            message,
        }
    }
}

/// Salesforce echoes the row that holds the error, puts a caret under the offending column
/// and gives 1-based row and column numbers.
fn caret_message(query: &str, at: usize, detail: &str) -> String {
    let mut row = 1;
    let mut line_start = 0;
    for (index, ch) in query.chars().enumerate().take(at) {
        if ch == '\n' {
            row += 1;
            line_start = index + 1;
        }
    }
    let line: String = query
        .chars()
        .skip(line_start)
        .take_while(|&ch| ch != '\n')
        .collect();
    let line = line.strip_suffix('\r').unwrap_or(&line);
    let column = at - line_start + 1;
    let padding = " ".repeat(column - 1);
    format!("\n{line}\n{padding}^\nERROR at Row:{row}:Column:{column}\n{detail}")
}
