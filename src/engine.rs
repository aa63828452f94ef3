//! The pause/restore engine for one org: it brings the org to the state its active holds
//! call for, through the write-ahead journal in the store.
//!
//! [`OrgEngine::converge`] is level-triggered: it reads the active holds and the journal,
//! decides what each component should be (paused while at least one hold covers it, as it was
//! otherwise), reads the remote state of every component it has to act on, and acts. It is
//! safe to call at any time and any number of times, after a crash included: a journal row
//! left in `Pausing` or `Restoring` is settled from the remote state, never from a guess.
//!
//! Per component, with P the state recorded before the pause and S the state the pause sets:
//!
//! | step      | remote is S                          | remote is P                          | anything else |
//! |-----------|--------------------------------------|--------------------------------------|---------------|
//! | Pausing   | Paused (then restored if uncovered)  | write S if covered, else Restored     | Conflict      |
//! | Paused    | nothing if covered, else restore     | Conflict (changed back meanwhile)     | Conflict      |
//! | Restoring | write P (again)                      | Restored                              | Conflict      |
//!
//! A restore writes P only where the remote state is still S (compare-and-set); a rule is
//! written back with the `Metadata` just read, so an edit made during the window survives.
//! Writes to one org are serialised by the engine's lock; different orgs run in parallel.
//! Triggers are written after flows, Process Builders and rules: their deploy starts as soon
//! as the Tooling writes are over ([`WritesOver`]), while the flows are read back and
//! journaled, so only reads overlap it.
//!
//! A pause takes the state its discovery has just read (flows' active version numbers, rules'
//! `Metadata` and triggers' sources; discovery reads the validation rules' `Metadata` only for
//! the candidates the engine names) as the state to record and write back, and reads only
//! what discovery could not (a flow whose two list reads disagreed), every kind at once.
//! Triggers are confirmed by their deploy's `componentSuccesses`; only a trigger the result
//! does not name is read back.
//!
//! A converge that stops part-way (no API calls left, a read that keeps failing) leaves every
//! row where it was and writes the reason on each live row not where the holds want it (a
//! `Paused` row whose restore is due included), so `status` names all of them; a pause reads
//! and journals all its kinds before its first write, so that is everything it did not
//! finish.
//!
//! Apex triggers are written by a Metadata API deploy of their body as just read with the new
//! status: all triggers of one org that change together go in one deploy (one for pausing,
//! one for restoring), which is all-or-nothing and, in production, runs tests
//! ([`trigger_test_level`]). The deploy id is journaled before the deploy is polled. A
//! `Pausing` or `Restoring` trigger row with a deploy id is first settled by polling that
//! deploy, never by deploying again; then the table above applies:
//!
//! | step      | its deploy succeeded                 | its deploy failed                    |
//! |-----------|--------------------------------------|--------------------------------------|
//! | Pausing   | the table (remote now shows S)       | Failed, with the deploy's message    |
//! | Restoring | the table (remote now shows P)       | the table: remote still S, so a new deploy (after the backoff) |
//!
//! A deploy that could not be polled leaves its rows as they are, with the error, until the
//! backoff has passed; one still running after [`DEPLOY_WAIT`] is left, rows untouched, for
//! the next converge to poll (the org's lock is not held for the length of a test run); one the
//! org does not know (404) is settled from the trigger's status by
//! the table, as if it had never been started. A row entering `Pausing` or `Restoring` from another step loses the id
//! of the deploy that carried its previous step (the store sees to it), so a crash before the
//! new id is journaled is settled from the trigger's status alone. The deploy being polled is
//! also kept in memory ([`OrgEngine::watched_deploy`]) for `status`.
//!
//! A trigger row found mid-step *without* a deploy id may still be carried by a deploy: the
//! daemon died, or the connection dropped, after the deploy request reached the org and
//! before its answer did. The reference documents no way to list the deploys under way, and
//! deploying at once would queue a second deploy that sets what the first is about to set (a
//! needless write and, in production, a second test run). Deploys run one at a time in
//! arrival order (reference §5.4.3), so before such a row is deployed again the engine sends
//! a validation (`checkOnly`, which changes nothing) of the triggers it would deploy and waits
//! for it: once it is done, every deploy sent before it is done, and the table settles the
//! rows from the triggers' status as it is then. The validation's id is kept in memory only
//! ([`OrgEngine::with_deploy_wait`] bounds the wait like a deploy's); after a restart a new
//! one is sent. Its cost, paid only on this path, is one validation (in production, one test
//! run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::automation::switch::{Activation, Current, Target, read_current_sized, write};
use crate::automation::{Component, Kind, Scope, discover_to_pause, read_org_info};
use crate::budget::Estimate;
use crate::config::TriggerTestLevel;
use crate::salesforce::{
    DeployId, DeployOutcome, OrgClient, PollPolicy, SfError, TestLevel, TriggerSource,
    TriggerStatus,
};
use crate::store::{
    ComponentKey, Hold, HoldId, JournalEntry, NewJournalEntry, Step, StepUpdate, Store, StoreError,
};

/// Kinds this engine switches, in the order it switches them. Triggers come last: their deploy
/// can run tests for minutes, and a failed one must not hold up the other kinds.
const SWITCHED_KINDS: [Kind; 5] = [
    Kind::Flow,
    Kind::ProcessBuilder,
    Kind::ValidationRule,
    Kind::WorkflowRule,
    Kind::Trigger,
];

/// How long one converge waits for a trigger deploy before it lets go of the org: a production
/// deploy can run tests for an hour, and the org's other work (a manual pause, a window's
/// restore) must not queue behind it. The deploy's rows keep its id and the next converge polls
/// it again.
pub const DEPLOY_WAIT: Duration = Duration::from_secs(60);

/// The shortest and longest wait before a failed write of a component is tried again. The
/// daemon converges on a tick; a row is skipped until its wait has passed.
const RETRY_MIN: Duration = Duration::from_secs(30);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);

/// Why a converge stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Salesforce refused further calls for today; work on this org stops until it has calls
    /// again. Every component left mid-way is in the journal and is finished later.
    #[error("org `{org}` has no API calls left today; pausing and restoring resume once it has")]
    LimitExceeded {
        org: String,
        #[source]
        source: SfError,
    },
    /// The org has too few API calls left for a pause and its restore; nothing was written.
    #[error(transparent)]
    PauseRefused(#[from] PauseRefused),
    /// A call that the whole converge depends on (the hold's discovery, a batch read) failed.
    #[error("org `{org}`: {what}")]
    Salesforce {
        org: String,
        what: String,
        #[source]
        source: SfError,
    },
}

/// How long an engine waits before it checks again whether a refused pause has become
/// affordable (the org's usage is a rolling 24-hour count, so calls come back over time). Each
/// check costs a discovery, so not every tick.
pub const REFUSAL_RETRY: Duration = Duration::from_secs(15 * 60);

/// A pause refused because the org has fewer API calls left than the pause and its restore
/// need (see [`crate::budget`]). Nothing was written; the holds stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "org `{org}`: pause refused, nothing was changed: the org has {remaining} of its {max} daily \
     API calls left, and pausing its {components} components would take about {pause} more \
     calls and restoring them about {restore}; wait until its rolling 24-hour usage falls, \
     narrow the pause (kinds, objects), or raise the org's API limit"
)]
pub struct PauseRefused {
    pub org: String,
    /// The holds whose pause was refused.
    pub holds: Vec<HoldId>,
    pub components: u64,
    pub pause: u64,
    pub restore: u64,
    pub remaining: u64,
    pub max: u64,
}

/// A component that could not be brought to its desired state, or that someone else changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub kind: Kind,
    pub id: String,
    pub api_name: String,
    pub message: String,
}

/// What one converge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Components switched off by this converge.
    pub paused: u64,
    /// Components switched back on by this converge.
    pub restored: u64,
    /// Components already where they should be.
    pub unchanged: u64,
    /// Components the plan skipped (inactive, managed, excluded, out of scope).
    pub skipped: u64,
    /// Writes that failed; restores among them are retried on later converges.
    pub failed: Vec<Issue>,
    /// Components someone else changed while they were paused; left alone.
    pub conflicts: Vec<Issue>,
    /// Triggers whose deploy was still running when this converge stopped waiting for it
    /// ([`OrgEngine::with_deploy_wait`]); a later converge polls it again. Neither done nor
    /// failed.
    pub deploying: u64,
    /// A pause this converge refused for want of API calls: the holds it was for stay in
    /// force, and the engine checks again after [`REFUSAL_RETRY`].
    pub refused: Option<PauseRefused>,
}

