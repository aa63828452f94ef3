//! Batched reads of single Tooling records through `/tooling/composite`: the one way to read
//! fields Salesforce only returns one row at a time (`Metadata`, `FullName`) without spending
//! one API call per component.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::salesforce::{CompositeRequest, OrgClient, SfError};

/// The outcome of reading records by id.
#[derive(Debug, Default)]
pub struct Records {
    /// Records by the id they were requested with.
    pub found: BTreeMap<String, Value>,
    /// Ids the org answered `NOT_FOUND` for: deleted since they were listed.
    pub gone: Vec<String>,
}

/// Reads `fields` of every record in `ids` with composite GETs of up to 25 subrequests.
///
/// The client already re-sends items that failed transiently, with backoff. Any other
/// per-item failure fails the whole read with that item's error: a component whose state
/// cannot be read must not be classified on a guess.
pub async fn read_records(
    client: &OrgClient,
    sobject: &str,
    ids: &[String],
    fields: &[&str],
) -> Result<Records, SfError> {
    let mut records = Records::default();
    if ids.is_empty() {
        return Ok(records);
    }
    let requests = ids
        .iter()
        .map(|id| CompositeRequest::get(sobject, id, fields))
        .collect();
    let responses = client.tooling_composite(requests).await?;
    for (id, response) in ids.iter().zip(responses) {
        if response.is_success() {
            records.found.insert(id.clone(), response.body);
            continue;
        }
        match response.error(client.org()) {
            Some(error) if error.is_not_found() => records.gone.push(id.clone()),
            Some(error) => return Err(error),
            // A failed item always carries an error; should one not, treat the record as
            // unreadable rather than silently absent.
            None => {
                return Err(SfError::Decode {
                    org: client.org().to_owned(),
                    path: response.path.clone(),
                    expected: format!("a {sobject} record or an error"),
                    detail: format!("HTTP {} with no error body", response.status),
                });
            }
        }
    }
    Ok(records)
}
