//! What the daemon does, independent of how it is asked: manual pauses, ad hoc windows
//! (`pause at`) and resumes, status, history, and the periodic reconcile. The control socket's
//! handler maps wire requests onto these methods; tests can call them directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::automation::Scope;
use crate::commands::client_settings;
use crate::config::{Config, WindowConfig};
use crate::daemon::alerts::{Alerts, Overdue};
use crate::daemon::status::{OrgState, counted_as, org_state, restore_due};
use crate::daemon::windows::{self, Decision};
use crate::engine::{EngineError, Issue, OrgEngine, Outcome, Progress};
use crate::error_chain;
use crate::metrics::{Metrics, NotifySnapshot, OrgSnapshot, Snapshot};
use crate::notify::Notifier;
use crate::salesforce::OrgClient;
use crate::schedule::{self, Occurrence};
use crate::store::{
    Actor, HistoryEntry, Hold, HoldId, HoldScope, HoldSource, NewHistory, NewHold, Store,
    StoreError,
};

/// A progress callback shared with the engines of several orgs.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Why a request could not be carried out at all. Per-org engine failures are not errors of
/// the request: they are reported in its [`OrgReport`]s.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no org named `{name}` in the configuration; configured orgs: {known}")]
    UnknownOrg { name: String, known: String },
    #[error(
        "a manual or ad hoc pause may last at most {max} (daemon.manual_pause_max); ask for \
         less or raise the limit in the configuration"
    )]
    TooLong { max: String },
    #[error("a pause must last longer than zero")]
    ZeroDuration,
    #[error(
        "the start {start} is in the past (it is {now} now); give a time in the future, or use \
         `pauseplay pause now` to pause at once"
    )]
    StartInPast { start: Timestamp, now: Timestamp },
    #[error("no hold #{0} is in force or upcoming; `pauseplay status` lists the holds")]
    NoSuchHold(HoldId),
    #[error(
        "no occurrence of window `{name}` is in force on these orgs; `pauseplay status` lists \
         the holds and `pauseplay windows` when each window opens next"
    )]
    NoWindowInForce { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `resume` releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// The manual holds of the selected orgs.
    Manual,
    /// One hold, whatever its source.
    Hold(HoldId),
    /// The occurrence of this window in force on the selected orgs.
    Window(String),
}

impl Release {
    /// From the request's `hold` and `window` fields (the CLI never sends both).
    pub fn from_request(hold: Option<HoldId>, window: Option<String>) -> Release {
        match (hold, window) {
            (Some(id), _) => Release::Hold(id),
            (None, Some(name)) => Release::Window(name),
            (None, None) => Release::Manual,
        }
    }
}

/// The result of converging one org.
#[derive(Debug)]
pub struct OrgReport {
    pub org: String,
    pub result: Result<Outcome, EngineError>,
}

/// The result of `pause now` and `pause at`.
#[derive(Debug)]
pub struct PauseReport {
    pub holds: Vec<Hold>,
    /// The orgs converged, in the order of `holds`. Empty for a `pause at` whose holds are
    /// not in force yet: the reconcile loop pauses them when they start.
    pub orgs: Vec<OrgReport>,
}

/// How far in the past the start of `pause at` may be and still be taken as "now": the time
/// it takes to type the command and for it to reach the daemon.
pub const START_GRACE: Duration = Duration::from_secs(5);

/// The result of `resume`.
#[derive(Debug)]
pub struct ResumeReport {
    pub released: Vec<Hold>,
    pub orgs: Vec<OrgReport>,
}

/// Holds in force, holds not in force yet, and each org's state.
#[derive(Debug)]
pub struct StatusReport {
    pub holds: Vec<Hold>,
    /// Unreleased holds that come into force later (ad hoc windows), soonest first.
    pub upcoming: Vec<Hold>,
    /// Each configured window's occurrence open now, or else its next one, soonest first.
    pub windows: Vec<(Occurrence, Vec<String>)>,
    /// Window occurrences recorded as missed in the last [`MISSED_SHOWN_FOR`].
    pub missed: Vec<Hold>,
    pub orgs: BTreeMap<String, OrgState>,
}

/// How far back `status` lists missed window occurrences.
pub const MISSED_SHOWN_FOR: SignedDuration = SignedDuration::from_hours(24);

