//! Row shapes as SQLite returns them, and their conversion to and from the store's types.
//!
//! Decoding is strict: a value the current code cannot read (an unknown step or kind, JSON of
//! the wrong shape, a timestamp out of range) is a [`StoreError::InvalidRow`], never a default.
//! A misread prior state would be restored as if it were right.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::types::{
    Actor, ComponentKey, HistoryEntry, Hold, HoldId, HoldScope, HoldSource, JournalEntry,
};
use crate::automation::Kind;

/// The columns of `holds`, in the order of [`HoldRow`]'s fields.
macro_rules! hold_columns {
    () => {
        "id, org, source, source_name, occurrence_start_ms, owner_uid, owner_name, reason, \
         scope, created_at_ms, expires_at_ms, released_at_ms, released_by, starts_at_ms"
    };
}

/// The columns of `journal`, in the order of [`JournalRow`]'s fields.
macro_rules! journal_columns {
    () => {
        "org, kind, sf_id, api_name, object, prior_state, set_state, step, attempts, \
         last_error, conflict, updated_at_ms, deploy_id"
    };
}

/// The columns of `history`, in the order of [`HistoryRow`]'s fields.
macro_rules! history_columns {
    () => {
        "id, at_ms, org, actor_uid, actor_name, action, hold_id, detail"
    };
}

pub(crate) use {history_columns, hold_columns, journal_columns};

/// A timestamp as stored: Unix milliseconds (sub-millisecond parts are dropped).
pub(crate) fn to_ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// [`to_ms`] for an instant a caller chose (a hold's start or expiry), refused unless
/// [`from_ms`] reads it back. jiff reads milliseconds only up to the first millisecond of its
/// last second, and a duration added to a start near the end of the calendar saturates to
/// [`Timestamp::MAX`], past it: stored, such a row would fail every later read of the holds
/// (`status`, every reconcile) until the file was edited by hand.
pub(crate) fn to_stored_ms(
    path: &Path,
    what: &'static str,
    at: Timestamp,
) -> Result<i64, StoreError> {
    let ms = to_ms(at);
    match Timestamp::from_millisecond(ms) {
        Ok(_) => Ok(ms),
        Err(_) => Err(StoreError::InvalidValue {
            path: path.to_path_buf(),
            what,
            message: format!(
                "{at} is past the last instant the state database can hold; choose an earlier \
                 time"
            ),
        }),
    }
}

fn from_ms(path: &Path, column: &str, ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| invalid(path, format!("{column} = {ms}: {e}")))
}

fn invalid(path: &Path, what: String) -> StoreError {
    StoreError::InvalidRow {
        path: path.to_path_buf(),
        what,
    }
}

/// How a [`HoldScope`] is stored. Kept apart from `HoldScope` so the internal type does not
/// carry a storage format. Unknown fields are refused: a scope field this version does not
/// understand would make it pause or restore more than the hold asked for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredScope {
    kinds: Option<BTreeSet<Kind>>,
    objects: Option<BTreeSet<String>>,
}

pub(crate) fn scope_to_json(path: &Path, scope: &HoldScope) -> Result<String, StoreError> {
    let stored = StoredScope {
        kinds: scope.kinds.clone(),
        objects: scope.objects.clone(),
    };
    // Cannot fail for sets of kinds and strings; if it ever did, storing anything else (say,
    // "not narrowed") would widen the hold, so it is an error.
    serde_json::to_string(&stored).map_err(|e| StoreError::InvalidValue {
        path: path.to_path_buf(),
        what: "a hold's scope",
        message: e.to_string(),
    })
}

fn scope_from_json(path: &Path, id: i64, text: &str) -> Result<HoldScope, StoreError> {
    let stored: StoredScope = serde_json::from_str(text)
        .map_err(|e| invalid(path, format!("scope of hold {id}: {e}")))?;
    Ok(HoldScope {
        kinds: stored.kinds,
        objects: stored.objects,
    })
}

fn uid_from_db(path: &Path, column: &str, uid: Option<i64>) -> Result<Option<u32>, StoreError> {
    uid.map(|uid| u32::try_from(uid).map_err(|_| invalid(path, format!("{column} = {uid}"))))
        .transpose()
}

fn json_from_db(path: &Path, column: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| invalid(path, format!("{column}: {e}")))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HoldRow {
    id: i64,
    org: String,
    source: String,
    source_name: Option<String>,
    occurrence_start_ms: Option<i64>,
    owner_uid: Option<i64>,
    owner_name: String,
    reason: Option<String>,
    scope: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    released_at_ms: Option<i64>,
    released_by: Option<String>,
    starts_at_ms: Option<i64>,
}

