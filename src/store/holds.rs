//! Holds: inserting, listing, releasing and expiring them. Rows are never deleted; a release
//! sets `released_at` and `released_by`.

use jiff::Timestamp;
use sqlx::error::ErrorKind;

use super::rows::{HoldRow, hold_columns, holds_from_rows, scope_to_json, to_ms, to_stored_ms};
use super::{Actor, Hold, HoldId, HoldSource, NewHold, Store, StoreError};

/// `released_by` of an occurrence recorded as missed.
pub const MISSED: &str = "missed";

impl Store {
    /// Inserts a hold and returns it as stored (timestamps at millisecond precision).
    ///
    /// A `starts_at` at or after `expires_at` is refused by the schema (a hold that never
    /// comes into force is a bug in the caller).
    ///
    /// A window hold for an (org, window, occurrence start) that already has a hold, released
    /// or not, is refused with [`StoreError::DuplicateWindowHold`]: an occurrence is held at
    /// most once, so one that ended or was ended early is never held again.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn insert_hold(&self, hold: &NewHold) -> Result<Hold, StoreError> {
        self.insert_hold_row(hold, None).await
    }

    /// Records an occurrence of a window that was not held because too little of it remained
    /// when the daemon found it open: a window hold released at once by `missed`. Like a held
    /// occurrence it is never held afterwards ([`StoreError::DuplicateWindowHold`] when the
    /// occurrence already has a row).
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn insert_missed_occurrence(
        &self,
        hold: &NewHold,
        now: Timestamp,
    ) -> Result<Hold, StoreError> {
        self.insert_hold_row(hold, Some((MISSED, now))).await
    }

    async fn insert_hold_row(
        &self,
        hold: &NewHold,
        released: Option<(&str, Timestamp)>,
    ) -> Result<Hold, StoreError> {
        let scope = scope_to_json(&self.path, &hold.scope)?;
        let (source_name, occurrence_start_ms) = match &hold.source {
            HoldSource::Manual => (None, None),
            HoldSource::Window {
                name,
                occurrence_start,
            } => (
                Some(name.as_str()),
                Some(to_stored_ms(
                    &self.path,
                    "a window occurrence's start",
                    *occurrence_start,
                )?),
            ),
            HoldSource::AdHoc { name } => (Some(name.as_str()), None),
        };
        // Checked before the row is written: one that could not be read back would break
        // every later read of the holds.
        let created_at = to_stored_ms(&self.path, "a hold's creation time", hold.created_at)?;
        let expires_at = to_stored_ms(&self.path, "a hold's expiry", hold.expires_at)?;
        let starts_at = hold
            .starts_at
            .map(|at| to_stored_ms(&self.path, "a hold's start", at))
            .transpose()?;

        let mut tx = self.begin_write("insert a hold").await?;
        let row: HoldRow = sqlx::query_as(concat!(
            "INSERT INTO holds (org, source, source_name, occurrence_start_ms, owner_uid, \
             owner_name, reason, scope, created_at_ms, expires_at_ms, starts_at_ms, \
             released_at_ms, released_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            hold_columns!()
        ))
        .bind(&hold.org)
        .bind(hold.source.as_str())
        .bind(source_name)
        .bind(occurrence_start_ms)
        .bind(hold.owner.uid.map(i64::from))
        .bind(&hold.owner.name)
        .bind(hold.reason.as_deref())
        .bind(scope)
        .bind(created_at)
        .bind(expires_at)
        .bind(starts_at)
        .bind(released.map(|(_, at)| to_ms(at)))
        .bind(released.map(|(by, _)| by))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match (&hold.source, &e) {
            (
                HoldSource::Window {
                    name,
                    occurrence_start,
                },
                sqlx::Error::Database(db),
            ) if db.kind() == ErrorKind::UniqueViolation => StoreError::DuplicateWindowHold {
                path: self.path.to_path_buf(),
                org: hold.org.clone(),
                window: name.clone(),
                occurrence_start: *occurrence_start,
            },
            _ => self.error("insert a hold", e),
        })?;
        self.commit(tx, "insert a hold").await?;
        row.into_hold(&self.path)
    }

    /// One hold by id, released or not.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn hold(&self, id: HoldId) -> Result<Option<Hold>, StoreError> {
        let row: Option<HoldRow> = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds WHERE id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| self.error("read a hold", e))?;
        row.map(|row| row.into_hold(&self.path)).transpose()
    }

    /// The holds in force at `now`: not released, started (`starts_at` unset or
    /// `starts_at <= now`) and `expires_at > now` (a hold expiring exactly at `now` is no
    /// longer in force; one starting exactly at `now` is). Ordered by id.
    /// [`Hold::in_force_at`] is the same rule.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn active_holds(&self, now: Timestamp) -> Result<Vec<Hold>, StoreError> {
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds WHERE released_at_ms IS NULL AND expires_at_ms > ?1 \
             AND (starts_at_ms IS NULL OR starts_at_ms <= ?1) ORDER BY id"
        ))
        .bind(to_ms(now))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| self.error("list the active holds", e))?;
        holds_from_rows(&self.path, rows)
    }

    /// The holds not yet in force at `now`: not released and `starts_at > now` (such a hold
    /// has not expired either, since it starts before it expires). Ordered by start, then id.
    /// [`Hold::is_upcoming_at`] is the same rule.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn upcoming_holds(&self, now: Timestamp) -> Result<Vec<Hold>, StoreError> {
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds WHERE released_at_ms IS NULL AND starts_at_ms > ? \
             ORDER BY starts_at_ms, id"
        ))
        .bind(to_ms(now))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| self.error("list the upcoming holds", e))?;
        rows.into_iter()
            .map(|row| row.into_hold(&self.path))
            .collect()
    }

    /// Releases one hold, recording `by.name` and `now`. `None` if there is no such hold or it
    /// was already released. A hold past its expiry that [`Store::expire_holds`] has not yet
    /// marked is released like any other, and so is one not yet in force (`starts_at` after
    /// `now`): releasing it cancels it, and it never comes into force.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn release_hold(
        &self,
        id: HoldId,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Option<Hold>, StoreError> {
        let mut tx = self.begin_write("release a hold").await?;
        let row: Option<HoldRow> = sqlx::query_as(concat!(
            "UPDATE holds SET released_at_ms = ?, released_by = ? \
             WHERE id = ? AND released_at_ms IS NULL RETURNING ",
            hold_columns!()
        ))
        .bind(to_ms(now))
        .bind(&by.name)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.error("release a hold", e))?;
        self.commit(tx, "release a hold").await?;
        row.map(|row| row.into_hold(&self.path)).transpose()
    }

    /// Releases every manual hold of `org` that is in force at `now` (what `pauseplay resume`
    /// does by default). Window and ad hoc holds are left alone (an upcoming ad hoc hold is
    /// cancelled only by its id), and so are manual holds already past their expiry:
    /// [`Store::expire_holds`] marks those as expired, which is what happened to them. Manual
    /// holds have no `starts_at` (they are in force from creation); the condition is kept so
    /// that this stays "in force" if one ever does. Returns the released holds by id.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn release_manual_holds(
        &self,
        org: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Vec<Hold>, StoreError> {
        let mut tx = self.begin_write("release manual holds").await?;
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "UPDATE holds SET released_at_ms = ?1, released_by = ?2 \
             WHERE org = ?3 AND source = 'manual' AND released_at_ms IS NULL \
             AND expires_at_ms > ?1 AND (starts_at_ms IS NULL OR starts_at_ms <= ?1) \
             RETURNING ",
            hold_columns!()
        ))
        .bind(to_ms(now))
        .bind(&by.name)
        .bind(org)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.error("release manual holds", e))?;
        self.commit(tx, "release manual holds").await?;
        holds_from_rows(&self.path, rows)
    }

    /// Marks every unreleased hold with `expires_at <= now` as released at its expiry, by
    /// `"expired"`, and returns them by id. Idempotent: a second call finds nothing. A hold
    /// not yet in force is never among them: it starts before it expires (the schema checks).
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn expire_holds(&self, now: Timestamp) -> Result<Vec<Hold>, StoreError> {
        let mut tx = self.begin_write("expire holds").await?;
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "UPDATE holds SET released_at_ms = expires_at_ms, released_by = 'expired' \
             WHERE released_at_ms IS NULL AND expires_at_ms <= ? RETURNING ",
            hold_columns!()
        ))
        .bind(to_ms(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.error("expire holds", e))?;
        self.commit(tx, "expire holds").await?;
        holds_from_rows(&self.path, rows)
    }

    /// The newest `limit` holds, released or not, newest (highest id) first.
    /// Whether the occurrence of `window` starting at `start` has a hold row in `org`, released
    /// or not: a read, so a pass need not try a write that the unique index refuses.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn has_window_hold(
        &self,
        org: &str,
        window: &str,
        start: Timestamp,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM holds WHERE source = 'window' AND org = ? AND source_name = ? \
             AND occurrence_start_ms = ?",
        )
        .bind(org)
        .bind(window)
        .bind(to_ms(start))
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| self.error("look up a window occurrence", e))?;
        Ok(found.is_some())
    }

    /// Window occurrences recorded as missed since `since`, by id.
    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn missed_occurrences(&self, since: Timestamp) -> Result<Vec<Hold>, StoreError> {
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds WHERE source = 'window' AND released_by = ? AND released_at_ms >= ? \
             ORDER BY id"
        ))
        .bind(MISSED)
        .bind(to_ms(since))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| self.error("list the missed window occurrences", e))?;
        holds_from_rows(&self.path, rows)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all)]
    pub async fn recent_holds(&self, limit: u32) -> Result<Vec<Hold>, StoreError> {
        let rows: Vec<HoldRow> = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds ORDER BY id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| self.error("list recent holds", e))?;
        rows.into_iter()
            .map(|row| row.into_hold(&self.path))
            .collect()
    }
}
