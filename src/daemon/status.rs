//! What `status` says about one org, read from its journal: how many components are in each
//! state, the trigger deploys under way, and every component that failed or conflicted with
//! the reason.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::engine::{DeployWatch, Issue, covers};
use crate::store::{Hold, JournalEntry, Step};

/// At most this many failed and this many conflicting components are listed per org; the
/// counts are always the totals. A status line stays readable, and its reply stays small, even
/// when a whole org fails.
pub const LISTED_MAX: usize = 200;

/// How many components of an org are in each state. A step whose last write failed counts as
/// `failed` until it succeeds: a restore that keeps failing must never look like progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub paused: u64,
    pub pausing: u64,
    pub restoring: u64,
    pub failed: u64,
    pub conflict: u64,
}

/// One org's state for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgState {
    pub counts: StateCounts,
    pub deploys: Vec<DeployInFlight>,
    /// Components whose pause was given up or whose write keeps failing, with the last error
    /// (for a trigger deploy: its failing tests and coverage message). At most [`LISTED_MAX`].
    pub failures: Vec<Issue>,
    /// Components someone changed while they were paused, left as they are. At most
    /// [`LISTED_MAX`].
    pub conflicts: Vec<Issue>,
    /// Why the org's last reconcile stopped, while it keeps failing.
    pub error: Option<String>,
}

/// A trigger deploy the journal says is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployInFlight {
    pub id: String,
    /// `Pausing` or `Restoring`.
    pub step: Step,
    /// The API names of the triggers it carries, sorted.
    pub triggers: Vec<String>,
    /// When its id was journaled, i.e. when it was started.
    pub since: Timestamp,
    /// How far it is, when this daemon is polling it now. `None` right after a restart, until
    /// the reconcile polls it again.
    pub watch: Option<DeployWatch>,
}

/// Derives an org's state from its journal, the deploy its engine is polling and its last
/// reconcile error.
pub fn org_state(
    journal: &[JournalEntry],
    watch: Option<DeployWatch>,
    error: Option<String>,
) -> OrgState {
    let mut state = OrgState {
        error,
        ..OrgState::default()
    };
    let mut deploys: BTreeMap<&str, DeployInFlight> = BTreeMap::new();
    for entry in journal {
        let erring = entry.last_error.is_some();
        let counts = &mut state.counts;
        match counted_as(entry) {
            Some("paused") => counts.paused += 1,
            Some("pausing") => counts.pausing += 1,
            Some("restoring") => counts.restoring += 1,
            Some("failed") => counts.failed += 1,
            Some("conflict") => counts.conflict += 1,
            _ => {}
        }
        match entry.step {
            Step::Failed | Step::Paused | Step::Pausing | Step::Restoring if erring => {
                state
                    .failures
                    .push(issue(entry, entry.last_error.as_deref()));
            }
            Step::Failed => state.failures.push(issue(entry, None)),
            Step::Conflict => state.conflicts.push(issue(
                entry,
                entry.conflict.as_deref().or(entry.last_error.as_deref()),
            )),
            Step::Pausing | Step::Restoring => {
                if let Some(id) = entry.deploy_id.as_deref() {
                    let deploy = deploys.entry(id).or_insert_with(|| DeployInFlight {
                        id: id.to_owned(),
                        step: entry.step,
                        triggers: Vec::new(),
                        since: entry.updated_at,
                        watch: None,
                    });
                    deploy.triggers.push(entry.api_name.clone());
                    deploy.since = deploy.since.min(entry.updated_at);
                }
            }
            Step::Paused | Step::Restored => {}
        }
    }
    state.deploys = deploys
        .into_values()
        .map(|mut deploy| {
            deploy.triggers.sort();
            deploy.watch = watch.clone().filter(|watch| watch.id == deploy.id);
            deploy
        })
        .collect();
    for list in [&mut state.failures, &mut state.conflicts] {
        list.sort_by(|a, b| (a.kind, &a.api_name, &a.id).cmp(&(b.kind, &b.api_name, &b.id)));
        list.truncate(LISTED_MAX);
    }
    state
}

