//! The values the store reads and writes. None of them knows about SQL; the row shapes and
//! their conversions live in [`super::rows`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::automation::Kind;

/// The id of a hold, as shown to operators (`pauseplay resume --hold 12`). Ids are never
/// reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldId(pub i64);

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a hold exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldSource {
    /// `pauseplay pause now`.
    Manual,
    /// One occurrence of a scheduled window from the configuration, identified by the window's
    /// name and the occurrence's nominal start. The store holds at most one hold per
    /// (org, window, occurrence start), released or not.
    Window {
        name: String,
        occurrence_start: Timestamp,
    },
    /// `pauseplay pause at`: a one-off window persisted without a configuration edit.
    AdHoc { name: String },
}

impl HoldSource {
    /// The name stored in the `source` column and used in messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            HoldSource::Manual => "manual",
            HoldSource::Window { .. } => "window",
            HoldSource::AdHoc { .. } => "ad_hoc",
        }
    }
}

/// Who did something: a socket peer (uid and user name) or the daemon itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub uid: Option<u32>,
    pub name: String,
}

impl Actor {
    /// The daemon acting on its own (schedules, expiry, restart recovery).
    pub fn daemon() -> Actor {
        Actor {
            uid: None,
            name: "daemon".to_owned(),
        }
    }
}

/// Narrows the org's configured scope for one hold; `None` means "not narrowed".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldScope {
    pub kinds: Option<BTreeSet<Kind>>,
    pub objects: Option<BTreeSet<String>>,
}

/// A hold to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub org: String,
    pub source: HoldSource,
    pub owner: Actor,
    pub reason: Option<String>,
    pub scope: HoldScope,
    pub created_at: Timestamp,
    /// When the hold comes into force; `None` means at once (from `created_at`). Must be
    /// before `expires_at`.
    pub starts_at: Option<Timestamp>,
    pub expires_at: Timestamp,
}

/// A stored hold. Timestamps have millisecond precision (that is what is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub org: String,
    pub source: HoldSource,
    pub owner: Actor,
    pub reason: Option<String>,
    pub scope: HoldScope,
    pub created_at: Timestamp,
    /// When the hold comes into force; `None` means from its creation. An ad hoc window
    /// (`pauseplay pause at`) starts in the future, its lead time before the window opens.
    pub starts_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub released_at: Option<Timestamp>,
    /// The releasing actor's name, `"expired"` when the hold ran out.
    pub released_by: Option<String>,
}

impl Hold {
    /// Whether the hold is in force at `now`: not released, started (`starts_at` unset or not
    /// after `now`) and not expired (`expires_at` after `now`). The same rule as
    /// [`Store::active_holds`](super::Store::active_holds).
    pub fn in_force_at(&self, now: Timestamp) -> bool {
        self.released_at.is_none()
            && self.starts_at.is_none_or(|start| start <= now)
            && self.expires_at > now
    }

    /// Whether the hold is unreleased and comes into force after `now`, as
    /// [`Store::upcoming_holds`](super::Store::upcoming_holds) lists them.
    pub fn is_upcoming_at(&self, now: Timestamp) -> bool {
        self.released_at.is_none() && self.starts_at.is_some_and(|start| start > now)
    }
}

/// Where a component is in its pause/restore cycle.
///
/// `Pausing`, `Paused` and `Restoring` hold a prior state that has not been given back to the
/// org yet; such a row is never overwritten by a new pause (see
/// [`Store::record_pausing`](super::Store::record_pausing)). `Restored`, `Conflict` and
/// `Failed` are finished; a new pause may start over from the org's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Pausing,
    Paused,
    Restoring,
    Restored,
    Conflict,
    Failed,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Pausing,
        Step::Paused,
        Step::Restoring,
        Step::Restored,
        Step::Conflict,
        Step::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Pausing => "pausing",
            Step::Paused => "paused",
            Step::Restoring => "restoring",
            Step::Restored => "restored",
            Step::Conflict => "conflict",
            Step::Failed => "failed",
        }
    }

    /// Whether the row still holds a prior state the org has not got back.
    pub fn holds_prior_state(self) -> bool {
        matches!(self, Step::Pausing | Step::Paused | Step::Restoring)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a step name that is not one of [`Step::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown journal step `{0}`; expected one of pausing, paused, restoring, restored, conflict, failed"
)]
pub struct UnknownStep(pub String);

impl FromStr for Step {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| UnknownStep(s.to_owned()))
    }
}

/// Identifies one component in one org: the journal's primary key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentKey {
    pub org: String,
    pub kind: Kind,
    pub sf_id: String,
}

impl fmt::Display for ComponentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} in org `{}`", self.kind, self.sf_id, self.org)
    }
}

/// One journal row.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub key: ComponentKey,
    pub api_name: String,
    pub object: Option<String>,
    /// The state found before pausing; what a restore gives back.
    pub prior_state: serde_json::Value,
    /// The state the pause set; a restore proceeds only if the org still shows it.
    pub set_state: serde_json::Value,
    pub step: Step,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub conflict: Option<String>,
    pub updated_at: Timestamp,
    /// The Metadata API deploy that carries this trigger's step (`Pausing` or `Restoring`),
    /// recorded before the deploy is polled so a crash mid-deploy is settled by reading that
    /// deploy, not by deploying again. `None` for other kinds and before a deploy starts.
    pub deploy_id: Option<String>,
}

/// A component about to be paused, written ahead of the remote change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJournalEntry {
    pub key: ComponentKey,
    pub api_name: String,
    pub object: Option<String>,
    pub prior_state: serde_json::Value,
    pub set_state: serde_json::Value,
}

/// A step change of one journal row. `last_error` and `conflict` replace the stored values
/// (`None` clears them); `count_attempt` adds one to `attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpdate {
    pub key: ComponentKey,
    pub step: Step,
    pub last_error: Option<String>,
    pub conflict: Option<String>,
    pub count_attempt: bool,
}

/// A history entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHistory {
    pub at: Timestamp,
    pub org: Option<String>,
    pub actor: Actor,
    pub action: String,
    pub hold_id: Option<HoldId>,
    pub detail: serde_json::Value,
}

/// A stored history entry. `id` gives the append order (newest has the highest id), which
/// stays right even when the wall clock jumps back.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: Timestamp,
    pub org: Option<String>,
    pub actor: Actor,
    pub action: String,
    pub hold_id: Option<HoldId>,
    pub detail: serde_json::Value,
}
