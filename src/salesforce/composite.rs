//! Tooling `/composite`: up to 25 GET / PATCH subrequests per call, `allOrNone: false`.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use backon::BackoffBuilder;
use futures_util::{StreamExt as _, TryStreamExt as _};
use reqwest::Method;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use super::client::{Call, OrgClient, READS_IN_FLIGHT, encode_segment};
use super::error::{SfError, from_error_value, parse_error_items};
use super::retry::{backoff, delay_cap};
use super::wire::{ApiErrorItem, CompositeRequestBody, CompositeResponseBody, CompositeSubrequest};

/// The most subrequests Salesforce accepts in one composite call.
pub const COMPOSITE_LIMIT: usize = 25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompositeMethod {
    Get,
    Patch,
}

/// One subrequest of [`OrgClient::tooling_composite`]: a GET or PATCH of one Tooling record.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeRequest {
    method: CompositeMethod,
    /// Relative to `/services/data/vNN.0/tooling/`, e.g. `sobjects/ValidationRule/03d…`.
    tooling_path: String,
    reference_id: String,
    body: Option<serde_json::Value>,
}

/// A referenceId: `prefix` + the id with anything but letters, digits and `_` replaced by `_`.
/// It starts with a letter, as Salesforce requires.
fn reference_id(prefix: &str, id: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + id.len());
    out.push_str(prefix);
    out.extend(id.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

impl CompositeRequest {
    /// `GET sobjects/{sobject}/{id}[?fields=…]`; referenceId `get_{id}`.
    pub fn get(sobject: &str, id: &str, fields: &[&str]) -> Self {
        let mut tooling_path = format!(
            "sobjects/{}/{}",
            encode_segment(sobject),
            encode_segment(id)
        );
        if !fields.is_empty() {
            let fields: Vec<String> = fields.iter().map(|field| encode_segment(field)).collect();
            tooling_path.push_str("?fields=");
            tooling_path.push_str(&fields.join(","));
        }
        CompositeRequest {
            method: CompositeMethod::Get,
            tooling_path,
            reference_id: reference_id("get_", id),
            body: None,
        }
    }

    /// `PATCH sobjects/{sobject}/{id}` with `body`; referenceId `patch_{id}`.
    pub fn patch(sobject: &str, id: &str, body: serde_json::Value) -> Self {
        CompositeRequest {
            method: CompositeMethod::Patch,
            tooling_path: format!(
                "sobjects/{}/{}",
                encode_segment(sobject),
                encode_segment(id)
            ),
            reference_id: reference_id("patch_", id),
            body: Some(body),
        }
    }

    /// The referenceId the answer to this subrequest carries.
    pub fn reference_id(&self) -> &str {
        &self.reference_id
    }

    /// `"GET"` or `"PATCH"`.
    pub fn method(&self) -> &'static str {
        match self.method {
            CompositeMethod::Get => "GET",
            CompositeMethod::Patch => "PATCH",
        }
    }

    /// The path relative to `/services/data/vNN.0/tooling/`.
    pub fn tooling_path(&self) -> &str {
        &self.tooling_path
    }
}

/// The answer to one subrequest.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeResponse {
    pub reference_id: String,
    /// The subrequest's own HTTP status (`httpStatusCode`).
    pub status: u16,
    /// The record (GET), `null` (PATCH 204) or the error array.
    pub body: serde_json::Value,
    /// The subrequest's full path, `/services/data/vNN.0/tooling/...`.
    pub path: String,
    org: Arc<str>,
}

impl CompositeResponse {
    /// A response as the client would build it (for tests of code that consumes responses).
    pub fn new(
        org: &str,
        reference_id: impl Into<String>,
        status: u16,
        body: serde_json::Value,
        path: impl Into<String>,
    ) -> Self {
        CompositeResponse {
            reference_id: reference_id.into(),
            status,
            body,
            path: path.into(),
            org: Arc::from(org),
        }
    }

    /// Whether the subrequest succeeded (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error items of a failed subrequest (empty on success or for an unreadable body).
    pub fn errors(&self) -> Vec<ApiErrorItem> {
        if self.is_success() {
            return Vec::new();
        }
        parse_error_items(&self.body).unwrap_or_default()
    }

    /// The subrequest's failure as the typed error a direct call would give, so
    /// [`SfError::is_transient`] works per item. `None` on success.
    pub fn error(&self, org: &str) -> Option<SfError> {
        if self.is_success() {
            return None;
        }
        Some(from_error_value(org, &self.path, self.status, &self.body))
    }

    /// The record of a successful GET, deserialized; the typed error of a failed item.
    pub fn record<T: DeserializeOwned>(&self) -> Result<T, SfError> {
        if let Some(error) = self.error(&self.org) {
            return Err(error);
        }
        serde_json::from_value(self.body.clone()).map_err(|error| {
            SfError::decode(
                &self.org,
                &self.path,
                format!("a record that fits {}", std::any::type_name::<T>()),
                error,
            )
        })
    }
}

