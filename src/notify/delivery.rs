//! Posting events: one loop per target, in order, with retries, and the shutdown that gives
//! what is still queued [`DRAIN_TIMEOUT`] before counting it as failed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use secrecy::ExposeSecret;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use url::Url;

use super::event::Event;
use super::{Counters, payload};
use crate::config::{NotifyKind, NotifyTarget, WebhookUrl};
use crate::salesforce;

/// How long, after shutdown, what is still queued (and the delivery in flight) may take. The
/// daemon's converges get `SHUTDOWN_GRACE` (20 s) at the same time, so a few seconds here do not
/// lengthen a stop; a receiver that needs longer is down, and waiting on it would only delay
/// systemd's restart.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a receiver's answer quoted in a log line: enough for Slack's error codes
/// (`invalid_blocks`, `no_service`) and a short reason.
const ANSWER_EXCERPT: usize = 200;

const USER_AGENT: &str = concat!("pauseplay/", env!("CARGO_PKG_VERSION"), " (notifications)");

/// How one event is retried: capped exponential backoff with jitter, between attempts that each
/// have `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The delay before the first retry; it doubles on each further retry.
    pub min_delay: Duration,
    /// No delay is longer than this, jitter included.
    pub max_delay: Duration,
    /// How many times an event is sent at most, the first attempt included.
    pub max_attempts: usize,
    /// The limit on each request, from connecting to the end of the answer.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// 2 s doubling to 60 s, 8 attempts, 10 s per request.
    ///
    /// The seven waits add up to about three to five minutes: long enough to ride out a
    /// receiver's restart, a short outage or Slack's rate limit (one message a second per
    /// webhook, answered with 429), short enough that one event does not hold its target's
    /// queue for long. 10 s is far more than a webhook receiver needs to answer, and it bounds
    /// what a receiver that accepts the connection and never answers can cost.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        min_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(60),
        max_attempts: 8,
        timeout: Duration::from_secs(10),
    };

    /// The same schedule as the Salesforce client's, whose backoff it reuses.
    fn backoff(self) -> salesforce::RetryPolicy {
        salesforce::RetryPolicy {
            max_attempts: u32::try_from(self.max_attempts.max(1)).unwrap_or(u32::MAX),
            min_delay: self.min_delay,
            max_delay: self.max_delay,
            jitter: true,
        }
    }
}

/// The task that delivers a [`Notifier`](super::Notifier)'s events.
#[derive(Debug)]
pub struct Delivery {
    loops: Vec<TargetLoop>,
    poster: Poster,
}

impl Delivery {
    pub(super) fn new(loops: Vec<TargetLoop>, retry: RetryPolicy) -> Delivery {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(retry.timeout)
            // Webhook receivers answer where they are; following a redirect would send the
            // event to a host the configuration does not name.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| crate::error_chain(&error.without_url()));
        Delivery {
            loops,
            poster: Poster { http, retry },
        }
    }

    /// Delivers until `shutdown` is cancelled; then tries what is still queued for at most
    /// [`DRAIN_TIMEOUT`], and logs at warn + counts as failed whatever it could not deliver.
    /// Returns earlier if every [`Notifier`](super::Notifier) is dropped and the queues are
    /// empty.
    pub async fn run(self, shutdown: CancellationToken) {
        if let Err(error) = &self.poster.http {
            warn!(
                error = %error,
                "cannot build the HTTP client for notifications; every notification will fail"
            );
        }
        let poster = Arc::new(self.poster);
        let abandon = CancellationToken::new();
        let mut loops = JoinSet::new();
        for target in self.loops {
            loops.spawn(target.run(Arc::clone(&poster), shutdown.clone(), abandon.clone()));
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = join_all(&mut loops) => return,
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, join_all(&mut loops))
            .await
            .is_err()
        {
            abandon.cancel();
            join_all(&mut loops).await;
        }
    }
}

async fn join_all(loops: &mut JoinSet<()>) {
    while let Some(joined) = loops.join_next().await {
        if let Err(error) = joined {
            warn!(
                error = %error,
                "a notification delivery loop stopped unexpectedly; its target gets no more events"
            );
        }
    }
}

/// The receiving side of one target: its events, one after another.
#[derive(Debug)]
pub(super) struct TargetLoop {
    name: String,
    kind: NotifyKind,
    url: WebhookUrl,
    queue: mpsc::Receiver<Arc<Event>>,
    counters: Arc<Counters>,
}

