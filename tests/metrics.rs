//! The metrics endpoint, scraped over HTTP and parsed as Prometheus does: the held components,
//! the holds by source, the API usage, durations, and the alarm metric
//! `pauseplay_restores_overdue` when a restore is forced to fail in the simulated org.

mod common;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pauseplay::config::Config;
use pauseplay::daemon::service::Service;
use pauseplay::metrics::server;
use pauseplay::sim::{AdminAction, SimHandle};
use pauseplay::store::Store;
use prometheus_parse::{Scrape, Value};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use pauseplay::notify;
use serde_json::Value as Json;
use std::os::unix::fs::PermissionsExt as _;

use common::{at, fast_service, mixed_scenario, quiet, start_sim, t0, write_config_with};

/// A service over the mixed org with one window from `at(0)` to `at(60)`, its metrics served
/// on a loopback port; each scrape reads the state at the instant in `clock`.
struct Served {
    sim: SimHandle,
    service: Arc<Service>,
    clock: Arc<std::sync::Mutex<Timestamp>>,
    url: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    delivery: tokio::task::JoinHandle<()>,
    _store: Store,
    _dir: TempDir,
}

impl Served {
    async fn start(org_extra: &str) -> Served {
        Served::start_with(org_extra, None).await
    }

    /// [`Served::start`], with a generic webhook target at `hook` when given.
    async fn start_with(org_extra: &str, hook: Option<&str>) -> Served {
        let sim = start_sim(mixed_scenario()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let notify = match hook {
            Some(hook) => {
                let file = dir.path().join("hook.url");
                std::fs::write(&file, hook).expect("write the hook URL");
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
                format!(
                    "\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        let window = format!(
            "[[windows]]\nname = \"load\"\norgs = [\"sim\"]\nstart = \"{}\"\nend = \"{}\"\n",
            at(0),
            at(60)
        );
        let config = write_config_with(
            dir.path(),
            &sim,
            "lead_time = \"1m\"",
            &format!("{org_extra}\n{window}{notify}"),
        );
        let config = Config::load(&config).expect("config");
        let (notifier, delivery) = notify::start(
            &config.notify,
            notify::RetryPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                ..notify::RetryPolicy::DEFAULT
            },
        );
        let store = Store::open(&config.daemon.state_dir).await.expect("store");
        let service = Arc::new(fast_service(config, &store).with_notifier(notifier));
        let listener = server::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let url = format!(
            "http://{}/metrics",
            listener.local_addr().expect("bound address")
        );
        let clock = Arc::new(std::sync::Mutex::new(t0()));
        let shutdown = CancellationToken::new();
        let render = {
            let service = Arc::clone(&service);
            let clock = Arc::clone(&clock);
            move || {
                let service = Arc::clone(&service);
                let now = *clock.lock().expect("clock");
                async move { service.metrics_text(now).await.map_err(|e| e.to_string()) }
            }
        };
        let server = tokio::spawn(server::serve(listener, render, shutdown.clone()));
        let delivery = tokio::spawn(delivery.run(shutdown.clone()));
        Served {
            delivery,
            sim,
            service,
            clock,
            url,
            shutdown,
            server,
            _store: store,
            _dir: dir,
        }
    }

    async fn pass(&self, now: Timestamp) {
        *self.clock.lock().expect("clock") = now;
        let reports = self.service.reconcile(now, quiet()).await;
        assert!(reports[0].result.is_ok(), "{:?}", reports[0].result);
    }

    /// GETs the endpoint and parses the body as Prometheus would.
    async fn scrape(&self) -> Scrape {
        let reply = reqwest::get(&self.url).await.expect("scrape");
        assert_eq!(reply.status(), 200);
        let content_type = reply
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        let body = reply.text().await.expect("body");
        assert!(
            body.ends_with("# EOF\n"),
            "an OpenMetrics body ends with # EOF"
        );
        Scrape::parse(body.lines().map(|line| Ok(line.to_owned()))).expect("parses")
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.expect("the server stops on shutdown");
        self.delivery.await.expect("delivery stops on shutdown");
        self.sim.shutdown().await;
    }
}

/// The sum of the samples of `metric` whose labels include `filter`.
fn sum(scrape: &Scrape, metric: &str, filter: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric)
        .filter(|sample| {
            filter
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(*value))
        })
        .filter_map(|sample| match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
        .collect();
    assert!(
        !matching.is_empty(),
        "no sample of {metric} with {filter:?} in the scrape"
    );
    matching.iter().sum()
}

#[tokio::test]
async fn a_scrape_shows_the_held_components_the_holds_and_the_api_usage() {
    let served = Served::start("").await;
    let scrape = served.scrape().await;
    assert_eq!(
        sum(&scrape, "pauseplay_components", &[("state", "paused")]),
        0.0
    );
    assert_eq!(sum(&scrape, "pauseplay_holds_active", &[]), 0.0);
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    served.pass(at(0)).await;
    let scrape = served.scrape().await;
    let paused = [("org", "sim"), ("state", "paused")];
    assert_eq!(sum(&scrape, "pauseplay_components", &paused), 19.0);
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_components",
            &[("org", "sim"), ("kind", "trigger"), ("state", "paused")]
        ),
        3.0
    );
    assert_eq!(
        sum(&scrape, "pauseplay_holds_active", &[("source", "window")]),
        1.0
    );
    assert_eq!(sum(&scrape, "pauseplay_restores_overdue", &[]), 0.0);
    let used = sum(&scrape, "pauseplay_api_usage_calls", &[("org", "sim")]);
    let limit = sum(&scrape, "pauseplay_api_limit_calls", &[("org", "sim")]);
    let scenario = mixed_scenario().limits;
    let counted = (scenario.used + served.sim.counters()["api_requests"]) as f64;
    assert_eq!(
        (used, limit),
        (counted, scenario.daily_api_requests as f64),
        "the usage is the org's own count"
    );
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_pause_duration_seconds_count",
            &[("org", "sim")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_last_reconcile_success_timestamp_seconds",
            &[("org", "sim")]
        ),
        at(0).as_second() as f64
    );

    served.pass(at(60)).await;
    let scrape = served.scrape().await;
    assert_eq!(sum(&scrape, "pauseplay_components", &paused), 0.0);
    assert_eq!(sum(&scrape, "pauseplay_holds_active", &[]), 0.0);
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_restore_duration_seconds_count",
            &[("org", "sim")]
        ),
        1.0
    );
    served.stop().await;
}

