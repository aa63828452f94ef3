//! Batched reads of single Tooling records through `/tooling/composite`: the one way to read
//! fields Salesforce only returns one row at a time (`Metadata`, `FullName`) without spending
//! one API call per component.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::salesforce::{CompositeRequest, OrgClient, SfError};

/// How many rounds a record whose read failed transiently is retried inside one batch read.
/// The client already retries whole composite calls; this covers per-item failures such as
/// `UNABLE_TO_LOCK_ROW` that arrive inside a successful composite response.
const ITEM_ROUNDS: usize = 3;

/// The outcome of reading records by id.
#[derive(Debug, Default)]
pub struct Records {
    /// Records by id.
    pub found: BTreeMap<String, Value>,
    /// Ids the org answered `404 NOT_FOUND` for: deleted since they were listed.
    pub gone: Vec<String>,
}

/// Reads `fields` of every record in `ids` with composite GETs of up to 25 subrequests.
///
/// A permanent per-item failure fails the whole read with that item's error: a component whose
/// state cannot be read must not be classified on a guess.
pub async fn read_records(
    client: &OrgClient,
    sobject: &str,
    ids: &[String],
    fields: &[&str],
) -> Result<Records, SfError> {
    let mut records = Records::default();
    let mut pending: Vec<String> = ids.to_vec();
    for round in 1..=ITEM_ROUNDS {
        if pending.is_empty() {
            break;
        }
        let requests = pending
            .iter()
            .map(|id| CompositeRequest::get(sobject, id, fields))
            .collect();
        let responses = client.tooling_composite(requests).await?;
        let mut retry = Vec::new();
        for (id, response) in pending.iter().zip(responses) {
            if response.is_success() {
                records.found.insert(id.clone(), response.body);
                continue;
            }
            if response.status == 404 {
                records.gone.push(id.clone());
                continue;
            }
            let Some(error) = response.error(client.org()) else {
                continue;
            };
            if error.is_transient() && round < ITEM_ROUNDS {
                retry.push(id.clone());
            } else {
                return Err(error);
            }
        }
        pending = retry;
    }
    Ok(records)
}