/// Splits requests into calls of at most [`COMPOSITE_LIMIT`]; a referenceId that already
/// occurs in the current call starts a new one (Salesforce refuses duplicates in a call).
fn plan_chunks(requests: &[&CompositeRequest]) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut ids: HashSet<&str> = HashSet::new();
    for (index, request) in requests.iter().enumerate() {
        if index - start == COMPOSITE_LIMIT || ids.contains(request.reference_id()) {
            chunks.push(start..index);
            start = index;
            ids.clear();
        }
        ids.insert(request.reference_id());
    }
    if start < requests.len() {
        chunks.push(start..requests.len());
    }
    chunks
}

impl OrgClient {
    /// Sends `requests` through `POST /services/data/vNN.0/tooling/composite` with
    /// `allOrNone: false`, in calls of at most 25: one after another when any request writes,
    /// a few at a time when all of them read. Returns one response per request, in request
    /// order.
    ///
    /// A failed item is returned as an item (see [`CompositeResponse::error`]). Items that
    /// failed transiently (`UNABLE_TO_LOCK_ROW`, "admin operation already in progress", a
    /// rolled-back `PROCESSING_HALTED`, ...) arrive inside a successful call, so the call's
    /// own retry never sees them: they are sent again, on their own, after the same backoff
    /// delays, until they settle or the policy's attempts are used up; what is returned is
    /// each item's last answer. A failed call fails the whole method (after retries if
    /// transient; items of earlier calls may already have been applied).
    pub async fn tooling_composite(
        &self,
        requests: Vec<CompositeRequest>,
    ) -> Result<Vec<CompositeResponse>, SfError> {
        let all: Vec<&CompositeRequest> = requests.iter().collect();
        let mut responses = self.composite_calls(&all).await?;
        let mut delays = backoff(self.retry_policy()).build();
        let cap = delay_cap(self.retry_policy());
        loop {
            let transient: Vec<usize> = responses
                .iter()
                .enumerate()
                .filter(|(_, response)| {
                    response
                        .error(self.org())
                        .is_some_and(|error| error.is_transient())
                })
                .map(|(index, _)| index)
                .collect();
            let Some(&first) = transient.first() else {
                break;
            };
            let Some(delay) = delays.next() else {
                break;
            };
            let delay = delay.min(cap);
            warn!(
                org = self.org(),
                items = transient.len(),
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                first = %responses[first].error(self.org()).map(|error| error.to_string()).unwrap_or_default(),
                "transient errors in tooling composite items; sending those items again"
            );
            tokio::time::sleep(delay).await;
            let again: Vec<&CompositeRequest> =
                transient.iter().map(|&index| &requests[index]).collect();
            let answers = self.composite_calls(&again).await?;
            for (index, answer) in transient.into_iter().zip(answers) {
                responses[index] = answer;
            }
        }
        Ok(responses)
    }

    /// One pass over `requests`: composite calls of at most 25, one answer per request in
    /// request order. Calls that only read are sent concurrently (at most
    /// [`READS_IN_FLIGHT`](super::client::READS_IN_FLIGHT) per org); a call that writes is sent
    /// after the previous one has answered, as the platform wants setup writes serialised.
    async fn composite_calls(
        &self,
        requests: &[&CompositeRequest],
    ) -> Result<Vec<CompositeResponse>, SfError> {
        let chunks = plan_chunks(requests);
        let count = chunks.len();
        let read_only = requests
            .iter()
            .all(|request| request.method == CompositeMethod::Get);
        let calls = chunks.into_iter().enumerate().map(|(number, range)| {
            let chunk = &requests[range];
            async move {
                let _slot = if read_only {
                    self.read_slot().await
                } else {
                    None
                };
                debug!(
                    org = self.org(),
                    call = number + 1,
                    of = count,
                    subrequests = chunk.len(),
                    "tooling composite"
                );
                self.composite_call(chunk).await
            }
        });
        let answers: Vec<Vec<CompositeResponse>> = if read_only {
            futures_util::stream::iter(calls)
                .buffered(READS_IN_FLIGHT)
                .try_collect()
                .await?
        } else {
            let mut answers = Vec::with_capacity(count);
            for call in calls {
                answers.push(call.await?);
            }
            answers
        };
        Ok(answers.into_iter().flatten().collect())
    }

