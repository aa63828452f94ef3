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

/// A crash point: the `at`-th request after arming (1 is the next one), and its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeAt {
    pub at: u64,
    pub mode: FreezeMode,
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
    armed: Option<(u64, FreezeMode)>,
    frozen: Option<FreezeAt>,
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
    /// Arms a crash point counted from now. Refused while the org is frozen (thaw first) and
    /// for `at` = 0.
    pub fn arm(&mut self, point: FreezeAt) -> Result<(), String> {
        if point.at == 0 {
            return Err("freeze `at` counts requests from 1 (the next request)".to_owned());
        }
        if let Some(frozen) = self.frozen {
            return Err(format!(
                "the org is already frozen (at request {} from arming, {}); thaw it first",
                frozen.at,
                mode_name(frozen.mode)
            ));
        }
        self.armed = Some((point.at, point.mode));
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
            "armed": self
                .armed
                .map(|(remaining, mode)| serde_json::json!({ "remaining": remaining, "mode": mode })),
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
        let Some((remaining, mode)) = self.armed else {
            return Gate::Pass;
        };
        if remaining > 1 {
            self.armed = Some((remaining - 1, mode));
            return Gate::Pass;
        }
        self.armed = None;
        self.frozen = Some(FreezeAt {
            at: self.seen,
            mode,
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
        freezer
            .arm(FreezeAt {
                at: 3,
                mode: FreezeMode::Applied,
            })
            .unwrap();
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
                .arm(FreezeAt {
                    at: 1,
                    mode: FreezeMode::NotApplied
                })
                .is_err()
        );
        freezer.thaw();
        assert!(!freezer.frozen());
        assert!(matches!(freezer.gate("query"), Gate::Pass));
        freezer
            .arm(FreezeAt {
                at: 1,
                mode: FreezeMode::NotApplied,
            })
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
        assert!(
            freezer
                .arm(FreezeAt {
                    at: 0,
                    mode: FreezeMode::Applied
                })
                .is_err()
        );
    }
}