/// The state a journal row is counted in (`paused`, `pausing`, `restoring`, `failed`,
/// `conflict`; a restored row in none), for `status` and the metrics alike. A step whose last
/// write failed counts as `failed` until it succeeds: a paused component whose restore was
/// stopped (see `OrgEngine::converge`) is not where it should be, and a restore that keeps
/// failing must never look like progress.
pub fn counted_as(entry: &JournalEntry) -> Option<&'static str> {
    let erring = entry.last_error.is_some();
    match entry.step {
        Step::Paused | Step::Pausing | Step::Restoring if erring => Some("failed"),
        Step::Paused => Some("paused"),
        Step::Pausing => Some("pausing"),
        Step::Restoring => Some("restoring"),
        Step::Failed => Some("failed"),
        Step::Conflict => Some("conflict"),
        Step::Restored => None,
    }
}

/// Whether a row's restore is due and not done: it is paused (or on its way either way) and
/// no hold in `holds` covers it any more. A restore runs as soon as its last hold ends, so a
/// row that stays due is a restore that is failing or stopped.
pub fn restore_due(entry: &JournalEntry, holds: &[Hold]) -> bool {
    matches!(entry.step, Step::Paused | Step::Pausing | Step::Restoring)
        && !holds.iter().any(|hold| {
            hold.org == entry.key.org && covers(hold, entry.key.kind, entry.object.as_deref())
        })
}

