//! The authenticated REST/Tooling API below `/services/data/vNN.0/`, independent of HTTP.
//!
//! [`dispatch`] routes one request (method, path, query string, body) to its handler and
//! returns status and JSON body. The HTTP layer (`server.rs`) calls it after authentication,
//! limits and faults; the composite handler calls it for each subrequest, which is how
//! subrequests behave exactly like top-level requests.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::catalog::Api;
use super::handlers::deploy::UploadResult;
use super::handlers::{composite, deploy, query, sobjects};
use super::state::{SimState, counter};

/// API versions served, oldest first, with their release names.
pub const VERSIONS: &[(&str, &str)] = &[
    ("65.0", "Winter '26"),
    ("66.0", "Spring '26"),
    ("67.0", "Summer '26"),
    ("68.0", "Winter '27"),
];

/// A JSON answer: status and body (`None` for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl ApiResponse {
    pub fn ok(body: Value) -> Self {
        ApiResponse {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    pub fn no_content() -> Self {
        ApiResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }

    /// Salesforce's REST error: a JSON array with one `{message, errorCode}`.
    pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiResponse {
            status,
            body: Some(json!([{ "message": message.into(), "errorCode": code }])),
        }
    }

    pub fn not_found() -> Self {
        ApiResponse::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        ApiResponse::error(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// One request to the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    /// The full path, `/services/data/v66.0/...`.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The multipart parts of a deploy request, read by the HTTP layer.
    pub upload: Option<&'a UploadResult>,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/services/data/vNN.0` with NN not served, or anything outside the API.
    UnknownVersion,
    Resources {
        version: &'a str,
    },
    Limits,
    Query {
        api: Api,
        version: &'a str,
    },
    QueryMore {
        api: Api,
        version: &'a str,
        locator: &'a str,
    },
    SObject {
        object: &'a str,
        id: &'a str,
        version: &'a str,
    },
    Composite {
        version: &'a str,
    },
    /// `metadata/deployRequest`.
    DeployRequest {
        version: &'a str,
    },
    /// `metadata/deployRequest/{id}`.
    DeployStatus {
        id: &'a str,
    },
    NotFound,
}

/// Resolves a path below `/services/data/`.
pub fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/services/data/") else {
        return Route::UnknownVersion;
    };
    let (version_segment, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(version) = version_segment
        .strip_prefix('v')
        .filter(|v| VERSIONS.iter().any(|(served, _)| served == v))
    else {
        return Route::UnknownVersion;
    };
    let segments: Vec<&str> = if tail.is_empty() {
        Vec::new()
    } else {
        tail.split('/').collect()
    };
    match segments.as_slice() {
        [] | [""] => Route::Resources { version },
        ["limits"] | ["limits", ""] => Route::Limits,
        ["query"] | ["query", ""] => Route::Query {
            api: Api::Standard,
            version,
        },
        ["query", locator] => Route::QueryMore {
            api: Api::Standard,
            version,
            locator,
        },
        ["tooling", "query"] | ["tooling", "query", ""] => Route::Query {
            api: Api::Tooling,
            version,
        },
        ["tooling", "query", locator] => Route::QueryMore {
            api: Api::Tooling,
            version,
            locator,
        },
        ["tooling", "sobjects", object, id] if !id.is_empty() => Route::SObject {
            object,
            id,
            version,
        },
        ["tooling", "composite"] => Route::Composite { version },
        ["metadata", "deployRequest"] => Route::DeployRequest { version },
        ["metadata", "deployRequest", id] if !id.is_empty() => Route::DeployStatus { id },
        _ => Route::NotFound,
    }
}

/// Whether a request changes the org (and so takes part in admin conflicts).
pub fn is_write(method: &Method, path: &str, body: &[u8]) -> bool {
    match route(path) {
        Route::SObject { .. } => method == Method::PATCH,
        Route::Composite { .. } if method == Method::POST => composite::has_patch(body),
        _ => false,
    }
}

/// Context of a dispatch that the handlers cannot see themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dispatch {
    /// Another write was in progress when this request arrived: its PATCHes are refused with
    /// "admin operation already in progress".
    pub admin_conflict: bool,
    /// The request is a composite subrequest (composites do not nest).
    pub in_composite: bool,
}

/// 405 with Salesforce's wording ([INFERRED]: the reference lists the status, not the body).
pub fn method_not_allowed(method: &Method, allowed: &str) -> ApiResponse {
    ApiResponse::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}

/// `UNKNOWN_EXCEPTION` "admin operation already in progress" (reported for parallel Tooling
/// writes to setup entities).
fn admin_conflict() -> ApiResponse {
    ApiResponse::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN_EXCEPTION",
        "admin operation already in progress",
    )
}