impl Outcome {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.conflicts.is_empty() && self.refused.is_none()
    }

    /// Adds what a later converge of the same org did. `deploying` is the later one's: it is
    /// what is still under way, not a count of events.
    pub fn absorb(&mut self, later: Outcome) {
        self.paused += later.paused;
        self.restored += later.restored;
        self.unchanged += later.unchanged;
        self.skipped += later.skipped;
        self.failed.extend(later.failed);
        self.conflicts.extend(later.conflicts);
        self.deploying = later.deploying;
        if later.refused.is_some() {
            self.refused = later.refused;
        }
    }

    /// Adds the part of this converge that ran alongside (the triggers' deploy).
    fn add(&mut self, part: Outcome) {
        let deploying = self.deploying + part.deploying;
        self.absorb(part);
        self.deploying = deploying;
    }
}

/// Lets the triggers' deploy start once a converge's Tooling writes are over, rather than
/// once they are also read back and journaled: writes to one org stay one after another (the
/// platform locks setup metadata), and the flows' read-back, a read, overlaps the deploy.
/// Opening is idempotent; a gate dropped unopened (the Tooling work stopped with an error)
/// keeps the triggers for the next converge, as when they ran after it.
struct WritesOver(Option<tokio::sync::oneshot::Sender<()>>);

impl WritesOver {
    fn gate() -> (WritesOver, tokio::sync::oneshot::Receiver<()>) {
        let (open, opened) = tokio::sync::oneshot::channel();
        (WritesOver(Some(open)), opened)
    }

    /// A gate nobody waits on.
    fn none() -> WritesOver {
        WritesOver(None)
    }

    fn open(&mut self) {
        if let Some(open) = self.0.take() {
            // Nobody waiting any more is fine.
            let _ = open.send(());
        }
    }
}

/// Progress of a converge, for the control socket and the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub org: String,
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Discovering,
    Pausing,
    Restoring,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Discovering => "discovering",
            Phase::Pausing => "pausing",
            Phase::Restoring => "restoring",
        }
    }
}

/// The engine of one org.
#[derive(Debug)]
pub struct OrgEngine {
    org: String,
    client: OrgClient,
    scope: Scope,
    store: Store,
    /// Serialises converges (and so writes) for this org: Salesforce answers concurrent admin
    /// writes with "admin operation already in progress".
    lock: tokio::sync::Mutex<()>,
    /// Holds whose components have been discovered and paused since this process started. A
    /// hold not in here triggers a discovery; after a restart every hold is discovered once.
    applied: Mutex<BTreeSet<HoldId>>,
    /// Holds whose pause was refused for want of API calls, with when to check again.
    refused: Mutex<BTreeMap<HoldId, Timestamp>>,
    /// The last refusal, for `status`, while any hold it was for still waits.
    last_refusal: Mutex<Option<PauseRefused>>,
    /// Whether a pause checks the org's API calls first ([`OrgEngine::with_budget_check`]).
    budget_check: bool,
    /// The tests a trigger deploy runs in production (sandboxes run none).
    production_tests: TestLevel,
    /// How trigger deploys are polled.
    poll: PollPolicy,
    /// How long one converge waits for a trigger deploy ([`DEPLOY_WAIT`]).
    deploy_wait: Duration,
    /// Whether the org is a sandbox, from the last discovery or one `Organization` read. It
    /// decides the test level, so it is read before the first trigger deploy, never guessed.
    is_sandbox: Mutex<Option<bool>>,
    /// The trigger deploy this engine is polling right now, as its last poll saw it, for
    /// `status`. The journal says which deploys are under way; only the poller knows how far.
    watched: Mutex<Option<DeployWatch>>,
    /// Deploys this converge already waited for and left running: its settle pass must not
    /// wait for them a second time (or count their triggers twice). Cleared at each converge.
    left_running: Mutex<BTreeSet<String>>,
    /// The validation sent to wait out deploys whose ids never arrived (see the module docs),
    /// with the triggers it was sent for, until it is done.
    validation: Mutex<Option<Validation>>,
    /// How many flows and Process Builders the last discovery found: with it, flows are read
    /// by one paged query of the whole table when that takes fewer calls than lists of ids.
    /// Unknown (ids lists) until this process has discovered the org.
    flow_rows: Mutex<Option<usize>>,
}

/// A validation deploy waited for in place of deploys whose ids never arrived.
#[derive(Debug, Clone)]
struct Validation {
    id: DeployId,
    level: TestLevel,
    /// The trigger ids whose rows it was sent for: it only vouches for deploys sent before it,
    /// so rows that lost a deploy id later need a new one.
    triggers: BTreeSet<String>,
}

/// A trigger deploy being polled, as its last poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWatch {
    pub id: String,
    /// The test level it was started with, when this engine started it (a deploy resumed
    /// after a restart was started by an earlier process).
    pub test_level: Option<String>,
    /// `None` until the first poll answers.
    pub status: Option<String>,
    pub state_detail: Option<String>,
    pub tests_run: u64,
}

/// Clears an engine's [`DeployWatch`] when dropped.
struct Unwatch<'a>(&'a OrgEngine);

impl Drop for Unwatch<'_> {
    fn drop(&mut self) {
        self.0.watch(None);
    }
}

/// Locks one of the engine's small state mutexes: a panic elsewhere cannot leave them half
/// written, so a poisoned one is used as is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a component should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Desired {
    Paused,
    Restored,
}

impl OrgEngine {
    pub fn new(org: String, client: OrgClient, scope: Scope, store: Store) -> OrgEngine {
        OrgEngine {
            org,
            client,
            scope,
            store,
            lock: tokio::sync::Mutex::new(()),
            applied: Mutex::new(BTreeSet::new()),
            refused: Mutex::new(BTreeMap::new()),
            last_refusal: Mutex::new(None),
            budget_check: true,
            production_tests: TestLevel::RunLocalTests,
            poll: PollPolicy::default(),
            deploy_wait: DEPLOY_WAIT,
            is_sandbox: Mutex::new(None),
            watched: Mutex::new(None),
            left_running: Mutex::new(BTreeSet::new()),
            validation: Mutex::new(None),
            flow_rows: Mutex::new(None),
        }
    }

    /// The tests trigger deploys run in production (the org's `trigger_test_level` and
    /// `trigger_tests`); `RunLocalTests` unless set.
    pub fn with_trigger_tests(mut self, level: TriggerTestLevel, tests: Vec<String>) -> OrgEngine {
        self.production_tests = production_test_level(level, tests);
        self
    }

    /// How trigger deploys are polled; the default waits 1 s, doubling up to 30 s, shortened
    /// for small deploys ([`PollPolicy::sized`]).
    pub fn with_poll_policy(mut self, poll: PollPolicy) -> OrgEngine {
        self.poll = poll;
        self
    }

    /// How long one converge waits for a trigger deploy before leaving it to the next one
    /// ([`DEPLOY_WAIT`] by default).
    pub fn with_deploy_wait(mut self, wait: Duration) -> OrgEngine {
        self.deploy_wait = wait;
        self
    }

