//! [`SfError`]: every way a Salesforce call can fail, and which failures are worth retrying.
//!
//! Error bodies are parsed tolerantly: the REST array `[{"errorCode", "message"}]`, a single
//! such object, the OAuth object `{"error", "error_description"}`, or anything else (kept as
//! the first 200 characters). No variant ever holds the client secret or the access token:
//! neither is ever part of a URL, a path or a body the client keeps.

use std::fmt;

use serde_json::Value;

use super::wire::{ApiErrorItem, OAuthErrorBody};

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The request or the body did not complete within the request timeout.
    Timeout,
    /// No connection could be made (DNS, refused, TLS handshake).
    Connect,
    /// The connection was reset or closed before the whole response arrived.
    Interrupted,
    /// Anything else (building the request, redirects): not retried.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Timeout => "timed out",
            TransportKind::Connect => "could not connect",
            TransportKind::Interrupted => "connection interrupted",
            TransportKind::Other => "request failed",
        })
    }
}

/// A failed Salesforce call. Every variant names the org (its configuration name).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SfError {
    /// The client settings cannot work (e.g. plain `http://` to a non-loopback host).
    #[error("org `{org}`: {message}")]
    Config { org: String, message: String },

    /// The token endpoint refused the client-credentials grant.
    #[error(
        "org `{org}`: the token request was refused (HTTP {status}, {error}: {description}){}",
        auth_hint(.error, .description)
    )]
    Auth {
        org: String,
        status: u16,
        /// The OAuth `error` code, e.g. `invalid_client`.
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },

    /// A REST / Tooling call answered with the usual error array.
    #[error("org `{org}`: {path} failed with HTTP {status}: {}", ErrorList(.errors))]
    Api {
        org: String,
        status: u16,
        errors: Vec<ApiErrorItem>,
        path: String,
    },

    /// 403 `REQUEST_LIMIT_EXCEEDED` for the org's daily request limit. Not retried: calls
    /// only burn more of a budget that is already gone.
    #[error(
        "org `{org}`: the org's daily API request limit is exhausted (REQUEST_LIMIT_EXCEEDED: \
         {message}); no further calls will succeed until requests are available again"
    )]
    RequestLimitExceeded { org: String, message: String },

    /// 400 `MALFORMED_QUERY` because `Metadata` or `FullName` was selected on a Tooling query
    /// that returns more than one row.
    #[error(
        "org `{org}`: {path}: Metadata or FullName can only be read one record at a time \
         (MALFORMED_QUERY: {message})"
    )]
    MetadataOneRow {
        org: String,
        path: String,
        message: String,
    },

    /// 401 again right after a new token was minted.
    #[error(
        "org `{org}`: Salesforce refused a freshly minted access token ({message}); check that \
         the app grants the `api` scope and that the Run As user may use the API"
    )]
    SessionInvalid { org: String, message: String },

    /// The request did not get a complete HTTP response.
    #[error("org `{org}`: {path}: {kind}: {message}")]
    Transport {
        org: String,
        path: String,
        kind: TransportKind,
        message: String,
    },

    /// A response arrived but did not have the expected shape.
    #[error("org `{org}`: {path}: unexpected response: expected {expected}: {detail}")]
    Decode {
        org: String,
        path: String,
        expected: String,
        detail: String,
    },

    /// An error status whose body is not a Salesforce error (HTML from a proxy, empty, ...).
    #[error("org `{org}`: {path} failed with HTTP {status}: {body}")]
    Http {
        org: String,
        status: u16,
        path: String,
        /// The first 200 characters of the body.
        body: String,
    },
}