impl TargetLoop {
    pub(super) fn new(
        target: &NotifyTarget,
        queue: mpsc::Receiver<Arc<Event>>,
        counters: Arc<Counters>,
    ) -> TargetLoop {
        TargetLoop {
            name: target.name.clone(),
            kind: target.kind,
            url: target.url.clone(),
            queue,
            counters,
        }
    }

    /// Until `shutdown`, waits for events; after it, delivers what is queued and stops. When
    /// `abandon` comes, the delivery in flight and the rest of the queue count as failed.
    async fn run(
        mut self,
        poster: Arc<Poster>,
        shutdown: CancellationToken,
        abandon: CancellationToken,
    ) {
        loop {
            let event = if shutdown.is_cancelled() {
                match self.queue.try_recv() {
                    Ok(event) => event,
                    // Empty; or every notifier is gone, which also means nothing more comes.
                    Err(_) => return,
                }
            } else {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => continue,
                    next = self.queue.recv() => match next {
                        Some(event) => event,
                        None => return,
                    },
                }
            };
            let outcome = tokio::select! {
                biased;
                () = abandon.cancelled() => None,
                outcome = poster.deliver(self.kind, &self.url, &event) => Some(outcome),
            };
            match outcome {
                Some((attempts, result)) => self.record(&event, attempts, result),
                None => return self.give_up(&event),
            }
        }
    }

    fn record(&self, event: &Event, attempts: usize, result: Result<(), Failure>) {
        let org = event.org.as_deref().unwrap_or("-");
        match result {
            Ok(()) => {
                Counters::add(&self.counters.delivered, 1);
                debug!(
                    notify_target = %self.name,
                    event = event.kind.as_str(),
                    org,
                    attempts,
                    "notification delivered"
                );
            }
            Err(failure) => {
                Counters::add(&self.counters.failed, 1);
                warn!(
                    notify_target = %self.name,
                    event = event.kind.as_str(),
                    org,
                    attempts,
                    error = %failure,
                    "notification not delivered; check that the receiver is up and that this \
                     [[notify]] target's URL and kind are right"
                );
            }
        }
    }

    /// Shutdown's deadline passed: `in_flight` and everything still queued are failures.
    fn give_up(mut self, in_flight: &Event) {
        self.queue.close();
        let mut count: u64 = 1;
        let mut kinds = BTreeSet::from([in_flight.kind.as_str()]);
        while let Ok(event) = self.queue.try_recv() {
            count += 1;
            kinds.insert(event.kind.as_str());
        }
        Counters::add(&self.counters.failed, count);
        let kinds: Vec<&str> = kinds.into_iter().collect();
        warn!(
            notify_target = %self.name,
            undelivered = count,
            events = %kinds.join(", "),
            "shutting down: notifications not delivered within {} s are given up",
            DRAIN_TIMEOUT.as_secs()
        );
    }
}

/// What every loop shares: the HTTP client and the retry policy.
#[derive(Debug)]
struct Poster {
    /// `Err` (with the reason) when the client could not be built; every delivery then fails.
    http: Result<reqwest::Client, String>,
    retry: RetryPolicy,
}

impl Poster {
    /// Sends `event` to `url` in `kind`'s format until it is accepted, fails for good or runs out
    /// of attempts; the number of attempts made and the outcome.
    async fn deliver(
        &self,
        kind: NotifyKind,
        url: &WebhookUrl,
        event: &Event,
    ) -> (usize, Result<(), Failure>) {
        let body = match payload::render(kind, event) {
            Ok(body) => body,
            Err(error) => {
                return (
                    0,
                    Err(Failure::Local(format!(
                        "cannot render the payload: {error}"
                    ))),
                );
            }
        };
        let url = url.expose_secret();
        let policy = self.retry.backoff();
        let cap = salesforce::delay_cap(policy);
        let mut retries: usize = 0;
        let result = (|| self.attempt(url, &body))
            .retry(salesforce::backoff(policy))
            .sleep(tokio::time::sleep)
            .when(Failure::is_retryable)
            // A receiver's Retry-After is a floor; jitter may add up to the delay itself, so
            // the cap is applied last to keep it a cap.
            .adjust(move |failure, delay| {
                delay.map(|delay| {
                    failure
                        .retry_after()
                        .map_or(delay, |after| delay.max(after))
                        .min(cap)
                })
            })
            .notify(|failure, delay| {
                retries += 1;
                debug!(
                    event = event.kind.as_str(),
                    retry = retries,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %failure,
                    "notification not accepted; retrying"
                );
            })
            .await;
        (retries + 1, result)
    }

