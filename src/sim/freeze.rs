//! Deterministic crash points: the org freezes at the N-th request from the moment a test
//! arms it, so the test can `kill -9` its client at a known step of the client's work,
//! chosen by counting requests instead of by timing.
//!
//! The N-th request is either processed and never answered ([`FreezeMode::Applied`]: its
//! effect lands and the client never learns) or neither processed nor answered
//! ([`FreezeMode::NotApplied`]). Every request after it is withheld unprocessed. Withheld
//! requests stay withheld after [`Freezer::thaw`] too: they are dropped without being
//! processed, because the client that sent them is gone (the test killed it). Requests
//! already past the gate when the org froze finish normally.
//!
//! Every request under `/services` counts (token, versions and API requests alike) and is
//! logged with its [class](class), so a test can pick crash points from the log of a run
//! without a freeze.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::api::{self, Route};
use super::catalog::Api;
use super::handlers::composite;

/// What happens to the request the org freezes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezeMode {
    /// Processed, then never answered.
    Applied,
    /// Neither processed nor answered.
    NotApplied,
}

/// A crash point: the `at`-th request after arming (1 is the next one), counting only
/// requests of `class` when it is given, and its mode. A class makes the point independent of
/// how the client's concurrent requests interleave: "the 2nd `deploy_request`" is the same
/// request in every run, "the 40th request" may not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeAt {
    pub at: u64,
    pub mode: FreezeMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

impl FreezeAt {
    /// The `at`-th request of any class.
    pub fn nth(at: u64, mode: FreezeMode) -> FreezeAt {
        FreezeAt {
            at,
            mode,
            class: None,
        }
    }
}

/// Every class a request is logged under: [`class`]'s, the token endpoint's and the
/// versions list's.
pub const CLASSES: [&str; 14] = [
    "token",
    "versions",
    "not_found",
    "resources",
    "limits",
    "query",
    "tooling_query",
    "query_more",
    "sobject_patch",
    "sobject_get",
    "composite_write",
    "composite_read",
    "deploy_request",
    "deploy_poll",
];

/// An armed crash point: requests still to count, of which class.
#[derive(Debug, Clone, Copy)]
struct Armed {
    remaining: u64,
    mode: FreezeMode,
    class: Option<&'static str>,
}

/// Where the org froze: the request's number since the server started, and its class.
#[derive(Debug, Clone, Copy, Serialize)]
struct Frozen {
    at: u64,
    mode: FreezeMode,
    class: &'static str,
}

/// One request the org received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenRequest {
    /// 1 for the first request the server received.
    pub seq: u64,
    pub class: &'static str,
    /// When it arrived, from the org's start: the benchmark's timeline of an operation.
    pub at: Duration,
}

/// What the HTTP layer does with one request.
#[derive(Debug)]
pub enum Gate {
    /// Process and answer it.
    Pass,
    /// Process it, then withhold the answer.
    AnswerWithheld(Thaw),
    /// Do not process it.
    Withheld(Thaw),
}

/// Resolves once the org is thawed (or gone); a withheld request then drops its connection.
#[derive(Debug)]
pub struct Thaw(watch::Receiver<u64>);

impl Thaw {
    pub async fn wait(mut self) {
        // An error means the org itself is gone: nothing is left to wait for.
        let _ = self.0.changed().await;
    }
}

/// How many requests the log keeps (the oldest go first), so a long-running `pauseplay sim`
/// stays bounded.
const LOG_LIMIT: usize = 65_536;

/// The freeze state of one org. Lives in the org state, behind its mutex, so the gate is
/// decided in the order requests are admitted.
#[derive(Debug)]
pub struct Freezer {
    armed: Option<Armed>,
    frozen: Option<Frozen>,
    seen: u64,
    started: Instant,
    log: VecDeque<SeenRequest>,
    /// Bumped by every thaw; withheld requests wait for the bump.
    thaws: watch::Sender<u64>,
}

impl Default for Freezer {
    fn default() -> Self {
        Freezer {
            armed: None,
            frozen: None,
            seen: 0,
            started: Instant::now(),
            log: VecDeque::new(),
            thaws: watch::Sender::new(0),
        }
    }
}

impl Freezer {
    /// Arms a crash point counted from now. Refused while the org is frozen (thaw first), for
    /// `at` = 0 and for a class requests are never logged under.
    pub fn arm(&mut self, point: FreezeAt) -> Result<(), String> {
        if point.at == 0 {
            return Err("freeze `at` counts requests from 1 (the next request)".to_owned());
        }
        let class = match point.class.as_deref() {
            None => None,
            Some(wanted) => match CLASSES.iter().find(|class| **class == wanted) {
                Some(class) => Some(*class),
                None => {
                    return Err(format!(
                        "freeze `class` {wanted:?} is not a request class; one of {}",
                        CLASSES.join(", ")
                    ));
                }
            },
        };
        if let Some(frozen) = self.frozen {
            return Err(format!(
                "the org is already frozen (at request {} since it started, {} {}); thaw it \
                 first",
                frozen.at,
                frozen.class,
                mode_name(frozen.mode)
            ));
        }
        self.armed = Some(Armed {
            remaining: point.at,
            mode: point.mode,
            class,
        });
        Ok(())
    }

    /// Disarms, unfreezes and drops every withheld request unprocessed.
    pub fn thaw(&mut self) {
        self.armed = None;
        self.frozen = None;
        self.thaws.send_modify(|count| *count += 1);
    }

