//! The audit trail. Append-only: this module has no update or delete, and the schema's
//! triggers refuse both, so a bug elsewhere cannot rewrite what happened.

use sqlx::error::ErrorKind;

use super::rows::{HistoryRow, history_columns, to_ms};
use super::{HistoryEntry, NewHistory, Store, StoreError};

impl Store {
    /// Appends an entry and returns its id. A `hold_id` must name an existing hold.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn append_history(&self, entry: &NewHistory) -> Result<i64, StoreError> {
        const OP: &str = "append to the history";
        let mut tx = self.begin_write(OP).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO history (at_ms, org, actor_uid, actor_name, action, hold_id, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(to_ms(entry.at))
        .bind(entry.org.as_deref())
        .bind(entry.actor.uid.map(i64::from))
        .bind(&entry.actor.name)
        .bind(&entry.action)
        .bind(entry.hold_id.map(|id| id.0))
        .bind(entry.detail.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation => {
                StoreError::InvalidValue {
                    path: self.path.to_path_buf(),
                    what: "a history entry",
                    message: format!(
                        "it names hold {}, which does not exist (this is a bug in the caller)",
                        entry.hold_id.map_or_else(String::new, |id| id.to_string())
                    ),
                }
            }
            _ => self.error(OP, e),
        })?;
        self.commit(tx, OP).await?;
        Ok(id)
    }

    /// The newest `limit` entries, newest first (by append order), of one org or of all
    /// (`None`, which includes entries that concern no org). With an org, only entries of
    /// exactly that org are returned.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn history(
        &self,
        org: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        // Two statements rather than `org = ?1 OR ?1 IS NULL`, so the org filter can use the
        // (org, id) index.
        let query = match org {
            Some(org) => sqlx::query_as::<_, HistoryRow>(concat!(
                "SELECT ",
                history_columns!(),
                " FROM history WHERE org = ? ORDER BY id DESC LIMIT ?"
            ))
            .bind(org),
            None => sqlx::query_as::<_, HistoryRow>(concat!(
                "SELECT ",
                history_columns!(),
                " FROM history ORDER BY id DESC LIMIT ?"
            )),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(|e| self.error("read the history", e))?;
        rows.into_iter()
            .map(|row| row.into_entry(&self.path))
            .collect()
    }
}