    async fn attempt(&self, url: &Url, body: &[u8]) -> Result<(), Failure> {
        let http = self
            .http
            .as_ref()
            .map_err(|error| Failure::Local(format!("no HTTP client: {error}")))?;
        let response = http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|error| Failure::transport(error, url))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // The receiver's own words help whoever reads the log; an unreadable answer is no
        // reason to treat the status differently.
        let answer = response.text().await.unwrap_or_default();
        Err(Failure::Status {
            status,
            retry_after,
            answer: redact(excerpt(&answer), url),
        })
    }
}

/// Why a delivery attempt failed. Holds no part of the URL.
#[derive(Debug)]
enum Failure {
    /// The receiver answered, with a status other than 2xx.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        /// The start of the answer's body.
        answer: String,
    },
    /// No answer: the connection failed, timed out or dropped.
    Transport { retryable: bool, message: String },
    /// Nothing could be sent.
    Local(String),
}

impl Failure {
    /// The URL is taken out of the error (`without_url`) and out of its message, in case a
    /// cause quotes it.
    fn transport(error: reqwest::Error, url: &Url) -> Failure {
        // A request that cannot even be built fails the same way every time.
        let retryable = !error.is_builder();
        let timed_out = error.is_timeout();
        let mut message = redact(crate::error_chain(&error.without_url()), url);
        if timed_out && !message.contains("timed out") {
            message = format!("timed out: {message}");
        }
        Failure::Transport { retryable, message }
    }

    /// Connection errors, timeouts, 5xx and 429; any other status is the receiver refusing the
    /// event, which sending it again will not change.
    fn is_retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Failure::Transport { retryable, .. } => *retryable,
            Failure::Local(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status { status, answer, .. } if answer.is_empty() => {
                write!(f, "HTTP {status}")
            }
            Failure::Status { status, answer, .. } => write!(f, "HTTP {status}: {answer}"),
            Failure::Transport { message, .. } | Failure::Local(message) => f.write_str(message),
        }
    }
}

/// The first line of `text`, at most [`ANSWER_EXCERPT`] characters.
fn excerpt(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(ANSWER_EXCERPT).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// `text` with the URL, its path and its query cut out: the secret part of a webhook URL may
/// be any of them.
fn redact(text: String, url: &Url) -> String {
    let mut text = text;
    for secret in [url.as_str(), url.path(), url.query().unwrap_or_default()] {
        // "/" alone is no secret, and replacing it would garble the message.
        if secret.len() > 1 && text.contains(secret) {
            text = text.replace(secret, "[REDACTED]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        let status = |code: u16| Failure::Status {
            status: StatusCode::from_u16(code).expect("status"),
            retry_after: None,
            answer: String::new(),
        };
        for code in [500, 502, 503, 504, 429] {
            assert!(status(code).is_retryable(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 301] {
            assert!(!status(code).is_retryable(), "{code}");
        }
        assert!(!Failure::Local("x".to_owned()).is_retryable());
    }

    #[test]
    fn messages_never_quote_the_url() {
        let url = Url::parse("https://hooks.example.com/services/T000/B000/s3cretToken?x=tok")
            .expect("url");
        let text = format!("error for url ({url}) at {} with {}", url.path(), "x=tok");
        let redacted = redact(text, &url);
        assert!(!redacted.contains("s3cretToken"), "{redacted}");
        assert!(!redacted.contains("x=tok"), "{redacted}");
        assert_eq!(redact("HTTP 500".to_owned(), &url), "HTTP 500");
    }

    #[tokio::test]
    async fn a_transport_error_names_no_part_of_the_url() {
        // A port nothing listens on: bind, read the port, close.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/hook/s3cretToken")).expect("url");
        let error = reqwest::Client::new()
            .post(url.clone())
            .send()
            .await
            .expect_err("nothing listens");
        let failure = Failure::transport(error, &url);
        assert!(failure.is_retryable(), "{failure:?}");
        let shown = format!("{failure} {failure:?}");
        assert!(!shown.contains("s3cretToken"), "{shown}");
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("  invalid_blocks\nmore\n"), "invalid_blocks");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), ANSWER_EXCERPT + 1);
    }
}