/// Displays a list of error items as `CODE: message; CODE: message`.
struct ErrorList<'a>(&'a [ApiErrorItem]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(no error details)");
        }
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let code = if item.error_code.is_empty() {
                "(no errorCode)"
            } else {
                &item.error_code
            };
            write!(f, "{code}: {}", item.message.trim())?;
            if !item.fields.is_empty() {
                write!(f, " [fields: {}]", item.fields.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Why the token endpoint refused the grant, for the refusals whose cause is known. Each is
/// a setting in the org or in pauseplay's configuration; none goes away by retrying soon,
/// except a new app's that is still propagating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// `invalid_client_id`: the org knows no app with this consumer key.
    UnknownConsumerKey,
    /// `invalid_client`: the key is known and the secret is not its secret.
    WrongConsumerSecret,
    /// `invalid_grant` / "no client credentials user enabled".
    NoRunAsUser,
    /// `invalid_grant` / "request not supported on this domain".
    NotMyDomain,
    /// `unsupported_grant_type`: the app does not allow the client-credentials flow.
    FlowNotEnabled,
    /// `invalid_grant` / "user hasn't approved this consumer".
    NotPreAuthorized,
}

impl TokenRefusal {
    /// The known cause of an OAuth `error` and `error_description`, if any.
    pub fn classify(error: &str, description: &str) -> Option<TokenRefusal> {
        let description = description.to_ascii_lowercase();
        match error {
            "invalid_client_id" => Some(TokenRefusal::UnknownConsumerKey),
            "invalid_client" => Some(TokenRefusal::WrongConsumerSecret),
            "unsupported_grant_type" => Some(TokenRefusal::FlowNotEnabled),
            "invalid_grant" if description.contains("no client credentials user enabled") => {
                Some(TokenRefusal::NoRunAsUser)
            }
            "invalid_grant" if description.contains("request not supported on this domain") => {
                Some(TokenRefusal::NotMyDomain)
            }
            "invalid_grant" if description.contains("hasn't approved this consumer") => {
                Some(TokenRefusal::NotPreAuthorized)
            }
            _ => None,
        }
    }

    /// What it means and what to do, naming the setting to change.
    pub fn advice(self) -> &'static str {
        match self {
            TokenRefusal::UnknownConsumerKey => {
                "the org knows no External Client App with this consumer key: check the org's \
                 `client_id` against the app's Consumer Key and that the org's `url` is this \
                 org's My Domain; an app created or changed in the last ten minutes or so may \
                 not have reached every Salesforce server yet, so wait and try again"
            }
            TokenRefusal::WrongConsumerSecret => {
                "the consumer secret does not match the consumer key: check the org's client \
                 secret (its file, environment variable or credential) against the External \
                 Client App's Consumer Secret; a secret changed in the last ten minutes or so \
                 may not have reached every Salesforce server yet"
            }
            TokenRefusal::NoRunAsUser => {
                "the External Client App has no Run As user for the client-credentials flow: \
                 in its Policies, under the client-credentials flow, set Run As to the \
                 integration user"
            }
            TokenRefusal::NotMyDomain => {
                "the token request went to a host that does not serve this grant: set the \
                 org's `url` to its My Domain URL (https://<domain>.my.salesforce.com, or \
                 https://<domain>--<sandbox>.sandbox.my.salesforce.com for a sandbox), not \
                 login.salesforce.com or test.salesforce.com"
            }
            TokenRefusal::FlowNotEnabled => {
                "the External Client App does not allow the client-credentials flow: select \
                 Enable Client Credentials Flow both in its OAuth settings (under Flow \
                 Enablement) and in its Policies, save, and allow about ten minutes for the \
                 change to apply"
            }
            TokenRefusal::NotPreAuthorized => {
                "the app only admits pre-authorized users and the Run As user is not one: in \
                 the app's Policies, add the user's profile or permission set, or let all \
                 users self-authorize"
            }
        }
    }

    /// The section of `docs/connect-an-org.md` that sets this up.
    pub fn guide_section(self) -> &'static str {
        match self {
            TokenRefusal::UnknownConsumerKey | TokenRefusal::WrongConsumerSecret => {
                "4. Read the consumer key and secret"
            }
            TokenRefusal::NoRunAsUser | TokenRefusal::NotPreAuthorized => "3. Set the Run As user",
            TokenRefusal::NotMyDomain => "6. Tell pauseplay about the org",
            TokenRefusal::FlowNotEnabled => "2. Create the External Client App",
        }
    }
}

/// The advice for a token-endpoint error, as a suffix of the message.
fn auth_hint(error: &str, description: &str) -> String {
    TokenRefusal::classify(error, description)
        .map(|refusal| format!(": {}", refusal.advice()))
        .unwrap_or_default()
}

