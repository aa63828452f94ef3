//! The daemon's Prometheus metrics: their names, labels and help, the registry, and the
//! endpoint that serves them ([`server`]) on `daemon.metrics_listen`.
//!
//! Two sorts of metric live here. What the state says (holds in force, components per state,
//! restores overdue, API usage) is set from a [`Snapshot`] the daemon takes from its store and
//! engines at each scrape, so a scrape never shows a stale count and no code path has to
//! remember to update a gauge. What happens (a pause's duration, a missed window, a refused
//! pause, a converge that succeeded) is recorded when it happens, through the methods below.
//!
//! The metric to alert on is `pauseplay_restores_overdue`: components whose holds have all
//! ended and that are not restored yet. A restore runs as soon as its hold ends, so a value
//! that stays above zero for minutes means restores are failing (`config/pauseplay.alerts.yml`).

pub mod server;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::automation::Kind;

/// The prefix of every metric name.
const PREFIX: &str = "pauseplay";

/// Duration buckets, in seconds: 0.5 s to about 34 min, doubling. A small org pauses in a
/// second or two; a production trigger deploy runs tests for minutes.
fn duration_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.5, 2.0, 13))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgLabels {
    org: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    org: String,
    kind: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgKindLabels {
    org: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WindowLabels {
    org: String,
    window: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: String,
    kind: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The states a journal row is counted in (see [`crate::daemon::status::StateCounts`]).
pub const COMPONENT_STATES: [&str; 5] = ["paused", "pausing", "restoring", "failed", "conflict"];

/// The sources a hold comes from (`HoldSource::as_str`).
pub const HOLD_SOURCES: [&str; 3] = ["manual", "window", "ad_hoc"];

/// What the daemon's state is at one moment, per org; set into the gauges at each scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Holds in force, by source ([`HOLD_SOURCES`]).
    pub holds: BTreeMap<String, u64>,
    pub orgs: BTreeMap<String, OrgSnapshot>,
    /// Per notification target: name, kind and its delivered, failed and dropped counts.
    pub notifications: Vec<NotifySnapshot>,
}

/// One org's part of a [`Snapshot`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgSnapshot {
    /// Journal rows per kind and state ([`COMPONENT_STATES`]).
    pub components: BTreeMap<(Kind, &'static str), u64>,
    /// Rows whose every hold has ended and that are not restored yet, per kind.
    pub overdue: BTreeMap<Kind, u64>,
    /// Of those, the rows whose last restore attempt failed, per kind.
    pub failing: BTreeMap<Kind, u64>,
    /// The org's daily API usage from the last `Sforce-Limit-Info`, when one was seen.
    pub api_used: Option<u64>,
    pub api_max: Option<u64>,
}

/// One notification target's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySnapshot {
    pub target: String,
    pub kind: String,
    pub delivered: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// The registry and every metric in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    holds_active: Family<SourceLabels, Gauge>,
    components: Family<ComponentLabels, Gauge>,
    restores_overdue: Family<OrgKindLabels, Gauge>,
    restores_failing: Family<OrgKindLabels, Gauge>,
    api_usage: Family<OrgLabels, Gauge>,
    api_limit: Family<OrgLabels, Gauge>,
    pause_duration: Family<OrgLabels, Histogram, fn() -> Histogram>,
    restore_duration: Family<OrgLabels, Histogram, fn() -> Histogram>,
    missed_windows: Family<WindowLabels, Counter>,
    pauses_refused: Family<OrgLabels, Counter>,
    last_success: Family<OrgLabels, FloatGauge>,
    notifications_delivered: Family<TargetLabels, Counter>,
    notifications_failed: Family<TargetLabels, Counter>,
    notifications_dropped: Family<TargetLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "build",
            "pauseplay's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let mut add = Registrar(&mut registry);
        Metrics {
            holds_active: add.family(
                "holds_active",
                "Holds in force, by source (manual, window, ad_hoc)",
            ),
            components: add.family(
                "components",
                "Components in the journal by org, kind and state (paused, pausing, restoring, \
                 failed, conflict)",
            ),
            restores_overdue: add.family(
                "restores_overdue",
                "Components whose holds have all ended and that are not restored yet; above zero \
                 for minutes means restores are failing",
            ),
            restores_failing: add.family(
                "restores_failing",
                "Of the overdue restores, those whose last attempt failed",
            ),
            api_usage: add.family(
                "api_usage_calls",
                "The org's daily API calls used, from the last Sforce-Limit-Info",
            ),
            api_limit: add.family(
                "api_limit_calls",
                "The org's daily API call limit, from the last Sforce-Limit-Info",
            ),
            pause_duration: add.metric(
                "pause_duration_seconds",
                "Time a converge that paused components took (a command's includes waiting for \
                 its trigger deploy)",
                Family::new_with_constructor(duration_buckets),
            ),
            restore_duration: add.metric(
                "restore_duration_seconds",
                "Time a converge that restored components took",
                Family::new_with_constructor(duration_buckets),
            ),
            missed_windows: add.family(
                "missed_windows",
                "Window occurrences found open with less than min_remaining left, not paused",
            ),
            pauses_refused: add.family(
                "pauses_refused",
                "Pauses refused because the org had too few API calls left for the pause and \
                 its restore",
            ),
            last_success: add.family(
                "last_reconcile_success_timestamp_seconds",
                "When the org last converged without error (a pass or a command), Unix time",
            ),
            notifications_delivered: add.family(
                "notifications_delivered",
                "Notifications delivered, by target",
            ),
            notifications_failed: add.family(
                "notifications_failed",
                "Notifications given up after their retries, by target",
            ),
            notifications_dropped: add.family(
                "notifications_dropped",
                "Notifications dropped because the target's queue was full",
            ),
            registry,
        }
    }

    /// Creates every org's and every window's series at zero, so that each exists from the
    /// first scrape: Prometheus sees no `increase()` in a counter whose first sample is
    /// already 1, and `absent` series make alerts silent. The last success starts at `now`
    /// (the daemon's start), so an org that never converges still ages into the alert.
    pub fn init(&self, orgs: &[String], windows: &[(String, String)], now: Timestamp) {
        for org in orgs {
            let labels = org_labels(org);
            // Creating the series is the point; the guards are dropped at once.
            drop(self.pauses_refused.get_or_create(&labels));
            drop(self.pause_duration.get_or_create(&labels));
            drop(self.restore_duration.get_or_create(&labels));
            self.succeeded(org, now);
        }
        for (org, window) in windows {
            drop(self.missed_windows.get_or_create(&WindowLabels {
                org: org.clone(),
                window: window.clone(),
            }));
        }
    }

    /// A converge of `org` that took `elapsed` and paused and restored these many.
    pub fn converged(&self, org: &str, paused: u64, restored: u64, elapsed: Duration) {
        let labels = org_labels(org);
        if paused > 0 {
            self.pause_duration
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
        }
        if restored > 0 {
            self.restore_duration
                .get_or_create(&labels)
                .observe(elapsed.as_secs_f64());
        }
    }

    /// `org` converged without error at `at`.
    pub fn succeeded(&self, org: &str, at: Timestamp) {
        let seconds = at.as_millisecond() as f64 / 1_000.0;
        self.last_success
            .get_or_create(&org_labels(org))
            .set(seconds);
    }

    pub fn missed_window(&self, org: &str, window: &str) {
        self.missed_windows
            .get_or_create(&WindowLabels {
                org: org.to_owned(),
                window: window.to_owned(),
            })
            .inc();
    }

    pub fn pause_refused(&self, org: &str) {
        self.pauses_refused.get_or_create(&org_labels(org)).inc();
    }

    /// Sets the state gauges from `snapshot`. Every label set is written, zeros included, so
    /// that a count that fell to zero does not keep its last value.
    pub fn refresh(&self, snapshot: &Snapshot) {
        for source in HOLD_SOURCES {
            let count = snapshot.holds.get(source).copied().unwrap_or(0);
            self.holds_active
                .get_or_create(&SourceLabels {
                    source: source.to_owned(),
                })
                .set(gauge(count));
        }
        for (org, state) in &snapshot.orgs {
            for kind in Kind::ALL {
                for name in COMPONENT_STATES {
                    let count = state.components.get(&(kind, name)).copied().unwrap_or(0);
                    self.components
                        .get_or_create(&ComponentLabels {
                            org: org.clone(),
                            kind: kind.as_str().to_owned(),
                            state: name.to_owned(),
                        })
                        .set(gauge(count));
                }
                let labels = OrgKindLabels {
                    org: org.clone(),
                    kind: kind.as_str().to_owned(),
                };
                let overdue = state.overdue.get(&kind).copied().unwrap_or(0);
                self.restores_overdue
                    .get_or_create(&labels)
                    .set(gauge(overdue));
                let failing = state.failing.get(&kind).copied().unwrap_or(0);
                self.restores_failing
                    .get_or_create(&labels)
                    .set(gauge(failing));
            }
            let labels = org_labels(org);
            if let (Some(used), Some(max)) = (state.api_used, state.api_max) {
                self.api_usage.get_or_create(&labels).set(gauge(used));
                self.api_limit.get_or_create(&labels).set(gauge(max));
            }
        }
        for target in &snapshot.notifications {
            let labels = TargetLabels {
                target: target.target.clone(),
                kind: target.kind.clone(),
            };
            for (family, total) in [
                (&self.notifications_delivered, target.delivered),
                (&self.notifications_failed, target.failed),
                (&self.notifications_dropped, target.dropped),
            ] {
                // The notifier keeps the totals; a counter only goes up to meet them.
                let counter = family.get_or_create(&labels);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        }
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing into a String cannot fail; say so in the body should that change.
            out.clear();
            let _ = writeln!(out, "# pauseplay could not encode its metrics: {error}");
        }
        out
    }
}

