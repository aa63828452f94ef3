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

/// A boolean sent as `true` or as `"true"` (the deployRequest doc example quotes them);
/// `null` or absent is `false`.
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(value)) => Ok(value),
        Some(serde_json::Value::String(text)) => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(true),
            t if t.eq_ignore_ascii_case("false") || t.is_empty() => Ok(false),
            other => Err(D::Error::custom(format!(
                "expected a boolean, got {other:?}"
            ))),
        },
        Some(other) => Err(D::Error::custom(format!("expected a boolean, got {other}"))),
    }
}

/// A whole number from a JSON number (`3`, `3.0`) or a string (`"3"`, `"3.0"`).
fn whole_from_value(value: &serde_json::Value) -> Result<Option<u64>, String> {
    let from_f64 = |value: f64| {
        (value.fract() == 0.0 && (0.0..=9.0e15).contains(&value)).then_some(value as u64)
    };
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().and_then(from_f64))
            .map(Some)
            .ok_or_else(|| format!("expected a whole number, got {number}")),
        serde_json::Value::String(text) if text.trim().is_empty() => Ok(None),
        serde_json::Value::String(text) => {
            let text = text.trim();
            text.parse::<u64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(from_f64))
                .map(Some)
                .ok_or_else(|| format!("expected a whole number, got {text:?}"))
        }
        other => Err(format!("expected a whole number, got {other}")),
    }
}

/// A count sent as a number or a string; `null` or absent is 0.
fn lenient_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None => Ok(0),
        Some(value) => Ok(whole_from_value(&value)
            .map_err(D::Error::custom)?
            .unwrap_or(0)),
    }
}

/// An optional position (line, column) sent as a number, a string or `null`.
fn lenient_position<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None => Ok(None),
        Some(value) => whole_from_value(&value)
            .map_err(D::Error::custom)?
            .map(|whole| u32::try_from(whole).map_err(|_| D::Error::custom("position too large")))
            .transpose(),
    }
}

/// Text that may arrive as a string, a number or a boolean; `null` or absent is empty.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text,
            Some(other) => other.to_string(),
        },
    )
}

/// Optional text; `null`, absent or empty is `None`.
fn lenient_optional_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = lenient_text(deserializer)?;
    Ok((!text.trim().is_empty()).then_some(text))
}

/// A list that a SOAP-to-JSON conversion may send as an array, as a single bare object (one
/// element) or as `null`.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(D::Error::custom))
            .collect(),
        Some(one) => Ok(vec![serde_json::from_value(one).map_err(D::Error::custom)?]),
    }
}

/// The `json` part of `POST …/metadata/deployRequest`. Field order is the documented
/// (alphabetical) order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeployRequestJson<'a> {
    pub deploy_options: DeployOptionsJson<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeployOptionsJson<'a> {
    pub allow_missing_files: bool,
    pub auto_update_package: bool,
    pub check_only: bool,
    pub ignore_warnings: bool,
    pub perform_retrieve: bool,
    pub purge_on_delete: bool,
    pub rollback_on_error: bool,
    /// Only with `RunSpecifiedTests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_tests: Option<&'a [String]>,
    pub single_package: bool,
    pub test_level: &'static str,
}

/// The 201 body of the deploy POST and the 200 body of a poll: `{"id", "deployResult": …}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeployRequestBody {
    #[serde(default, deserialize_with = "lenient_optional_text")]
    pub id: Option<String>,
    #[serde(default)]
    pub deploy_result: Option<DeployResultBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeployResultBody {
    #[serde(default, deserialize_with = "lenient_optional_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub done: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub success: bool,
    #[serde(default, deserialize_with = "lenient_count")]
    pub number_tests_completed: u64,
    #[serde(default, deserialize_with = "lenient_optional_text")]
    pub error_message: Option<String>,
    #[serde(default, deserialize_with = "lenient_optional_text")]
    pub error_status_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_optional_text")]
    pub state_detail: Option<String>,
    #[serde(default)]
    pub details: Option<DeployDetailsBody>,
    /// Usually `null` here (the results are in `details`); the doc example spells it
    /// `runTestResults`.
    #[serde(default, alias = "runTestResults")]
    pub run_test_result: Option<RunTestResultBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeployDetailsBody {
    #[serde(default, deserialize_with = "one_or_many")]
    pub component_failures: Vec<ComponentMessageBody>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub component_successes: Vec<ComponentMessageBody>,
    #[serde(default, alias = "runTestResults")]
    pub run_test_result: Option<RunTestResultBody>,
}

/// One `componentFailures` / `componentSuccesses` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComponentMessageBody {
    /// Empty for the `package.xml` entry.
    #[serde(default, deserialize_with = "lenient_text")]
    pub component_type: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub full_name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub file_name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub problem: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub problem_type: String,
    #[serde(default, deserialize_with = "lenient_position")]
    pub line_number: Option<u32>,
    #[serde(default, deserialize_with = "lenient_position")]
    pub column_number: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunTestResultBody {
    #[serde(default, deserialize_with = "lenient_count")]
    pub num_tests_run: u64,
    #[serde(default, deserialize_with = "one_or_many")]
    pub failures: Vec<TestFailureBody>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub code_coverage_warnings: Vec<CoverageWarningBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestFailureBody {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub method_name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CoverageWarningBody {
    #[serde(default, deserialize_with = "lenient_text")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub message: String,
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
