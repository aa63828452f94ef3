//! Notifications: the events the daemon reports to people ([`Event`], [`EventKind`]), the
//! [`Notifier`] the rest of the daemon hands them to, and the [`Delivery`] task that posts them
//! to each `[[notify]]` target ([`NotifyTarget`]) as a generic JSON webhook or a Slack message
//! (`payload.rs`).
//!
//! Sending never blocks and never fails: each target has its own bounded queue
//! ([`QUEUE_CAPACITY`]) and its own delivery loop, which posts its events one after another, in
//! order, retrying connection errors, timeouts, 5xx and 429 with capped exponential backoff and
//! jitter ([`RetryPolicy`]). A slow or dead receiver therefore only fills its own queue; once it
//! is full, further events for that target are dropped, logged and counted, and neither the
//! engine nor any other target waits for it. Every outcome is counted per target
//! ([`Notifier::stats`]) for the metrics.
//!
//! A webhook URL is a secret (a Slack webhook URL carries its token in the path): it is a
//! [`WebhookUrl`](crate::config::WebhookUrl) until the request is built, and it is cut out of
//! every error before that error is logged.

mod delivery;
mod event;
mod payload;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::warn;

use crate::config::{NotifyKind, NotifyTarget};

pub use delivery::{DRAIN_TIMEOUT, Delivery, RetryPolicy};
pub use event::{Event, EventKind, UnknownEventKind};

/// How many events wait per target. A target that falls this far behind is down or far too
/// slow; dropping its newest events (counted) keeps memory bounded, while a burst such as a
/// pause of several orgs, each with a few events, still fits.
pub const QUEUE_CAPACITY: usize = 256;

/// Where the daemon sends its events. Cheap to clone: clones share the targets' queues and
/// counters.
#[derive(Debug, Clone)]
pub struct Notifier {
    targets: Arc<[Queue]>,
}

/// The sending side of one target.
#[derive(Debug)]
struct Queue {
    name: String,
    kind: NotifyKind,
    events: BTreeSet<EventKind>,
    sender: mpsc::Sender<Arc<Event>>,
    counters: Arc<Counters>,
}

/// One target's outcomes, shared by its queue and its delivery loop.
#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, count: u64) {
        // Counters only feed metrics; no other memory depends on their order.
        counter.fetch_add(count, Ordering::Relaxed);
    }
}

/// One target's counters, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStats {
    pub name: String,
    /// `"webhook"` or `"slack"`.
    pub kind: &'static str,
    /// Events the receiver accepted (2xx).
    pub delivered: u64,
    /// Events given up on: a permanent error, every attempt used, or shutdown.
    pub failed: u64,
    /// Events never queued because the target's queue was full (or delivery had stopped).
    pub dropped: u64,
}

impl Notifier {
    /// A notifier with no targets: `send` does nothing.
    pub fn disabled() -> Notifier {
        Notifier {
            targets: Arc::from(Vec::new()),
        }
    }

    /// Queues `event` for every target whose `events` include its kind. Never blocks, never
    /// fails: a full queue drops the event, logs a warning naming the target and event, and
    /// counts it.
    pub fn send(&self, event: Event) {
        let event = Arc::new(event);
        for target in self.targets.iter() {
            if !target.events.contains(&event.kind) {
                continue;
            }
            let reason = match target.sender.try_send(Arc::clone(&event)) {
                Ok(()) => continue,
                Err(TrySendError::Full(_)) => {
                    "its queue is full (the receiver is down or too slow); the event is dropped"
                }
                Err(TrySendError::Closed(_)) => {
                    "notification delivery has stopped; the event is dropped"
                }
            };
            Counters::add(&target.counters.dropped, 1);
            warn!(
                notify_target = %target.name,
                event = event.kind.as_str(),
                org = event.org.as_deref().unwrap_or("-"),
                "notification not queued: {reason}"
            );
        }
    }

    /// Per target counters for metrics.
    pub fn stats(&self) -> Vec<TargetStats> {
        self.targets
            .iter()
            .map(|target| TargetStats {
                name: target.name.clone(),
                kind: target.kind.as_str(),
                delivered: target.counters.delivered.load(Ordering::Relaxed),
                failed: target.counters.failed.load(Ordering::Relaxed),
                dropped: target.counters.dropped.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// Builds the notifier and the task that delivers its events (the daemon spawns it into its
/// `JoinSet<()>`).
pub fn start(targets: &[NotifyTarget], retry: RetryPolicy) -> (Notifier, Delivery) {
    let mut queues = Vec::with_capacity(targets.len());
    let mut loops = Vec::with_capacity(targets.len());
    for target in targets {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        queues.push(Queue {
            name: target.name.clone(),
            kind: target.kind,
            events: target.events.clone(),
            sender,
            counters: Arc::clone(&counters),
        });
        loops.push(delivery::TargetLoop::new(target, receiver, counters));
    }
    let notifier = Notifier {
        targets: Arc::from(queues),
    };
    (notifier, Delivery::new(loops, retry))
}