/// Registers each metric as it is created, so a field and its registration are one expression.
struct Registrar<'r>(&'r mut Registry);

impl Registrar<'_> {
    fn metric<M>(&mut self, name: &str, help: &str, metric: M) -> M
    where
        M: prometheus_client::registry::Metric + Clone,
    {
        self.0.register(name, help, metric.clone());
        metric
    }

    fn family<S, M>(&mut self, name: &str, help: &str) -> Family<S, M>
    where
        Family<S, M>: prometheus_client::registry::Metric + Clone + Default,
    {
        self.metric(name, help, Family::default())
    }
}

fn org_labels(org: &str) -> OrgLabels {
    OrgLabels {
        org: org.to_owned(),
    }
}

fn gauge(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, line_start: &str) -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(line_start))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn a_count_that_falls_to_zero_reads_zero() {
        let metrics = Metrics::new();
        let mut snapshot = Snapshot::default();
        let mut org = OrgSnapshot::default();
        org.components.insert((Kind::Flow, "paused"), 6);
        org.overdue.insert(Kind::Flow, 2);
        snapshot.orgs.insert("prod".to_owned(), org);
        snapshot.holds.insert("window".to_owned(), 1);
        metrics.refresh(&snapshot);
        let text = metrics.encode();
        let paused = r#"pauseplay_components{org="prod",kind="flow",state="paused"}"#;
        let overdue = r#"pauseplay_restores_overdue{org="prod",kind="flow"}"#;
        assert_eq!(value(&text, paused), Some(6.0), "{text}");
        assert_eq!(value(&text, overdue), Some(2.0));
        assert_eq!(
            value(&text, r#"pauseplay_holds_active{source="window"}"#),
            Some(1.0)
        );

        snapshot
            .orgs
            .insert("prod".to_owned(), OrgSnapshot::default());
        snapshot.holds.clear();
        metrics.refresh(&snapshot);
        let text = metrics.encode();
        assert_eq!(value(&text, paused), Some(0.0));
        assert_eq!(value(&text, overdue), Some(0.0));
        assert_eq!(
            value(&text, r#"pauseplay_holds_active{source="window"}"#),
            Some(0.0)
        );
    }

    #[test]
    fn events_and_build_info_are_encoded() {
        let metrics = Metrics::new();
        metrics.converged("prod", 5, 0, Duration::from_millis(1500));
        metrics.converged("prod", 0, 5, Duration::from_millis(700));
        metrics.missed_window("prod", "nightly");
        metrics.pause_refused("prod");
        metrics.succeeded(
            "prod",
            Timestamp::from_second(1_800_000_000).expect("valid"),
        );
        let text = metrics.encode();
        assert_eq!(
            value(
                &text,
                r#"pauseplay_pause_duration_seconds_count{org="prod"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                r#"pauseplay_restore_duration_seconds_sum{org="prod"}"#
            ),
            Some(0.7)
        );
        assert_eq!(
            value(
                &text,
                r#"pauseplay_missed_windows_total{org="prod",window="nightly"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"pauseplay_pauses_refused_total{org="prod"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"pauseplay_last_reconcile_success_timestamp_seconds{org="prod"}"#
            ),
            Some(1_800_000_000.0)
        );
        assert!(text.contains(&format!(
            "pauseplay_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn notification_counters_follow_the_notifier_totals() {
        let metrics = Metrics::new();
        let mut snapshot = Snapshot::default();
        snapshot.notifications.push(NotifySnapshot {
            target: "ops".to_owned(),
            kind: "slack".to_owned(),
            delivered: 3,
            failed: 1,
            dropped: 0,
        });
        metrics.refresh(&snapshot);
        snapshot.notifications[0].failed = 2;
        metrics.refresh(&snapshot);
        let text = metrics.encode();
        assert_eq!(
            value(
                &text,
                r#"pauseplay_notifications_failed_total{target="ops",kind="slack"}"#
            ),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                r#"pauseplay_notifications_delivered_total{target="ops",kind="slack"}"#
            ),
            Some(3.0)
        );
    }
}