/// The daemon's operations over its orgs.
#[derive(Debug)]
pub struct Service {
    config: Config,
    store: Store,
    engines: BTreeMap<String, Arc<OrgEngine>>,
    /// The last converge error per org, so that an org failing on every tick (no API calls
    /// left, an expired secret) is recorded and logged when the failure starts or changes,
    /// not every 30 seconds.
    last_errors: std::sync::Mutex<BTreeMap<String, String>>,
    /// Wakes the reconcile loop when a command changed the holds, so that its next wake-up
    /// (a hold's expiry, a window's edge) is computed from what is stored now.
    changed: tokio::sync::Notify,
    /// The Prometheus metrics: events are recorded here as they happen, the state is read at
    /// each scrape ([`Service::metrics_text`]).
    metrics: Metrics,
    /// The notifications, each sent once per change.
    alerts: Alerts,
}

impl Service {
    /// Builds one engine per configured org. Makes no request.
    pub fn new(config: Config, store: Store) -> anyhow::Result<Service> {
        Service::with_engines(config, store, |engine| engine)
    }

    /// [`Service::new`], with `tune` applied to each org's engine (tests poll deploys faster).
    pub fn with_engines(
        config: Config,
        store: Store,
        tune: impl Fn(OrgEngine) -> OrgEngine,
    ) -> anyhow::Result<Service> {
        let mut engines = BTreeMap::new();
        for org in config.orgs.values() {
            let client = OrgClient::new(client_settings(org))?;
            engines.insert(
                org.name.clone(),
                Arc::new(tune(
                    OrgEngine::new(
                        org.name.clone(),
                        client,
                        Scope::from_org(org),
                        store.clone(),
                    )
                    .with_trigger_tests(org.trigger_test_level, org.trigger_tests.clone()),
                )),
            );
        }
        let config_usage_percent = config.daemon.api_usage_alert_percent;
        let metrics = Metrics::new();
        let windows: Vec<(String, String)> = config
            .windows
            .iter()
            .flat_map(|window| {
                window
                    .orgs
                    .iter()
                    .map(|org| (org.clone(), window.name.clone()))
            })
            .collect();
        let orgs: Vec<String> = engines.keys().cloned().collect();
        metrics.init(&orgs, &windows, Timestamp::now());
        Ok(Service {
            config,
            store,
            engines,
            last_errors: std::sync::Mutex::new(BTreeMap::new()),
            changed: tokio::sync::Notify::new(),
            metrics,
            alerts: Alerts::new(Notifier::disabled(), config_usage_percent),
        })
    }

    /// Sends this service's notifications through `notifier` (none are sent otherwise).
    pub fn with_notifier(mut self, notifier: Notifier) -> Service {
        self.alerts = Alerts::new(notifier, self.config.daemon.api_usage_alert_percent);
        self
    }

    /// Resolves once a command has changed the holds since the last call (at most one
    /// wake-up is kept).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn holds_changed(&self) {
        self.changed.notify_one();
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics, in the OpenMetrics text format, with the state gauges read now: holds in
    /// force, each org's journal, restores overdue, and the API usage its client last saw.
    pub async fn metrics_text(&self, now: Timestamp) -> Result<String, ServiceError> {
        let holds = self.store.active_holds(now).await?;
        let mut snapshot = Snapshot::default();
        for hold in &holds {
            *snapshot
                .holds
                .entry(hold.source.as_str().to_owned())
                .or_default() += 1;
        }
        for (org, engine) in &self.engines {
            let mut state = OrgSnapshot::default();
            for entry in self.store.journal(org).await? {
                let kind = entry.key.kind;
                if let Some(counted) = counted_as(&entry) {
                    *state.components.entry((kind, counted)).or_default() += 1;
                }
                if restore_due(&entry, &holds) {
                    *state.overdue.entry(kind).or_default() += 1;
                    if entry.last_error.is_some() {
                        *state.failing.entry(kind).or_default() += 1;
                    }
                }
            }
            if let Some(usage) = engine.client().api_usage() {
                state.api_used = Some(usage.used);
                state.api_max = Some(usage.max);
            }
            snapshot.orgs.insert(org.clone(), state);
        }
        snapshot.notifications = self
            .alerts
            .notifier()
            .stats()
            .into_iter()
            .map(|target| NotifySnapshot {
                target: target.name,
                kind: target.kind.to_owned(),
                delivered: target.delivered,
                failed: target.failed,
                dropped: target.dropped,
            })
            .collect();
        self.metrics.refresh(&snapshot);
        Ok(self.metrics.encode())
    }

