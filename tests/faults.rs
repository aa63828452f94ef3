//! The fault matrix: pausing and restoring an org of a few hundred components of all five kinds
//! while the simulated org misbehaves in every way `src/sim/faults.rs` can make it: transient
//! errors at 10% and 30%, tokens that expire every few requests, dropped connections, answers
//! slower than the client's timeout, "admin operation already in progress" (at a rate, and
//! held by someone deploying from Setup), the daily API limit running out in the middle of a
//! pause and of a restore, and trigger deploys whose tests fail.
//!
//! Every case ends exact (the org's true state equals the state before the pause, byte for
//! byte) or with every component that is not where it should be reported by name. That is
//! checked after *every* converge, not only at the end: whatever a converge leaves unfinished,
//! `status` (or the converge's own outcome) names it.
//!
//! Most cases run in-process, on an [`OrgEngine`] or the daemon's [`Service`] with injected
//! time: the engine waits at least 30 s (doubling) before it tries a failed component again,
//! and the real daemon's client waits 0.5 s and more between retries and 60 s for an answer;
//! passing a later `now` to the next converge stands for the daemon's later ticks without
//! waiting for them. Cases whose every ingredient the configuration and the simulated org
//! express go through the real `pauseplay` binary and its CLI (`common::daemon`). Each test
//! says which, and prints one line of figures for the README's Guarantees section.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pauseplay::automation::{Kind, Scope, discover};
use pauseplay::budget::Estimate;
use pauseplay::daemon::service::{ProgressFn, Release, Service};
use pauseplay::daemon::status::{LISTED_MAX, OrgState, org_state as journal_status};
use pauseplay::engine::{EngineError, OrgEngine, Outcome, Progress};
use pauseplay::salesforce::{PollPolicy, RetryPolicy};
use pauseplay::sim::{AdminAction, Faults, Scenario, SimHandle};
use pauseplay::store::{Actor, Hold, HoldScope, HoldSource, JournalEntry, NewHold, Step, Store};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::OnceCell;

use common::daemon::{DaemonProcess, Setup, cli, org_state, status};
use common::{FAST_RETRY, client, settings, sim_client, start_sim};

/// The org's name in every configuration here.
const ORG: &str = "sim";

/// How many converges a case may take before it is taken as stuck. The daemon would run them
/// on its ticks; here each is an hour after the last, past any retry backoff.
const MAX_ROUNDS: u32 = 20;

/// Trigger deploys are polled without waiting (the sim counts polls, not time).
const FAST_POLLS: PollPolicy =
    PollPolicy::doubling(Duration::from_millis(1), Duration::from_millis(5));

/// The daemon's number of attempts per request, with its delays compressed to milliseconds:
/// at 30% transient errors some requests still run out of attempts, as they would in the
/// daemon, and the engine has to finish their components on a later converge.
const DAEMON_ATTEMPTS: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    ..FAST_RETRY
};

fn t0() -> Timestamp {
    Timestamp::from_second(1_795_000_000).expect("valid timestamp")
}

fn minutes_after(at: Timestamp, minutes: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// 280 generated components of all five kinds on standard objects and 4 custom ones, a
/// sandbox or a production org; the mix is in `docs/sim-scenarios.md`. Fewer than
/// [`LISTED_MAX`] of them are paused, so `status` can list every one that fails. Query pages
/// of 20 records make discovery page through `nextRecordsUrl`, under the faults too.
fn fault_org(sandbox: bool) -> Scenario {
    Scenario::from_toml_str(&format!(
        "[org]\nname = \"Fault Matrix Org\"\nis_sandbox = {sandbox}\n\n\
         [generate]\nseed = 6\nflows = 100\nprocess_builders = 30\nvalidation_rules = 70\n\
         workflow_rules = 40\ntriggers = 40\ncustom_objects = 4\n\n[query]\npage_size = 20\n"
    ))
    .expect("scenario")
}

fn every_kind() -> Scope {
    Scope::new(Kind::ALL.into_iter().collect(), None, Vec::new(), false)
}

/// A component the pause switches, as discovery named it.
#[derive(Debug, Clone)]
struct Planned {
    kind: Kind,
    name: String,
}

/// Each component's activation in the org's true state, by Salesforce id.
fn activations(sim: &SimHandle) -> BTreeMap<String, Value> {
    let snapshot = sim.snapshot();
    let mut out = BTreeMap::new();
    for (list, field) in [
        ("flows", "active_version"),
        ("validation_rules", "active"),
        ("workflow_rules", "active"),
        ("triggers", "status"),
    ] {
        for item in snapshot[list].as_array().expect(list) {
            let id = item["id"].as_str().expect("every component has an id");
            out.insert(id.to_owned(), item[field].clone());
        }
    }
    out
}

/// The activation a pause sets.
fn paused_value(kind: Kind) -> Value {
    match kind {
        Kind::Flow | Kind::ProcessBuilder => Value::Null,
        Kind::ValidationRule | Kind::WorkflowRule => Value::Bool(false),
        Kind::Trigger => Value::from("Inactive"),
    }
}

/// The components a pause of the whole org switches, by id (discovery, before any fault).
async fn plan(sim: &SimHandle) -> BTreeMap<String, Planned> {
    discover(&sim_client(ORG, sim), &every_kind())
        .await
        .expect("discovery")
        .components
        .into_iter()
        .filter(|component| component.will_pause())
        .map(|component| {
            (
                component.id,
                Planned {
                    kind: component.kind,
                    name: component.api_name,
                },
            )
        })
        .collect()
}

fn counter(counters: &BTreeMap<String, u64>, name: &str) -> u64 {
    counters.get(name).copied().unwrap_or(0)
}

/// The fault counters of a run, for the summary line.
fn fault_figures(counters: &BTreeMap<String, u64>) -> String {
    let mut parts = Vec::new();
    for (name, label) in [
        ("transient", "transient errors"),
        ("rejected_auth", "expired-token refusals"),
        ("dropped", "dropped connections"),
        ("slow", "slow answers"),
        ("slow_writes", "of them writes"),
        ("admin_conflicts", "admin conflicts"),
        ("rejected_limit", "limit refusals"),
    ] {
        let value = counter(counters, name);
        if value > 0 {
            parts.push(format!("{value} {label}"));
        }
    }
    parts.join(", ")
}

/// Where the holds want the planned components, and which of them are elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Paused,
    AsBefore,
}