    /// Turns the check that the org can afford a pause and its restore off (tests that run
    /// the daily limit out part-way through a pause on purpose, which the check would refuse
    /// up front).
    pub fn with_budget_check(mut self, check: bool) -> OrgEngine {
        self.budget_check = check;
        self
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    pub fn client(&self) -> &OrgClient {
        &self.client
    }

    /// The trigger deploy being polled right now, if any. Never waits for a converge.
    pub fn watched_deploy(&self) -> Option<DeployWatch> {
        lock(&self.watched).clone()
    }

    fn left_running(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        lock(&self.left_running)
    }

    fn watch(&self, watch: Option<DeployWatch>) {
        *lock(&self.watched) = watch;
    }

    /// Brings the org to the state its active holds call for (see the module docs).
    pub async fn converge(
        &self,
        now: Timestamp,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Outcome, EngineError> {
        let _writes = self.lock.lock().await;
        self.left_running().clear();
        let holds: Vec<Hold> = self
            .store
            .active_holds(now)
            .await?
            .into_iter()
            .filter(|hold| hold.org == self.org)
            .collect();
        let journal: BTreeMap<(Kind, String), JournalEntry> = self
            .store
            .journal(&self.org)
            .await?
            .into_iter()
            .map(|entry| ((entry.key.kind, entry.key.sf_id.clone()), entry))
            .collect();
        let mut outcome = Outcome::default();
        {
            // A refused hold that ended (released, expired) is no longer waiting.
            let mut refused = lock(&self.refused);
            refused.retain(|id, _| holds.iter().any(|hold| hold.id == *id));
            if refused.is_empty() {
                *lock(&self.last_refusal) = None;
            }
        }

        let new_holds: Vec<HoldId> = {
            let applied = self.applied_holds();
            let refused = lock(&self.refused);
            holds
                .iter()
                .map(|h| h.id)
                .filter(|id| !applied.contains(id))
                .filter(|id| refused.get(id).is_none_or(|retry_at| *retry_at <= now))
                .collect()
        };
        let work = async {
            if !new_holds.is_empty() {
                progress(self.progress(Phase::Discovering, 0, 0));
                let (candidates, read) = self.candidates(&holds, &journal, &mut outcome).await?;
                match self.afford(&candidates, &new_holds).await? {
                    None => {
                        self.pause_new(candidates, read, now, progress, &mut outcome)
                            .await?;
                        self.mark_applied(&new_holds);
                    }
                    Some(refused) => {
                        let retry_at = now.saturating_add(REFUSAL_RETRY).unwrap_or(now);
                        lock(&self.refused).extend(new_holds.iter().map(|id| (*id, retry_at)));
                        warn!(org = %self.org, needed = refused.pause + refused.restore, remaining = refused.remaining, "pause refused: too few API calls left for the pause and its restore");
                        *lock(&self.last_refusal) = Some(refused.clone());
                        outcome.refused = Some(refused);
                    }
                }
            }
            self.settle_journal(&holds, now, progress, &mut outcome)
                .await
        };
        if let Err(error) = work.await {
            if !matches!(error, EngineError::Store(_)) {
                self.record_stop(&holds, &error, now).await?;
            }
            return Err(error);
        }
        // Quiet on the periodic tick when nothing happened; loud when something did.
        if outcome.paused + outcome.restored > 0 || !outcome.is_clean() {
            info!(
                org = %self.org,
                paused = outcome.paused,
                restored = outcome.restored,
                failed = outcome.failed.len(),
                conflicts = outcome.conflicts.len(),
                "converged"
            );
        } else {
            debug!(org = %self.org, "converged; nothing to do");
        }
        Ok(outcome)
    }

    /// Names, in the journal, what a converge that stopped part-way left unfinished: each
    /// live row not where the holds want it, and with no error of its own, gets the reason
    /// the converge stopped (no attempt is counted, so the row is tried again as soon as a
    /// converge gets that far). `status` then lists every one of them with the reason: without
    /// this, a pause or a restore stopped by the daily API limit showed its components as
    /// paused or in flight, named nowhere. A row keeps its step, so the table in the module
    /// docs settles it as before (a paused row restored later still detects a change made
    /// meanwhile).
    async fn record_stop(
        &self,
        holds: &[Hold],
        error: &EngineError,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let message = crate::error_chain(error);
        let mut updates: Vec<StepUpdate> = Vec::new();
        for entry in self.store.journal(&self.org).await? {
            let covered = holds
                .iter()
                .any(|hold| covers(hold, entry.key.kind, entry.object.as_deref()));
            let unfinished = match entry.step {
                Step::Pausing | Step::Restoring => true,
                Step::Paused => !covered,
                Step::Restored | Step::Failed | Step::Conflict => continue,
            };
            match (unfinished, entry.last_error.is_some()) {
                (true, false) => {
                    updates.push(self.update(&entry, entry.step, Some(message.clone()), None));
                }
                // A paused row an earlier stop named while its restore was due, wanted
                // paused again by a newer hold: it is where it should be.
                (false, true) => updates.push(self.update(&entry, Step::Paused, None, None)),
                _ => {}
            }
        }
        if !updates.is_empty() {
            warn!(org = %self.org, error = %message, "stopped part-way; status names each component left unfinished");
            self.store.update_steps(&updates, now).await?;
        }
        Ok(())
    }

    fn applied_holds(&self) -> BTreeSet<HoldId> {
        lock(&self.applied).clone()
    }

    /// The last pause refused for want of API calls, while any hold it was for is still
    /// waiting to be paused.
    pub fn refusal(&self) -> Option<PauseRefused> {
        lock(&self.last_refusal).clone()
    }

    fn mark_applied(&self, holds: &[HoldId]) {
        lock(&self.applied).extend(holds.iter().copied());
        let mut refused = lock(&self.refused);
        for id in holds {
            refused.remove(id);
        }
        if refused.is_empty() {
            *lock(&self.last_refusal) = None;
        }
    }

    /// Whether the org has the API calls to pause `candidates` and later restore them (see
    /// [`crate::budget`]); the refusal if not. The usage is the last `Sforce-Limit-Info`, which
    /// the discovery just made has refreshed; without one, `/limits` is read. When neither
    /// says, the pause goes ahead: the header is documented on every response, and holding a
    /// pause back on a guess would be worse than the limit's own error.
    async fn afford(
        &self,
        candidates: &[Component],
        holds: &[HoldId],
    ) -> Result<Option<PauseRefused>, EngineError> {
        if candidates.is_empty() || !self.budget_check {
            return Ok(None);
        }
        let usage = match self.client.api_usage() {
            Some(usage) => usage,
            None => match self.client.limits().await {
                Ok(limits) => limits.daily_usage(),
                Err(error @ SfError::RequestLimitExceeded { .. }) => {
                    return Err(self.salesforce_error("reading the API limits failed", error));
                }
                Err(error) => {
                    warn!(org = %self.org, error = %crate::error_chain(&error), "the org's API usage is unknown (no Sforce-Limit-Info, and /limits could not be read); pausing without checking that the restore can be afforded");
                    return Ok(None);
                }
            },
        };
        let is_sandbox = lock(&self.is_sandbox).unwrap_or(false);
        let runs_tests = !matches!(
            trigger_test_level(is_sandbox, &self.production_tests),
            TestLevel::NoTestRun
        );
        let estimate = Estimate::for_kinds(candidates.iter().map(|c| c.kind), runs_tests);
        Ok(estimate.check(usage).err().map(|short| PauseRefused {
            org: self.org.clone(),
            holds: holds.to_vec(),
            components: estimate.components,
            pause: estimate.pause,
            restore: estimate.restore,
            remaining: short.remaining,
            max: short.max,
        }))
    }

    fn progress(&self, phase: Phase, done: u64, total: u64) -> Progress {
        Progress {
            org: self.org.clone(),
            phase,
            done,
            total,
        }
    }

    fn salesforce_error(&self, what: &str, source: SfError) -> EngineError {
        if matches!(source, SfError::RequestLimitExceeded { .. }) {
            return EngineError::LimitExceeded {
                org: self.org.clone(),
                source,
            };
        }
        EngineError::Salesforce {
            org: self.org.clone(),
            what: what.to_owned(),
            source,
        }
    }

    /// The components the holds call to pause that the journal does not already have in hand,
    /// with the state discovery read of them (see [`crate::automation::Discovery::read`]).
    async fn candidates(
        &self,
        holds: &[Hold],
        journal: &BTreeMap<(Kind, String), JournalEntry>,
        outcome: &mut Outcome,
    ) -> Result<(Vec<Component>, BTreeMap<String, Current>), EngineError> {
        // Components a hold covers that the journal does not already have in hand; of those,
        // the ones this engine switches and discovery will pause are the candidates.
        let in_question = |component: &Component| {
            holds
                .iter()
                .any(|hold| covers(hold, component.kind, component.object.as_deref()))
                && !journal
                    .get(&(component.kind, component.id.clone()))
                    .is_some_and(|entry| is_live(entry.step))
        };
        let switched = |component: &Component| SWITCHED_KINDS.contains(&component.kind);
        let to_read = |component: &Component| switched(component) && in_question(component);
        let discovery = discover_to_pause(&self.client, &self.scope, &to_read)
            .await
            .map_err(|error| self.salesforce_error("discovery failed", error.source))?;
        self.remember_sandbox(discovery.org.is_sandbox);
        let flows = discovery
            .components
            .iter()
            .filter(|c| matches!(c.kind, Kind::Flow | Kind::ProcessBuilder))
            .count();
        *lock(&self.flow_rows) = Some(flows);
        // The `plan` spans time the engine's own deciding (the benchmark sums them).
        let _plan = tracing::debug_span!("plan").entered();
        let mut candidates = Vec::new();
        for component in discovery.components {
            if !in_question(&component) {
                continue;
            }
            if component.will_pause() && switched(&component) {
                candidates.push(component);
            } else {
                outcome.skipped += 1;
            }
        }
        Ok((candidates, discovery.read))
    }

    /// Journals and pauses components not paused yet: take the current state of every
    /// candidate (as discovery read it, or read now where it did not), record it as the prior
    /// state (one transaction for all of them), then write and verify: flows, Process Builders
    /// and rules together, then triggers.
    ///
    /// Every kind is read and journaled before the first write, so a pause that stops
    /// part-way (the daily API limit runs out, a write keeps failing) leaves each component it
    /// did not finish in the journal, where `status` names it and the next converge finishes
    /// it. Journaled kind by kind, a stop left the later kinds untouched and named nowhere,
    /// with the org half-paused.
    async fn pause_new(
        &self,
        candidates: Vec<Component>,
        mut read: BTreeMap<String, Current>,
        now: Timestamp,
        progress: &(dyn Fn(Progress) + Send + Sync),
        outcome: &mut Outcome,
    ) -> Result<(), EngineError> {
        let total = candidates.len() as u64;
        // What discovery read a moment ago, and what it did not, read now.
        let unread: Vec<(Kind, String)> = candidates
            .iter()
            .filter(|c| !read.contains_key(&c.id))
            .map(|c| (c.kind, c.id.clone()))
            .collect();
        let read_now = self
            .read_states(&unread)
            .await
            .map_err(|error| self.salesforce_error("reading states to pause failed", error))?;
        read.extend(read_now);
        let current = read;
        // Only components still active right now are journaled: one deactivated (or deleted)
        // since discovery has nothing to pause and nothing to restore.
        let plan = tracing::debug_span!("plan").entered();
        let mut entries: Vec<NewJournalEntry> = Vec::new();
        for kind in SWITCHED_KINDS {
            let Some(paused) = Activation::paused(kind) else {
                continue;
            };
            for component in candidates.iter().filter(|c| c.kind == kind) {
                match current.get(&component.id) {
                    Some(state) if state.activation != paused => entries.push(NewJournalEntry {
                        key: self.key(kind, &component.id),
                        api_name: component.api_name.clone(),
                        object: component.object.clone(),
                        prior_state: to_json(state.activation),
                        set_state: to_json(paused),
                    }),
                    _ => outcome.unchanged += 1,
                }
            }
        }
        drop(plan);
        // Write-ahead: the prior states are durable before anything changes remotely.
        if !entries.is_empty() {
            self.store.record_pausing(&entries, now).await?;
        }
        let targets: Vec<Named<'_>> = entries
            .iter()
            .filter_map(|entry| {
                Some(Named {
                    target: Target {
                        kind: entry.key.kind,
                        id: &entry.key.sf_id,
                        to: Activation::paused(entry.key.kind)?,
                        current: current.get(&entry.key.sf_id)?,
                    },
                    api_name: &entry.api_name,
                })
            })
            .collect();
        // Flows, Process Builders and rules share composite calls; triggers, whose deploy may
        // run tests for minutes, go last.
        let (triggers, tooling): (Vec<Named<'_>>, Vec<Named<'_>>) = targets
            .into_iter()
            .partition(|named| named.target.kind == Kind::Trigger);
        let tooling_candidates = candidates
            .iter()
            .filter(|c| c.kind != Kind::Trigger)
            .count() as u64;
        let (gate, written) = WritesOver::gate();
        let mut deployed = Outcome::default();
        let (tooling, triggers) = tokio::join!(
            async {
                // Owned here, so that an error below drops it unopened.
                let mut gate = gate;
                let paused = self
                    .write_and_verify(&tooling, Step::Paused, now, outcome, &mut gate)
                    .await?;
                gate.open();
                outcome.paused += paused;
                progress(self.progress(Phase::Pausing, tooling_candidates, total));
                Ok::<_, EngineError>(())
            },
            async {
                if triggers.is_empty() || written.await.is_err() {
                    return Ok(());
                }
                deployed.paused += self
                    .write_and_verify(
                        &triggers,
                        Step::Paused,
                        now,
                        &mut deployed,
                        &mut WritesOver::none(),
                    )
                    .await?;
                Ok::<_, EngineError>(())
            },
        );
        outcome.add(deployed);
        tooling.and(triggers)?;
        if tooling_candidates < total {
            progress(self.progress(Phase::Pausing, total, total));
        }
        Ok(())
    }

    /// Reads the state of `components` (kind and id), the reads of each Tooling object at once:
    /// flows and Process Builders (both `FlowDefinition`) together, each rule kind, triggers.
    async fn read_states(
        &self,
        components: &[(Kind, String)],
    ) -> Result<BTreeMap<String, Current>, SfError> {
        // The kind each group is read as: `read_current` reads flows of both kinds alike.
        let group = |kind: Kind| match kind {
            Kind::ProcessBuilder => Kind::Flow,
            other => other,
        };
        let mut ids: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for (kind, id) in components {
            ids.entry(group(*kind)).or_default().push(id.clone());
        }
        let reads = ids.iter().map(|(kind, ids)| self.read_current(*kind, ids));
        let read = futures_util::future::try_join_all(reads).await?;
        Ok(read.into_iter().flatten().collect())
    }

    /// [`read_current_sized`] with the flow count of the last discovery.
    async fn read_current(
        &self,
        kind: Kind,
        ids: &[String],
    ) -> Result<BTreeMap<String, Current>, SfError> {
        let flow_rows = *lock(&self.flow_rows);
        read_current_sized(&self.client, kind, ids, flow_rows).await
    }

    /// Settles every live journal row against the holds: finishes interrupted steps and
    /// restores what no hold covers any more.
    async fn settle_journal(
        &self,
        holds: &[Hold],
        now: Timestamp,
        progress: &(dyn Fn(Progress) + Send + Sync),
        outcome: &mut Outcome,
    ) -> Result<(), EngineError> {
        // Read afresh: the pause just made may have settled or added rows.
        let journal = self.store.journal(&self.org).await?;
        let plan = tracing::debug_span!("plan").entered();
        let mut work: Vec<(JournalEntry, Desired)> = Vec::new();
        let mut cleared: Vec<StepUpdate> = Vec::new();
        for entry in journal {
            if !is_live(entry.step) || !SWITCHED_KINDS.contains(&entry.key.kind) {
                continue;
            }
            let desired = if holds
                .iter()
                .any(|hold| covers(hold, entry.key.kind, entry.object.as_deref()))
            {
                Desired::Paused
            } else {
                Desired::Restored
            };
            // A confirmed pause that is still wanted needs no call at all. Its error, if any,
            // is a stopped restore's (see `record_stop`) that is no longer due.
            if entry.step == Step::Paused && desired == Desired::Paused {
                if entry.last_error.is_some() {
                    cleared.push(self.update(&entry, Step::Paused, None, None));
                }
                continue;
            }
            if !due(&entry, now) {
                continue;
            }
            work.push((entry, desired));
        }
        drop(plan);
        self.store.update_steps(&cleared, now).await?;
        let total = work.len() as u64;
        // Flows, Process Builders and rules together (their reads at once, their writes
        // sharing composite calls), then triggers, whose deploys may make this converge wait.
        let (triggers, tooling): (Vec<&(JournalEntry, Desired)>, Vec<_>) = work
            .iter()
            .partition(|(entry, _)| entry.key.kind == Kind::Trigger);
        let settled_tooling = tooling.len() as u64;
        let (gate, written) = WritesOver::gate();
        let mut deployed = Outcome::default();
        let (tooling, triggers) = tokio::join!(
            async {
                // Owned here, so that an error below drops it unopened.
                let mut gate = gate;
                if !tooling.is_empty() {
                    self.settle_rows(&tooling, now, outcome, &mut gate).await?;
                    progress(self.progress(Phase::Restoring, settled_tooling, total));
                }
                gate.open();
                Ok::<_, EngineError>(())
            },
            async {
                if triggers.is_empty() || written.await.is_err() {
                    return Ok(());
                }
                let triggers = self.settle_deploys(triggers, now, &mut deployed).await?;
                let triggers = self
                    .settle_unseen_deploys(triggers, now, &mut deployed)
                    .await?;
                if !triggers.is_empty() {
                    let mut none = WritesOver::none();
                    self.settle_rows(&triggers, now, &mut deployed, &mut none)
                        .await?;
                }
                Ok::<_, EngineError>(())
            },
        );
        outcome.add(deployed);
        tooling.and(triggers)?;
        if settled_tooling < total {
            progress(self.progress(Phase::Restoring, total, total));
        }
        Ok(())
    }

    /// Settles `rows` by the table in the module docs: reads their remote state, records what
    /// it shows, then writes (write-ahead first) the pauses and the restores still needed.
    async fn settle_rows(
        &self,
        rows: &[&(JournalEntry, Desired)],
        now: Timestamp,
        outcome: &mut Outcome,
        gate: &mut WritesOver,
    ) -> Result<(), EngineError> {
        let keys: Vec<(Kind, String)> = rows
            .iter()
            .map(|(entry, _)| (entry.key.kind, entry.key.sf_id.clone()))
            .collect();
        let current = self
            .read_states(&keys)
            .await
            .map_err(|error| self.salesforce_error("reading paused states failed", error))?;
        let mut updates = Vec::new();
        let mut to_pause: Vec<(&JournalEntry, Activation)> = Vec::new();
        let mut to_restore: Vec<(&JournalEntry, Activation)> = Vec::new();
        for (entry, desired) in rows {
            let (prior, set) = match (from_json(&entry.prior_state), from_json(&entry.set_state)) {
                (Some(prior), Some(set)) => (prior, set),
                _ => {
                    let message = "the journal row's states cannot be read; leaving the \
                                   component alone"
                        .to_owned();
                    outcome.failed.push(self.issue(entry, &message));
                    updates.push(self.update(entry, Step::Failed, Some(message), None));
                    continue;
                }
            };
            let remote = current.get(&entry.key.sf_id).map(|c| c.activation);
            match (remote, entry.step, desired) {
                (None, _, _) => {
                    let message = "deleted while paused; nothing to restore".to_owned();
                    outcome.conflicts.push(self.issue(entry, &message));
                    updates.push(self.update(entry, Step::Conflict, None, Some(message)));
                }
                // Still as the pause set it.
                (Some(state), step, Desired::Paused) if state == set => {
                    if step == Step::Pausing {
                        outcome.paused += 1;
                    }
                    updates.push(self.update(entry, Step::Paused, None, None));
                }
                (Some(state), _, Desired::Restored) if state == set => {
                    to_restore.push((entry, prior));
                }
                // As it was before the pause: either never switched, or already restored.
                (Some(state), Step::Pausing | Step::Restoring, Desired::Paused)
                    if state == prior =>
                {
                    to_pause.push((entry, set));
                }
                (Some(state), Step::Pausing, Desired::Restored) if state == prior => {
                    outcome.unchanged += 1;
                    updates.push(self.update(entry, Step::Restored, None, None));
                }
                (Some(state), Step::Restoring, Desired::Restored) if state == prior => {
                    outcome.restored += 1;
                    updates.push(self.update(entry, Step::Restored, None, None));
                }
                // Confirmed paused, and now neither paused nor what it was: someone changed it.
                (Some(state), _, _) => {
                    let message = changed_message(prior, state);
                    outcome.conflicts.push(self.issue(entry, &message));
                    updates.push(self.update(entry, Step::Conflict, None, Some(message)));
                }
            }
        }
        // Write-ahead for restores: the intent is durable before the write.
        updates.extend(
            to_restore
                .iter()
                .filter(|(entry, _)| entry.step != Step::Restoring)
                .map(|(entry, _)| self.update(entry, Step::Restoring, None, None)),
        );
        if !updates.is_empty() {
            self.store.update_steps(&updates, now).await?;
        }
        let pause_targets = targets(&to_pause, &current);
        let mut not_last = WritesOver::none();
        outcome.paused += self
            .write_and_verify(&pause_targets, Step::Paused, now, outcome, &mut not_last)
            .await?;
        let restore_targets = targets(&to_restore, &current);
        outcome.restored += self
            .write_and_verify(&restore_targets, Step::Restored, now, outcome, gate)
            .await?;
        Ok(())
    }

    /// Writes every target, verifies it, and records the result: `settled` for the ones
    /// confirmed, the Salesforce message for the others. Returns how many were confirmed.
    async fn write_and_verify(
        &self,
        targets: &[Named<'_>],
        settled: Step,
        now: Timestamp,
        outcome: &mut Outcome,
        gate: &mut WritesOver,
    ) -> Result<u64, EngineError> {
        let (triggers, tooling): (Vec<Named<'_>>, Vec<Named<'_>>) = targets
            .iter()
            .cloned()
            .partition(|named| named.target.kind == Kind::Trigger);
        let mut count = 0;
        for batch in [tooling, triggers] {
            if !batch.is_empty() {
                count += self
                    .write_batch(&batch, settled, now, outcome, gate)
                    .await?;
            }
        }
        Ok(count)
    }

    /// [`Self::write_and_verify`] for targets that go together: one trigger deploy, or
    /// Tooling writes.
    async fn write_batch(
        &self,
        targets: &[Named<'_>],
        settled: Step,
        now: Timestamp,
        outcome: &mut Outcome,
        gate: &mut WritesOver,
    ) -> Result<u64, EngineError> {
        let names: BTreeMap<&str, &str> = targets
            .iter()
            .map(|named| (named.target.id, named.api_name))
            .collect();
        let targets: Vec<Target<'_>> = targets.iter().map(|named| named.target.clone()).collect();
        let batch = if targets.iter().all(|target| target.kind == Kind::Trigger) {
            self.deploy_triggers(&targets, settled, now).await?
        } else {
            self.write_tooling(&targets, gate).await?
        };
        let results = match batch {
            Batch::Items(results) => results,
            // The rows keep their step and the deploy id: nothing to record.
            Batch::Running => {
                outcome.deploying += targets.len() as u64;
                return Ok(0);
            }
            Batch::Unknown(message) => {
                // The batch's fate is unknown: record it on every row, which stays in its
                // step and is settled from the remote state on the next converge. Each is
                // also a failure of this converge: without it, `pause now` and `resume`
                // reported success (exit 0) while, e.g., a trigger deploy whose answer was
                // lost had switched nothing.
                outcome.failed.extend(targets.iter().map(|target| Issue {
                    kind: target.kind,
                    id: target.id.to_owned(),
                    api_name: names.get(target.id).copied().unwrap_or_default().to_owned(),
                    message: message.clone(),
                }));
                let updates: Vec<StepUpdate> = targets
                    .iter()
                    .map(|target| StepUpdate {
                        key: self.key(target.kind, target.id),
                        step: in_flight(settled),
                        last_error: Some(message.clone()),
                        conflict: None,
                        count_attempt: true,
                    })
                    .collect();
                self.store.update_steps(&updates, now).await?;
                warn!(org = %self.org, count = targets.len(), error = %message, "a batch write failed");
                return Ok(0);
            }
        };
        let mut updates = Vec::new();
        let mut count = 0;
        for target in &targets {
            let key = self.key(target.kind, target.id);
            let result = results.get(target.id).cloned().unwrap_or_else(|| {
                Err(Refusal::from(&SfError::Config {
                    org: self.org.clone(),
                    message: "no answer for this component in the batch".to_owned(),
                }))
            });
            match result {
                Ok(()) => {
                    count += 1;
                    updates.push(StepUpdate {
                        key,
                        step: settled,
                        last_error: None,
                        conflict: None,
                        count_attempt: true,
                    });
                }
                Err(Refusal { message, permanent }) => {
                    // A pause the org refuses for good is given up (the component stays as it
                    // was); a restore is never given up.
                    let step = if permanent && settled == Step::Paused {
                        Step::Failed
                    } else {
                        in_flight(settled)
                    };
                    debug!(org = %self.org, kind = %target.kind, id = target.id, %message, "write not confirmed");
                    outcome.failed.push(Issue {
                        kind: target.kind,
                        id: target.id.to_owned(),
                        api_name: names.get(target.id).copied().unwrap_or_default().to_owned(),
                        message: message.clone(),
                    });
                    updates.push(StepUpdate {
                        key,
                        step,
                        last_error: Some(message),
                        conflict: None,
                        count_attempt: true,
                    });
                }
            }
        }
        self.store.update_steps(&updates, now).await?;
        Ok(count)
    }

    /// Writes flows and rules through Tooling composite PATCHes.
    async fn write_tooling(
        &self,
        targets: &[Target<'_>],
        gate: &mut WritesOver,
    ) -> Result<Batch, EngineError> {
        let written = match write(&self.client, targets).await {
            Ok(written) => written,
            Err(error) if matches!(error, SfError::RequestLimitExceeded { .. }) => {
                return Err(self.salesforce_error("writing failed", error));
            }
            Err(error) => {
                gate.open();
                return Ok(Batch::Unknown(error.to_string()));
            }
        };
        // The writes are over: a trigger deploy waiting on them may start while the flows are
        // read back.
        gate.open();
        // Flows are read back: a 204 on the definition does not show which version is active.
        // A rule's PATCH replaces its metadata, so its 204 is the confirmation.
        let flows: Vec<String> = targets
            .iter()
            .filter(|t| matches!(t.kind, Kind::Flow | Kind::ProcessBuilder))
            .map(|t| t.id.to_owned())
            .collect();
        let confirmed: BTreeMap<String, Current> = if flows.is_empty() {
            BTreeMap::new()
        } else {
            self.read_current(Kind::Flow, &flows)
                .await
                .map_err(|error| self.salesforce_error("reading back flows failed", error))?
        };
        Ok(Batch::Items(
            targets
                .iter()
                .filter_map(|target| {
                    let result = match (written.get(target.id)?, confirmed.get(target.id)) {
                        (Ok(()), Some(read_back)) if read_back.activation != target.to => {
                            Err(Refusal {
                                message: format!(
                                    "Salesforce accepted the change but the flow reads back as {}",
                                    describe(read_back.activation)
                                ),
                                permanent: false,
                            })
                        }
                        (Ok(()), _) => Ok(()),
                        (Err(error), _) => Err(Refusal::from(error)),
                    };
                    Some((target.id.to_owned(), result))
                })
                .collect(),
        ))
    }

    /// Switches triggers with one Metadata API deploy of their bodies as read, journals the
    /// deploy id, and waits for the deploy (see the module docs).
    async fn deploy_triggers(
        &self,
        targets: &[Target<'_>],
        settled: Step,
        now: Timestamp,
    ) -> Result<Batch, EngineError> {
        let status = if settled == Step::Paused {
            TriggerStatus::Inactive
        } else {
            TriggerStatus::Active
        };
        // Every trigger read has its source; one without it is refused rather than deployed
        // with a guessed body.
        let mut results = BTreeMap::new();
        let mut deployed: Vec<Target<'_>> = Vec::new();
        let mut sources: Vec<TriggerSource> = Vec::new();
        for target in targets {
            match target.current.trigger_source() {
                Some(source) => {
                    sources.push(source.clone());
                    deployed.push(target.clone());
                }
                None => {
                    results.insert(
                        target.id.to_owned(),
                        Err(Refusal {
                            message: "the trigger's source was not read; nothing deployed"
                                .to_owned(),
                            permanent: true,
                        }),
                    );
                }
            }
        }
        if deployed.is_empty() {
            return Ok(Batch::Items(results));
        }
        let level = self.test_level().await?;
        let id = match self.client.deploy_triggers(&sources, status, &level).await {
            Ok(id) => id,
            Err(error) if matches!(error, SfError::RequestLimitExceeded { .. }) => {
                return Err(self.salesforce_error("starting a trigger deploy failed", error));
            }
            // The request may have started a deploy whose id never arrived: the rows stay in
            // their step and the next converge settles them from the triggers' status.
            Err(error) if error.is_transient() || matches!(error, SfError::Decode { .. }) => {
                return Ok(Batch::Unknown(format!(
                    "a trigger deploy may or may not have started: {error}"
                )));
            }
            Err(error) => {
                let refusal = Refusal::from(&error);
                results.extend(
                    deployed
                        .iter()
                        .map(|target| (target.id.to_owned(), Err(refusal.clone()))),
                );
                return Ok(Batch::Items(results));
            }
        };
        info!(org = %self.org, deploy = %id, triggers = deployed.len(), %status, test_level = level.as_str(), "trigger deploy started");
        // Durable before the first poll: a crash from here on resumes by polling this deploy.
        let keys: Vec<ComponentKey> = deployed
            .iter()
            .map(|target| self.key(Kind::Trigger, target.id))
            .collect();
        self.store.set_deploy_id(&keys, &id.0, now).await?;
        let finished = match self
            .wait_for_deploy(&id, deployed.len(), Some(&level))
            .await?
        {
            Polled::Done(finished) => finished,
            Polled::Running => return Ok(Batch::Running),
            Polled::Failed(message) | Polled::Unknown(message) => {
                return Ok(Batch::Unknown(message));
            }
        };
        if !finished.success {
            let refusal = Refusal {
                message: deploy_failure(&finished),
                permanent: true,
            };
            results.extend(
                deployed
                    .iter()
                    .map(|target| (target.id.to_owned(), Err(refusal.clone()))),
            );
            return Ok(Batch::Items(results));
        }
        // A successful deploy lists each trigger it deployed in `componentSuccesses`, and a
        // trigger deployed is in the status its package gave it: that is its confirmation
        // (promise 6 counts the deploy result). A trigger the result does not name, should an
        // org ever leave the list out, is read back instead.
        let (named, unnamed): (Vec<&Target<'_>>, Vec<&Target<'_>>) =
            deployed.iter().partition(|target| {
                target.current.trigger_source().is_some_and(|source| {
                    finished
                        .succeeded
                        .iter()
                        .any(|name| name.eq_ignore_ascii_case(&source.name))
                })
            });
        results.extend(named.iter().map(|target| (target.id.to_owned(), Ok(()))));
        if unnamed.is_empty() {
            return Ok(Batch::Items(results));
        }
        let ids: Vec<String> = unnamed.iter().map(|t| t.id.to_owned()).collect();
        let read_back = self
            .read_current(Kind::Trigger, &ids)
            .await
            .map_err(|error| self.salesforce_error("reading back triggers failed", error))?;
        for target in unnamed {
            let result = match read_back.get(target.id) {
                Some(current) if current.activation == target.to => Ok(()),
                Some(current) => Err(Refusal {
                    message: format!(
                        "deploy {id} succeeded but the trigger reads back as {}",
                        describe(current.activation)
                    ),
                    permanent: false,
                }),
                None => Err(Refusal {
                    message: format!("deploy {id} succeeded but the trigger is gone"),
                    permanent: false,
                }),
            };
            results.insert(target.id.to_owned(), result);
        }
        Ok(Batch::Items(results))
    }

    /// Polls `id`, a deploy of `triggers` triggers, until it is done (see [`Polled`]).
    async fn wait_for_deploy(
        &self,
        id: &DeployId,
        triggers: usize,
        level: Option<&TestLevel>,
    ) -> Result<Polled, EngineError> {
        let test_level = level.map(|level| level.as_str().to_owned());
        // Cleared however this ends, a dropped converge included.
        let unwatch = Unwatch(self);
        self.watch(Some(DeployWatch {
            id: id.0.clone(),
            test_level: test_level.clone(),
            status: None,
            state_detail: None,
            tests_run: 0,
        }));
        let polling = self
            .client
            .wait_for_deploy(id, self.poll.sized(triggers), |seen| {
                self.watch(Some(DeployWatch {
                    id: id.0.clone(),
                    test_level: test_level.clone(),
                    status: Some(seen.status.clone()),
                    state_detail: seen.state_detail.clone(),
                    tests_run: seen.tests_run,
                }));
            });
        let result = tokio::time::timeout(self.deploy_wait, polling).await;
        drop(unwatch);
        let Ok(result) = result else {
            debug!(org = %self.org, deploy = %id, "deploy still running; polled again on the next converge");
            self.left_running().insert(id.0.clone());
            return Ok(Polled::Running);
        };
        match result {
            Ok(finished) => Ok(Polled::Done(finished)),
            Err(error) if matches!(error, SfError::RequestLimitExceeded { .. }) => {
                Err(self.salesforce_error("polling a trigger deploy failed", error))
            }
            Err(error) if error.is_not_found() => Ok(Polled::Unknown(format!(
                "deploy {id} is unknown to the org ({error}); the triggers' status decides"
            ))),
            Err(error) => Ok(Polled::Failed(format!(
                "polling deploy {id} failed: {error}"
            ))),
        }
    }

    /// Settles the trigger rows a deploy was carrying when a converge stopped (see the module
    /// docs): polls each deploy id once to its end. Returns the rows left for the table.
    async fn settle_deploys<'a>(
        &self,
        rows: Vec<&'a (JournalEntry, Desired)>,
        now: Timestamp,
        outcome: &mut Outcome,
    ) -> Result<Vec<&'a (JournalEntry, Desired)>, EngineError> {
        let mut by_deploy: BTreeMap<&str, Vec<&JournalEntry>> = BTreeMap::new();
        for (entry, _) in &rows {
            if let (Step::Pausing | Step::Restoring, Some(deploy)) =
                (entry.step, entry.deploy_id.as_deref())
            {
                by_deploy.entry(deploy).or_default().push(entry);
            }
        }
        let mut done: BTreeSet<ComponentKey> = BTreeSet::new();
        for (deploy, entries) in by_deploy {
            // Started (or polled) earlier in this converge and left running: counted there.
            if self.left_running().contains(deploy) {
                done.extend(entries.iter().map(|entry| entry.key.clone()));
                continue;
            }
            let id = DeployId(deploy.to_owned());
            let (message, give_up) = match self.wait_for_deploy(&id, entries.len(), None).await? {
                // The org now shows what the deploy did; the table takes it from here.
                Polled::Done(finished) if finished.success => continue,
                Polled::Done(finished) => (deploy_failure(&finished), true),
                // Nothing to wait for: the table settles the rows from the triggers' status
                // (a second deploy if they are not switched yet), so a forgotten id can never
                // keep a row waiting for good.
                Polled::Unknown(message) => {
                    warn!(org = %self.org, deploy = %id, %message, "a journaled deploy is unknown to the org");
                    continue;
                }
                Polled::Failed(message) => (message, false),
                // Still running: left for the next converge, recorded as nothing.
                Polled::Running => {
                    outcome.deploying += entries.len() as u64;
                    done.extend(entries.iter().map(|entry| entry.key.clone()));
                    continue;
                }
            };
            let mut updates = Vec::new();
            for entry in entries {
                match (give_up, entry.step) {
                    // As in a pause that ran to its end: a failed pause deploy is given up.
                    (true, Step::Pausing) => {
                        outcome.failed.push(self.issue(entry, &message));
                        updates.push(StepUpdate {
                            count_attempt: true,
                            ..self.update(entry, Step::Failed, Some(message.clone()), None)
                        });
                    }
                    // A failed restore deploy left the trigger paused: the table deploys
                    // again (the row was only due once its backoff had passed).
                    (true, _) => continue,
                    // Not polled: left as it is until the backoff has passed.
                    (false, step) => {
                        outcome.failed.push(self.issue(entry, &message));
                        updates.push(StepUpdate {
                            count_attempt: true,
                            ..self.update(entry, step, Some(message.clone()), None)
                        });
                    }
                }
                done.insert(entry.key.clone());
            }
            self.store.update_steps(&updates, now).await?;
        }
        Ok(rows
            .into_iter()
            .filter(|(entry, _)| !done.contains(&entry.key))
            .collect())
    }

    /// Waits out deploys the org may have received for trigger rows left mid-step without a
    /// deploy id, with a validation (see the module docs). Only rows a deploy would still
    /// switch wait; the others, and the waiting rows once the validation is done, are returned
    /// for the table, which reads the triggers afresh.
    async fn settle_unseen_deploys<'a>(
        &self,
        rows: Vec<&'a (JournalEntry, Desired)>,
        now: Timestamp,
        outcome: &mut Outcome,
    ) -> Result<Vec<&'a (JournalEntry, Desired)>, EngineError> {
        let unseen: Vec<&(JournalEntry, Desired)> = rows
            .iter()
            .copied()
            .filter(|(entry, _)| {
                matches!(entry.step, Step::Pausing | Step::Restoring) && entry.deploy_id.is_none()
            })
            .collect();
        if unseen.is_empty() {
            return Ok(rows);
        }
        let ids: Vec<String> = unseen
            .iter()
            .map(|(entry, _)| entry.key.sf_id.clone())
            .collect();
        let current = self
            .read_current(Kind::Trigger, &ids)
            .await
            .map_err(|error| self.salesforce_error("reading trigger states failed", error))?;
        let mut waiting: Vec<&JournalEntry> = Vec::new();
        let mut sources: Vec<TriggerSource> = Vec::new();
        let mut status = TriggerStatus::Inactive;
        for (entry, desired) in &unseen {
            let (Some(prior), Some(set)) =
                (from_json(&entry.prior_state), from_json(&entry.set_state))
            else {
                continue;
            };
            let target = match desired {
                Desired::Paused => set,
                Desired::Restored => prior,
            };
            let Some(state) = current.get(&entry.key.sf_id) else {
                continue;
            };
            // Already where it should be, or changed by someone: the table needs no deploy.
            let deploys = state.activation != target
                && (state.activation == prior || state.activation == set);
            if let (true, Some(source)) = (deploys, state.trigger_source()) {
                waiting.push(entry);
                sources.push(source.clone());
                // A validation carries one status; it only has to be a package the org
                // accepts, so the status of any of the rows will do.
                if target == (Activation::Trigger { active: true }) {
                    status = TriggerStatus::Active;
                }
            }
        }
        if waiting.is_empty() {
            return Ok(rows);
        }
        let triggers: BTreeSet<String> = waiting.iter().map(|e| e.key.sf_id.clone()).collect();
        match self
            .await_unseen_deploys(&sources, status, triggers)
            .await?
        {
            Wait::Over => return Ok(rows),
            Wait::Running => outcome.deploying += waiting.len() as u64,
            Wait::Failed(message) => {
                let updates: Vec<StepUpdate> = waiting
                    .iter()
                    .map(|entry| {
                        outcome.failed.push(self.issue(entry, &message));
                        StepUpdate {
                            count_attempt: true,
                            ..self.update(entry, entry.step, Some(message.clone()), None)
                        }
                    })
                    .collect();
                self.store.update_steps(&updates, now).await?;
            }
        }
        let held: BTreeSet<&ComponentKey> = waiting.iter().map(|entry| &entry.key).collect();
        Ok(rows
            .into_iter()
            .filter(|(entry, _)| !held.contains(&entry.key))
            .collect())
    }

    /// Sends (or, when one for these triggers is still running, polls again) the validation
    /// that waits out unseen deploys, and waits for it like for a deploy.
    async fn await_unseen_deploys(
        &self,
        sources: &[TriggerSource],
        status: TriggerStatus,
        triggers: BTreeSet<String>,
    ) -> Result<Wait, EngineError> {
        let known = lock(&self.validation)
            .clone()
            .filter(|validation| triggers.is_subset(&validation.triggers));
        let validation = match known {
            Some(validation) => validation,
            None => {
                let level = self.test_level().await?;
                let id = match self.client.validate_triggers(sources, status, &level).await {
                    Ok(id) => id,
                    Err(error) if matches!(error, SfError::RequestLimitExceeded { .. }) => {
                        return Err(self.salesforce_error("starting a validation failed", error));
                    }
                    Err(error)
                        if error.is_transient() || matches!(error, SfError::Decode { .. }) =>
                    {
                        return Ok(Wait::Failed(format!(
                            "a trigger deploy may be under way unseen, and the validation that \
                             waits for it could not be started: {error}"
                        )));
                    }
                    // Refused for good: the deploy will meet the same refusal and report it.
                    Err(error) => {
                        debug!(org = %self.org, %error, "the org refuses the validation; deploying without it");
                        return Ok(Wait::Over);
                    }
                };
                info!(org = %self.org, deploy = %id, triggers = sources.len(), "trigger rows were left mid-step without a deploy id; waiting for any deploy the org received for them before deploying again");
                let validation = Validation {
                    id,
                    level,
                    triggers,
                };
                *lock(&self.validation) = Some(validation.clone());
                validation
            }
        };
        let polled = self
            .wait_for_deploy(
                &validation.id,
                validation.triggers.len(),
                Some(&validation.level),
            )
            .await?;
        match polled {
            Polled::Running => Ok(Wait::Running),
            Polled::Failed(message) => Ok(Wait::Failed(message)),
            // Done, whatever its result (a validation that fails its tests is done too), or
            // unknown to the org: nothing more to wait for.
            Polled::Done(_) | Polled::Unknown(_) => {
                *lock(&self.validation) = None;
                Ok(Wait::Over)
            }
        }
    }

    /// The test level of a trigger deploy: none in a sandbox, the configured level in
    /// production (never `NoTestRun`, which production refuses).
    async fn test_level(&self) -> Result<TestLevel, EngineError> {
        let known = *lock(&self.is_sandbox);
        let is_sandbox = match known {
            Some(is_sandbox) => is_sandbox,
            None => {
                let info = read_org_info(&self.client)
                    .await
                    .map_err(|error| self.salesforce_error("reading the org type failed", error))?;
                self.remember_sandbox(info.is_sandbox);
                info.is_sandbox
            }
        };
        Ok(trigger_test_level(is_sandbox, &self.production_tests))
    }

    fn remember_sandbox(&self, is_sandbox: bool) {
        *lock(&self.is_sandbox) = Some(is_sandbox);
    }

    fn key(&self, kind: Kind, id: &str) -> ComponentKey {
        ComponentKey {
            org: self.org.clone(),
            kind,
            sf_id: id.to_owned(),
        }
    }

    fn issue(&self, entry: &JournalEntry, message: &str) -> Issue {
        Issue {
            kind: entry.key.kind,
            id: entry.key.sf_id.clone(),
            api_name: entry.api_name.clone(),
            message: message.to_owned(),
        }
    }

    /// A step change decided from the remote state (no write attempted).
    fn update(
        &self,
        entry: &JournalEntry,
        step: Step,
        last_error: Option<String>,
        conflict: Option<String>,
    ) -> StepUpdate {
        StepUpdate {
            key: entry.key.clone(),
            step,
            last_error,
            conflict,
            count_attempt: false,
        }
    }
}

/// Whether `hold` covers a component of `kind` on `object`: the hold's own narrowing (the
/// org's scope was applied by discovery).
pub fn covers(hold: &Hold, kind: Kind, object: Option<&str>) -> bool {
    let kind_ok = hold
        .scope
        .kinds
        .as_ref()
        .is_none_or(|kinds| kinds.contains(&kind));
    let object_ok = hold.scope.objects.as_ref().is_none_or(|objects| {
        object.is_some_and(|object| objects.iter().any(|o| o.eq_ignore_ascii_case(object)))
    });
    kind_ok && object_ok
}

/// Rows the engine still has to bring somewhere.
fn is_live(step: Step) -> bool {
    matches!(step, Step::Pausing | Step::Paused | Step::Restoring)
}

/// The step a row stays in while its write is not confirmed.
fn in_flight(settled: Step) -> Step {
    if settled == Step::Paused {
        Step::Pausing
    } else {
        Step::Restoring
    }
}

/// Whether a row that failed before may be tried again: exponential backoff from
/// [`RETRY_MIN`] to [`RETRY_MAX`] on its attempts, measured from its last update.
fn due(entry: &JournalEntry, now: Timestamp) -> bool {
    if entry.last_error.is_none() || entry.attempts == 0 {
        return true;
    }
    let exponent = entry.attempts.saturating_sub(1).min(16);
    let wait = RETRY_MIN.saturating_mul(1u32 << exponent).min(RETRY_MAX);
    let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
    now.as_millisecond() >= entry.updated_at.as_millisecond().saturating_add(wait_ms)
}

/// The test level of a trigger deploy in an org: `NoTestRun` in a sandbox, `production`
/// otherwise (which, built from the configuration, is never `NoTestRun`).
pub fn trigger_test_level(is_sandbox: bool, production: &TestLevel) -> TestLevel {
    if is_sandbox {
        TestLevel::NoTestRun
    } else {
        production.clone()
    }
}

/// The production test level the configuration asks for.
pub fn production_test_level(level: TriggerTestLevel, tests: Vec<String>) -> TestLevel {
    match level {
        TriggerTestLevel::RunLocalTests => TestLevel::RunLocalTests,
        TriggerTestLevel::RunSpecifiedTests => TestLevel::RunSpecifiedTests(tests),
        TriggerTestLevel::RunAllTestsInOrg => TestLevel::RunAllTestsInOrg,
    }
}

/// What polling a deploy to its end came to.
enum Polled {
    Done(DeployOutcome),
    /// Not done within the converge's wait ([`DEPLOY_WAIT`]).
    Running,
    /// It could not be polled (a transport error, a timeout): its rows keep the deploy id, and
    /// polling resumes on a later converge.
    Failed(String),
    /// The org does not know the id (404 `NOT_FOUND`).
    Unknown(String),
}

/// Where waiting out unseen deploys stands.
enum Wait {
    /// Every deploy sent before the validation is done (or the validation cannot help).
    Over,
    /// The validation is still running after the converge's wait; polled again next time.
    Running,
    /// It could not be started or polled: the rows keep waiting, with the error.
    Failed(String),
}

/// What became of a batch write.
enum Batch {
    /// Nothing is known of any item (the call failed as a whole, or the deploy could not be
    /// started or polled for sure).
    Unknown(String),
    /// The outcome of each item, verified, by id.
    Items(BTreeMap<String, Result<(), Refusal>>),
    /// A deploy carries the items and is still running; its id is journaled.
    Running,
}

/// Why one item was not switched, and whether trying again can help.
#[derive(Debug, Clone)]
struct Refusal {
    message: String,
    permanent: bool,
}

impl From<&SfError> for Refusal {
    fn from(error: &SfError) -> Refusal {
        Refusal {
            message: error.to_string(),
            permanent: !error.is_transient(),
        }
    }
}

/// A failed deploy in one line: its status, then each component problem, failing test
/// (`Class.method: message`) and coverage warning.
fn deploy_failure(finished: &DeployOutcome) -> String {
    let mut parts = vec![format!("deploy {} {}", finished.id, finished.status)];
    parts.extend(finished.error_message.iter().cloned());
    parts.extend(
        finished
            .component_failures
            .iter()
            .map(|failure| format!("{}: {}", failure.full_name, failure.problem)),
    );
    parts.extend(finished.test_failures.iter().map(|failure| {
        format!(
            "test {}.{}: {}",
            failure.name, failure.method_name, failure.message
        )
    }));
    parts.extend(finished.coverage_warnings.iter().cloned());
    parts.join("; ")
}

/// A write target with the component's name, for reports.
#[derive(Debug, Clone)]
struct Named<'a> {
    target: Target<'a>,
    api_name: &'a str,
}

fn targets<'a>(
    rows: &'a [(&'a JournalEntry, Activation)],
    current: &'a BTreeMap<String, Current>,
) -> Vec<Named<'a>> {
    rows.iter()
        .filter_map(|(entry, to)| {
            Some(Named {
                target: Target {
                    kind: entry.key.kind,
                    id: &entry.key.sf_id,
                    to: *to,
                    current: current.get(&entry.key.sf_id)?,
                },
                api_name: &entry.api_name,
            })
        })
        .collect()
}

fn to_json(activation: Activation) -> Value {
    serde_json::to_value(activation).unwrap_or(Value::Null)
}

fn from_json(value: &Value) -> Option<Activation> {
    serde_json::from_value(value.clone()).ok()
}

fn describe(activation: Activation) -> String {
    match activation {
        Activation::Flow {
            active_version: Some(version),
        } => format!("version {version} active"),
        Activation::Flow {
            active_version: None,
        } => "no version active".to_owned(),
        Activation::Rule { active: true } => "active".to_owned(),
        Activation::Rule { active: false } => "inactive".to_owned(),
        Activation::Trigger { active: true } => "Active".to_owned(),
        Activation::Trigger { active: false } => "Inactive".to_owned(),
    }
}

fn changed_message(prior: Activation, now: Activation) -> String {
    match (prior, now) {
        (
            Activation::Flow { .. },
            Activation::Flow {
                active_version: Some(version),
            },
        ) => format!(
            "version {version} was activated while paused (was {}); left as it is",
            describe(prior)
        ),
        (_, state) if state == prior => {
            "switched back on by someone while paused; left as it is".to_owned()
        }
        (_, state) => format!("changed to {} while paused; left as it is", describe(state)),
    }
}