const SERVER_UNAVAILABLE: &str = "SERVER_UNAVAILABLE";
const UNABLE_TO_LOCK_ROW: &str = "UNABLE_TO_LOCK_ROW";
const UNKNOWN_EXCEPTION: &str = "UNKNOWN_EXCEPTION";
const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";
const MALFORMED_QUERY: &str = "MALFORMED_QUERY";
const INVALID_SESSION_ID: &str = "INVALID_SESSION_ID";
const PROCESSING_HALTED: &str = "PROCESSING_HALTED";

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// The concurrency flavour of `REQUEST_LIMIT_EXCEEDED` ("ConcurrentPerOrgLongTxn Limit
/// exceeded."), which clears as soon as other long requests finish.
fn is_concurrency_limit(item: &ApiErrorItem) -> bool {
    item.error_code == REQUEST_LIMIT_EXCEEDED && contains_ignore_case(&item.message, "Concurrent")
}

/// A composite subrequest that did not fail itself but was rolled back because another one
/// in the same transaction failed ("The transaction was rolled back since another operation
/// in the same transaction failed."). Sent again on its own it may well succeed. The other
/// `PROCESSING_HALTED` ("Invalid reference specified ...") is a fault of the request.
fn is_rolled_back(item: &ApiErrorItem) -> bool {
    item.error_code == PROCESSING_HALTED && contains_ignore_case(&item.message, "rolled back")
}

/// Whether this error item is worth a retry.
fn item_is_transient(item: &ApiErrorItem) -> bool {
    match item.error_code.as_str() {
        SERVER_UNAVAILABLE | UNABLE_TO_LOCK_ROW => true,
        PROCESSING_HALTED => is_rolled_back(item),
        UNKNOWN_EXCEPTION => {
            contains_ignore_case(&item.message, "admin operation already in progress")
        }
        REQUEST_LIMIT_EXCEEDED => is_concurrency_limit(item),
        _ => false,
    }
}