/// Routes one authenticated, admitted request.
pub fn dispatch(state: &mut SimState, request: &ApiRequest<'_>, context: Dispatch) -> ApiResponse {
    let method = request.method;
    let is_get = method == Method::GET || method == Method::HEAD;
    match route(request.path) {
        Route::UnknownVersion | Route::NotFound => {
            state.count(counter::NOT_FOUND);
            ApiResponse::not_found()
        }
        Route::Resources { version } => {
            state.count(counter::RESOURCES);
            if !is_get {
                return method_not_allowed(method, "GET,HEAD");
            }
            resources(version)
        }
        Route::Limits => {
            state.count(counter::LIMITS);
            if !is_get {
                return method_not_allowed(method, "GET,HEAD");
            }
            limits(state)
        }
        Route::Query { api, version } => {
            state.count(match api {
                Api::Standard => counter::QUERY,
                Api::Tooling => counter::TOOLING_QUERY,
            });
            if !is_get {
                return method_not_allowed(method, "GET,HEAD");
            }
            query::query(state, api, version, query_param(request.query, "q"))
        }
        Route::QueryMore {
            api,
            version,
            locator,
        } => {
            state.count(counter::QUERY_MORE);
            if !is_get {
                return method_not_allowed(method, "GET,HEAD");
            }
            query::query_more(state, api, version, locator)
        }
        Route::SObject {
            object,
            id,
            version,
        } => {
            if is_get {
                state.count(counter::SOBJECT_GET);
                sobjects::get(
                    state,
                    version,
                    object,
                    id,
                    query_param(request.query, "fields"),
                )
            } else if method == Method::PATCH {
                if context.admin_conflict {
                    // An injected fault, like a transient error: it never reaches the
                    // endpoint, so it counts in the fault counters, not in `sobject_patch`.
                    state.count(counter::ADMIN_CONFLICTS);
                    state.count(counter::FAULTS_INJECTED);
                    return admin_conflict();
                }
                state.count(counter::SOBJECT_PATCH);
                sobjects::patch(state, object, id, request.body)
            } else {
                method_not_allowed(method, "GET,HEAD,PATCH")
            }
        }
        Route::Composite { version } => {
            if context.in_composite {
                return ApiResponse::bad_request(
                    "INVALID_INPUT",
                    "A composite subrequest cannot be another composite request",
                );
            }
            state.count(counter::COMPOSITE);
            if method != Method::POST {
                return method_not_allowed(method, "POST");
            }
            composite::composite(state, version, request.body, context)
        }
        Route::DeployRequest { version } => {
            if method != Method::POST {
                state.count(counter::DEPLOY_REQUEST);
                return method_not_allowed(method, "POST");
            }
            deploy::create(state, version, request.upload)
        }
        Route::DeployStatus { id } => {
            if !is_get {
                state.count(counter::DEPLOY_POLL);
                return method_not_allowed(method, "GET,HEAD");
            }
            let details = query_param(request.query, "includeDetails").as_deref() == Some("true");
            deploy::status(state, id, details)
        }
    }
}

/// The first value of `name` in a form-encoded query string (`+` and `%20` are spaces).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `GET /services/data` (no authentication).
pub fn versions() -> Value {
    Value::Array(
        VERSIONS
            .iter()
            .map(|(version, label)| {
                json!({ "label": label, "url": format!("/services/data/v{version}"), "version": version })
            })
            .collect(),
    )
}

fn resources(version: &str) -> ApiResponse {
    let base = format!("/services/data/v{version}");
    ApiResponse::ok(json!({
        "limits": format!("{base}/limits"),
        "query": format!("{base}/query"),
        "sobjects": format!("{base}/sobjects"),
        "tooling": format!("{base}/tooling"),
    }))
}

fn limits(state: &SimState) -> ApiResponse {
    let remaining = state.api_max.saturating_sub(state.api_used);
    ApiResponse::ok(json!({
        "DailyApiRequests": { "Max": state.api_max, "Remaining": remaining },
        "DailyAsyncApexExecutions": { "Max": 250000, "Remaining": 250000 },
        "DailyBulkApiRequests": { "Max": 15000, "Remaining": 15000 },
        "DailyMetadataRetrievesWithBooleanFilter": { "Max": 50, "Remaining": 50 },
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/services/data/v64.0/limits"), Route::UnknownVersion);
        assert_eq!(route("/services/data/v66.0/limits/"), Route::Limits);
        assert_eq!(
            route("/services/data/v66.0/tooling/query/"),
            Route::Query {
                api: Api::Tooling,
                version: "66.0"
            }
        );
        assert_eq!(
            route("/services/data/v68.0/query/01gX-2000"),
            Route::QueryMore {
                api: Api::Standard,
                version: "68.0",
                locator: "01gX-2000"
            }
        );
        assert_eq!(
            route("/services/data/v66.0/tooling/sobjects/Flow/301"),
            Route::SObject {
                object: "Flow",
                id: "301",
                version: "66.0"
            }
        );
        assert_eq!(
            route("/services/data/v66.0/sobjects/Account"),
            Route::NotFound
        );
        assert_eq!(
            query_param(Some("q=SELECT+Id%20FROM+User&x=1"), "q").as_deref(),
            Some("SELECT Id FROM User")
        );
    }
}