    pub fn frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Requests received since the server started.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The logged requests (at most the last [`LOG_LIMIT`]), oldest first.
    pub fn log(&self) -> Vec<SeenRequest> {
        self.log.iter().cloned().collect()
    }

    /// `GET /__sim/freeze`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "armed": self.armed.map(|armed| serde_json::json!({
                "remaining": armed.remaining,
                "mode": armed.mode,
                "class": armed.class,
            })),
            "frozen": self.frozen,
            "requests": self.seen,
        })
    }

    /// Counts and logs one request and decides what becomes of it.
    pub fn gate(&mut self, class: &'static str) -> Gate {
        self.seen += 1;
        if self.log.len() >= LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(SeenRequest {
            seq: self.seen,
            class,
            at: self.started.elapsed(),
        });
        if self.frozen.is_some() {
            return Gate::Withheld(self.thaw_signal());
        }
        let Some(armed) = self.armed else {
            return Gate::Pass;
        };
        if armed.class.is_some_and(|wanted| wanted != class) {
            return Gate::Pass;
        }
        if armed.remaining > 1 {
            self.armed = Some(Armed {
                remaining: armed.remaining - 1,
                ..armed
            });
            return Gate::Pass;
        }
        self.armed = None;
        let mode = armed.mode;
        self.frozen = Some(Frozen {
            at: self.seen,
            mode,
            class,
        });
        match mode {
            FreezeMode::Applied => Gate::AnswerWithheld(self.thaw_signal()),
            FreezeMode::NotApplied => Gate::Withheld(self.thaw_signal()),
        }
    }

    /// A receiver that has seen the current thaw count, so only a later thaw wakes it.
    fn thaw_signal(&self) -> Thaw {
        Thaw(self.thaws.subscribe())
    }
}

fn mode_name(mode: FreezeMode) -> &'static str {
    match mode {
        FreezeMode::Applied => "applied",
        FreezeMode::NotApplied => "not_applied",
    }
}

/// The class a request is logged under: its endpoint class (the names of `state::counter`),
/// with composites split into `composite_write` (at least one PATCH) and `composite_read`.
pub fn class(method: &Method, path: &str, body: &[u8]) -> &'static str {
    match api::route(path) {
        Route::UnknownVersion | Route::NotFound => "not_found",
        Route::Resources { .. } => "resources",
        Route::Limits => "limits",
        Route::Query {
            api: Api::Standard, ..
        } => "query",
        Route::Query {
            api: Api::Tooling, ..
        } => "tooling_query",
        Route::QueryMore { .. } => "query_more",
        Route::SObject { .. } if method == Method::PATCH => "sobject_patch",
        Route::SObject { .. } => "sobject_get",
        Route::Composite { .. } if composite::has_patch(body) => "composite_write",
        Route::Composite { .. } => "composite_read",
        Route::DeployRequest { .. } => "deploy_request",
        Route::DeployStatus { .. } => "deploy_poll",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn freezes_at_the_nth_request_and_withholds_everything_after() {
        let mut freezer = Freezer::default();
        assert!(matches!(freezer.gate("token"), Gate::Pass));
        freezer.arm(FreezeAt::nth(3, FreezeMode::Applied)).unwrap();
        assert!(matches!(freezer.gate("query"), Gate::Pass));
        assert!(matches!(freezer.gate("query"), Gate::Pass));
        assert!(!freezer.frozen());
        assert!(matches!(
            freezer.gate("composite_write"),
            Gate::AnswerWithheld(_)
        ));
        assert!(freezer.frozen());
        assert!(matches!(freezer.gate("composite_read"), Gate::Withheld(_)));
        assert!(
            freezer
                .arm(FreezeAt::nth(1, FreezeMode::NotApplied))
                .is_err()
        );
        freezer.thaw();
        assert!(!freezer.frozen());
        assert!(matches!(freezer.gate("query"), Gate::Pass));
        freezer
            .arm(FreezeAt::nth(1, FreezeMode::NotApplied))
            .unwrap();
        assert!(matches!(freezer.gate("deploy_request"), Gate::Withheld(_)));
        assert_eq!(freezer.seen(), 7);
        let classes: Vec<&str> = freezer.log().iter().map(|r| r.class).collect();
        assert_eq!(
            classes,
            [
                "token",
                "query",
                "query",
                "composite_write",
                "composite_read",
                "query",
                "deploy_request"
            ]
        );
        assert!(freezer.arm(FreezeAt::nth(0, FreezeMode::Applied)).is_err());
    }

    #[test]
    fn a_class_counts_only_its_own_requests() {
        let mut freezer = Freezer::default();
        let second_deploy = FreezeAt {
            at: 2,
            mode: FreezeMode::NotApplied,
            class: Some("deploy_request".to_owned()),
        };
        freezer.arm(second_deploy).unwrap();
        for class in [
            "tooling_query",
            "deploy_request",
            "deploy_poll",
            "tooling_query",
        ] {
            assert!(matches!(freezer.gate(class), Gate::Pass), "{class}");
        }
        assert!(matches!(freezer.gate("deploy_request"), Gate::Withheld(_)));
        assert_eq!(freezer.status()["frozen"]["class"], "deploy_request");
        assert_eq!(freezer.status()["frozen"]["at"], 5);
        freezer.thaw();
        let typo = FreezeAt {
            class: Some("deploy".to_owned()),
            ..FreezeAt::nth(1, FreezeMode::Applied)
        };
        let refused = freezer.arm(typo).unwrap_err();
        assert!(refused.contains("deploy_request"), "{refused}");
    }
}