fn issue(entry: &JournalEntry, message: Option<&str>) -> Issue {
    Issue {
        kind: entry.key.kind,
        id: entry.key.sf_id.clone(),
        api_name: entry.api_name.clone(),
        message: message
            .unwrap_or("failed; the reason was not recorded")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::automation::Kind;
    use crate::store::ComponentKey;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_795_000_000 + second).expect("valid")
    }

    fn row(kind: Kind, name: &str, step: Step) -> JournalEntry {
        JournalEntry {
            key: ComponentKey {
                org: "prod".to_owned(),
                kind,
                sf_id: format!("id-{name}"),
            },
            api_name: name.to_owned(),
            object: None,
            prior_state: json!({}),
            set_state: json!({}),
            step,
            attempts: 1,
            last_error: None,
            conflict: None,
            updated_at: at(0),
            deploy_id: None,
        }
    }

    fn on_deploy(mut entry: JournalEntry, id: &str, second: i64) -> JournalEntry {
        entry.deploy_id = Some(id.to_owned());
        entry.updated_at = at(second);
        entry
    }

    fn erring(mut entry: JournalEntry, message: &str) -> JournalEntry {
        entry.last_error = Some(message.to_owned());
        entry
    }

    fn watching(id: &str) -> DeployWatch {
        DeployWatch {
            id: id.to_owned(),
            test_level: Some("RunLocalTests".to_owned()),
            status: Some("InProgress".to_owned()),
            state_detail: Some("Running Test: AccountTriggerTest".to_owned()),
            tests_run: 12,
        }
    }

    #[test]
    fn deploys_under_way_are_grouped_with_their_triggers_and_what_the_poller_saw() {
        let journal = vec![
            on_deploy(row(Kind::Trigger, "Zeta", Step::Pausing), "0Af1", 5),
            on_deploy(row(Kind::Trigger, "Alpha", Step::Pausing), "0Af1", 4),
            on_deploy(row(Kind::Trigger, "Beta", Step::Restoring), "0Af2", 9),
            // Settled rows keep the id of the deploy that settled them: not under way.
            on_deploy(row(Kind::Trigger, "Gamma", Step::Paused), "0Af0", 1),
            // A row whose deploy could not be polled is a failure, not progress.
            erring(
                on_deploy(row(Kind::Trigger, "Delta", Step::Pausing), "0Af3", 2),
                "polling deploy 0Af3 failed: timeout",
            ),
            row(Kind::Flow, "Other", Step::Pausing),
        ];
        let state = org_state(&journal, Some(watching("0Af1")), None);
        assert_eq!(
            state.counts,
            StateCounts {
                paused: 1,
                pausing: 3,
                restoring: 1,
                failed: 1,
                conflict: 0
            }
        );
        assert_eq!(state.deploys.len(), 2, "{:?}", state.deploys);
        let first = &state.deploys[0];
        assert_eq!(
            (first.id.as_str(), first.step, first.since),
            ("0Af1", Step::Pausing, at(4))
        );
        assert_eq!(first.triggers, ["Alpha", "Zeta"]);
        assert_eq!(first.watch, Some(watching("0Af1")));
        let second = &state.deploys[1];
        assert_eq!((second.id.as_str(), second.step), ("0Af2", Step::Restoring));
        assert_eq!(second.watch, None, "another deploy is being polled");
        assert_eq!(state.failures.len(), 1);
        assert_eq!(state.failures[0].api_name, "Delta");
        assert!(state.failures[0].message.contains("0Af3"));
    }

    #[test]
    fn failures_and_conflicts_are_listed_with_their_reason_sorted_and_capped() {
        let mut journal = vec![
            erring(
                row(Kind::Trigger, "AccountTrigger", Step::Failed),
                "deploy 0Af1 Failed; test AccountTriggerTest.testInsert: boom",
            ),
            row(Kind::Trigger, "Silent", Step::Failed),
            erring(
                row(Kind::Flow, "Retrying", Step::Restoring),
                "UNABLE_TO_LOCK_ROW",
            ),
        ];
        let mut changed = row(Kind::ValidationRule, "Edited", Step::Conflict);
        changed.conflict = Some("switched back on by someone while paused".to_owned());
        journal.push(changed);
        let state = org_state(&journal, None, Some("no API calls left".to_owned()));
        assert_eq!((state.counts.failed, state.counts.conflict), (3, 1));
        let failures: Vec<(&str, &str)> = state
            .failures
            .iter()
            .map(|issue| (issue.api_name.as_str(), issue.message.as_str()))
            .collect();
        assert_eq!(
            failures,
            [
                ("Retrying", "UNABLE_TO_LOCK_ROW"),
                (
                    "AccountTrigger",
                    "deploy 0Af1 Failed; test AccountTriggerTest.testInsert: boom"
                ),
                ("Silent", "failed; the reason was not recorded"),
            ],
            "by kind, then name"
        );
        assert_eq!(state.conflicts.len(), 1);
        assert_eq!(
            state.conflicts[0].message,
            "switched back on by someone while paused"
        );
        assert_eq!(state.error.as_deref(), Some("no API calls left"));

        for n in (0..LISTED_MAX + 5).rev() {
            let mut conflict = row(Kind::Flow, &format!("Flow{n:04}"), Step::Conflict);
            conflict.conflict = Some("version 2 was activated".to_owned());
            journal.push(conflict);
        }
        let state = org_state(&journal, None, None);
        assert_eq!(state.counts.conflict, (LISTED_MAX + 6) as u64, "the total");
        assert_eq!(state.conflicts.len(), LISTED_MAX, "the list is capped");
        assert_eq!(state.conflicts[0].api_name, "Flow0000");
        assert!(state.deploys.is_empty());
    }

    #[test]
    fn a_paused_component_whose_restore_was_stopped_is_a_failure_not_paused() {
        let journal = vec![
            row(Kind::Flow, "StillWanted", Step::Paused),
            erring(
                row(Kind::Flow, "RestoreDue", Step::Paused),
                "org `prod` has no API calls left today",
            ),
        ];
        let state = org_state(&journal, None, None);
        assert_eq!((state.counts.paused, state.counts.failed), (1, 1));
        assert_eq!(state.failures.len(), 1);
        assert_eq!(state.failures[0].api_name, "RestoreDue");
        assert!(state.failures[0].message.contains("no API calls left"));
    }
}