/// Statuses that mean "the platform or a proxy in front of it is briefly unavailable",
/// whatever the body says.
fn status_is_transient(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

impl SfError {
    /// Whether retrying the same request later may succeed.
    ///
    /// The client retries these itself for every call except the deploy POST
    /// ([`OrgClient::deploy_triggers`](super::OrgClient::deploy_triggers)), which returns
    /// them: whether that deploy started is unknown.
    pub fn is_transient(&self) -> bool {
        match self {
            SfError::Transport { kind, .. } => *kind != TransportKind::Other,
            SfError::Api { status, errors, .. } => {
                status_is_transient(*status) || errors.iter().any(item_is_transient)
            }
            SfError::Http { status, .. } => status_is_transient(*status),
            SfError::Config { .. }
            | SfError::Auth { .. }
            | SfError::RequestLimitExceeded { .. }
            | SfError::MetadataOneRow { .. }
            | SfError::SessionInvalid { .. }
            | SfError::Decode { .. } => false,
        }
    }

    /// The known cause of a refused token request, if this is one.
    pub fn token_refusal(&self) -> Option<TokenRefusal> {
        match self {
            SfError::Auth {
                error, description, ..
            } => TokenRefusal::classify(error, description),
            _ => None,
        }
    }

    /// The Salesforce error code: the first `errorCode` of an API error, the OAuth `error` of
    /// a token error, or the code implied by the typed variants.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            SfError::Api { errors, .. } => errors
                .iter()
                .map(|item| item.error_code.as_str())
                .find(|code| !code.is_empty()),
            SfError::Auth { error, .. } => Some(error),
            SfError::RequestLimitExceeded { .. } => Some(REQUEST_LIMIT_EXCEEDED),
            SfError::MetadataOneRow { .. } => Some(MALFORMED_QUERY),
            SfError::SessionInvalid { .. } => Some(INVALID_SESSION_ID),
            SfError::Config { .. }
            | SfError::Transport { .. }
            | SfError::Decode { .. }
            | SfError::Http { .. } => None,
        }
    }

    /// The configuration name of the org the call was made for.
    pub fn org(&self) -> &str {
        match self {
            SfError::Config { org, .. }
            | SfError::Auth { org, .. }
            | SfError::Api { org, .. }
            | SfError::RequestLimitExceeded { org, .. }
            | SfError::MetadataOneRow { org, .. }
            | SfError::SessionInvalid { org, .. }
            | SfError::Transport { org, .. }
            | SfError::Decode { org, .. }
            | SfError::Http { org, .. } => org,
        }
    }

    /// The HTTP status of the failed response, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SfError::Auth { status, .. }
            | SfError::Api { status, .. }
            | SfError::Http { status, .. } => Some(*status),
            SfError::RequestLimitExceeded { .. } => Some(403),
            SfError::MetadataOneRow { .. } => Some(400),
            SfError::SessionInvalid { .. } => Some(401),
            SfError::Config { .. } | SfError::Transport { .. } | SfError::Decode { .. } => None,
        }
    }

    /// A 404 / `NOT_FOUND`: the record or resource does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.error_code() == Some("NOT_FOUND")
    }

    /// A 401 from a REST call: the cached token is expired or revoked.
    pub(crate) fn is_session_expired(&self) -> bool {
        matches!(
            self,
            SfError::Api { status: 401, .. } | SfError::Http { status: 401, .. }
        )
    }

    /// The message of a 401 body, for [`SfError::SessionInvalid`].
    pub(crate) fn session_message(&self) -> String {
        match self {
            SfError::Api { errors, .. } => ErrorList(errors).to_string(),
            SfError::Http { body, .. } => body.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn decode(
        org: &str,
        path: &str,
        expected: impl Into<String>,
        detail: impl fmt::Display,
    ) -> SfError {
        SfError::Decode {
            org: org.to_owned(),
            path: path.to_owned(),
            expected: expected.into(),
            detail: detail.to_string(),
        }
    }
}

/// The first `max` characters of `text` (on a character boundary).
pub(crate) fn prefix(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reads the error items out of a parsed error body: an array of items, a single item, or
/// the OAuth object. `None` when the JSON is none of those.
pub(crate) fn parse_error_items(value: &Value) -> Option<Vec<ApiErrorItem>> {
    fn one(value: &Value) -> Option<ApiErrorItem> {
        let object = value.as_object()?;
        if object.contains_key("errorCode") || object.contains_key("message") {
            return serde_json::from_value(value.clone()).ok();
        }
        if object.contains_key("error") {
            let oauth: OAuthErrorBody = serde_json::from_value(value.clone()).ok()?;
            return Some(ApiErrorItem {
                error_code: oauth.error,
                message: oauth.error_description,
                fields: Vec::new(),
            });
        }
        None
    }
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Object(_) => one(value).map(|item| vec![item]),
        _ => None,
    }
}

/// Builds the typed error for a failed REST / Tooling response from its parsed body.
/// Also used for failed composite items, so both give the same variants.
pub(crate) fn from_error_value(org: &str, path: &str, status: u16, body: &Value) -> SfError {
    let Some(errors) = parse_error_items(body) else {
        let text = match body {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        return SfError::Http {
            org: org.to_owned(),
            status,
            path: path.to_owned(),
            body: prefix(&text, 200),
        };
    };
    if let Some(item) = errors
        .iter()
        .find(|item| item.error_code == REQUEST_LIMIT_EXCEEDED && !is_concurrency_limit(item))
    {
        return SfError::RequestLimitExceeded {
            org: org.to_owned(),
            message: item.message.clone(),
        };
    }
    if let Some(item) = errors.iter().find(|item| {
        item.error_code == MALFORMED_QUERY
            && contains_ignore_case(&item.message, "no more than one row")
    }) {
        return SfError::MetadataOneRow {
            org: org.to_owned(),
            path: path.to_owned(),
            message: item.message.clone(),
        };
    }
    SfError::Api {
        org: org.to_owned(),
        status,
        errors,
        path: path.to_owned(),
    }
}

/// Builds the typed error for a failed REST / Tooling response from its raw body.
pub(crate) fn from_error_response(org: &str, path: &str, status: u16, body: &[u8]) -> SfError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => from_error_value(org, path, status, &value),
        Err(_) => SfError::Http {
            org: org.to_owned(),
            status,
            path: path.to_owned(),
            body: prefix(String::from_utf8_lossy(body).trim(), 200),
        },
    }
}