/// The window ends while someone's admin operation holds the org: every restore write is
/// refused, so the components stay paused past the window's end. The alarm metric counts them
/// (and how many are failing) until a later pass restores them.
#[tokio::test]
async fn a_restore_forced_to_fail_shows_as_overdue_until_it_succeeds() {
    // Flows and rules only: their writes fail item by item, at once, with no client retry.
    let hook = Receiver::start().await;
    let served = Served::start_with(
        "kinds = [\"flow\", \"process_builder\", \"validation_rule\", \"workflow_rule\"]",
        Some(&hook.url),
    )
    .await;
    let before = served.sim.snapshot();
    served.pass(at(0)).await;
    let scrape = served.scrape().await;
    assert_eq!(
        sum(&scrape, "pauseplay_components", &[("state", "paused")]),
        16.0
    );

    served
        .sim
        .admin(AdminAction::SetAdminOperation { in_progress: true })
        .expect("admin operation");
    served.pass(at(60)).await;
    let scrape = served.scrape().await;
    assert_eq!(
        sum(&scrape, "pauseplay_restores_overdue", &[("org", "sim")]),
        16.0
    );
    assert_eq!(
        sum(&scrape, "pauseplay_restores_failing", &[("org", "sim")]),
        16.0
    );
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_restores_overdue",
            &[("kind", "validation_rule")]
        ),
        5.0
    );
    assert_eq!(sum(&scrape, "pauseplay_holds_active", &[]), 0.0);
    // And the people watching are told, once.
    let overdue = hook.wait_for("restore_overdue").await;
    assert_eq!(overdue["org"], "sim");
    assert!(
        overdue["summary"]
            .as_str()
            .is_some_and(|s| s.contains("16 automations are still paused after their window ended")),
        "{overdue}"
    );
    assert_eq!(overdue["details"].as_array().map(Vec::len), Some(16));
    assert!(
        overdue["details"][0]
            .as_str()
            .is_some_and(|line| line.contains("admin operation already in progress")),
        "{overdue}"
    );
    hook.wait_for("partial_failure").await;
    // Within the failed writes' backoff: nothing is retried, the same rows are overdue.
    let soon = at(60)
        .checked_add(SignedDuration::from_secs(10))
        .expect("in range");
    served.pass(soon).await;
    assert_eq!(
        hook.count("restore_overdue"),
        1,
        "a pass that finds the same restores overdue does not notify again"
    );

    served
        .sim
        .admin(AdminAction::SetAdminOperation { in_progress: false })
        .expect("admin operation over");
    // Failed writes wait out their backoff (30 s at first) before the next attempt.
    served.pass(at(62)).await;
    let scrape = served.scrape().await;
    assert_eq!(sum(&scrape, "pauseplay_restores_overdue", &[]), 0.0);
    assert_eq!(sum(&scrape, "pauseplay_restores_failing", &[]), 0.0);
    assert_eq!(
        served.sim.snapshot()["flows"],
        before["flows"],
        "exact restore"
    );
    hook.wait_for("restore_completed").await;
    let scrape = served.scrape().await;
    assert!(
        sum(
            &scrape,
            "pauseplay_notifications_delivered_total",
            &[("target", "ops")]
        ) >= 4.0,
        "pause, partial failure, overdue, restore"
    );
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_notifications_failed_total",
            &[("target", "ops")]
        ),
        0.0
    );
    served.stop().await;
}

