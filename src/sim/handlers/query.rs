//! `GET /query?q=`, `GET /tooling/query?q=` and paging through `nextRecordsUrl`.
//!
//! The standard endpoint answers `{totalSize, done, records[, nextRecordsUrl]}`; Tooling adds
//! `size`, `queryLocator` and `entityTypeName`. `totalSize` is the full count on every page.

use serde_json::{Map, Value, json};

use crate::sim::api::ApiResponse;
use crate::sim::catalog::{Api, OrgCatalog};
use crate::sim::soql;
use crate::sim::state::{Cursor, SimState};

fn malformed(message: impl Into<String>) -> ApiResponse {
    ApiResponse::bad_request("MALFORMED_QUERY", message)
}

/// [INFERRED] code and text: the reference documents the locator form, not its errors.
fn invalid_locator() -> ApiResponse {
    ApiResponse::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
}

fn path_prefix(api: Api, version: &str) -> String {
    match api {
        Api::Standard => format!("/services/data/v{version}"),
        Api::Tooling => format!("/services/data/v{version}/tooling"),
    }
}

pub fn query(
    state: &mut SimState,
    api: Api,
    version: &str,
    soql_text: Option<String>,
) -> ApiResponse {
    let Some(text) = soql_text.filter(|text| !text.trim().is_empty()) else {
        return malformed("SOQL statements cannot be empty or null");
    };
    let url_prefix = format!("{}/sobjects", path_prefix(api, version));
    let output = match soql::run(&text, &OrgCatalog::new(&state.org, api), &url_prefix) {
        Ok(output) => output,
        Err(err) => return ApiResponse::bad_request(err.code.as_str(), err.message),
    };
    // The one-row rule: Metadata and FullName only when the result has at most one row.
    if output.selects_single_row_fields && output.records.len() > 1 {
        return malformed(format!(
            "When retrieving results with Metadata or FullName fields, the query qualifications must specify no more than one row for retrieval. Result size: {}",
            output.records.len()
        ));
    }
    let cursor = Cursor {
        api,
        object: output.object,
        records: output.records,
    };
    let page_size = state.page_size;
    if cursor.records.len() > page_size {
        let snapshot = cursor.clone();
        let locator = state.open_cursor(cursor);
        page(&snapshot, version, Some(&locator), 0, page_size)
    } else {
        page(&cursor, version, None, 0, page_size)
    }
}

pub fn query_more(state: &mut SimState, api: Api, version: &str, locator: &str) -> ApiResponse {
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid_locator();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid_locator();
    };
    let page_size = state.page_size;
    match state.cursor(id) {
        Some(cursor) if cursor.api == api && offset > 0 && offset < cursor.records.len() => {
            page(cursor, version, Some(id), offset, page_size)
        }
        _ => invalid_locator(),
    }
}

/// One page of `cursor` starting at `offset`. `locator` is the cursor id when the result
/// spans more than one page.
fn page(
    cursor: &Cursor,
    version: &str,
    locator: Option<&str>,
    offset: usize,
    page_size: usize,
) -> ApiResponse {
    let total = cursor.records.len();
    let end = (offset + page_size).min(total);
    let records: Vec<Value> = cursor.records.get(offset..end).unwrap_or_default().to_vec();
    let next = match locator {
        Some(id) if end < total => Some(format!("{id}-{end}")),
        _ => None,
    };
    let next_url = next
        .as_ref()
        .map(|next| format!("{}/query/{next}", path_prefix(cursor.api, version)));
    let mut body = Map::new();
    if cursor.api == Api::Tooling {
        // [INFERRED] `size` is the number of records in this answer.
        body.insert("size".to_owned(), json!(records.len()));
    }
    body.insert("totalSize".to_owned(), json!(total));
    body.insert("done".to_owned(), json!(next.is_none()));
    if cursor.api == Api::Tooling {
        body.insert("queryLocator".to_owned(), json!(next));
        body.insert("entityTypeName".to_owned(), json!(cursor.object));
    }
    if let Some(url) = next_url {
        body.insert("nextRecordsUrl".to_owned(), json!(url));
    }
    body.insert("records".to_owned(), Value::Array(records));
    ApiResponse::ok(Value::Object(body))
}