/// Builds the typed error for a failed token request. 4xx OAuth objects become
/// [`SfError::Auth`]; 5xx and unexpected bodies go through the generic REST parsing, so a
/// 503 from the token endpoint stays transient.
pub(crate) fn from_token_error(org: &str, path: &str, status: u16, body: &[u8]) -> SfError {
    if (400..500).contains(&status)
        && let Ok(oauth) = serde_json::from_slice::<OAuthErrorBody>(body)
    {
        return SfError::Auth {
            org: org.to_owned(),
            status,
            error: oauth.error,
            description: oauth.error_description,
        };
    }
    from_error_response(org, path, status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "prod";
    const PATH: &str = "/services/data/v66.0/query";

    fn api(status: u16, code: &str, message: &str) -> SfError {
        let body = serde_json::json!([{ "errorCode": code, "message": message }]);
        from_error_value(ORG, PATH, status, &body)
    }

    fn transport(kind: TransportKind) -> SfError {
        SfError::Transport {
            org: ORG.into(),
            path: PATH.into(),
            kind,
            message: "x".into(),
        }
    }

    #[test]
    fn parses_array_object_and_non_json_bodies() {
        let array = from_error_response(
            ORG,
            PATH,
            400,
            br#"[ { "message" : "bad", "errorCode" : "INVALID_FIELD", "fields" : ["Foo"] } ]"#,
        );
        assert!(
            matches!(&array, SfError::Api { status: 400, errors, .. } if errors[0].fields == ["Foo"])
        );
        assert_eq!(array.error_code(), Some("INVALID_FIELD"));

        let object = from_error_response(
            ORG,
            PATH,
            404,
            br#"{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}"#,
        );
        assert_eq!(object.error_code(), Some("NOT_FOUND"));
        assert!(object.is_not_found());

        let html = "<html>".to_owned() + &"x".repeat(500);
        let not_json = from_error_response(ORG, PATH, 502, html.as_bytes());
        match &not_json {
            SfError::Http { status, body, .. } => {
                assert_eq!(*status, 502);
                assert!(body.starts_with("<html>"));
                assert!(body.chars().count() <= 201);
            }
            other => panic!("expected Http, got {other:?}"),
        }
        assert!(not_json.is_transient());

        let unknown_json = from_error_response(ORG, PATH, 400, br#"{"weird":true}"#);
        assert!(matches!(unknown_json, SfError::Http { status: 400, .. }));
        let empty = from_error_response(ORG, PATH, 500, b"");
        assert!(matches!(empty, SfError::Http { status: 500, .. }));
        assert!(!empty.is_transient());
    }

    #[test]
    fn classification_table() {
        let cases: Vec<(&str, SfError, bool)> = vec![
            (
                "503 SERVER_UNAVAILABLE",
                api(503, "SERVER_UNAVAILABLE", "Server Unavailable"),
                true,
            ),
            (
                "500 SERVER_UNAVAILABLE",
                api(500, "SERVER_UNAVAILABLE", "Server temporarily unavailable"),
                true,
            ),
            ("502 other code", api(502, "X", "gateway"), true),
            ("504 other code", api(504, "X", "gateway"), true),
            (
                "UNABLE_TO_LOCK_ROW",
                api(400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
                true,
            ),
            (
                "admin operation in progress",
                api(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "admin operation already in progress",
                ),
                true,
            ),
            (
                "other UNKNOWN_EXCEPTION",
                api(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred"),
                false,
            ),
            (
                "ConcurrentPerOrgLongTxn",
                api(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    "ConcurrentPerOrgLongTxn Limit exceeded.",
                ),
                true,
            ),
            (
                "daily limit",
                api(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                false,
            ),
            (
                "NOT_FOUND",
                api(404, "NOT_FOUND", "The requested resource does not exist"),
                false,
            ),
            (
                "MALFORMED_QUERY",
                api(400, "MALFORMED_QUERY", "unexpected token: FROM"),
                false,
            ),
            (
                "one-row rule",
                api(
                    400,
                    "MALFORMED_QUERY",
                    "When retrieving results with Metadata or FullName fields, the query \
                     qualifications must specify no more than one row for retrieval. Result size: 5",
                ),
                false,
            ),
            (
                "INVALID_SESSION_ID",
                api(401, "INVALID_SESSION_ID", "Session expired or invalid"),
                false,
            ),
            (
                "composite item rolled back",
                api(
                    400,
                    "PROCESSING_HALTED",
                    "The transaction was rolled back since another operation in the same \
                     transaction failed.",
                ),
                true,
            ),
            (
                "composite item with a bad reference",
                api(
                    400,
                    "PROCESSING_HALTED",
                    "Invalid reference specified. No value for r1.Id found in r1.",
                ),
                false,
            ),
            ("timeout", transport(TransportKind::Timeout), true),
            ("connect", transport(TransportKind::Connect), true),
            ("reset", transport(TransportKind::Interrupted), true),
            ("other transport", transport(TransportKind::Other), false),
            (
                "decode",
                SfError::decode(ORG, PATH, "a query page", "missing field `done`"),
                false,
            ),
            (
                "auth",
                from_token_error(
                    ORG,
                    "/services/oauth2/token",
                    400,
                    br#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
                ),
                false,
            ),
            (
                "token endpoint 503",
                from_token_error(ORG, "/services/oauth2/token", 503, b"Service Unavailable"),
                true,
            ),
        ];
        for (name, error, transient) in cases {
            assert_eq!(error.is_transient(), transient, "{name}: {error}");
            assert_eq!(error.org(), ORG, "{name}");
        }
    }

    #[test]
    fn typed_variants() {
        let daily = api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        );
        assert!(matches!(daily, SfError::RequestLimitExceeded { .. }));
        assert_eq!(daily.error_code(), Some("REQUEST_LIMIT_EXCEEDED"));
        let concurrent = api(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "ConcurrentPerOrgLongTxn Limit exceeded.",
        );
        assert!(matches!(concurrent, SfError::Api { status: 403, .. }));
        let one_row = api(
            400,
            "MALFORMED_QUERY",
            "When retrieving results with Metadata or FullName fields, the query qualifications \
             must specify no more than one row for retrieval. Result size: 2",
        );
        assert!(matches!(one_row, SfError::MetadataOneRow { .. }));
        assert_eq!(one_row.error_code(), Some("MALFORMED_QUERY"));
        let session = api(401, "INVALID_SESSION_ID", "Session expired or invalid");
        assert!(session.is_session_expired());
    }

    #[test]
    fn oauth_errors_explain_what_to_check() {
        let cases = [
            (
                "invalid_client_id",
                "client identifier invalid",
                "the org knows no External Client App with this consumer key",
            ),
            (
                "invalid_client",
                "invalid client credentials",
                "consumer secret",
            ),
            (
                "invalid_grant",
                "no client credentials user enabled",
                "Run As user",
            ),
            (
                "invalid_grant",
                "request not supported on this domain",
                "My Domain",
            ),
            (
                "unsupported_grant_type",
                "grant type not supported",
                "select Enable Client Credentials Flow",
            ),
            (
                "invalid_grant",
                "authentication failure",
                "invalid_grant: authentication failure",
            ),
            (
                "invalid_grant",
                "user hasn't approved this consumer",
                "pre-authorized users",
            ),
        ];
        for status in [400, 401] {
            for (error, description, expected) in cases {
                let body = serde_json::json!({"error": error, "error_description": description});
                let err = from_token_error(
                    ORG,
                    "/services/oauth2/token",
                    status,
                    body.to_string().as_bytes(),
                );
                let message = err.to_string();
                assert!(matches!(err, SfError::Auth { .. }), "{message}");
                assert!(message.contains(expected), "{message}");
                assert!(message.contains("`prod`"), "{message}");
                assert!(!err.is_transient());
                assert_eq!(err.error_code(), Some(error));
            }
        }
    }

    #[test]
    fn api_error_display_lists_every_item() {
        let body = serde_json::json!([
            {"errorCode": "A", "message": "first", "fields": ["F1", "F2"]},
            {"errorCode": "B", "message": "second"}
        ]);
        let message = from_error_value(ORG, PATH, 400, &body).to_string();
        assert!(
            message.contains("A: first [fields: F1, F2]; B: second"),
            "{message}"
        );
        assert!(message.contains(PATH));
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix("héllo", 2), "hé…");
        assert_eq!(prefix("hi", 200), "hi");
    }
}
