//! Which notifications the daemon sends: it turns what a converge or a pass found into
//! [`Event`]s for the [`Notifier`], each once per change rather than once per tick.
//!
//! A failing org is seen again on every 30-second pass; a notification each time would bury
//! the one that matters. So the state behind each event is remembered per org, and an event
//! goes out when it appears or changes: the set of failing components, the error a converge
//! stopped on, the holds a refused pause was for, restores becoming overdue, API usage
//! crossing the threshold. Completed pauses, restores and conflicts are events of one converge
//! and always go out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use jiff::Timestamp;

use crate::engine::{Issue, Outcome};
use crate::notify::{Event, EventKind, Notifier};
use crate::salesforce::ApiUsage;
use crate::store::HoldId;

/// A component a restore is overdue for: its kind and name, and its last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub kind: &'static str,
    pub api_name: String,
    pub error: Option<String>,
}

/// What was last notified for one org.
#[derive(Debug, Default)]
struct Notified {
    failing: BTreeSet<(String, String)>,
    stopped: Option<String>,
    refused: BTreeSet<HoldId>,
    overdue: bool,
    usage_high: bool,
}

/// The notification side of the daemon.
#[derive(Debug)]
pub struct Alerts {
    notifier: Notifier,
    /// Usage at or above this percent of the daily limit is "high".
    usage_percent: u8,
    notified: Mutex<BTreeMap<String, Notified>>,
}

impl Alerts {
    pub fn new(notifier: Notifier, usage_percent: u8) -> Alerts {
        Alerts {
            notifier,
            usage_percent,
            notified: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    fn with<T>(&self, org: &str, f: impl FnOnce(&mut Notified) -> T) -> T {
        let mut notified = self
            .notified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(notified.entry(org.to_owned()).or_default())
    }

    fn send(
        &self,
        kind: EventKind,
        org: &str,
        at: Timestamp,
        summary: String,
        details: Vec<String>,
    ) {
        self.notifier.send(Event {
            kind,
            org: Some(org.to_owned()),
            at,
            summary,
            details,
        });
    }

    /// What one converge of `org` did.
    pub fn converged(&self, org: &str, outcome: &Outcome, now: Timestamp) {
        let clean = outcome.failed.is_empty();
        if outcome.paused > 0 && clean {
            self.send(
                EventKind::PauseCompleted,
                org,
                now,
                format!(
                    "Org `{org}`: {} automations paused ({} skipped)",
                    outcome.paused, outcome.skipped
                ),
                Vec::new(),
            );
        }
        if outcome.restored > 0 && clean {
            self.send(
                EventKind::RestoreCompleted,
                org,
                now,
                format!(
                    "Org `{org}`: {} automations restored to their state before the pause",
                    outcome.restored
                ),
                Vec::new(),
            );
        }
        let failing: BTreeSet<(String, String)> = outcome
            .failed
            .iter()
            .map(|issue| (issue.id.clone(), issue.message.clone()))
            .collect();
        let changed = self.with(org, |notified| {
            notified.stopped = None;
            let changed = failing != notified.failing;
            notified.failing = failing;
            changed
        });
        if changed && !outcome.failed.is_empty() {
            self.send(
                EventKind::PartialFailure,
                org,
                now,
                format!(
                    "Org `{org}`: {} automations could not be switched ({} paused, {} restored); \
                     failed restores are retried with backoff. `pauseplay status --org {org}` \
                     shows each error",
                    outcome.failed.len(),
                    outcome.paused,
                    outcome.restored
                ),
                issue_lines(&outcome.failed),
            );
        }
        if !outcome.conflicts.is_empty() {
            self.send(
                EventKind::Conflict,
                org,
                now,
                format!(
                    "Org `{org}`: {} automations were changed by someone during the pause and \
                     were left as they are now",
                    outcome.conflicts.len()
                ),
                issue_lines(&outcome.conflicts),
            );
        }
        if let Some(refused) = &outcome.refused {
            let holds: BTreeSet<HoldId> = refused.holds.iter().copied().collect();
            let new = self.with(org, |notified| {
                let new = !holds.is_subset(&notified.refused);
                notified.refused.extend(holds);
                new
            });
            if new {
                self.send(
                    EventKind::PauseRefused,
                    org,
                    now,
                    refused.to_string(),
                    Vec::new(),
                );
            }
        }
    }

    /// A converge of `org` that stopped with `error` (the daily limit, a failing read).
    pub fn stopped(&self, org: &str, error: &str, now: Timestamp) {
        let new = self.with(org, |notified| {
            let new = notified.stopped.as_deref() != Some(error);
            notified.stopped = Some(error.to_owned());
            new
        });
        if new {
            self.send(
                EventKind::PartialFailure,
                org,
                now,
                format!("Org `{org}`: pausing and restoring stopped part-way: {error}"),
                Vec::new(),
            );
        }
    }

    /// The components of `org` whose restore is due and failing, after a pass.
    pub fn overdue(&self, org: &str, overdue: &[Overdue], now: Timestamp) {
        let is_overdue = !overdue.is_empty();
        let new = self.with(org, |notified| {
            let new = is_overdue && !notified.overdue;
            notified.overdue = is_overdue;
            new
        });
        if new {
            let details = overdue
                .iter()
                .map(|row| match &row.error {
                    Some(error) => format!("{} {}: {error}", row.kind, row.api_name),
                    None => format!("{} {}", row.kind, row.api_name),
                })
                .collect();
            self.send(
                EventKind::RestoreOverdue,
                org,
                now,
                format!(
                    "Org `{org}`: {} automations are still paused after their window ended: \
                     their restore is failing. pauseplay keeps retrying; `pauseplay status --org \
                     {org}` shows each error",
                    overdue.len()
                ),
                details,
            );
        }
    }

    /// The API usage `org` last reported.
    pub fn usage(&self, org: &str, usage: ApiUsage, now: Timestamp) {
        let high = usage.max > 0
            && u128::from(usage.used) * 100
                >= u128::from(usage.max) * u128::from(self.usage_percent);
        let new = self.with(org, |notified| {
            let new = high && !notified.usage_high;
            notified.usage_high = high;
            new
        });
        if new {
            self.send(
                EventKind::ApiUsageHigh,
                org,
                now,
                format!(
                    "Org `{org}` has used {} of its {} daily API calls (alert at {} %); a pause \
                     whose restore it could not afford will be refused",
                    usage.used, usage.max, self.usage_percent
                ),
                Vec::new(),
            );
        }
    }

    /// A window occurrence found open too late to pause.
    pub fn missed(
        &self,
        org: &str,
        window: &str,
        start: Timestamp,
        end: Timestamp,
        now: Timestamp,
    ) {
        self.send(
            EventKind::MissedWindow,
            org,
            now,
            format!(
                "Window `{window}` ({start} to {end}) on org `{org}` was found open with less than \
                 min_remaining left and was not paused (was the daemon down?)"
            ),
            Vec::new(),
        );
    }
}

fn issue_lines(issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .map(|issue| {
            format!(
                "{} {}: {}",
                issue.kind.as_str(),
                issue.api_name,
                issue.message
            )
        })
        .collect()
}
