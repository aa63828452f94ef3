//! Notifications end to end: the notifier and its delivery task against scripted receivers on
//! loopback ports (`common::mock`), checking what arrives, what is retried, what is counted and
//! how shutdown ends it.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mock::{Mock, Recorded, Reply};
use pauseplay::config::{NotifyKind, NotifyTarget, SecretSource, WebhookUrl};
use pauseplay::notify::{
    self, DRAIN_TIMEOUT, Event, EventKind, Notifier, QUEUE_CAPACITY, RetryPolicy, TargetStats,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Millisecond waits, three attempts, and a timeout that no healthy local receiver comes near.
const FAST: RetryPolicy = RetryPolicy {
    min_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(5),
    max_attempts: 3,
    timeout: Duration::from_secs(10),
};

/// The path of every test webhook: it stands for the token a Slack URL carries.
const HOOK_PATH: &str = "/services/T000/B000/hook-token-secret";

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn target(name: &str, kind: NotifyKind, receiver: &Mock, events: &[EventKind]) -> NotifyTarget {
    let events = if events.is_empty() {
        BTreeSet::from(EventKind::ALL)
    } else {
        events.iter().copied().collect()
    };
    NotifyTarget {
        name: name.to_owned(),
        kind,
        url: WebhookUrl::new(receiver.url.join(HOOK_PATH).expect("url")),
        url_source: SecretSource::Env("HOOK_URL".to_owned()),
        events,
    }
}

fn event(kind: EventKind, org: Option<&str>, details: usize) -> Event {
    Event {
        kind,
        org: org.map(str::to_owned),
        at: "2026-12-01T21:00:00Z".parse().expect("timestamp"),
        summary: "2 components failed to pause; run `pauseplay status` & retry".to_owned(),
        details: (1..=details)
            .map(|n| format!("flow:Account_<Sync>_{n}: UNABLE_TO_LOCK_ROW"))
            .collect(),
    }
}

/// A receiver that accepts everything.
async fn accepting() -> Mock {
    Mock::start(|_, _| Reply::text(200, "ok")).await
}

/// A receiver that takes every connection and request and never answers.
async fn silent() -> Mock {
    Mock::start(|_, _| Reply::text(200, "ok").delayed(Duration::from_secs(3600))).await
}

/// A delivery task running until `stop`, or aborted when dropped.
struct Running {
    notifier: Notifier,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Running {
    fn start(targets: &[NotifyTarget], retry: RetryPolicy) -> Running {
        let (notifier, delivery) = notify::start(targets, retry);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(delivery.run(shutdown.clone()));
        Running {
            notifier,
            shutdown,
            task: Some(task),
        }
    }

    fn stats(&self, name: &str) -> TargetStats {
        self.notifier
            .stats()
            .into_iter()
            .find(|stats| stats.name == name)
            .expect("a target of that name")
    }

    /// Cancels and waits for the delivery task; how long it took to return.
    async fn stop(&mut self) -> Duration {
        self.shutdown.cancel();
        let started = Instant::now();
        if let Some(task) = self.task.take() {
            task.await.expect("delivery task");
        }
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Polls `check` until it holds, failing the test after [`PATIENCE`].
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn bodies(receiver: &Mock) -> Vec<Value> {
    receiver
        .requests()
        .iter()
        .map(|request| serde_json::from_str(&request.body).expect("a JSON body"))
        .collect()
}

/// The `TargetStats` of a target with these counts.
fn counts(delivered: u64, failed: u64, dropped: u64) -> impl Fn(&TargetStats) -> bool {
    move |stats| stats.delivered == delivered && stats.failed == failed && stats.dropped == dropped
}

#[tokio::test]
async fn a_generic_webhook_receives_the_versioned_json() {
    let receiver = accepting().await;
    let running = Running::start(
        &[target("hooks", NotifyKind::Webhook, &receiver, &[])],
        FAST,
    );
    running
        .notifier
        .send(event(EventKind::PartialFailure, Some("prod"), 2));
    running
        .notifier
        .send(event(EventKind::MissedWindow, None, 25));
    until("both are delivered", || {
        running.stats("hooks").delivered == 2
    })
    .await;

    let requests = receiver.requests();
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, HOOK_PATH);
        assert_eq!(
            request.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }
    let bodies = bodies(&receiver);
    assert_eq!(
        bodies[0],
        json!({
            "version": 1,
            "source": "pauseplay",
            "event": "partial_failure",
            "org": "prod",
            "at": "2026-12-01T21:00:00Z",
            "summary": "2 components failed to pause; run `pauseplay status` & retry",
            "details": [
                "flow:Account_<Sync>_1: UNABLE_TO_LOCK_ROW",
                "flow:Account_<Sync>_2: UNABLE_TO_LOCK_ROW",
            ],
        })
    );
    assert_eq!(bodies[1]["event"], "missed_window");
    assert_eq!(bodies[1]["org"], Value::Null);
    let details = bodies[1]["details"].as_array().expect("details");
    assert_eq!(details.len(), 21);
    assert_eq!(details[19], "flow:Account_<Sync>_20: UNABLE_TO_LOCK_ROW");
    assert_eq!(details[20], "… and 5 more");
    assert_eq!(
        running.stats("hooks"),
        TargetStats {
            name: "hooks".to_owned(),
            kind: "webhook",
            delivered: 2,
            failed: 0,
            dropped: 0,
        }
    );
}

#[tokio::test]
async fn slack_receives_text_and_blocks_with_the_details_capped() {
    let receiver = accepting().await;
    let running = Running::start(&[target("ops", NotifyKind::Slack, &receiver, &[])], FAST);
    running
        .notifier
        .send(event(EventKind::PartialFailure, Some("prod"), 25));
    until("it is delivered", || running.stats("ops").delivered == 1).await;
    assert_eq!(running.stats("ops").kind, "slack");

    let [body] = bodies(&receiver).try_into().expect("one request");
    let escaped_summary = "2 components failed to pause; run `pauseplay status` &amp; retry";
    assert_eq!(body["text"], escaped_summary);
    let blocks = body["blocks"].as_array().expect("blocks");
    let types: Vec<&str> = blocks
        .iter()
        .map(|block| block["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["section", "section", "context"]);

    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    assert_eq!(
        blocks[0]["text"]["text"],
        format!("*Partial failure*\n{escaped_summary}")
    );

    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    let details = blocks[1]["text"]["text"].as_str().expect("details text");
    let lines: Vec<&str> = details.lines().collect();
    assert_eq!(lines.len(), 21, "{details}");
    assert_eq!(
        lines[0],
        "• flow:Account_&lt;Sync&gt;_1: UNABLE_TO_LOCK_ROW"
    );
    assert_eq!(lines[20], "… and 5 more");

    assert_eq!(
        blocks[2]["elements"],
        json!([{"type": "mrkdwn", "text": "pauseplay · prod · 2026-12-01T21:00:00Z"}])
    );
}

#[tokio::test]
async fn a_target_gets_only_the_events_it_lists() {
    let overdue_only = accepting().await;
    let everything = accepting().await;
    let mut running = Running::start(
        &[
            target(
                "overdue",
                NotifyKind::Webhook,
                &overdue_only,
                &[EventKind::RestoreOverdue],
            ),
            target("all", NotifyKind::Webhook, &everything, &[]),
        ],
        FAST,
    );
    for kind in [
        EventKind::PauseCompleted,
        EventKind::RestoreOverdue,
        EventKind::Conflict,
    ] {
        running.notifier.send(event(kind, Some("prod"), 0));
    }
    until("every event is delivered", || {
        running.stats("all").delivered == 3 && running.stats("overdue").delivered == 1
    })
    .await;
    running.stop().await;

    let kinds = |receiver: &Mock| -> Vec<String> {
        bodies(receiver)
            .iter()
            .map(|body| body["event"].as_str().expect("event").to_owned())
            .collect()
    };
    assert_eq!(kinds(&overdue_only), ["restore_overdue"]);
    assert_eq!(
        kinds(&everything),
        ["pause_completed", "restore_overdue", "conflict"],
        "in the order sent"
    );
}

/// A receiver that answers `failure` to the first `count` requests, then accepts.
async fn failing_first(count: usize, failure: Reply) -> Mock {
    Mock::start(move |_, seen: &[Recorded]| {
        if seen.len() < count {
            failure.clone()
        } else {
            Reply::text(200, "ok")
        }
    })
    .await
}

/// Delivers one `event_kind` event to a webhook target `hook` at `receiver`, waits until its
/// counters are `done` and stops delivery (checking they still are); how many requests the
/// receiver saw.
async fn deliver_one(
    receiver: &Mock,
    retry: RetryPolicy,
    event_kind: EventKind,
    done: impl Fn(&TargetStats) -> bool,
) -> usize {
    let mut running = Running::start(&[target("hook", NotifyKind::Webhook, receiver, &[])], retry);
    running.notifier.send(event(event_kind, Some("prod"), 0));
    until("the event is settled", || done(&running.stats("hook"))).await;
    running.stop().await;
    let stats = running.stats("hook");
    assert!(done(&stats), "{stats:?}");
    receiver.requests().len()
}

#[tokio::test]
async fn a_receiver_failing_twice_then_accepting_gets_the_event_once() {
    let receiver = failing_first(2, Reply::text(500, "busy")).await;
    let requests = deliver_one(&receiver, FAST, EventKind::PauseCompleted, counts(1, 0, 0)).await;
    assert_eq!(requests, 3);
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let rate_limited = Reply::text(429, "rate_limited").header("retry-after", "0");
    let receiver = failing_first(1, rate_limited).await;
    let requests = deliver_one(&receiver, FAST, EventKind::Conflict, counts(1, 0, 0)).await;
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_receiver_that_always_fails_is_given_up_after_max_attempts_and_logged() {
    let logs = common::capture_logs(tracing::Level::TRACE);
    let receiver = Mock::start(|_, _| Reply::text(503, "down for maintenance")).await;
    let requests = deliver_one(&receiver, FAST, EventKind::RestoreOverdue, counts(0, 1, 0)).await;
    assert_eq!(requests, FAST.max_attempts);

    // Other tests log into the same buffer; only this one fails to deliver this event.
    let logs = logs.text();
    let warning = logs
        .lines()
        .find(|line| line.contains("event=\"restore_overdue\"") && line.contains("not delivered"))
        .unwrap_or_else(|| panic!("no warning in:\n{logs}"));
    assert!(warning.contains("WARN"), "{warning}");
    for expected in [
        "notify_target=hook",
        "org=\"prod\"",
        "attempts=3",
        "HTTP 503 Service Unavailable: down for maintenance",
    ] {
        assert!(warning.contains(expected), "{expected} in {warning}");
    }
    // At every level pauseplay logs, in every test of this binary.
    assert!(!logs.contains("hook-token-secret"), "{logs}");
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let receiver = Mock::start(|_, _| Reply::text(400, "invalid_blocks")).await;
    let requests = deliver_one(&receiver, FAST, EventKind::PauseRefused, counts(0, 1, 0)).await;
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_counts_as_failed() {
    let receiver = silent().await;
    let policy = RetryPolicy {
        max_attempts: 2,
        timeout: Duration::from_millis(200),
        ..FAST
    };
    let sent = Instant::now();
    let requests = deliver_one(&receiver, policy, EventKind::ApiUsageHigh, counts(0, 1, 0)).await;
    let took = sent.elapsed();
    assert!(
        took >= 2 * policy.timeout,
        "each attempt waited for its timeout: {took:?}"
    );
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let receiver = accepting().await;
    // The delivery task is never run, so nothing leaves the queue.
    let (notifier, _delivery) = notify::start(
        &[target("stuck", NotifyKind::Webhook, &receiver, &[])],
        FAST,
    );
    let started = Instant::now();
    for _ in 0..QUEUE_CAPACITY + 5 {
        notifier.send(event(EventKind::PauseCompleted, Some("prod"), 0));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "send never waits"
    );
    let [stats] = notifier.stats().try_into().expect("one target");
    assert!(counts(0, 0, 5)(&stats), "{stats:?}");

    let disabled = Notifier::disabled();
    disabled.send(event(EventKind::PauseCompleted, None, 0));
    assert!(disabled.stats().is_empty());
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued_and_returns_at_once_when_idle() {
    let receiver = accepting().await;
    let targets = [target("hooks", NotifyKind::Webhook, &receiver, &[])];

    let mut idle = Running::start(&targets, FAST);
    assert!(idle.stop().await < Duration::from_secs(1));

    let (notifier, delivery) = notify::start(&targets, FAST);
    for kind in [
        EventKind::PauseCompleted,
        EventKind::Conflict,
        EventKind::RestoreCompleted,
    ] {
        notifier.send(event(kind, Some("prod"), 0));
    }
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    delivery.run(shutdown).await;
    let [stats] = notifier.stats().try_into().expect("one target");
    assert!(counts(3, 0, 0)(&stats), "{stats:?}");
    assert_eq!(receiver.requests().len(), 3);

    // Delivery has stopped: what comes now is dropped and counted, not queued for no one.
    notifier.send(event(EventKind::PauseCompleted, Some("prod"), 0));
    let [stats] = notifier.stats().try_into().expect("one target");
    assert!(counts(3, 0, 1)(&stats), "{stats:?}");
}

#[tokio::test]
async fn shutdown_gives_up_after_the_drain_timeout_and_counts_what_is_left_as_failed() {
    let receiver = silent().await;
    let policy = RetryPolicy {
        timeout: Duration::from_secs(600),
        ..FAST
    };
    let mut running = Running::start(
        &[target("silent", NotifyKind::Webhook, &receiver, &[])],
        policy,
    );
    for _ in 0..3 {
        running
            .notifier
            .send(event(EventKind::PartialFailure, Some("prod"), 0));
    }
    until("the first event is in flight", || {
        receiver.requests().len() == 1
    })
    .await;
    let notifier = running.notifier.clone();
    let took = running.stop().await;
    assert!(took >= DRAIN_TIMEOUT, "the queue had its chance: {took:?}");
    assert!(
        took < DRAIN_TIMEOUT + Duration::from_secs(2),
        "run returned promptly after the drain timeout: {took:?}"
    );
    let [stats] = notifier.stats().try_into().expect("one target");
    assert!(counts(0, 3, 0)(&stats), "{stats:?}");
}

#[tokio::test]
async fn a_dead_target_does_not_delay_a_healthy_one() {
    let dead = silent().await;
    let healthy = accepting().await;
    let policy = RetryPolicy {
        timeout: Duration::from_secs(600),
        ..FAST
    };
    let running = Running::start(
        &[
            target("dead", NotifyKind::Webhook, &dead, &[]),
            target("healthy", NotifyKind::Slack, &healthy, &[]),
        ],
        policy,
    );
    let started = Instant::now();
    for _ in 0..5 {
        running
            .notifier
            .send(event(EventKind::PauseCompleted, Some("prod"), 0));
    }
    until("the healthy target has every event", || {
        running.stats("healthy").delivered == 5
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        dead.requests().len(),
        1,
        "the dead target is still on its first"
    );
    assert!(counts(0, 0, 0)(&running.stats("dead")));
}