    /// A manual or ad hoc pause lasts more than zero and at most `manual_pause_max`.
    fn check_pause_length(&self, duration: Duration) -> Result<(), ServiceError> {
        let max = self.config.daemon.manual_pause_max;
        if duration.is_zero() {
            return Err(ServiceError::ZeroDuration);
        }
        if duration > max {
            return Err(ServiceError::TooLong {
                max: crate::config::duration::display(max),
            });
        }
        Ok(())
    }

    /// The orgs named, or every org when none is.
    fn select(&self, names: &[String]) -> Result<Vec<String>, ServiceError> {
        if names.is_empty() {
            return Ok(self.engines.keys().cloned().collect());
        }
        let mut selected = Vec::new();
        for name in names {
            if !self.engines.contains_key(name) {
                return Err(ServiceError::UnknownOrg {
                    name: name.clone(),
                    known: self.engines.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            if !selected.contains(name) {
                selected.push(name.clone());
            }
        }
        Ok(selected)
    }

    /// A manual hold on each named org (all by default) that expires after `duration`
    /// (`manual_pause_default` when not given, never more than `manual_pause_max`), then a
    /// converge of those orgs.
    pub async fn pause_now(
        &self,
        actor: &Actor,
        orgs: &[String],
        duration: Option<Duration>,
        reason: Option<String>,
        now: Timestamp,
        progress: ProgressFn,
    ) -> Result<PauseReport, ServiceError> {
        let orgs = self.select(orgs)?;
        let daemon = &self.config.daemon;
        let duration = duration.unwrap_or(daemon.manual_pause_default);
        self.check_pause_length(duration)?;
        let expires_at = after(now, duration);
        let mut holds = Vec::new();
        for org in &orgs {
            let hold = self
                .store
                .insert_hold(&NewHold {
                    org: org.clone(),
                    source: HoldSource::Manual,
                    owner: actor.clone(),
                    reason: reason.clone(),
                    scope: HoldScope::default(),
                    created_at: now,
                    starts_at: None,
                    expires_at,
                })
                .await?;
            holds.push(hold);
        }
        self.holds_changed();
        let mut reports = self.converge_for_command(&orgs, now, progress).await;
        self.release_refused(&holds, &mut reports, now).await?;
        for (hold, report) in holds.iter().zip(&reports) {
            self.record(
                actor,
                "pause",
                Some(&hold.org),
                Some(hold.id),
                json!({
                    "expires_at": hold.expires_at.to_string(),
                    "reason": hold.reason,
                    "outcome": outcome_json(&report.result),
                }),
                now,
            )
            .await?;
        }
        Ok(PauseReport {
            holds,
            orgs: reports,
        })
    }

    /// An ad hoc window (`pauseplay pause at`): a hold on each named org (all by default) for
    /// the window from `start` lasting `duration` (at most `manual_pause_max`). The hold comes
    /// into force `lead_time` before `start` (but not before `now`), so the org is paused when
    /// the window opens, and expires at `start + duration`. `start` may lie up to
    /// [`START_GRACE`] in the past; it is then taken as now.
    ///
    /// History gets a `pause_at` entry per hold with the nominal start. The orgs are converged
    /// only when the holds are already in force (the window opens within the lead time);
    /// otherwise the reconcile loop pauses them when the holds start, and
    /// [`PauseReport::orgs`] is empty.
    #[allow(clippy::too_many_arguments)] // the same shape as `pause_now`, plus the start
    pub async fn pause_at(
        &self,
        actor: &Actor,
        orgs: &[String],
        start: Timestamp,
        duration: Duration,
        reason: Option<String>,
        now: Timestamp,
        progress: ProgressFn,
    ) -> Result<PauseReport, ServiceError> {
        let orgs = self.select(orgs)?;
        let daemon = &self.config.daemon;
        self.check_pause_length(duration)?;
        let past = || ServiceError::StartInPast {
            start,
            // For people: the second is precise enough to see why.
            now: now.round(jiff::Unit::Second).unwrap_or(now),
        };
        if start < before(now, START_GRACE) {
            return Err(past());
        }
        let expires_at = after(start, duration);
        let starts_at = before(start, daemon.lead_time).max(now);
        // Stored at millisecond precision: a window that would be over before it started
        // (a start in the grace and a duration of a moment) is as good as past.
        if expires_at.as_millisecond() <= starts_at.as_millisecond() {
            return Err(past());
        }
        let name = ad_hoc_name(start);
        let mut holds = Vec::new();
        for org in &orgs {
            let hold = self
                .store
                .insert_hold(&NewHold {
                    org: org.clone(),
                    source: HoldSource::AdHoc { name: name.clone() },
                    owner: actor.clone(),
                    reason: reason.clone(),
                    scope: HoldScope::default(),
                    created_at: now,
                    starts_at: Some(starts_at),
                    expires_at,
                })
                .await?;
            holds.push(hold);
        }
        self.holds_changed();
        let in_force = holds.iter().all(|hold| hold.in_force_at(now));
        let mut reports = if in_force {
            self.converge_for_command(&orgs, now, progress).await
        } else {
            Vec::new()
        };
        self.release_refused(&holds, &mut reports, now).await?;
        for hold in &holds {
            let mut detail = json!({
                "name": name,
                "start": start.to_string(),
                "starts_pausing_at": hold.starts_at.unwrap_or(hold.created_at).to_string(),
                "expires_at": hold.expires_at.to_string(),
                "reason": hold.reason,
            });
            if let Some(report) = reports.iter().find(|report| report.org == hold.org) {
                detail["outcome"] = outcome_json(&report.result);
            }
            self.record(
                actor,
                "pause_at",
                Some(&hold.org),
                Some(hold.id),
                detail,
                now,
            )
            .await?;
        }
        Ok(PauseReport {
            holds,
            orgs: reports,
        })
    }

    /// Releases what `release` names, then converges the orgs concerned. Releasing an ad hoc
    /// hold that has not started yet cancels it. Ending a window's occurrence early leaves its
    /// released hold row behind: that row is the override that keeps the next pass from
    /// holding the same occurrence again.
    pub async fn resume(
        &self,
        actor: &Actor,
        orgs: &[String],
        release: Release,
        now: Timestamp,
        progress: ProgressFn,
    ) -> Result<ResumeReport, ServiceError> {
        let released = match &release {
            Release::Hold(id) => vec![
                self.store
                    .release_hold(*id, actor, now)
                    .await?
                    .ok_or(ServiceError::NoSuchHold(*id))?,
            ],
            Release::Manual => {
                let mut released = Vec::new();
                for org in self.select(orgs)? {
                    released.extend(self.store.release_manual_holds(&org, actor, now).await?);
                }
                released
            }
            Release::Window(name) => {
                let selected = self.select(orgs)?;
                let mut released = Vec::new();
                for hold in self.store.active_holds(now).await? {
                    let this_window = matches!(
                        &hold.source,
                        HoldSource::Window { name: held, .. } if held == name
                    );
                    if this_window && selected.contains(&hold.org) {
                        released.extend(self.store.release_hold(hold.id, actor, now).await?);
                    }
                }
                if released.is_empty() {
                    return Err(ServiceError::NoWindowInForce { name: name.clone() });
                }
                released
            }
        };
        self.holds_changed();
        let touched: Vec<String> = match release {
            Release::Manual => self.select(orgs)?,
            Release::Hold(_) | Release::Window(_) => {
                let touched: std::collections::BTreeSet<String> =
                    released.iter().map(|h| h.org.clone()).collect();
                touched.into_iter().collect()
            }
        };
        let reports = self.converge_for_command(&touched, now, progress).await;
        for report in &reports {
            let held: Vec<i64> = released
                .iter()
                .filter(|h| h.org == report.org)
                .map(|h| h.id.0)
                .collect();
            self.record(
                actor,
                "resume",
                Some(&report.org),
                None,
                json!({
                    "released_holds": held,
                    "outcome": outcome_json(&report.result),
                }),
                now,
            )
            .await?;
        }
        Ok(ResumeReport {
            released,
            orgs: reports,
        })
    }

    pub async fn status(&self, now: Timestamp) -> Result<StatusReport, ServiceError> {
        let mut orgs = BTreeMap::new();
        for (org, engine) in &self.engines {
            let journal = self.store.journal(org).await?;
            // A refused pause is not a failing reconcile, but it is why a hold in force has
            // paused nothing: status says so until the pause goes ahead or the hold ends.
            let error = self
                .last_errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(org)
                .cloned()
                .or_else(|| engine.refusal().map(|refused| refused.to_string()));
            orgs.insert(
                org.clone(),
                org_state(&journal, engine.watched_deploy(), error),
            );
        }
        let mut windows: Vec<(Occurrence, Vec<String>)> = self
            .config
            .windows
            .iter()
            .filter_map(|window| {
                schedule::active_at(window, now)
                    .into_iter()
                    .chain(schedule::next(window, now, 1))
                    .next()
                    .map(|occurrence| (occurrence, window.orgs.clone()))
            })
            .collect();
        windows.sort_by_key(|(occurrence, _)| occurrence.start);
        let since = now.saturating_sub(MISSED_SHOWN_FOR).unwrap_or(now);
        Ok(StatusReport {
            holds: self.store.active_holds(now).await?,
            upcoming: self.store.upcoming_holds(now).await?,
            windows,
            missed: self.store.missed_occurrences(since).await?,
            orgs,
        })
    }

    /// The next moment a pass has something to do, if any: a hold in force expires (an
    /// expired pause is restored at once rather than on the next tick), an upcoming hold
    /// comes into force, or a window is due to be held (its opening less `lead_time`).
    pub async fn next_edge(&self, now: Timestamp) -> Result<Option<Timestamp>, ServiceError> {
        let expiries = self
            .store
            .active_holds(now)
            .await?
            .into_iter()
            .map(|hold| hold.expires_at);
        let starts = self
            .store
            .upcoming_holds(now)
            .await?
            .into_iter()
            .filter_map(|hold| hold.starts_at);
        let lead_time = self.config.daemon.lead_time;
        let openings = self
            .config
            .windows
            .iter()
            .filter_map(|window| windows::next_edge(window, now, lead_time));
        Ok(expiries.chain(starts).chain(openings).min())
    }

    /// One line for systemd's `STATUS=`: holds in force and, per org, what is paused or not
    /// yet where it should be.
    pub async fn summary(&self, now: Timestamp) -> String {
        let status = match self.status(now).await {
            Ok(status) => status,
            Err(error) => return format!("cannot read the state: {error}"),
        };
        let mut holds = match status.holds.len() {
            0 => "no holds".to_owned(),
            1 => "1 hold".to_owned(),
            n => format!("{n} holds"),
        };
        if !status.upcoming.is_empty() {
            holds.push_str(&format!(", {} upcoming", status.upcoming.len()));
        }
        let mut parts = vec![holds];
        for (org, state) in &status.orgs {
            let counts = state.counts;
            let mut line = format!("{org}: {} paused", counts.paused);
            let busy = counts.pausing + counts.restoring;
            if busy > 0 {
                line.push_str(&format!(", {busy} in flight"));
            }
            if counts.failed + counts.conflict > 0 {
                line.push_str(&format!(
                    ", {} failed, {} conflict",
                    counts.failed, counts.conflict
                ));
            }
            if state.error.is_some() {
                line.push_str(", reconcile failing");
            }
            parts.push(line);
        }
        parts.join("; ")
    }

    pub async fn history(
        &self,
        org: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, ServiceError> {
        Ok(self.store.history(org, limit).await?)
    }

    /// The periodic work: hold the window occurrences that are due (recording missed ones),
    /// expire holds whose time is up (recorded in history), then converge every org.
    /// Failures are logged and recorded; the next reconcile tries again.
    pub async fn reconcile(&self, now: Timestamp, progress: ProgressFn) -> Vec<OrgReport> {
        self.apply_windows(now).await;
        match self.store.expire_holds(now).await {
            Ok(expired) => {
                for hold in expired {
                    let detail = json!({"expired_at": hold.expires_at.to_string()});
                    if let Err(error) = self
                        .record(
                            &Actor::daemon(),
                            "hold_expired",
                            Some(&hold.org),
                            Some(hold.id),
                            detail,
                            now,
                        )
                        .await
                    {
                        warn!(error = %error, "could not record an expired hold in the history");
                    }
                }
            }
            Err(error) => warn!(error = %error, "could not expire holds; trying again next time"),
        }
        let orgs: Vec<String> = self.engines.keys().cloned().collect();
        let reports = self.converge_orgs(&orgs, now, progress, Until::Once).await;
        if let Err(error) = self.check_overdue(now).await {
            warn!(error = %error, "could not check for overdue restores; trying again next pass");
        }
        for report in &reports {
            let changed = match &report.result {
                Ok(outcome) => {
                    self.remember_error(&report.org, None);
                    outcome.paused + outcome.restored > 0 || !outcome.is_clean()
                }
                Err(error) => {
                    let first = self.remember_error(&report.org, Some(error_chain(error)));
                    if first {
                        warn!(org = %report.org, error = %error_chain(error), "reconcile failed; retrying on every tick");
                    }
                    first
                }
            };
            if let Ok(Outcome {
                refused: Some(refused),
                ..
            }) = &report.result
            {
                let detail = json!({
                    "holds": refused.holds.iter().map(|id| id.0).collect::<Vec<_>>(),
                    "components": refused.components,
                    "pause_calls": refused.pause,
                    "restore_calls": refused.restore,
                    "remaining": refused.remaining,
                    "max": refused.max,
                });
                if let Err(error) = self
                    .record(
                        &Actor::daemon(),
                        "pause_refused",
                        Some(&report.org),
                        None,
                        detail,
                        now,
                    )
                    .await
                {
                    warn!(error = %error, "could not record a refused pause in the history");
                }
            }
            if changed {
                let detail = json!({"outcome": outcome_json(&report.result)});
                if let Err(error) = self
                    .record(
                        &Actor::daemon(),
                        "reconcile",
                        Some(&report.org),
                        None,
                        detail,
                        now,
                    )
                    .await
                {
                    warn!(error = %error, "could not record a reconcile in the history");
                }
            }
        }
        reports
    }

    /// After a pass: notifies restores that are due and failing (their holds have all ended,
    /// and their last attempt failed), and API usage above the alert threshold, per org.
    async fn check_overdue(&self, now: Timestamp) -> Result<(), StoreError> {
        let holds = self.store.active_holds(now).await?;
        for (org, engine) in &self.engines {
            let overdue: Vec<Overdue> = self
                .store
                .journal(org)
                .await?
                .into_iter()
                .filter(|entry| entry.last_error.is_some() && restore_due(entry, &holds))
                .map(|entry| Overdue {
                    kind: entry.key.kind.as_str(),
                    api_name: entry.api_name,
                    error: entry.last_error,
                })
                .collect();
            self.alerts.overdue(org, &overdue, now);
            if let Some(usage) = engine.client().api_usage() {
                self.alerts.usage(org, usage, now);
            }
        }
        Ok(())
    }

    /// Holds the window occurrences that are due and records the missed ones (see
    /// [`windows`]). A failure is logged; the next pass tries again.
    async fn apply_windows(&self, now: Timestamp) {
        let daemon = &self.config.daemon;
        for window in &self.config.windows {
            for decision in windows::due(window, now, daemon.lead_time, daemon.min_remaining) {
                for org in &window.orgs {
                    if let Err(error) = self.apply_occurrence(window, org, &decision, now).await {
                        warn!(window = %window.name, org = %org, error = %error, "could not record a window occurrence; trying again on the next pass");
                    }
                }
            }
        }
    }

    async fn apply_occurrence(
        &self,
        window: &WindowConfig,
        org: &str,
        decision: &Decision,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (occurrence, missed) = match decision {
            Decision::Hold(occurrence) => (occurrence, false),
            Decision::Missed(occurrence) => (occurrence, true),
        };
        // Decided by an earlier pass (held, ended early, or missed): a read on every pass
        // instead of a write the unique index refuses.
        if self
            .store
            .has_window_hold(org, &window.name, occurrence.start)
            .await?
        {
            return Ok(());
        }
        let hold = NewHold {
            org: org.to_owned(),
            source: HoldSource::Window {
                name: window.name.clone(),
                occurrence_start: occurrence.start,
            },
            owner: Actor {
                uid: None,
                name: window.name.clone(),
            },
            reason: Some(format!(
                "window `{}` from {} to {}",
                window.name, occurrence.start, occurrence.end
            )),
            scope: HoldScope {
                kinds: window.kinds.clone(),
                objects: window
                    .objects
                    .as_ref()
                    .map(|objects| objects.iter().cloned().collect()),
            },
            created_at: now,
            // Inserted when it is due (its opening less the lead time): in force at once.
            starts_at: None,
            expires_at: occurrence.end,
        };
        let inserted = if missed {
            self.store.insert_missed_occurrence(&hold, now).await
        } else {
            self.store.insert_hold(&hold).await
        };
        let stored = match inserted {
            Ok(stored) => stored,
            // Decided meanwhile by a concurrent pass: never twice.
            Err(StoreError::DuplicateWindowHold { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        let detail = json!({
            "window": window.name,
            "occurrence_start": occurrence.start.to_string(),
            "occurrence_end": occurrence.end.to_string(),
        });
        if missed {
            self.metrics.missed_window(org, &window.name);
            self.alerts
                .missed(org, &window.name, occurrence.start, occurrence.end, now);
            warn!(window = %window.name, org = %org, start = %occurrence.start, end = %occurrence.end, "a window was found open with less than min_remaining left; recorded as missed, not paused");
            self.record(
                &Actor::daemon(),
                "window_missed",
                Some(org),
                Some(stored.id),
                detail,
                now,
            )
            .await
        } else {
            info!(window = %window.name, org = %org, start = %occurrence.start, end = %occurrence.end, "window occurrence held");
            self.record(
                &Actor::daemon(),
                "window_held",
                Some(org),
                Some(stored.id),
                detail,
                now,
            )
            .await
        }
    }

    /// A command's pause that its org could not afford is refused outright rather than left
    /// to happen later by surprise (the engine would try again after
    /// [`crate::engine::REFUSAL_RETRY`]): the command's holds on that org are released and
    /// its report says why. A window's hold is not released this way: it stays, and its
    /// pause goes ahead once the org has the calls, while the window lasts.
    async fn release_refused(
        &self,
        holds: &[Hold],
        reports: &mut [OrgReport],
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let mut released = false;
        for report in reports.iter_mut() {
            let Ok(outcome) = &mut report.result else {
                continue;
            };
            let Some(refused) = outcome.refused.take() else {
                continue;
            };
            for hold in holds.iter().filter(|hold| hold.org == report.org) {
                self.store
                    .release_hold(hold.id, &Actor::daemon(), now)
                    .await?;
                released = true;
            }
            warn!(org = %report.org, "{refused}");
            report.result = Err(EngineError::PauseRefused(refused));
        }
        if released {
            self.holds_changed();
        }
        Ok(())
    }

    /// Records the org's current converge error; true when it is new or different.
    fn remember_error(&self, org: &str, error: Option<String>) -> bool {
        let mut last = self
            .last_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match error {
            None => {
                last.remove(org);
                false
            }
            Some(error) => last.insert(org.to_owned(), error.clone()).as_ref() != Some(&error),
        }
    }

    /// [`Service::converge_orgs`] for a command, until its deploys are done. How each org's
    /// converge ended is also what `status` says about the org until the next pass: an org a
    /// command found out of API calls shows as stopped at once, not only after the next tick
    /// (up to 30 s later), and one it finished no longer shows an old error.
    async fn converge_for_command(
        &self,
        orgs: &[String],
        now: Timestamp,
        progress: ProgressFn,
    ) -> Vec<OrgReport> {
        let reports = self
            .converge_orgs(orgs, now, progress, Until::DeploysDone)
            .await;
        for report in &reports {
            let error = report.result.as_ref().err().map(|error| error_chain(error));
            if self.remember_error(&report.org, error.clone()) {
                warn!(org = %report.org, error = error.as_deref().unwrap_or_default(), "stopped; retrying on every tick");
            }
        }
        reports
    }

    /// Converges `orgs` concurrently (each engine serialises its own writes) and returns the
    /// reports in the order given.
    async fn converge_orgs(
        &self,
        orgs: &[String],
        now: Timestamp,
        progress: ProgressFn,
        until: Until,
    ) -> Vec<OrgReport> {
        let mut tasks = JoinSet::new();
        for (index, org) in orgs.iter().enumerate() {
            let Some(engine) = self.engines.get(org).cloned() else {
                continue;
            };
            let progress = Arc::clone(&progress);
            tasks.spawn(async move {
                let started = std::time::Instant::now();
                let result = match until {
                    Until::Once => engine.converge(now, &*progress).await,
                    Until::DeploysDone => converge_until_deployed(&engine, now, &*progress).await,
                };
                (
                    index,
                    OrgReport {
                        org: engine.org().to_owned(),
                        result,
                    },
                    started.elapsed(),
                )
            });
        }
        let mut reports = Vec::with_capacity(orgs.len());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, report, elapsed)) => {
                    let org = &report.org;
                    match &report.result {
                        Ok(outcome) => {
                            let metrics = &self.metrics;
                            metrics.converged(org, outcome.paused, outcome.restored, elapsed);
                            metrics.succeeded(org, now);
                            if outcome.refused.is_some() {
                                metrics.pause_refused(org);
                            }
                            self.alerts.converged(org, outcome, now);
                        }
                        Err(error) => self.alerts.stopped(org, &error_chain(error), now),
                    }
                    reports.push((index, report));
                }
                Err(error) => warn!(error = %error, "a converge task stopped unexpectedly"),
            }
        }
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, report)| report).collect()
    }

    async fn record(
        &self,
        actor: &Actor,
        action: &str,
        org: Option<&str>,
        hold: Option<HoldId>,
        detail: serde_json::Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.store
            .append_history(&NewHistory {
                at: now,
                org: org.map(str::to_owned),
                actor: actor.clone(),
                action: action.to_owned(),
                hold_id: hold,
                detail,
            })
            .await
            .map(|_| ())
    }
}

fn after(now: Timestamp, duration: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| now.checked_add(duration).ok())
        .unwrap_or(Timestamp::MAX)
}