/// A local webhook receiver that records every JSON body posted to it.
struct Receiver {
    url: String,
    seen: Arc<std::sync::Mutex<Vec<Json>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let seen = Arc::clone(&seen);
                move |axum::Json(body): axum::Json<Json>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        seen.lock().expect("seen").push(body);
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, seen }
    }

    fn count(&self, event: &str) -> usize {
        let seen = self.seen.lock().expect("seen");
        seen.iter().filter(|body| body["event"] == event).count()
    }

    /// The first `event` received, polling for it (delivery is asynchronous) up to a deadline.
    async fn wait_for(&self, event: &str) -> Json {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen: Vec<Json> = self.seen.lock().expect("seen").clone();
            if let Some(body) = seen.iter().find(|body| body["event"] == event) {
                return body.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no `{event}` notification within 20 s; received {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Every metric the sample alert rules use is one the daemon exports: a renamed metric fails
/// here instead of silently disarming an alert.
#[tokio::test]
async fn the_sample_alert_rules_use_only_exported_metrics() {
    let hook = Receiver::start().await;
    let served = Served::start_with("", Some(&hook.url)).await;
    served.pass(at(0)).await;
    let body = reqwest::get(&served.url)
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let declared: Vec<&str> = body
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    let rules = std::fs::read_to_string(common::repo_path("config/pauseplay.alerts.yml"))
        .expect("the alert rules");
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("pauseplay_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 8, "{used:?}");
    for name in used {
        let base = ["_total", "_bucket", "_count", "_sum", "_info"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(name);
        assert!(
            declared.contains(&base),
            "the alert rules use `{name}`, which the daemon does not export ({declared:?})"
        );
    }
    served.stop().await;
}

/// The other events, each once per change: a completed pause, API usage above the threshold
/// (not again on the next pass), a conflict and a completed restore when the window ends, and
/// a window found open too late to pause. The missed window also shows in its metric.
#[tokio::test]
async fn events_reach_the_webhook_once_per_change() {
    let hook = Receiver::start().await;
    // A second window, found open at the pass of at(60) with 3 minutes left (less than the
    // default min_remaining of 5).
    let late = format!(
        "\n[[windows]]\nname = \"late\"\norgs = [\"sim\"]\nstart = \"{}\"\nend = \"{}\"\n",
        at(58),
        at(63)
    );
    let served = Served::start_with(&late, Some(&hook.url)).await;
    served
        .sim
        .admin(AdminAction::SetApiUsage {
            used: 85_000,
            max: 100_000,
        })
        .expect("usage");
    served.pass(at(0)).await;
    let paused = hook.wait_for("pause_completed").await;
    assert!(
        paused["summary"]
            .as_str()
            .is_some_and(|s| s.contains("19 automations paused")),
        "{paused}"
    );
    let high = hook.wait_for("api_usage_high").await;
    assert!(
        high["summary"]
            .as_str()
            .is_some_and(|s| s.contains("of its 100000 daily API calls (alert at 80 %)")),
        "{high}"
    );

    // Someone activates the newer version of a paused flow during the window.
    served
        .sim
        .admin(AdminAction::ActivateFlowVersion {
            flow: "Contact_After_Save".to_owned(),
            version: 3,
        })
        .expect("activate v3");
    served.pass(at(60)).await;
    let conflict = hook.wait_for("conflict").await;
    assert!(
        conflict["details"][0]
            .as_str()
            .is_some_and(|line| line.contains("Contact_After_Save")),
        "{conflict}"
    );
    let restored = hook.wait_for("restore_completed").await;
    assert!(
        restored["summary"]
            .as_str()
            .is_some_and(|s| s.contains("18 automations restored")),
        "{restored}"
    );
    let missed = hook.wait_for("missed_window").await;
    assert!(
        missed["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Window `late`")),
        "{missed}"
    );
    let scrape = served.scrape().await;
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_missed_windows_total",
            &[("org", "sim"), ("window", "late")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &scrape,
            "pauseplay_missed_windows_total",
            &[("window", "load")]
        ),
        0.0,
        "every window's series exists from the start"
    );

    served.pass(at(61)).await;
    // Stopping delivers whatever is still queued, so a duplicate would be seen below.
    served.stop().await;
    assert_eq!(
        hook.count("api_usage_high"),
        1,
        "usage still high: not again"
    );
    assert_eq!(hook.count("missed_window"), 1);
    assert_eq!(hook.count("pause_completed"), 1);
}

/// A window's pause the org cannot afford: one `pause_refused` notification with the figures,
/// counted in its metric, and not sent again while the same hold waits.
#[tokio::test]
async fn a_refused_pause_is_notified_once_and_counted() {
    let hook = Receiver::start().await;
    let served = Served::start_with("", Some(&hook.url)).await;
    served
        .sim
        .admin(AdminAction::SetApiUsage {
            used: 99_960,
            max: 100_000,
        })
        .expect("usage");
    served.pass(at(0)).await;
    let refused = hook.wait_for("pause_refused").await;
    assert!(
        refused["summary"]
            .as_str()
            .is_some_and(|s| s.contains("pause refused, nothing was changed")
                && s.contains("of its 100000 daily API calls left")),
        "{refused}"
    );
    let scrape = served.scrape().await;
    assert_eq!(
        sum(&scrape, "pauseplay_pauses_refused_total", &[("org", "sim")]),
        1.0
    );
    assert_eq!(
        sum(&scrape, "pauseplay_components", &[("state", "paused")]),
        0.0
    );
    // At the retry the org still cannot afford it: counted again, not notified again.
    served.pass(at(16)).await;
    let scrape = served.scrape().await;
    assert_eq!(
        sum(&scrape, "pauseplay_pauses_refused_total", &[("org", "sim")]),
        2.0
    );
    served.stop().await;
    assert_eq!(hook.count("pause_refused"), 1);
}