impl Want {
    fn as_str(self) -> &'static str {
        match self {
            Want::Paused => "paused",
            Want::AsBefore => "restored",
        }
    }
}

/// An org under test: the simulated org, the store and the engine (or service) that pause it,
/// and what the org looked like before.
struct Org {
    sim: SimHandle,
    store: Store,
    planned: BTreeMap<String, Planned>,
    /// The org's true state before anything happened (without its deploy log).
    before: Value,
    /// Each component's activation before anything happened.
    initial: BTreeMap<String, Value>,
    dir: TempDir,
}

impl Org {
    async fn start(scenario: Scenario) -> Org {
        let sim = start_sim(scenario).await;
        let planned = plan(&sim).await;
        assert!(
            planned.len() >= 150 && planned.len() <= LISTED_MAX,
            "a pause switches {} components; `status` lists at most {LISTED_MAX} failures",
            planned.len()
        );
        for kind in Kind::ALL {
            assert!(
                planned.values().any(|p| p.kind == kind),
                "the org has {kind} to pause"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("state"))
            .await
            .expect("open the store");
        let before = org_state(&sim);
        let initial = activations(&sim);
        sim.reset_counters();
        Org {
            sim,
            store,
            planned,
            before,
            initial,
            dir,
        }
    }

    /// Starts injecting `faults` (counting from zero).
    fn inject(&self, faults: Faults) {
        self.sim.set_faults(faults);
        self.sim.reset_counters();
    }

    fn name(&self, id: &str) -> String {
        self.planned
            .get(id)
            .map_or_else(|| id.to_owned(), |p| format!("{} {}", p.kind, p.name))
    }

    fn names<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        ids.into_iter().map(|id| self.name(id)).collect()
    }