impl HoldRow {
    pub(crate) fn into_hold(self, path: &Path) -> Result<Hold, StoreError> {
        let id = self.id;
        let source = match (
            self.source.as_str(),
            self.source_name,
            self.occurrence_start_ms,
        ) {
            ("manual", None, None) => HoldSource::Manual,
            ("window", Some(name), Some(start)) => HoldSource::Window {
                name,
                occurrence_start: from_ms(path, "holds.occurrence_start_ms", start)?,
            },
            ("ad_hoc", Some(name), None) => HoldSource::AdHoc { name },
            (other, ..) => {
                return Err(invalid(
                    path,
                    format!("hold {id} has source `{other}` with unexpected name or start"),
                ));
            }
        };
        Ok(Hold {
            id: HoldId(id),
            org: self.org,
            source,
            owner: Actor {
                uid: uid_from_db(path, "holds.owner_uid", self.owner_uid)?,
                name: self.owner_name,
            },
            reason: self.reason,
            scope: scope_from_json(path, id, &self.scope)?,
            created_at: from_ms(path, "holds.created_at_ms", self.created_at_ms)?,
            starts_at: self
                .starts_at_ms
                .map(|ms| from_ms(path, "holds.starts_at_ms", ms))
                .transpose()?,
            expires_at: from_ms(path, "holds.expires_at_ms", self.expires_at_ms)?,
            released_at: self
                .released_at_ms
                .map(|ms| from_ms(path, "holds.released_at_ms", ms))
                .transpose()?,
            released_by: self.released_by,
        })
    }
}

pub(crate) fn holds_from_rows(path: &Path, rows: Vec<HoldRow>) -> Result<Vec<Hold>, StoreError> {
    let mut holds = rows
        .into_iter()
        .map(|row| row.into_hold(path))
        .collect::<Result<Vec<_>, _>>()?;
    // `RETURNING` gives rows in no promised order; callers get them by id.
    holds.sort_by_key(|hold| hold.id);
    Ok(holds)
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct JournalRow {
    org: String,
    kind: String,
    sf_id: String,
    api_name: String,
    object: Option<String>,
    prior_state: String,
    set_state: String,
    step: String,
    attempts: i64,
    last_error: Option<String>,
    conflict: Option<String>,
    updated_at_ms: i64,
    deploy_id: Option<String>,
}

impl JournalRow {
    pub(crate) fn into_entry(self, path: &Path) -> Result<JournalEntry, StoreError> {
        let kind: Kind = self.kind.parse().map_err(|e| {
            invalid(
                path,
                format!("journal row {} in org `{}`: {e}", self.sf_id, self.org),
            )
        })?;
        let step = self.step.parse().map_err(|e| {
            invalid(
                path,
                format!("journal row {} in org `{}`: {e}", self.sf_id, self.org),
            )
        })?;
        let attempts = u32::try_from(self.attempts).map_err(|_| {
            invalid(
                path,
                format!("journal row {}: attempts = {}", self.sf_id, self.attempts),
            )
        })?;
        Ok(JournalEntry {
            prior_state: json_from_db(path, "journal.prior_state", &self.prior_state)?,
            set_state: json_from_db(path, "journal.set_state", &self.set_state)?,
            updated_at: from_ms(path, "journal.updated_at_ms", self.updated_at_ms)?,
            key: ComponentKey {
                org: self.org,
                kind,
                sf_id: self.sf_id,
            },
            api_name: self.api_name,
            object: self.object,
            step,
            attempts,
            last_error: self.last_error,
            conflict: self.conflict,
            deploy_id: self.deploy_id,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HistoryRow {
    id: i64,
    at_ms: i64,
    org: Option<String>,
    actor_uid: Option<i64>,
    actor_name: String,
    action: String,
    hold_id: Option<i64>,
    detail: String,
}

impl HistoryRow {
    pub(crate) fn into_entry(self, path: &Path) -> Result<HistoryEntry, StoreError> {
        Ok(HistoryEntry {
            id: self.id,
            at: from_ms(path, "history.at_ms", self.at_ms)?,
            org: self.org,
            actor: Actor {
                uid: uid_from_db(path, "history.actor_uid", self.actor_uid)?,
                name: self.actor_name,
            },
            action: self.action,
            hold_id: self.hold_id.map(HoldId),
            detail: json_from_db(path, "history.detail", &self.detail)?,
        })
    }
}
