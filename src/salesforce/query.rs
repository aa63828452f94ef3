//! SOQL queries on `/query` and `/tooling/query`, following every `nextRecordsUrl`.

use std::collections::HashSet;

use serde::de::DeserializeOwned;

use super::client::{Call, OrgClient};
use super::error::SfError;
use super::wire::QueryPage;

impl OrgClient {
    /// Runs `soql` on the standard `/query` endpoint and returns every record of every page.
    ///
    /// Records deserialize into the caller's type (`attributes` is ignored unless the type
    /// refuses unknown fields); relationship fields arrive as nested objects or `null`.
    pub async fn query<T: DeserializeOwned>(&self, soql: &str) -> Result<Vec<T>, SfError> {
        self.query_all(self.data_path("/query"), soql).await
    }

    /// Runs `soql` on `/query` against an object that always has exactly one row for the
    /// caller (`Organization`, `UserPermissionAccess`) and returns that row; no row at all is
    /// a decode error naming `object`.
    pub async fn query_one<T: DeserializeOwned>(
        &self,
        soql: &str,
        object: &str,
    ) -> Result<T, SfError> {
        let rows: Vec<T> = self.query(soql).await?;
        rows.into_iter().next().ok_or_else(|| SfError::Decode {
            org: self.org().to_owned(),
            path: format!("query {object}"),
            expected: format!("one {object} record"),
            detail: "the query returned no row".to_owned(),
        })
    }

    /// Runs `soql` on the Tooling `/tooling/query` endpoint and returns every record of every
    /// page. Selecting `Metadata` or `FullName` on more than one row fails with
    /// [`SfError::MetadataOneRow`].
    pub async fn tooling_query<T: DeserializeOwned>(&self, soql: &str) -> Result<Vec<T>, SfError> {
        self.query_all(self.data_path("/tooling/query"), soql).await
    }

    async fn query_all<T: DeserializeOwned>(
        &self,
        path: String,
        soql: &str,
    ) -> Result<Vec<T>, SfError> {
        let mut call = Call::get(path).query("q", soql);
        let mut records = Vec::new();
        let mut seen_pages = HashSet::new();
        loop {
            let reply = self.execute(&call).await?;
            let page: QueryPage =
                self.decode(&reply, "a query result page with `done` and `records`")?;
            for record in page.records {
                let index = records.len();
                let record = serde_json::from_value(record).map_err(|error| {
                    SfError::decode(
                        self.org(),
                        &reply.path,
                        format!("record {index} to fit {}", std::any::type_name::<T>()),
                        error,
                    )
                })?;
                records.push(record);
            }
            if page.done {
                return Ok(records);
            }
            // `nextRecordsUrl` is root-relative and already carries the version: it is used
            // as is, never prefixed again.
            let next = page.next_records_url.ok_or_else(|| {
                SfError::decode(
                    self.org(),
                    &reply.path,
                    "a nextRecordsUrl on a page with done = false",
                    "nextRecordsUrl is missing",
                )
            })?;
            if !seen_pages.insert(next.clone()) {
                return Err(SfError::decode(
                    self.org(),
                    &reply.path,
                    "a new nextRecordsUrl on every page",
                    format!("{next} was already read"),
                ));
            }
            call = Call::get(next);
        }
    }
}
