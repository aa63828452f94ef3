//! `POST /services/data/vNN.0/tooling/composite`.
//!
//! Up to 25 subrequests, each a full `/services/data/vNN.0/tooling/...` path, run in order
//! through the same dispatcher as top-level requests. The answer is always 200 with one
//! `compositeResponse` item per subrequest. With `allOrNone`, the first failure rolls the org
//! back and every other item reports `PROCESSING_HALTED`. The whole call counts as one API
//! request.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::sim::api::{self, ApiRequest, ApiResponse, Dispatch, Route};
use crate::sim::state::{SimState, counter};

const MAX_SUBREQUESTS: usize = 25;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompositeBody {
    #[serde(rename = "allOrNone", default)]
    all_or_none: bool,
    #[serde(rename = "collateSubrequests", default)]
    _collate_subrequests: Option<bool>,
    #[serde(rename = "compositeRequest")]
    requests: Vec<SubRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubRequest {
    method: String,
    url: String,
    #[serde(rename = "referenceId")]
    reference_id: String,
    #[serde(default)]
    body: Option<Value>,
    /// Accepted and ignored: the sim has no conditional requests.
    #[serde(rename = "httpHeaders", default)]
    _http_headers: Option<Map<String, Value>>,
}

/// Whether a composite body contains a PATCH (which makes the composite a write).
pub fn has_patch(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    value
        .get("compositeRequest")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().any(|item| {
                item.get("method")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.eq_ignore_ascii_case("PATCH"))
            })
        })
}

/// How many subrequests a composite body carries (0 when it is unreadable), for the server's
/// per-item cost (`faults.subrequest_cost`).
pub fn subrequests(body: &[u8]) -> usize {
    serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(|value| value.get("compositeRequest"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn valid_reference_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `path` is a Tooling resource under a served version. [INFERRED] The reference
/// only shows Tooling subrequests in `/tooling/composite`; the sim refuses any other path.
fn is_tooling_path(path: &str) -> bool {
    let tooling = path
        .strip_prefix("/services/data/v")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| tail.starts_with("tooling/"));
    tooling && api::route(path) != Route::UnknownVersion
}

fn item(response: ApiResponse, reference_id: &str) -> Value {
    json!({
        "body": response.body,
        "httpHeaders": {},
        "httpStatusCode": response.status.as_u16(),
        "referenceId": reference_id,
    })
}

fn halted(reference_id: &str) -> Value {
    item(
        ApiResponse::bad_request(
            "PROCESSING_HALTED",
            "The transaction was rolled back since another operation in the same transaction failed.",
        ),
        reference_id,
    )
}

pub fn composite(
    state: &mut SimState,
    _version: &str,
    body: &[u8],
    context: Dispatch,
) -> ApiResponse {
    let request: CompositeBody = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => return ApiResponse::bad_request("JSON_PARSER_ERROR", err.to_string()),
    };
    if request.requests.is_empty() {
        // [INFERRED] The reference gives no answer for an empty composite; the sim refuses
        // it rather than answer an empty 200 that a real org might not.
        return ApiResponse::bad_request(
            "INVALID_INPUT",
            "compositeRequest must contain at least one subrequest",
        );
    }
    if request.requests.len() > MAX_SUBREQUESTS {
        // [INFERRED] message wording.
        return ApiResponse::bad_request(
            "LIMIT_EXCEEDED",
            format!(
                "A composite request can contain at most {MAX_SUBREQUESTS} subrequests; this one has {}",
                request.requests.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for sub in &request.requests {
        if !valid_reference_id(&sub.reference_id) {
            return ApiResponse::bad_request(
                "INVALID_INPUT",
                format!(
                    "Provided referenceId ('{}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').",
                    sub.reference_id
                ),
            );
        }
        // [INFERRED] duplicate referenceIds are refused (the reference shows only unique ones).
        if !seen.insert(sub.reference_id.as_str()) {
            return ApiResponse::bad_request(
                "INVALID_INPUT",
                format!(
                    "Duplicate referenceId provided in the request: {}",
                    sub.reference_id
                ),
            );
        }
        let path = sub.url.split('?').next().unwrap_or_default();
        if !is_tooling_path(path) {
            return ApiResponse::bad_request(
                "INVALID_INPUT",
                format!(
                    "The url of subrequest {} must be a Tooling resource path such as /services/data/v66.0/tooling/sobjects/..., got {}",
                    sub.reference_id, sub.url
                ),
            );
        }
    }

    let backup = request.all_or_none.then(|| state.org.clone());
    let mut results = Vec::with_capacity(request.requests.len());
    let mut failed_at = None;
    for (index, sub) in request.requests.iter().enumerate() {
        state.count(counter::COMPOSITE_SUBREQUEST);
        if request.all_or_none && failed_at.is_some() {
            results.push(halted(&sub.reference_id));
            continue;
        }
        let response = run_subrequest(state, sub, context);
        if !response.is_success() && failed_at.is_none() {
            failed_at = Some(index);
        }
        results.push(item(response, &sub.reference_id));
    }
    if let (Some(failed), Some(backup)) = (failed_at, backup) {
        state.org = backup;
        for (index, (result, sub)) in results.iter_mut().zip(&request.requests).enumerate() {
            if index != failed {
                *result = halted(&sub.reference_id);
            }
        }
    }
    ApiResponse::ok(json!({ "compositeResponse": results }))
}

fn run_subrequest(state: &mut SimState, sub: &SubRequest, context: Dispatch) -> ApiResponse {
    let Ok(method) = Method::from_bytes(sub.method.as_bytes()) else {
        return ApiResponse::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("HTTP Method '{}' not allowed", sub.method),
        );
    };
    let (path, query) = match sub.url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (sub.url.as_str(), None),
    };
    let body = match &sub.body {
        Some(body) => serde_json::to_vec(body).unwrap_or_default(),
        None => Vec::new(),
    };
    api::dispatch(
        state,
        &ApiRequest {
            method: &method,
            path,
            query,
            body: &body,
            upload: None,
        },
        Dispatch {
            in_composite: true,
            ..context
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn reference_ids_and_paths() {
        assert!(valid_reference_id("r300Dn0000"));
        assert!(valid_reference_id("1_a"));
        assert!(!valid_reference_id("_a"));
        assert!(!valid_reference_id("a-b"));
        assert!(!valid_reference_id(""));
        assert!(is_tooling_path(
            "/services/data/v66.0/tooling/sobjects/Flow/x"
        ));
        assert!(!is_tooling_path("/services/data/v66.0/query"));
        assert!(!is_tooling_path("/services/data/v12.0/tooling/query"));
        assert!(!is_tooling_path("v66.0/tooling/query"));
        assert!(has_patch(br#"{"compositeRequest":[{"method":"patch"}]}"#));
        assert!(!has_patch(br#"{"compositeRequest":[{"method":"GET"}]}"#));
    }
}