    /// One composite call: the answer to each request in `chunk`, in its order, matched by
    /// referenceId (Salesforce does not promise the order).
    async fn composite_call(
        &self,
        chunk: &[&CompositeRequest],
    ) -> Result<Vec<CompositeResponse>, SfError> {
        let path = self.data_path("/tooling/composite");
        let tooling_prefix = self.data_path("/tooling/");
        let org: Arc<str> = Arc::from(self.org());
        let body = CompositeRequestBody {
            all_or_none: false,
            composite_request: chunk
                .iter()
                .map(|request| CompositeSubrequest {
                    method: request.method(),
                    url: format!("{tooling_prefix}{}", request.tooling_path),
                    reference_id: &request.reference_id,
                    body: request.body.as_ref(),
                })
                .collect(),
        };
        let body = serde_json::to_value(&body).map_err(|error| {
            SfError::decode(self.org(), &path, "a serializable composite request", error)
        })?;
        let reply = self
            .execute(&Call::with_body(Method::POST, path.clone(), &body))
            .await?;
        let answer: CompositeResponseBody = self.decode(&reply, "a compositeResponse array")?;
        let mut by_reference: HashMap<String, (u16, serde_json::Value)> = answer
            .composite_response
            .into_iter()
            .map(|item| (item.reference_id, (item.http_status_code, item.body)))
            .collect();
        chunk
            .iter()
            .map(|request| {
                let (status, body) =
                    by_reference.remove(&request.reference_id).ok_or_else(|| {
                        SfError::decode(
                            self.org(),
                            &path,
                            "one compositeResponse item per subrequest",
                            format!("no item has referenceId {}", request.reference_id),
                        )
                    })?;
                Ok(CompositeResponse {
                    reference_id: request.reference_id.clone(),
                    status,
                    body,
                    path: format!("{tooling_prefix}{}", request.tooling_path),
                    org: Arc::clone(&org),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_ids_start_with_a_letter_and_use_safe_characters() {
        let get =
            CompositeRequest::get("ValidationRule", "03dXX0000000001AAA", &["Id", "Metadata"]);
        assert_eq!(get.reference_id(), "get_03dXX0000000001AAA");
        assert_eq!(
            get.tooling_path(),
            "sobjects/ValidationRule/03dXX0000000001AAA?fields=Id,Metadata"
        );
        let patch = CompositeRequest::patch(
            "FlowDefinition",
            "300XX0000000001AAA",
            serde_json::json!({"Metadata": {"activeVersionNumber": 0}}),
        );
        assert_eq!(patch.reference_id(), "patch_300XX0000000001AAA");
        assert_eq!(patch.method(), "PATCH");
        let odd = CompositeRequest::get("Flow", "a-b.c d", &[]);
        assert_eq!(odd.reference_id(), "get_a_b_c_d");
        for request in [get, patch, odd] {
            let id = request.reference_id();
            assert!(id.starts_with(|c: char| c.is_ascii_alphabetic()));
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
    }

    #[test]
    fn chunks_by_25() {
        let requests: Vec<CompositeRequest> = (0..61)
            .map(|i| CompositeRequest::get("Flow", &format!("301{i:015}"), &[]))
            .collect();
        let requests: Vec<&CompositeRequest> = requests.iter().collect();
        assert_eq!(plan_chunks(&requests), vec![0..25, 25..50, 50..61]);
        assert_eq!(plan_chunks(&requests[..25]), vec![0..25]);
        assert!(plan_chunks(&[]).is_empty());
    }

    #[test]
    fn duplicate_reference_ids_start_a_new_chunk() {
        let a = CompositeRequest::get("Flow", "A", &[]);
        let b = CompositeRequest::get("Flow", "B", &[]);
        let a_patch = CompositeRequest::patch("Flow", "A", serde_json::Value::Null);
        let requests = vec![&a, &b, &a_patch, &a];
        assert_eq!(plan_chunks(&requests), vec![0..3, 3..4]);
    }

    #[test]
    fn failed_items_give_typed_errors() {
        let missing = CompositeResponse::new(
            "prod",
            "get_X",
            404,
            serde_json::json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
            "/services/data/v66.0/tooling/sobjects/Flow/X",
        );
        assert!(!missing.is_success());
        assert_eq!(missing.errors()[0].error_code, "NOT_FOUND");
        let error = missing.error("prod").expect("an error");
        assert!(error.is_not_found());
        assert!(!error.is_transient());
        assert!(missing.record::<serde_json::Value>().is_err());

        let locked = CompositeResponse::new(
            "prod",
            "patch_X",
            400,
            serde_json::json!([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}]),
            "/services/data/v66.0/tooling/sobjects/Flow/X",
        );
        assert!(
            locked
                .error("prod")
                .is_some_and(|error| error.is_transient())
        );

        let ok = CompositeResponse::new("prod", "patch_X", 204, serde_json::Value::Null, "/p");
        assert!(ok.is_success());
        assert!(ok.errors().is_empty());
        assert!(ok.error("prod").is_none());
    }
}