    /// The planned components that are not where `want` puts them.
    fn unfinished(&self, want: Want) -> BTreeSet<String> {
        let now = activations(&self.sim);
        self.planned
            .iter()
            .filter(|(id, planned)| {
                let wanted = match want {
                    Want::Paused => paused_value(planned.kind),
                    Want::AsBefore => self.initial[*id].clone(),
                };
                now.get(*id) != Some(&wanted)
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The planned components the org no longer has as they were.
    fn changed(&self) -> BTreeSet<String> {
        let now = activations(&self.sim);
        self.planned
            .keys()
            .filter(|id| now.get(*id) != self.initial.get(*id))
            .cloned()
            .collect()
    }

    async fn journal(&self) -> Vec<JournalEntry> {
        self.store.journal(ORG).await.expect("read the journal")
    }

    /// The components `status` names: failures, conflicts, and triggers in a deploy under way.
    fn named_by(&self, state: &OrgState) -> BTreeSet<String> {
        let by_name: BTreeMap<&str, &String> = self
            .planned
            .iter()
            .map(|(id, planned)| (planned.name.as_str(), id))
            .collect();
        let mut named: BTreeSet<String> = state
            .failures
            .iter()
            .chain(&state.conflicts)
            .map(|issue| issue.id.clone())
            .collect();
        for deploy in &state.deploys {
            named.extend(
                deploy
                    .triggers
                    .iter()
                    .filter_map(|name| by_name.get(name.as_str()).map(|id| (*id).clone())),
            );
        }
        named
    }

    /// The promise checked after every converge: each planned component not where the holds
    /// want it is named by `status`, and, when the converge ran to its end, by the converge's
    /// own outcome (what `pause now` and `resume` print and `history` records). A converge that
    /// stopped before changing anything may instead report the stop for the whole org.
    ///
    /// A converge inside the engine's retry backoff tries nothing, so its outcome names
    /// nothing: `due` is false for those, and only `status` is checked.
    fn assert_reported(
        &self,
        what: &str,
        want: Want,
        state: &OrgState,
        result: &Result<Outcome, EngineError>,
        due: bool,
    ) -> BTreeSet<String> {
        let unfinished = self.unfinished(want);
        let by_status = self.named_by(state);
        let untouched_org = result.is_err() && self.changed().is_empty();
        let not_in_status: Vec<&String> = unfinished.difference(&by_status).collect();
        assert!(
            not_in_status.is_empty() || untouched_org,
            "{what}: {} components are not {} and `status` does not name them: {:?}\n\
             result: {}\nstatus counts: {:?}",
            not_in_status.len(),
            want.as_str(),
            self.names(not_in_status.iter().copied()),
            describe(result),
            state.counts,
        );
        if let (Ok(outcome), true) = (result, due) {
            let mut by_outcome: BTreeSet<String> = outcome
                .failed
                .iter()
                .chain(&outcome.conflicts)
                .map(|issue| issue.id.clone())
                .collect();
            if outcome.deploying > 0 {
                // Under way, not finished: the outcome counts them, `status` names them.
                by_outcome.extend(by_status.iter().cloned());
            }
            let not_in_outcome: Vec<&String> = unfinished.difference(&by_outcome).collect();
            assert!(
                not_in_outcome.is_empty(),
                "{what}: {} components are not {} but the converge's outcome does not name \
                 them: {:?}\nresult: {}",
                not_in_outcome.len(),
                want.as_str(),
                self.names(not_in_outcome.iter().copied()),
                describe(result),
            );
        }
        unfinished
    }
}

fn describe(result: &Result<Outcome, EngineError>) -> String {
    match result {
        Ok(outcome) => format!(
            "paused {}, restored {}, failed {}, conflicts {}, deploying {}",
            outcome.paused,
            outcome.restored,
            outcome.failed.len(),
            outcome.conflicts.len(),
            outcome.deploying
        ),
        Err(error) => format!("stopped: {}", pauseplay::error_chain(error)),
    }
}

/// What converging until done came to.
#[derive(Debug)]
struct Settled {
    /// Converges run.
    rounds: u32,
    /// Converges that stopped with an error.
    stopped: u32,
    /// The time of the last converge.
    at: Timestamp,
    /// Planned components not where the holds want them at the end, each reported.
    unfinished: BTreeSet<String>,
}

/// An [`Org`] driven by an [`OrgEngine`] directly, with the client settings a case needs.
struct EngineCase {
    org: Org,
    engine: OrgEngine,
}

impl EngineCase {
    async fn start(scenario: Scenario, retry: RetryPolicy, timeout: Duration) -> EngineCase {
        let org = Org::start(scenario).await;
        let mut settings = settings(
            ORG,
            &org.sim.base_url(),
            org.sim.client_id(),
            org.sim.client_secret(),
        );
        settings.retry = retry;
        settings.request_timeout = timeout;
        let engine = OrgEngine::new(
            ORG.to_owned(),
            client(settings),
            every_kind(),
            org.store.clone(),
        )
        .with_poll_policy(FAST_POLLS)
        // These cases run the daily limit out part-way through on purpose; the check that
        // the org can afford a pause would refuse it up front (tests/budget.rs covers that).
        .with_budget_check(false);
        EngineCase { org, engine }
    }

    /// A manual hold on the whole org from `at`, for a week.
    async fn hold(&self, at: Timestamp) -> Hold {
        self.org
            .store
            .insert_hold(&NewHold {
                org: ORG.to_owned(),
                source: HoldSource::Manual,
                owner: operator(),
                reason: Some("fault matrix".to_owned()),
                scope: HoldScope::default(),
                created_at: at,
                starts_at: None,
                expires_at: minutes_after(at, 7 * 24 * 60),
            })
            .await
            .expect("insert the hold")
    }

    async fn release(&self, hold: &Hold, at: Timestamp) {
        self.org
            .store
            .release_hold(hold.id, &operator(), at)
            .await
            .expect("release the hold")
            .expect("the hold was in force");
    }

    fn status(&self, journal: &[JournalEntry]) -> OrgState {
        journal_status(journal, self.engine.watched_deploy(), None)
    }

    /// One converge at `at`, checked: everything it leaves unfinished is reported. Returns
    /// what it did, `status` after it and the planned components not where `want` puts them.
    async fn converge(
        &self,
        what: &str,
        at: Timestamp,
        want: Want,
    ) -> (Result<Outcome, EngineError>, OrgState, BTreeSet<String>) {
        self.converge_checked(what, at, want, true).await
    }

    /// [`EngineCase::converge`] inside the retry backoff of what failed before.
    async fn converge_in_backoff(&self, what: &str, at: Timestamp, want: Want) {
        let _ = self.converge_checked(what, at, want, false).await;
    }

    async fn converge_checked(
        &self,
        what: &str,
        at: Timestamp,
        want: Want,
        due: bool,
    ) -> (Result<Outcome, EngineError>, OrgState, BTreeSet<String>) {
        let result = self.engine.converge(at, &|_: Progress| {}).await;
        if let Err(EngineError::Store(error)) = &result {
            panic!("{what}: the store failed: {error}");
        }
        let state = self.status(&self.org.journal().await);
        let unfinished = self.org.assert_reported(what, want, &state, &result, due);
        (result, state, unfinished)
    }

    /// Converges, an hour apart, until nothing is in flight any more (at most [`MAX_ROUNDS`]),
    /// checking after each converge that everything unfinished is reported.
    async fn settle(&self, what: &str, mut at: Timestamp, want: Want) -> Settled {
        let mut stopped = 0;
        for round in 1..=MAX_ROUNDS {
            let (result, _, unfinished) = self
                .converge(&format!("{what}, converge {round}"), at, want)
                .await;
            stopped += u32::from(result.is_err());
            let journal = self.org.journal().await;
            let pending = journal.iter().any(|entry| match entry.step {
                Step::Pausing | Step::Restoring => true,
                Step::Paused => want == Want::AsBefore,
                Step::Restored | Step::Failed | Step::Conflict => false,
            });
            if matches!(&result, Ok(outcome) if outcome.deploying == 0) && !pending {
                return Settled {
                    rounds: round,
                    stopped,
                    at,
                    unfinished,
                };
            }
            at = minutes_after(at, 60);
        }
        panic!(
            "{what}: still not settled after {MAX_ROUNDS} converges; unfinished: {:?}",
            self.org.names(&self.org.unfinished(want))
        );
    }

    /// Pauses the whole org and releases it, each until settled, and checks the org ends
    /// exact. Returns the converges each phase took and the sim's counters.
    async fn pause_and_restore(&self, what: &str) -> (Settled, Settled, BTreeMap<String, u64>) {
        let hold = self.hold(t0()).await;
        let paused = self
            .settle(&format!("{what}: pause"), t0(), Want::Paused)
            .await;
        assert!(
            paused.unfinished.is_empty(),
            "{what}: not paused: {:?}",
            self.org.names(&paused.unfinished)
        );
        self.release(&hold, paused.at).await;
        let restored = self
            .settle(&format!("{what}: restore"), paused.at, Want::AsBefore)
            .await;
        assert!(restored.unfinished.is_empty());
        assert_eq!(
            org_state(&self.org.sim),
            self.org.before,
            "{what}: the org ends exactly as it was"
        );
        let counters = self.org.sim.counters();
        (paused, restored, counters)
    }
}

fn operator() -> Actor {
    Actor {
        uid: Some(1000),
        name: "oncall".to_owned(),
    }
}

/// Runs one matrix case on a sandbox org with `faults`, ending exact; prints its figures and
/// returns the sim's counters.
async fn matrix(what: &str, faults: Faults, timeout: Duration) -> BTreeMap<String, u64> {
    let case = EngineCase::start(fault_org(true), DAEMON_ATTEMPTS, timeout).await;
    case.org.inject(faults);
    let (paused, restored, counters) = case.pause_and_restore(what).await;
    println!(
        "fault matrix: {what}: {} components switched (all five kinds), {} API requests, {} \
         faults injected ({}), {} + {} converges to pause and restore ({} stopped early), \
         exact",
        case.org.planned.len(),
        counter(&counters, "api_requests"),
        counter(&counters, "faults_injected") + counter(&counters, "rejected_auth"),
        fault_figures(&counters),
        paused.rounds,
        restored.rounds,
        paused.stopped + restored.stopped,
    );
    case.org.sim.shutdown().await;
    counters
}

/// In-process (engine): transient errors need the daemon's retries without its waits.
#[tokio::test]
async fn ten_percent_transient_errors_end_exact() {
    let counters = matrix(
        "10% transient",
        Faults {
            seed: 10,
            transient_error_rate: 0.10,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    let requests = counter(&counters, "api_requests");
    assert!(
        counter(&counters, "transient") * 20 >= requests,
        "about 10% of {requests} requests failed: {counters:?}"
    );
}

/// In-process (engine), as above, at a rate where now and then a request runs out of its 5
/// attempts: a converge then stops or leaves components failed, and a later one finishes
/// them. (Discovery reads kinds concurrently, so which requests fail varies from run to run.)
#[tokio::test]
async fn thirty_percent_transient_errors_end_exact() {
    let counters = matrix(
        "30% transient",
        Faults {
            seed: 32,
            transient_error_rate: 0.30,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    let requests = counter(&counters, "api_requests");
    assert!(
        counter(&counters, "transient") * 5 >= requests,
        "about 30% of {requests} requests failed: {counters:?}"
    );
}

/// In-process (engine): a token refused every 20 API requests is re-minted each time.
#[tokio::test]
async fn tokens_expiring_every_20_requests_end_exact() {
    let counters = matrix(
        "token expiry every 20 requests",
        Faults {
            seed: 20,
            token_requests: 20,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    let requests = counter(&counters, "api_requests");
    assert!(
        counter(&counters, "token") >= requests / 20,
        "a token per 20 requests: {counters:?}"
    );
    assert!(counter(&counters, "rejected_auth") >= requests / 20 - 1);
}

/// In-process (engine): a dropped connection loses the answer, not the request (a dropped
/// write has landed), so the engine must not take a lost answer for a failed write.
#[tokio::test]
async fn dropped_connections_end_exact() {
    let counters = matrix(
        "10% dropped connections",
        Faults {
            seed: 40,
            drop_rate: 0.10,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(counter(&counters, "dropped") >= 5, "{counters:?}");
}

/// In-process (engine): other admins' operations refuse 30% of writes with "admin operation
/// already in progress", without any overlap from the daemon.
#[tokio::test]
async fn admin_operations_in_progress_at_30_percent_of_writes_end_exact() {
    let counters = matrix(
        "admin operation in progress on 30% of writes",
        Faults {
            seed: 50,
            admin_conflict_rate: 0.30,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(counter(&counters, "admin_conflicts") >= 5, "{counters:?}");
}

/// In-process (engine): the daemon's request timeout is 60 s and not configurable, so the
/// client here gives up after 200 ms while 10% of answers take 1 s. A slow write still lands
/// after the client gave up and holds the org meanwhile; a slow read is only late.
#[tokio::test]
async fn answers_slower_than_the_client_timeout_end_exact() {
    let counters = matrix(
        "10% of answers 1 s late, client timeout 200 ms",
        Faults {
            seed: 60,
            slow_rate: 0.10,
            slow_delay: Duration::from_secs(1),
            ..Faults::default()
        },
        Duration::from_millis(200),
    )
    .await;
    // Slow reads for sure; slow writes most runs (which requests are slow varies with the
    // order of discovery's concurrent reads). The next test makes half the writes slow.
    assert!(
        counter(&counters, "slow") > counter(&counters, "slow_writes"),
        "slow reads: {counters:?}"
    );
}

/// The planned components of `kind`, or of every other kind.
fn of_kind(planned: &BTreeMap<String, Planned>, kind: Kind, wanted: bool) -> BTreeSet<String> {
    planned
        .iter()
        .filter(|(_, p)| (p.kind == kind) == wanted)
        .map(|(id, _)| id.clone())
        .collect()
}

/// The ids of the components an outcome lists as failed.
fn failed_ids(result: &Result<Outcome, EngineError>) -> BTreeSet<String> {
    match result {
        Ok(outcome) => outcome.failed.iter().map(|i| i.id.clone()).collect(),
        Err(error) => panic!("the converge stopped: {error}"),
    }
}

/// In-process (engine): someone deploys from Setup for a while, first during the pause, then
/// during the restore. Every Tooling write meanwhile is refused with "admin operation already
/// in progress" until the client's retries run out: those components are reported, not
/// retried before the engine's backoff, and finished once the operation is over. Trigger
/// deploys queue instead (one deploy at a time) and are not refused.
#[tokio::test]
async fn an_admin_operation_held_in_setup_delays_the_writes_it_blocks_and_loses_nothing() {
    let case = EngineCase::start(fault_org(true), DAEMON_ATTEMPTS, Duration::from_secs(10)).await;
    let org = &case.org;
    let tooling = of_kind(&org.planned, Kind::Trigger, false);
    let busy = |in_progress| {
        org.sim
            .admin(AdminAction::SetAdminOperation { in_progress })
            .expect("admin operation");
    };

    busy(true);
    let hold = case.hold(t0()).await;
    let (result, state, unfinished) = case
        .converge("pause in Setup's way", t0(), Want::Paused)
        .await;
    assert_eq!(unfinished, tooling, "only the Tooling writes are held up");
    assert_eq!(failed_ids(&result), tooling);
    assert_eq!(u64::try_from(tooling.len()).ok(), Some(state.counts.failed));
    assert!(
        state.failures.iter().all(|issue| issue
            .message
            .contains("admin operation already in progress")),
        "{:?}",
        state.failures.first()
    );
    let refused = counter(&org.sim.counters(), "admin_conflicts");
    // Within the backoff nothing is tried again: no calls at all.
    let calls = case.engine.client().api_calls();
    case.converge_in_backoff("pause, within the backoff", t0(), Want::Paused)
        .await;
    assert_eq!(
        case.engine.client().api_calls(),
        calls,
        "not retried at once"
    );
    busy(false);
    let paused = case
        .settle(
            "pause after Setup is done",
            minutes_after(t0(), 60),
            Want::Paused,
        )
        .await;
    assert!(paused.unfinished.is_empty());

    busy(true);
    case.release(&hold, paused.at).await;
    let (result, _, unfinished) = case
        .converge("restore in Setup's way", paused.at, Want::AsBefore)
        .await;
    assert_eq!(unfinished, tooling);
    assert_eq!(failed_ids(&result), tooling);
    busy(false);
    let restored = case
        .settle(
            "restore after Setup is done",
            minutes_after(paused.at, 60),
            Want::AsBefore,
        )
        .await;
    assert!(restored.unfinished.is_empty());
    assert_eq!(org_state(&org.sim), org.before, "exact");
    let counters = org.sim.counters();
    println!(
        "fault matrix: admin operation held in Setup during the pause and the restore: {} of {} \
         components held up each time and reported, {} writes refused, {} API requests, \
         finished after the operation, exact",
        tooling.len(),
        org.planned.len(),
        counter(&counters, "admin_conflicts"),
        counter(&counters, "api_requests"),
    );
    assert!(refused >= u64::try_from(tooling.len()).unwrap_or(u64::MAX));
    org.sim.clone().shutdown().await;
}

/// The failing test every production trigger deploy runs in these cases.
const FAILING_TEST: &str = "AccountTriggerTest.testInsert";

fn failing(tests: &[&str]) -> AdminAction {
    AdminAction::SetDeployBehaviour {
        failing_tests: tests.iter().map(|t| (*t).to_owned()).collect(),
        coverage_shortfall: false,
    }
}

/// In-process (engine): a production org whose trigger deploy fails its tests on the restore.
/// The triggers stay paused and are reported with the failing test named, everything else is
/// restored, the deploy is not retried before the engine's backoff, and once the test passes
/// again the next converge restores the triggers: exact.
#[tokio::test]
async fn a_failing_restore_deploy_reports_the_triggers_with_the_test_and_retries_later() {
    let case = EngineCase::start(fault_org(false), DAEMON_ATTEMPTS, Duration::from_secs(10)).await;
    let org = &case.org;
    let triggers = of_kind(&org.planned, Kind::Trigger, true);
    let hold = case.hold(t0()).await;
    let paused = case.settle("production pause", t0(), Want::Paused).await;
    assert!(paused.unfinished.is_empty());

    org.sim
        .admin(failing(&[FAILING_TEST]))
        .expect("a test fails");
    let at = minutes_after(paused.at, 60);
    case.release(&hold, at).await;
    let (result, state, unfinished) = case
        .converge("restore with a failing test", at, Want::AsBefore)
        .await;
    assert_eq!(unfinished, triggers, "everything else is restored");
    assert_eq!(failed_ids(&result), triggers);
    let listed: BTreeSet<String> = state.failures.iter().map(|i| i.id.clone()).collect();
    assert_eq!(listed, triggers, "status lists exactly the triggers");
    for issue in &state.failures {
        assert!(issue.message.contains(FAILING_TEST), "{}", issue.message);
    }
    assert_eq!(
        state.counts.failed,
        u64::try_from(triggers.len()).unwrap_or(0)
    );
    let deploys = counter(&org.sim.counters(), "deploy_request");
    case.converge_in_backoff("restore within the backoff", at, Want::AsBefore)
        .await;
    assert_eq!(
        counter(&org.sim.counters(), "deploy_request"),
        deploys,
        "no new deploy before the backoff"
    );

    org.sim.admin(failing(&[])).expect("the test passes again");
    let restored = case
        .settle(
            "restore once the test passes",
            minutes_after(at, 60),
            Want::AsBefore,
        )
        .await;
    assert!(restored.unfinished.is_empty());
    assert_eq!(org_state(&org.sim), org.before, "exact");
    let counters = org.sim.counters();
    println!(
        "fault matrix: failing restore deploy in production: {} triggers reported with the \
         failing test, {} other components restored at once, {} deploys in all, triggers \
         restored {} converges later, exact",
        triggers.len(),
        org.planned.len() - triggers.len(),
        counter(&counters, "deploy_request"),
        restored.rounds,
    );
    org.sim.clone().shutdown().await;
}

/// Through the real binary (the config and the scenario express all of it): a production org
/// whose trigger deploy fails a test on the pause. `pause now` exits 1 naming every trigger
/// with the failing test, `status` lists exactly the triggers, everything else is paused, and
/// `resume` leaves the org exactly as it was.
#[tokio::test]
async fn a_failing_pause_deploy_names_every_trigger_and_the_test_and_the_rest_is_exact() {
    let mut scenario = fault_org(false);
    scenario.deploy.pending_polls = 0;
    scenario.deploy.in_progress_polls = 0;
    scenario.deploy.failing_tests = vec![FAILING_TEST.to_owned()];
    let setup = Setup::new(scenario).await;
    let planned = plan(&setup.sim).await;
    let triggers = of_kind(&planned, Kind::Trigger, true);
    let before = org_state(&setup.sim);
    let initial = activations(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;

    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now", "--reason", "load"]).await;
    assert_eq!(
        code, 1,
        "a failed component makes it exit 1: {stdout}\n{stderr}"
    );
    for id in &triggers {
        let line = stdout
            .lines()
            .find(|line| line.contains(&format!("failed   trigger {}:", planned[id].name)))
            .unwrap_or_else(|| panic!("{} is not reported:\n{stdout}", planned[id].name));
        assert!(line.contains(FAILING_TEST), "{line}");
    }
    let now = activations(&setup.sim);
    for (id, component) in &planned {
        let expected = if component.kind == Kind::Trigger {
            initial[id].clone()
        } else {
            paused_value(component.kind)
        };
        assert_eq!(now[id], expected, "{} {}", component.kind, component.name);
    }
    let status = status(&setup.config).await;
    let org = &status["orgs"][0];
    let listed: BTreeSet<String> = org["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|issue| issue["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(listed, triggers, "{org}");
    assert_eq!(org["paused"], planned.len() - triggers.len());

    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(org_state(&setup.sim), before, "exact");
    println!(
        "fault matrix: failing pause deploy in production (real daemon): {} triggers reported \
         with the failing test by `pause now` and `status`, {} other components paused and \
         restored, exact",
        triggers.len(),
        planned.len() - triggers.len(),
    );
    setup.sim.shutdown().await;
}

/// API requests a clean discovery, pause and restore of the sandbox fault org take, measured
/// once on a twin org so that a daily allowance can be set to run out part-way.
#[derive(Debug, Clone, Copy)]
struct Calls {
    discovery: u64,
    pause: u64,
    restore: u64,
}

impl Calls {
    /// An allowance that runs out two thirds into the pause's own calls (past discovery).
    fn into_pause(self) -> u64 {
        self.discovery + (self.pause - self.discovery) * 2 / 3
    }

    /// An allowance that runs out half-way through the restore.
    fn into_restore(self) -> u64 {
        self.restore / 2
    }
}

static CALLS: OnceCell<Calls> = OnceCell::const_new();

async fn calls() -> Calls {
    *CALLS
        .get_or_init(|| async {
            let case =
                EngineCase::start(fault_org(true), FAST_RETRY, Duration::from_secs(10)).await;
            let sim = &case.org.sim;
            plan(sim).await;
            let discovery = counter(&sim.counters(), "api_requests");
            sim.reset_counters();
            let hold = case.hold(t0()).await;
            let paused = case.settle("measuring the pause", t0(), Want::Paused).await;
            let pause = counter(&sim.counters(), "api_requests");
            sim.reset_counters();
            case.release(&hold, paused.at).await;
            let restored = case
                .settle("measuring the restore", paused.at, Want::AsBefore)
                .await;
            let restore = counter(&sim.counters(), "api_requests");
            assert_eq!((paused.rounds, restored.rounds), (1, 1), "a clean run");
            assert_eq!(org_state(sim), case.org.before);
            case.org.sim.clone().shutdown().await;
            Calls {
                discovery,
                pause,
                restore,
            }
        })
        .await
}

/// The daily allowance of the fault org.
const DAILY: u64 = 100_000;

/// Leaves `remaining` API calls for today.
fn allow(sim: &SimHandle, remaining: u64) {
    sim.admin(AdminAction::SetApiUsage {
        used: DAILY - remaining,
        max: DAILY,
    })
    .expect("set the API usage");
}

fn quiet() -> ProgressFn {
    Arc::new(|_: Progress| {})
}

/// The daemon's [`Service`] over an [`Org`] (every kind, deploys polled without waiting).
fn service_for(org: &Org) -> Service {
    let config =
        pauseplay::config::Config::load(&common::write_config(org.dir.path(), &org.sim, ""))
            .expect("config");
    Service::with_engines(config, org.store.clone(), |engine| {
        engine.with_poll_policy(FAST_POLLS).with_budget_check(false)
    })
    .expect("service")
}

/// One reconcile pass of `service` at `at`, checked like every converge; returns its result.
async fn pass(
    org: &Org,
    service: &Service,
    what: &str,
    at: Timestamp,
    want: Want,
) -> Result<Outcome, EngineError> {
    let mut reports = service.reconcile(at, quiet()).await;
    let report = reports.pop().expect("one org");
    check(org, service, what, at, want, &report.result).await;
    report.result
}

/// Checks what `status` says after a converge of `service` with `result`.
async fn check(
    org: &Org,
    service: &Service,
    what: &str,
    at: Timestamp,
    want: Want,
    result: &Result<Outcome, EngineError>,
) -> OrgState {
    let status = service.status(at).await.expect("status");
    let state = status.orgs[ORG].clone();
    org.assert_reported(what, want, &state, result, true);
    state
}

fn assert_limit(what: &str, result: &Result<Outcome, EngineError>, state: &OrgState) {
    assert!(
        matches!(result, Err(EngineError::LimitExceeded { .. })),
        "{what}: {}",
        describe(result)
    );
    let error = state.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("no API calls left"),
        "{what}: `status` says why the org stopped: {state:?}"
    );
}

/// Calls made to the org, answered or refused: what "hammering" would show.
fn calls_made(sim: &SimHandle) -> u64 {
    let counters = sim.counters();
    counter(&counters, "api_requests") + counter(&counters, "rejected_limit")
}

/// In-process (the daemon's `Service`, passes at injected times): the daily limit runs out
/// two thirds into a pause. The org stops, `status` says why and names every component left
/// unpaused, the passes that follow make one round of calls each and change nothing, the hold
/// expires while there are still no calls, and on the new day the next pass restores the
/// org: exact.
#[tokio::test]
async fn the_daily_limit_running_out_mid_pause_stops_the_org_and_the_restore_still_happens() {
    let calls = calls().await;
    let org = Org::start(fault_org(true)).await;
    let service = service_for(&org);
    allow(&org.sim, calls.into_pause());

    let report = service
        .pause_now(
            &operator(),
            &[],
            Some(Duration::from_secs(600)),
            Some("load".to_owned()),
            t0(),
            quiet(),
        )
        .await
        .expect("pause now");
    let result = &report.orgs[0].result;
    let state = check(
        &org,
        &service,
        "pause out of calls",
        t0(),
        Want::Paused,
        result,
    )
    .await;
    assert_limit("pause out of calls", result, &state);
    let unpaused = org.unfinished(Want::Paused);
    let paused = org.planned.len() - unpaused.len();
    assert!(
        paused > 0 && !unpaused.is_empty(),
        "the limit ran out part-way: {paused} paused, {} not",
        unpaused.len()
    );

    // Out of calls: each pass makes one round of (refused) calls and changes nothing.
    let mut per_pass = Vec::new();
    for minute in [1, 2, 3] {
        let made = calls_made(&org.sim);
        let at = minutes_after(t0(), minute);
        let result = pass(&org, &service, "a pass out of calls", at, Want::Paused).await;
        let state = check(
            &org,
            &service,
            "a pass out of calls",
            at,
            Want::Paused,
            &result,
        )
        .await;
        assert_limit("a pass out of calls", &result, &state);
        per_pass.push(calls_made(&org.sim) - made);
        assert_eq!(org.unfinished(Want::Paused), unpaused, "nothing changed");
    }
    assert!(
        per_pass.iter().all(|calls| *calls <= 6),
        "one round of calls per pass, not a retry loop: {per_pass:?}"
    );
    // The hold expires while there are still no calls: the restore is due and reported.
    let expired = minutes_after(t0(), 11);
    let result = pass(
        &org,
        &service,
        "expired, out of calls",
        expired,
        Want::AsBefore,
    )
    .await;
    assert!(matches!(result, Err(EngineError::LimitExceeded { .. })));

    allow(&org.sim, DAILY);
    let new_day = minutes_after(t0(), 12);
    let result = pass(&org, &service, "a new day", new_day, Want::AsBefore).await;
    let outcome = result.expect("calls are back");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(org_state(&org.sim), org.before, "exact");
    let status = service.status(new_day).await.expect("status");
    assert_eq!(status.orgs[ORG].error, None, "no longer stopped");
    println!(
        "fault matrix: daily limit out mid-pause: {paused} paused, {} reported unpaused, \
         calls per pass while out: {per_pass:?}, hold expired meanwhile, restored on the new \
         day, exact",
        unpaused.len(),
    );
    org.sim.shutdown().await;
}

/// In-process (the daemon's `Service`, passes at injected times): the daily limit runs out
/// half-way through a restore. `resume` reports the stop, `status` names every component still
/// paused (and stops naming the ones a new pause wants paused again), and on the new day the
/// next pass finishes the restore: exact.
#[tokio::test]
async fn the_daily_limit_running_out_mid_restore_is_reported_and_finished_on_the_new_day() {
    let calls = calls().await;
    let org = Org::start(fault_org(true)).await;
    let service = service_for(&org);
    let report = service
        .pause_now(&operator(), &[], None, None, t0(), quiet())
        .await
        .expect("pause now");
    assert!(report.orgs[0].result.as_ref().is_ok_and(Outcome::is_clean));
    assert!(org.unfinished(Want::Paused).is_empty());

    allow(&org.sim, calls.into_restore());
    let at = minutes_after(t0(), 5);
    let report = service
        .resume(&operator(), &[], Release::Manual, at, quiet())
        .await
        .expect("resume");
    let result = &report.orgs[0].result;
    let state = check(
        &org,
        &service,
        "restore out of calls",
        at,
        Want::AsBefore,
        result,
    )
    .await;
    assert_limit("restore out of calls", result, &state);
    let still_paused = org.unfinished(Want::AsBefore);
    assert!(
        !still_paused.is_empty() && still_paused.len() < org.planned.len(),
        "the limit ran out part-way: {} of {} still paused",
        still_paused.len(),
        org.planned.len()
    );
    let made = calls_made(&org.sim);
    let result = pass(
        &org,
        &service,
        "a pass out of calls",
        minutes_after(at, 1),
        Want::AsBefore,
    )
    .await;
    assert!(matches!(result, Err(EngineError::LimitExceeded { .. })));
    let per_pass = calls_made(&org.sim) - made;
    assert!(per_pass <= 6, "{per_pass} calls in one pass");

    // Someone pauses again while there are still no calls: the components still confirmed
    // paused are where the new hold wants them, so `status` stops listing them; released
    // again, they are listed again.
    let again = minutes_after(at, 2);
    let report = service
        .pause_now(&operator(), &[], None, None, again, quiet())
        .await
        .expect("pause now");
    let state = service.status(again).await.expect("status").orgs[ORG].clone();
    assert_limit("paused again, out of calls", &report.orgs[0].result, &state);
    let confirmed_paused: BTreeSet<String> = org
        .journal()
        .await
        .into_iter()
        .filter(|entry| entry.step == Step::Paused)
        .map(|entry| entry.key.sf_id)
        .collect();
    assert!(!confirmed_paused.is_empty());
    assert!(
        state
            .failures
            .iter()
            .all(|issue| !confirmed_paused.contains(&issue.id)),
        "paused and wanted paused is not a failure: {:?}",
        state.failures.first()
    );
    let released = minutes_after(at, 3);
    let report = service
        .resume(&operator(), &[], Release::Manual, released, quiet())
        .await
        .expect("resume");
    let result = &report.orgs[0].result;
    let state = check(
        &org,
        &service,
        "released again, out of calls",
        released,
        Want::AsBefore,
        result,
    )
    .await;
    assert_limit("released again, out of calls", result, &state);

    allow(&org.sim, DAILY);
    let result = pass(
        &org,
        &service,
        "a new day",
        minutes_after(at, 4),
        Want::AsBefore,
    )
    .await;
    assert!(result.is_ok_and(|outcome| outcome.is_clean()));
    assert_eq!(org_state(&org.sim), org.before, "exact");
    println!(
        "fault matrix: daily limit out mid-restore: {} of {} components reported still paused, \
         calls per pass while out: {per_pass}, restored on the new day, exact",
        still_paused.len(),
        org.planned.len(),
    );
    org.sim.shutdown().await;
}

/// Through the real binary: the daily limit runs out two thirds into `pause now`. The command
/// exits 1 saying the org has no API calls left, `status --json` says so too and names every
/// component left unpaused; after the new day `resume` leaves the org exact.
#[tokio::test]
async fn pause_now_out_of_calls_says_so_and_status_names_what_is_not_paused() {
    let calls = calls().await;
    let setup = Setup::new(fault_org(true)).await;
    let planned = plan(&setup.sim).await;
    let before = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    // The daemon refuses a pause the org cannot afford once its discovery is done, so the
    // limit runs out the way it would in a window: the org's other clients (a data load) use
    // calls while the pause runs. With `others` of theirs per call of the daemon's, the check
    // after discovery passes with room to spare and the calls are gone two thirds into the
    // pause's own calls, as before.
    let others = Estimate::for_kinds(planned.values().map(|p| p.kind), false).total();
    setup.sim.set_faults(Faults {
        shared_usage: others,
        ..Faults::default()
    });
    allow(&setup.sim, calls.into_pause() * (1 + others));

    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now"]).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("no API calls left"), "{stdout}");
    let status = status(&setup.config).await;
    let org = &status["orgs"][0];
    assert!(
        org["error"]
            .as_str()
            .is_some_and(|e| e.contains("no API calls left")),
        "{org}"
    );
    let listed: BTreeSet<String> = org["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .chain(org["deploys"].as_array().expect("deploys"))
        .flat_map(|entry| match entry["id"].as_str() {
            Some(id) if entry["triggers"].is_null() => vec![id.to_owned()],
            _ => entry["triggers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|name| {
                    planned
                        .iter()
                        .find(|(_, p)| p.kind == Kind::Trigger && name == &p.name)
                        .map(|(id, _)| id.clone())
                })
                .collect(),
        })
        .collect();
    let now = activations(&setup.sim);
    let unpaused: BTreeSet<String> = planned
        .iter()
        .filter(|(id, p)| now[*id] != paused_value(p.kind))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!unpaused.is_empty() && unpaused.len() < planned.len());
    let unlisted: Vec<&String> = unpaused.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "not named by `status`: {unlisted:?}\n{org}"
    );

    allow(&setup.sim, DAILY);
    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(org_state(&setup.sim), before, "exact");
    println!(
        "fault matrix: daily limit out mid-pause (real daemon): `pause now` exit 1, {} of {} \
         components named unpaused by `status`, restored exactly after the new day",
        unpaused.len(),
        planned.len(),
    );
    setup.sim.shutdown().await;
}

/// In-process (engine), as above, aimed at the case a client cannot know the outcome of: half
/// the writes are answered 500 ms late and the client gives up after 200 ms. Each write lands after
/// the client gave up and holds the org meanwhile, so the retries meet "admin operation
/// already in progress"; the engine reports those components as failed, finds on a later
/// converge that the write landed and settles them from the org (never gives one up), and the
/// org ends exact. (Half the writes, not all: each slow one costs the client its 200 ms.)
#[tokio::test]
async fn writes_that_land_after_the_client_gave_up_are_settled_from_the_org() {
    let counters = matrix(
        "half the writes 500 ms late, client timeout 200 ms",
        Faults {
            seed: 61,
            slow_write_rate: 0.5,
            slow_delay: Duration::from_millis(500),
            ..Faults::default()
        },
        Duration::from_millis(200),
    )
    .await;
    let slow_writes = counter(&counters, "slow_writes");
    assert!(slow_writes > 0, "{counters:?}");
    assert_eq!(
        counter(&counters, "slow"),
        slow_writes,
        "reads are not slow"
    );
}