fn before(at: Timestamp, duration: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| at.checked_sub(duration).ok())
        .unwrap_or(Timestamp::MIN)
}

/// The name of the ad hoc window starting at `start`: `at-2026-12-01T21:00Z` (UTC, with
/// seconds only when the start has any), readable in `status` and `history`.
pub fn ad_hoc_name(start: Timestamp) -> String {
    if start.as_second() % 60 == 0 && start.subsec_nanosecond() == 0 {
        format!("at-{}", start.strftime("%Y-%m-%dT%H:%MZ"))
    } else {
        format!("at-{}", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }
}

fn issues_json(issues: &[Issue]) -> serde_json::Value {
    issues
        .iter()
        .map(|issue| {
            json!({
                "kind": issue.kind.as_str(),
                "id": issue.id,
                "api_name": issue.api_name,
                "message": issue.message,
            })
        })
        .collect()
}

/// The per-component outcome recorded in history.
/// How long a converge of [`Service::converge_orgs`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// One converge: the reconcile loop comes back on its next tick.
    Once,
    /// Converges again while a trigger deploy is still running, so that a command answers
    /// only once its org is where it asked for. Each converge lets go of the org's lock after
    /// at most [`crate::engine::DEPLOY_WAIT`], so other work on the org goes on meanwhile.
    DeploysDone,
}

async fn converge_until_deployed(
    engine: &OrgEngine,
    now: Timestamp,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Outcome, EngineError> {
    let started = std::time::Instant::now();
    let mut so_far = engine.converge(now, progress).await?;
    while so_far.deploying > 0 {
        let elapsed = jiff::SignedDuration::try_from(started.elapsed()).unwrap_or_default();
        let at = now.saturating_add(elapsed).unwrap_or(now);
        so_far.absorb(engine.converge(at, progress).await?);
    }
    Ok(so_far)
}

fn outcome_json(result: &Result<Outcome, EngineError>) -> serde_json::Value {
    match result {
        Ok(outcome) => json!({
            "paused": outcome.paused,
            "restored": outcome.restored,
            "unchanged": outcome.unchanged,
            "skipped": outcome.skipped,
            "failed": issues_json(&outcome.failed),
            "conflicts": issues_json(&outcome.conflicts),
            "deploying": outcome.deploying,
        }),
        Err(error) => json!({"error": error_chain(error)}),
    }
}
