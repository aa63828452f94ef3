//! The write-ahead journal: one row per (org, kind, Salesforce id).
//!
//! The engine commits a row here before it changes anything in the org, and commits each step
//! change after verifying it. The one rule this module enforces itself is promise 3: a prior
//! state that has not been given back to the org (step pausing, paused or restoring) is never
//! replaced, because replacing it with the org's current, paused state would turn the restore
//! into a no-op.

use jiff::Timestamp;
use sqlx::{Sqlite, Transaction};

use super::rows::{JournalRow, journal_columns, to_ms};
use super::{ComponentKey, JournalEntry, NewJournalEntry, Step, StepUpdate, Store, StoreError};

impl Store {
    /// Every journal row of `org`, ordered by kind, API name, then id.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn journal(&self, org: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let rows: Vec<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM journal WHERE org = ? ORDER BY kind, api_name, sf_id"
        ))
        .bind(org)
        .fetch_all(&self.reader)
        .await
        .map_err(|e| self.error("read the journal", e))?;
        rows.into_iter()
            .map(|row| row.into_entry(&self.path))
            .collect()
    }

    /// The journal row of one component, if it has one.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn journal_entry(
        &self,
        key: &ComponentKey,
    ) -> Result<Option<JournalEntry>, StoreError> {
        let row: Option<JournalRow> = sqlx::query_as(concat!(
            "SELECT ",
            journal_columns!(),
            " FROM journal WHERE org = ? AND kind = ? AND sf_id = ?"
        ))
        .bind(&key.org)
        .bind(key.kind.as_str())
        .bind(&key.sf_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| self.error("read a journal entry", e))?;
        row.map(|row| row.into_entry(&self.path)).transpose()
    }

    /// The write-ahead step of a pause. In one `BEGIN IMMEDIATE` transaction, writes every
    /// entry with step `pausing`, 0 attempts and no error, conflict or deploy id, replacing rows whose
    /// step is `restored`, `conflict` or `failed`.
    ///
    /// A row whose step is `pausing`, `paused` or `restoring` still holds a prior state the org
    /// has not got back; it is never overwritten. Such a row (or the same component twice in
    /// `entries`) fails the whole batch with [`StoreError::JournalConflict`] naming the first
    /// one, and nothing of the batch is written.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn record_pausing(
        &self,
        entries: &[NewJournalEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "journal components as pausing";
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write(OP).await?;
        for entry in entries {
            // The guard is part of the statement (the upsert's WHERE), so the rule holds
            // whatever the caller read before: no separate check-then-write.
            let result = sqlx::query(
                "INSERT INTO journal (org, kind, sf_id, api_name, object, prior_state, \
                 set_state, step, attempts, last_error, conflict, updated_at_ms, deploy_id) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'pausing', 0, NULL, NULL, ?, NULL) \
                 ON CONFLICT (org, kind, sf_id) DO UPDATE SET \
                 api_name = excluded.api_name, object = excluded.object, \
                 prior_state = excluded.prior_state, set_state = excluded.set_state, \
                 step = 'pausing', attempts = 0, last_error = NULL, conflict = NULL, \
                 updated_at_ms = excluded.updated_at_ms, deploy_id = NULL \
                 WHERE journal.step IN ('restored', 'conflict', 'failed')",
            )
            .bind(&entry.key.org)
            .bind(entry.key.kind.as_str())
            .bind(&entry.key.sf_id)
            .bind(&entry.api_name)
            .bind(entry.object.as_deref())
            .bind(entry.prior_state.to_string())
            .bind(entry.set_state.to_string())
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(OP, e))?;

            if result.rows_affected() == 0 {
                let step = current_step(&mut tx, &entry.key)
                    .await
                    .map_err(|e| self.error(OP, e))?;
                self.rollback(tx, OP).await;
                return Err(match step {
                    Some(step) => match step.parse::<Step>() {
                        Ok(step) => StoreError::JournalConflict {
                            path: self.path.to_path_buf(),
                            key: entry.key.clone(),
                            api_name: entry.api_name.clone(),
                            step,
                        },
                        Err(e) => StoreError::InvalidRow {
                            path: self.path.to_path_buf(),
                            what: format!("journal row for {}: {e}", entry.key),
                        },
                    },
                    // Not reachable: an upsert that wrote nothing found a row. Reported rather
                    // than assumed.
                    None => StoreError::InvalidRow {
                        path: self.path.to_path_buf(),
                        what: format!(
                            "journal row for {} was neither written nor found",
                            entry.key
                        ),
                    },
                });
            }
        }
        self.commit(tx, OP).await
    }

    /// Applies step changes in one `BEGIN IMMEDIATE` transaction. Each update sets the step,
    /// `last_error` and `conflict` (replacing what was there), adds one to `attempts` when
    /// `count_attempt`, and sets the update time. A key with no journal row fails the whole
    /// batch with [`StoreError::UnknownJournalEntry`]; nothing of it is written.
    ///
    /// The store does not judge transitions (that is the engine's job); it only refuses to
    /// lose a prior state, which [`Store::record_pausing`] guards. A row entering `Pausing` or
    /// `Restoring` from another step loses its `deploy_id`: that deploy carried the previous
    /// step, and a crash before the next [`Store::set_deploy_id`] must not settle the new step
    /// by polling it (Salesforce may not even know it any more). Otherwise the id is kept: a
    /// settled row keeps it as the record of the deploy that settled it, and a row retried in
    /// the same step keeps the deploy it is waiting on.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn update_steps(
        &self,
        updates: &[StepUpdate],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "update journal steps";
        if updates.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write(OP).await?;
        for update in updates {
            let result = sqlx::query(
                "UPDATE journal SET step = ?1, last_error = ?2, conflict = ?3, \
                 attempts = attempts + ?4, updated_at_ms = ?5, \
                 deploy_id = CASE WHEN step <> ?1 AND ?1 IN ('pausing', 'restoring') \
                 THEN NULL ELSE deploy_id END \
                 WHERE org = ?6 AND kind = ?7 AND sf_id = ?8",
            )
            .bind(update.step.as_str())
            .bind(update.last_error.as_deref())
            .bind(update.conflict.as_deref())
            .bind(i64::from(update.count_attempt))
            .bind(to_ms(now))
            .bind(&update.key.org)
            .bind(update.key.kind.as_str())
            .bind(&update.key.sf_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(OP, e))?;
            if result.rows_affected() == 0 {
                self.rollback(tx, OP).await;
                return Err(StoreError::UnknownJournalEntry {
                    path: self.path.to_path_buf(),
                    key: update.key.clone(),
                });
            }
        }
        self.commit(tx, OP).await
    }

    /// Records `deploy_id` as the Metadata API deploy carrying every row in `keys`, in one
    /// `BEGIN IMMEDIATE` transaction, and sets the update time. Called after the deploy was
    /// accepted and before it is polled: a crash after this point is settled by polling the
    /// deploy. A key with no journal row fails the whole batch with
    /// [`StoreError::UnknownJournalEntry`]; nothing of it is written.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn set_deploy_id(
        &self,
        keys: &[ComponentKey],
        deploy_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        const OP: &str = "record a deploy id";
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write(OP).await?;
        for key in keys {
            let result = sqlx::query(
                "UPDATE journal SET deploy_id = ?, updated_at_ms = ? \
                 WHERE org = ? AND kind = ? AND sf_id = ?",
            )
            .bind(deploy_id)
            .bind(to_ms(now))
            .bind(&key.org)
            .bind(key.kind.as_str())
            .bind(&key.sf_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.error(OP, e))?;
            if result.rows_affected() == 0 {
                self.rollback(tx, OP).await;
                return Err(StoreError::UnknownJournalEntry {
                    path: self.path.to_path_buf(),
                    key: key.clone(),
                });
            }
        }
        self.commit(tx, OP).await
    }
}

async fn current_step(
    tx: &mut Transaction<'static, Sqlite>,
    key: &ComponentKey,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT step FROM journal WHERE org = ? AND kind = ? AND sf_id = ?")
        .bind(&key.org)
        .bind(key.kind.as_str())
        .bind(&key.sf_id)
        .fetch_optional(&mut **tx)
        .await
}
