//! The JSON shapes Salesforce sends and expects, exactly as they appear on the wire.
//!
//! Everything that (de)serializes Salesforce JSON lives here so the rest of the client deals
//! in Rust types. Parsing is tolerant where the reference marks a shape as inferred: unknown
//! keys are ignored, optional keys may be absent or `null`.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

/// `null` or an absent key become the type's default (an empty string or list).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A whole number sent as `3` or `3.0`: Salesforce types some counts as doubles (e.g.
/// `ApiVersion`), and a client should not break if a number it reads changes form.
fn whole_number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && (0.0..=9.0e15).contains(value))
            // Exact: a whole f64 below 2^53 converts to u64 without loss.
            .map(|value| value as u64)
    });
    whole
        .and_then(|whole| T::try_from(whole).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, got {number}")))
}

/// A string, or a number written as one (`"66.0"` or `66.0`).
fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Number(serde_json::Number),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(text) => text,
        // serde_json prints a whole f64 as `66.0` and an integer as `66`; both parse as
        // an API version.
        Text::Number(number) if number.is_f64() => number.to_string(),
        Text::Number(number) => format!("{number}.0"),
    })
}

/// The success body of `POST /services/oauth2/token` (client-credentials grant).
///
/// There is no `expires_in` and no `refresh_token`: the token lives until Salesforce answers
/// 401 `INVALID_SESSION_ID`.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: SecretString,
    pub instance_url: String,
    /// The identity URL `https://login.salesforce.com/id/{orgId}/{userId}`.
    pub id: String,
}

/// The error body of the token endpoint: a JSON object, not the REST error array.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct OAuthErrorBody {
    pub error: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub error_description: String,
}

/// One entry of a REST / Tooling error body
/// (`[{"message": "...", "errorCode": "...", "fields": [...]}]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiErrorItem {
    #[serde(rename = "errorCode", default, deserialize_with = "null_as_default")]
    pub error_code: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub fields: Vec<String>,
}

/// One page of `/query` or `/tooling/query`. The tooling-only keys (`size`, `queryLocator`,
/// `entityTypeName`) are ignored; records are kept as JSON and converted one by one so a
/// decode error can name the record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryPage {
    pub done: bool,
    #[serde(default)]
    pub next_records_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Vec<serde_json::Value>,
}

/// The body of `POST …/tooling/composite`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompositeRequestBody<'a> {
    pub all_or_none: bool,
    pub composite_request: Vec<CompositeSubrequest<'a>>,
}

/// One subrequest inside a composite call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompositeSubrequest<'a> {
    pub method: &'static str,
    /// The full path, `/services/data/vNN.0/tooling/...`.
    pub url: String,
    pub reference_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a serde_json::Value>,
}

/// The body of a composite answer (always HTTP 200; per-item statuses inside).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompositeResponseBody {
    pub composite_response: Vec<CompositeResponseItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompositeResponseItem {
    #[serde(default)]
    pub body: serde_json::Value,
    #[serde(deserialize_with = "whole_number")]
    pub http_status_code: u16,
    pub reference_id: String,
}

/// `GET /services/data/vNN.0/limits`: only the entry pauseplay needs.
#[derive(Debug, Deserialize)]
pub(crate) struct LimitsBody {
    #[serde(rename = "DailyApiRequests")]
    pub daily_api_requests: LimitEntry,
}

/// `{"Max": 15000, "Remaining": 14998, ...per-app sub-objects}`.
#[derive(Debug, Deserialize)]
pub(crate) struct LimitEntry {
    #[serde(rename = "Max", deserialize_with = "whole_number")]
    pub max: u64,
    #[serde(rename = "Remaining", deserialize_with = "whole_number")]
    pub remaining: u64,
}

/// One entry of `GET /services/data`:
/// `{"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version as Salesforce spells it (a string such as `"66.0"`; a number is accepted
    /// and kept in the same form).
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub label: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub url: String,
}

impl VersionInfo {
    /// The version as an [`ApiVersion`](super::ApiVersion), if it has the usual `NN.0` form.
    pub fn api_version(&self) -> Option<super::ApiVersion> {
        self.version.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_items_tolerate_missing_and_null_keys() {
        let items: Vec<ApiErrorItem> = serde_json::from_str(
            r#"[{"message":"m","errorCode":"X"},{"message":"n","errorCode":"Y","fields":null},
                {"errorCode":"Z","fields":["Name"]},{}]"#,
        )
        .expect("parses");
        assert_eq!(items[0].error_code, "X");
        assert!(items[1].fields.is_empty());
        assert_eq!(items[2].fields, vec!["Name".to_owned()]);
        assert_eq!(items[3], ApiErrorItem::default());
    }

    #[test]
    fn query_pages_ignore_tooling_keys() {
        let page: QueryPage = serde_json::from_str(
            r#"{"size":1,"totalSize":3,"done":false,"queryLocator":"01g-1","entityTypeName":"Flow",
                "nextRecordsUrl":"/services/data/v66.0/tooling/query/01g-1","records":[{"Id":"1"}]}"#,
        )
        .expect("parses");
        assert!(!page.done);
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.next_records_url.as_deref(),
            Some("/services/data/v66.0/tooling/query/01g-1")
        );
    }

    #[test]
    fn numbers_may_be_sent_as_doubles() {
        let limits: LimitsBody = serde_json::from_str(
            r#"{"DailyApiRequests":{"Max":15000.0,"Remaining":14998,"Salesforce CLI":{"Max":0,"Remaining":0}}}"#,
        )
        .expect("parses");
        assert_eq!(limits.daily_api_requests.max, 15000);
        assert_eq!(limits.daily_api_requests.remaining, 14998);
        let item: CompositeResponseItem =
            serde_json::from_str(r#"{"body":null,"httpStatusCode":204.0,"referenceId":"r1"}"#)
                .expect("parses");
        assert_eq!(item.http_status_code, 204);
        for bad in ["14998.5", "-1", "1e300", "\"12\""] {
            let text = format!(r#"{{"DailyApiRequests":{{"Max":1,"Remaining":{bad}}}}}"#);
            assert!(serde_json::from_str::<LimitsBody>(&text).is_err(), "{bad}");
        }
        let status = r#"{"httpStatusCode":70000,"referenceId":"r"}"#;
        assert!(serde_json::from_str::<CompositeResponseItem>(status).is_err());
    }

    #[test]
    fn versions_may_be_strings_or_numbers() {
        let versions: Vec<VersionInfo> =
            serde_json::from_str(r#"[{"version":66.0},{"version":67},{"version":"68.0"}]"#)
                .expect("parses");
        let parsed: Vec<_> = versions.iter().map(VersionInfo::api_version).collect();
        assert_eq!(
            parsed,
            [66, 67, 68].map(|major| Some(super::super::ApiVersion::new(major)))
        );
    }

    #[test]
    fn versions_parse() {
        let versions: Vec<VersionInfo> = serde_json::from_str(
            r#"[{"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"}]"#,
        )
        .expect("parses");
        assert_eq!(
            versions[0].api_version(),
            Some(super::super::ApiVersion::new(66))
        );
    }
}
