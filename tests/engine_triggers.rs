//! Apex triggers in the engine: one Metadata API deploy per phase, the test level per org
//! type, a production deploy whose tests fail, a trigger re-activated during a pause, and a
//! converge interrupted between starting a deploy and polling it, between starting a deploy
//! and learning its id, or between the write-ahead of a pause or a restore and the start of
//! its deploy.

mod common;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pauseplay::automation::{Kind, Scope};
use pauseplay::engine::{OrgEngine, Outcome, Progress};
use pauseplay::salesforce::{OrgClient, PollPolicy, TestLevel, TriggerSource, TriggerStatus};
use pauseplay::sim::{AdminAction, Scenario, SimHandle, TriggerStatus as SimTriggerStatus};
use pauseplay::store::{
    Actor, ComponentKey, Hold, HoldScope, HoldSource, JournalEntry, NewHold, NewJournalEntry, Step,
    StepUpdate, Store,
};
use serde::Deserialize;
use serde_json::{Value, json};

use common::{client, mixed_scenario, repo_path, settings, sim_client, start_sim};

const FAST_POLLS: PollPolicy =
    PollPolicy::doubling(Duration::from_millis(1), Duration::from_millis(5));

fn now() -> Timestamp {
    Timestamp::from_second(1_795_000_000).expect("valid timestamp")
}

fn later(minutes: i64) -> Timestamp {
    now()
        .checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

fn every_kind() -> Scope {
    Scope::new(Kind::ALL.into_iter().collect(), None, Vec::new(), false)
}

fn engine_for(org: &str, sim: &SimHandle, store: &Store) -> OrgEngine {
    let mut settings = settings(org, &sim.base_url(), sim.client_id(), sim.client_secret());
    settings.request_timeout = Duration::from_secs(10);
    OrgEngine::new(
        org.to_owned(),
        client(settings),
        every_kind(),
        store.clone(),
    )
    .with_poll_policy(FAST_POLLS)
}

/// A simulated org of `scenario` and a journal in a scratch directory (kept while the test
/// runs).
async fn org_and_store(scenario: Scenario) -> (SimHandle, tempfile::TempDir, Store) {
    let sim = start_sim(scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).await.expect("store");
    (sim, dir, store)
}

fn production() -> Scenario {
    Scenario::load(&repo_path("config/sim/production.toml")).expect("production scenario")
}

async fn hold(store: &Store, org: &str, scope: HoldScope) -> Hold {
    store
        .insert_hold(&NewHold {
            org: org.to_owned(),
            source: HoldSource::Manual,
            owner: Actor {
                uid: Some(1000),
                name: "oncall".to_owned(),
            },
            reason: Some("test".to_owned()),
            scope,
            created_at: now(),
            starts_at: None,
            expires_at: later(60),
        })
        .await
        .expect("insert hold")
}

async fn release(store: &Store, hold: &Hold, at: Timestamp) {
    store
        .release_hold(hold.id, &Actor::daemon(), at)
        .await
        .expect("release")
        .expect("was active");
}

async fn converge(engine: &OrgEngine, at: Timestamp) -> Outcome {
    engine
        .converge(at, &|_: Progress| {})
        .await
        .expect("converge")
}

/// The org's components, without the deploys it has run.
fn org_state(sim: &SimHandle) -> Value {
    let mut snapshot = sim.snapshot();
    if let Some(map) = snapshot.as_object_mut() {
        map.remove("deploys");
    }
    snapshot
}

fn deploys(sim: &SimHandle) -> Vec<Value> {
    all_deploys(sim)
        .into_iter()
        .filter(|deploy| deploy["options"]["checkOnly"] != true)
        .collect()
}

/// The validations (`checkOnly` deploys) the org received: what the engine waits for before
/// deploying rows it found mid-step without a deploy id.
fn validations(sim: &SimHandle) -> Vec<Value> {
    all_deploys(sim)
        .into_iter()
        .filter(|deploy| deploy["options"]["checkOnly"] == true)
        .collect()
}

fn all_deploys(sim: &SimHandle) -> Vec<Value> {
    sim.snapshot()["deploys"]
        .as_array()
        .cloned()
        .expect("deploys")
}

fn trigger_status(sim: &SimHandle, name: &str) -> String {
    sim.snapshot()["triggers"]
        .as_array()
        .and_then(|triggers| triggers.iter().find(|t| t["name"] == name))
        .and_then(|trigger| trigger["status"].as_str())
        .unwrap_or_else(|| panic!("trigger {name}"))
        .to_owned()
}

fn trigger_names(outcome_issues: &[pauseplay::engine::Issue]) -> Vec<&str> {
    outcome_issues
        .iter()
        .filter(|issue| issue.kind == Kind::Trigger)
        .map(|issue| issue.api_name.as_str())
        .collect()
}

#[tokio::test]
async fn a_sandbox_pauses_and_restores_triggers_exactly_with_one_deploy_per_phase() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let engine = engine_for("mixed", &sim, &store);
    let before = org_state(&sim);

    let hold = hold(&store, "mixed", HoldScope::default()).await;
    let paused = converge(&engine, now()).await;
    assert_eq!(
        paused.paused, 19,
        "16 flows and rules, 3 triggers: {paused:?}"
    );
    assert!(paused.is_clean(), "{paused:?}");
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Inactive", "{name}");
    }
    // The managed trigger and the inactive one are not touched.
    assert_eq!(trigger_status(&sim, "OpportunityTrigger"), "Inactive");
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 1, "all three in one deploy: {runs:?}");
    assert_eq!(runs[0]["test_level"], "NoTestRun");
    let journal = store.journal("mixed").await.expect("journal");
    let triggers: Vec<_> = journal
        .iter()
        .filter(|entry| entry.key.kind == Kind::Trigger)
        .collect();
    assert_eq!(triggers.len(), 3);
    for entry in &triggers {
        assert_eq!(entry.step, Step::Paused);
        assert_eq!(
            entry.prior_state,
            json!({"type": "trigger", "active": true})
        );
        assert_eq!(
            entry.deploy_id.as_ref(),
            runs[0]["id"].as_str().map(str::to_owned).as_ref()
        );
    }

    // Nothing to do while the hold stands: no deploy.
    let again = converge(&engine, later(1)).await;
    assert_eq!((again.paused, again.restored), (0, 0));
    assert_eq!(deploys(&sim).len(), 1);

    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 19, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(
        org_state(&sim),
        before,
        "exact restore, trigger bodies included"
    );
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 2, "one deploy to restore: {runs:?}");
    assert_eq!(runs[1]["test_level"], "NoTestRun");
    sim.shutdown().await;
}

/// The classes of the requests the org received from `from` (a request-log length) on.
fn classes_since(sim: &SimHandle, from: usize) -> Vec<&'static str> {
    sim.request_log()
        .into_iter()
        .skip(from)
        .map(|seen| seen.class)
        .collect()
}

fn count(classes: &[&str], class: &str) -> usize {
    classes.iter().filter(|c| **c == class).count()
}

/// Whether only the deploy's polls and Tooling queries (the flows' read-back overlaps the
/// deploy) follow the deploy request: no trigger is read back after its deploy.
fn only_polls_and_reads_after_the_deploy(classes: &[&str]) -> bool {
    let deploy = classes
        .iter()
        .position(|c| *c == "deploy_request")
        .expect("a deploy");
    classes[deploy + 1..]
        .iter()
        .all(|c| matches!(*c, "deploy_poll" | "tooling_query"))
}

/// Issue 7: no call above the floor that is not needed. A pause reads nothing its discovery
/// has just read (flows, workflow rules and triggers are not queried again before the first
/// write), and no trigger is read back after a deploy whose result names it.
#[tokio::test]
async fn a_pause_reads_nothing_twice_and_a_deploy_result_confirms_its_triggers() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let engine = engine_for("mixed", &sim, &store);
    let before = org_state(&sim);

    let hold = hold(&store, "mixed", HoldScope::default()).await;
    let from = sim.request_log().len();
    let paused = converge(&engine, now()).await;
    assert_eq!(paused.paused, 19, "{paused:?}");
    let pause = classes_since(&sim, from);
    let first_write = pause
        .iter()
        .position(|c| *c == "composite_write")
        .expect("a write");
    let reads = &pause[..first_write];
    // Discovery: `Organization` and `FlowDefinitionView` on /query; `FlowDefinition`,
    // `ValidationRule`, `WorkflowRule` and `ApexTrigger` (with the sources) on Tooling.
    assert_eq!(count(reads, "query"), 2, "{pause:?}");
    assert_eq!(
        count(reads, "tooling_query"),
        4,
        "no state read twice: {pause:?}"
    );
    assert!(
        only_polls_and_reads_after_the_deploy(&pause),
        "nothing but polls and the flows' read-back after the deploy: {pause:?}"
    );
    // After the writes: the flows are read back, in one query.
    assert_eq!(count(&pause, "tooling_query"), 5, "{pause:?}");
    // The 16 flows, Process Builders and rules share one composite call.
    assert_eq!(count(&pause, "composite_write"), 1, "{pause:?}");

    release(&store, &hold, later(2)).await;
    let from = sim.request_log().len();
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 19, "{restored:?}");
    assert_eq!(org_state(&sim), before);
    let restore = classes_since(&sim, from);
    // The flows and the triggers read once each (compare-and-set), the flows read back.
    assert_eq!(count(&restore, "tooling_query"), 3, "{restore:?}");
    assert_eq!(count(&restore, "composite_write"), 1, "{restore:?}");
    assert_eq!(count(&restore, "query"), 0, "no discovery: {restore:?}");
    assert!(
        only_polls_and_reads_after_the_deploy(&restore),
        "{restore:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn production_deploys_run_local_tests_and_never_no_test_run() {
    let (sim, _dir, store) = org_and_store(production()).await;
    let engine = engine_for("prod", &sim, &store);
    let before = org_state(&sim);

    let hold = hold(&store, "prod", HoldScope::default()).await;
    let paused = converge(&engine, now()).await;
    assert_eq!(paused.paused, 7, "{paused:?}");
    assert!(paused.is_clean(), "{paused:?}");
    assert_eq!(trigger_status(&sim, "AccountTrigger"), "Inactive");

    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 7, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(org_state(&sim), before, "exact restore");
    let levels: Vec<Value> = deploys(&sim)
        .iter()
        .map(|deploy| deploy["test_level"].clone())
        .collect();
    assert_eq!(levels, [json!("RunLocalTests"), json!("RunLocalTests")]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_production_deploy_whose_tests_fail_changes_no_trigger_and_names_the_test() {
    let (sim, _dir, store) = org_and_store(production()).await;
    let engine = engine_for("prod", &sim, &store);
    let before = org_state(&sim);
    sim.admin(AdminAction::SetDeployBehaviour {
        failing_tests: vec!["AccountTriggerTest.testInsert".to_owned()],
        coverage_shortfall: false,
    })
    .expect("make a test fail");

    let hold = hold(&store, "prod", HoldScope::default()).await;
    let outcome = converge(&engine, now()).await;
    assert_eq!(
        outcome.paused, 6,
        "flows and rules still paused: {outcome:?}"
    );
    assert_eq!(
        trigger_names(&outcome.failed),
        ["AccountTrigger"],
        "{outcome:?}"
    );
    let message = &outcome.failed[0].message;
    assert!(
        message.contains("AccountTriggerTest.testInsert"),
        "{message}"
    );
    assert!(message.contains("Failed"), "{message}");
    assert_eq!(
        org_state(&sim)["triggers"],
        before["triggers"],
        "nothing changed"
    );
    let key = ComponentKey {
        org: "prod".to_owned(),
        kind: Kind::Trigger,
        sf_id: outcome.failed[0].id.clone(),
    };
    let entry = store
        .journal_entry(&key)
        .await
        .expect("read")
        .expect("journaled");
    assert_eq!(entry.step, Step::Failed);
    assert!(
        entry
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("AccountTriggerTest.testInsert"))
    );
    let levels: Vec<Value> = deploys(&sim)
        .iter()
        .map(|deploy| deploy["test_level"].clone())
        .collect();
    assert_eq!(levels, [json!("RunLocalTests")]);

    // A failed pause is not retried; the release restores the rest and deploys nothing.
    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 6, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(org_state(&sim), before);
    assert_eq!(deploys(&sim).len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_trigger_reactivated_during_the_pause_is_a_conflict_and_left_alone() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let engine = engine_for("mixed", &sim, &store);
    let scope = HoldScope {
        kinds: Some([Kind::Trigger].into_iter().collect()),
        objects: None,
    };
    let hold = hold(&store, "mixed", scope).await;
    let paused = converge(&engine, now()).await;
    assert_eq!(paused.paused, 3, "{paused:?}");

    sim.admin(AdminAction::SetTriggerStatus {
        name: "AccountTrigger".to_owned(),
        status: SimTriggerStatus::Active,
    })
    .expect("re-activate");
    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 2, "{restored:?}");
    assert_eq!(
        trigger_names(&restored.conflicts),
        ["AccountTrigger"],
        "{restored:?}"
    );
    assert!(restored.failed.is_empty(), "{restored:?}");
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Active", "{name}");
    }
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let members = runs[1]["members"].to_string();
    assert!(!members.contains("AccountTrigger"), "left alone: {members}");
    assert!(members.contains("ContactTrigger"), "{members}");
    sim.shutdown().await;
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerRow {
    id: String,
    name: String,
    body: String,
    api_version: f64,
    status: String,
    namespace_prefix: Option<String>,
}

/// The org's active, unmanaged triggers, read straight from the org (the ones a pause
/// switches).
async fn active_triggers(direct: &OrgClient) -> Vec<TriggerRow> {
    let rows: Vec<TriggerRow> = direct
        .tooling_query(
            "SELECT Id, Name, Body, ApiVersion, Status, NamespacePrefix FROM ApexTrigger",
        )
        .await
        .expect("trigger query");
    rows.into_iter()
        .filter(|row| row.status == "Active" && row.namespace_prefix.is_none())
        .collect()
}

/// The sources of `rows` as a deploy sends them.
fn trigger_sources(rows: &[TriggerRow]) -> Vec<TriggerSource> {
    rows.iter()
        .map(|row| TriggerSource {
            name: row.name.clone(),
            body: row.body.clone(),
            api_version: format!("{:.1}", row.api_version),
        })
        .collect()
}

/// The journal rows a pause of `rows` writes ahead, as the engine writes them.
fn pausing_entries(rows: &[TriggerRow]) -> Vec<NewJournalEntry> {
    rows.iter()
        .map(|row| NewJournalEntry {
            key: ComponentKey {
                org: "mixed".to_owned(),
                kind: Kind::Trigger,
                sf_id: row.id.clone(),
            },
            api_name: row.name.clone(),
            object: None,
            prior_state: json!({"type": "trigger", "active": true}),
            set_state: json!({"type": "trigger", "active": false}),
        })
        .collect()
}

/// The journal's trigger rows of the mixed org.
async fn trigger_rows(store: &Store) -> Vec<JournalEntry> {
    store
        .journal("mixed")
        .await
        .expect("journal")
        .into_iter()
        .filter(|entry| entry.key.kind == Kind::Trigger)
        .collect()
}

/// What a converge writes before it deploys a restore (`settle_kind`): the rows to
/// `Restoring`, no attempt counted, no error.
async fn restore_write_ahead(store: &Store, keys: &[ComponentKey], at: Timestamp) {
    let updates: Vec<StepUpdate> = keys
        .iter()
        .map(|key| StepUpdate {
            key: key.clone(),
            step: Step::Restoring,
            last_error: None,
            conflict: None,
            count_attempt: false,
        })
        .collect();
    store.update_steps(&updates, at).await.expect("write-ahead");
}

fn triggers_only() -> HoldScope {
    HoldScope {
        kinds: Some([Kind::Trigger].into_iter().collect()),
        objects: None,
    }
}

#[tokio::test]
async fn a_converge_after_a_crash_mid_deploy_polls_that_deploy_and_deploys_nothing_more() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let before = org_state(&sim);
    let scope = HoldScope {
        kinds: Some([Kind::Trigger].into_iter().collect()),
        objects: None,
    };
    let hold = hold(&store, "mixed", scope).await;

    // What a converge does before it polls: journal, deploy, record the deploy id. Then the
    // process dies.
    let direct = sim_client("mixed", &sim);
    let rows = active_triggers(&direct).await;
    assert_eq!(rows.len(), 3);
    let entries = pausing_entries(&rows);
    store
        .record_pausing(&entries, now())
        .await
        .expect("journal");
    let sources = trigger_sources(&rows);
    let id = direct
        .deploy_triggers(&sources, TriggerStatus::Inactive, &TestLevel::NoTestRun)
        .await
        .expect("deploy accepted");
    let keys: Vec<ComponentKey> = entries.iter().map(|entry| entry.key.clone()).collect();
    store
        .set_deploy_id(&keys, &id.0, now())
        .await
        .expect("deploy id");

    let engine = engine_for("mixed", &sim, &store);
    let paused = converge(&engine, later(1)).await;
    assert_eq!(paused.paused, 3, "{paused:?}");
    assert!(paused.is_clean(), "{paused:?}");
    assert_eq!(
        deploys(&sim).len(),
        1,
        "the deploy was polled, not repeated"
    );
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Inactive", "{name}");
    }
    for key in &keys {
        let entry = store.journal_entry(key).await.expect("read").expect("row");
        assert_eq!(entry.step, Step::Paused);
    }

    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 3, "{restored:?}");
    assert_eq!(org_state(&sim), before);
    assert_eq!(deploys(&sim).len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_restore_deploy_stays_restoring_and_is_retried_after_the_backoff() {
    let (sim, _dir, store) = org_and_store(production()).await;
    let before = org_state(&sim);
    let hold = hold(&store, "prod", HoldScope::default()).await;
    let paused = converge(&engine_for("prod", &sim, &store), now()).await;
    assert_eq!(paused.paused, 7, "{paused:?}");

    // A restart: the new engine restores without a discovery, so it reads the org type
    // itself before deploying (production: tests run).
    let engine = engine_for("prod", &sim, &store);
    sim.admin(AdminAction::SetDeployBehaviour {
        failing_tests: vec!["AccountTriggerTest.testUpdate".to_owned()],
        coverage_shortfall: false,
    })
    .expect("make a test fail");
    release(&store, &hold, later(2)).await;
    let first = converge(&engine, later(2)).await;
    assert_eq!(first.restored, 6, "the other kinds are restored: {first:?}");
    assert_eq!(
        trigger_names(&first.failed),
        ["AccountTrigger"],
        "{first:?}"
    );
    assert!(
        first.failed[0]
            .message
            .contains("AccountTriggerTest.testUpdate"),
        "{first:?}"
    );
    assert_eq!(trigger_status(&sim, "AccountTrigger"), "Inactive");
    let journal = store.journal("prod").await.expect("journal");
    let row = journal
        .iter()
        .find(|entry| entry.key.kind == Kind::Trigger)
        .expect("trigger row");
    assert_eq!(row.step, Step::Restoring, "a restore is never given up");
    assert_eq!(row.attempts, 2, "the pause, then the failed restore");
    assert!(row.last_error.is_some(), "{row:?}");

    sim.admin(AdminAction::SetDeployBehaviour {
        failing_tests: Vec::new(),
        coverage_shortfall: false,
    })
    .expect("tests pass again");
    // Within the backoff nothing is tried.
    let early = converge(
        &engine,
        later(2)
            .checked_add(SignedDuration::from_secs(10))
            .expect("in range"),
    )
    .await;
    assert_eq!((early.restored, early.failed.len()), (0, 0), "{early:?}");
    assert_eq!(deploys(&sim).len(), 2);

    let retried = converge(&engine, later(4)).await;
    assert_eq!(retried.restored, 1, "{retried:?}");
    assert!(retried.is_clean(), "{retried:?}");
    assert_eq!(org_state(&sim), before, "exact restore");
    let levels: Vec<Value> = deploys(&sim)
        .iter()
        .map(|deploy| deploy["test_level"].clone())
        .collect();
    assert_eq!(levels, vec![json!("RunLocalTests"); 3]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_converge_after_a_crash_between_the_pause_write_ahead_and_its_deploy_deploys_once() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let before = org_state(&sim);
    let hold = hold(&store, "mixed", triggers_only()).await;

    // What a converge does before it deploys a pause: journal the prior states. Then the
    // process dies, before any deploy is started.
    let rows = active_triggers(&sim_client("mixed", &sim)).await;
    assert_eq!(rows.len(), 3);
    store
        .record_pausing(&pausing_entries(&rows), now())
        .await
        .expect("journal");
    for entry in trigger_rows(&store).await {
        assert_eq!((entry.step, entry.deploy_id), (Step::Pausing, None));
    }
    assert!(deploys(&sim).is_empty());

    // A restarted process: a fresh engine, the hold still in force.
    let engine = engine_for("mixed", &sim, &store);
    let paused = converge(&engine, later(1)).await;
    assert_eq!(paused.paused, 3, "{paused:?}");
    assert!(paused.is_clean(), "{paused:?}");
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 1, "one deploy for the three: {runs:?}");
    assert_eq!(runs[0]["status"], "Succeeded", "{runs:?}");
    assert_eq!(runs[0]["test_level"], "NoTestRun");
    // The rows had no deploy id: a deploy the dead process started could be under way, so
    // the engine waited for a validation first, which changes nothing.
    let checks = validations(&sim);
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["done"], true, "{checks:?}");
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Inactive", "{name}");
    }
    let journal = trigger_rows(&store).await;
    assert_eq!(journal.len(), 3);
    for entry in &journal {
        assert_eq!(entry.step, Step::Paused, "{entry:?}");
        assert_eq!(
            entry.deploy_id.as_deref(),
            runs[0]["id"].as_str(),
            "{entry:?}"
        );
    }

    // Nothing more while the hold stands; then an exact restore.
    let again = converge(&engine, later(2)).await;
    assert_eq!((again.paused, again.restored), (0, 0), "{again:?}");
    assert_eq!(deploys(&sim).len(), 1);
    release(&store, &hold, later(3)).await;
    let restored = converge(&engine, later(3)).await;
    assert_eq!(restored.restored, 3, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(org_state(&sim), before, "exact restore");
    assert_eq!(deploys(&sim).len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_converge_after_a_crash_between_the_restore_write_ahead_and_its_deploy_deploys_once() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let before = org_state(&sim);
    let hold = hold(&store, "mixed", triggers_only()).await;
    let paused = converge(&engine_for("mixed", &sim, &store), now()).await;
    assert_eq!(paused.paused, 3, "{paused:?}");
    assert!(paused.is_clean(), "{paused:?}");
    assert_eq!(deploys(&sim).len(), 1);
    let paused_state = org_state(&sim);
    release(&store, &hold, later(2)).await;

    // What a converge does before it deploys a restore: the write-ahead to `Restoring`
    // (`settle_kind`). Then the process dies, before any deploy is started.
    let journal = trigger_rows(&store).await;
    assert_eq!(journal.len(), 3);
    for entry in &journal {
        assert_eq!(entry.step, Step::Paused, "{entry:?}");
    }
    let keys: Vec<ComponentKey> = journal.iter().map(|entry| entry.key.clone()).collect();
    restore_write_ahead(&store, &keys, later(2)).await;
    assert_eq!(org_state(&sim), paused_state, "nothing written remotely");

    // A restarted process: a fresh engine, no hold in force. Whether the rows still carry the
    // pause's (finished) deploy id or none, the restore deploys once.
    let engine = engine_for("mixed", &sim, &store);
    let restored = converge(&engine, later(3)).await;
    assert_eq!(restored.restored, 3, "{restored:?}");
    assert_eq!(restored.paused, 0, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 2, "one deploy to restore: {runs:?}");
    assert_eq!(runs[1]["status"], "Succeeded", "{runs:?}");
    assert_eq!(runs[1]["test_level"], "NoTestRun");
    assert_eq!(
        validations(&sim).len(),
        1,
        "waited once for an unseen deploy"
    );
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Active", "{name}");
    }
    assert_eq!(
        org_state(&sim),
        before,
        "exact restore, trigger bodies included"
    );
    let last = runs.last().and_then(|run| run["id"].as_str());
    for entry in trigger_rows(&store).await {
        assert_eq!(entry.step, Step::Restored, "{entry:?}");
        assert_eq!(entry.last_error, None, "{entry:?}");
        assert_eq!(entry.deploy_id.as_deref(), last, "{entry:?}");
    }

    // Settled: nothing more to do, no further deploy.
    let again = converge(&engine, later(4)).await;
    assert_eq!((again.paused, again.restored), (0, 0), "{again:?}");
    assert!(again.is_clean(), "{again:?}");
    assert_eq!(deploys(&sim).len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_converge_after_a_crash_between_a_deploy_start_and_its_answer_deploys_nothing_more() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let before = org_state(&sim);
    let hold = hold(&store, "mixed", triggers_only()).await;

    // What a converge does: journal, then start the deploy. The deploy reaches the org but
    // the process dies before its answer (the id) arrives, so no id is journaled. Found by
    // the crash matrix: the restarted engine used to deploy again, and the second deploy set
    // what the first had set.
    let direct = sim_client("mixed", &sim);
    let rows = active_triggers(&direct).await;
    assert_eq!(rows.len(), 3);
    store
        .record_pausing(&pausing_entries(&rows), now())
        .await
        .expect("journal");
    let sources = trigger_sources(&rows);
    direct
        .deploy_triggers(&sources, TriggerStatus::Inactive, &TestLevel::NoTestRun)
        .await
        .expect("deploy accepted");

    let engine = engine_for("mixed", &sim, &store);
    let paused = converge(&engine, later(1)).await;
    assert_eq!(paused.paused, 3, "{paused:?}");
    assert!(paused.is_clean(), "{paused:?}");
    assert_eq!(deploys(&sim).len(), 1, "the unseen deploy did the pause");
    assert_eq!(validations(&sim).len(), 1, "after one validation");
    let writes = sim.writes();
    assert_eq!(writes.len(), 3, "{writes:?}");
    for count in writes.values() {
        assert_eq!((count.changed, count.needless), (1, 0), "{writes:?}");
    }
    for entry in trigger_rows(&store).await {
        assert_eq!(entry.step, Step::Paused, "{entry:?}");
    }

    release(&store, &hold, later(2)).await;
    let restored = converge(&engine, later(3)).await;
    assert_eq!(restored.restored, 3, "{restored:?}");
    assert_eq!(org_state(&sim), before, "exact restore");
    assert_eq!(
        validations(&sim).len(),
        1,
        "a restore with its id needs no validation"
    );
    let writes = sim.writes();
    let needless: u64 = writes.values().map(|count| count.needless).sum();
    assert_eq!(needless, 0, "{writes:?}");
    println!(
        "unseen deploy: 3 triggers paused by the deploy whose id was lost, {} deploys, 1 validation, {} writes, {needless} needless",
        deploys(&sim).len(),
        writes
            .values()
            .map(|count| count.changed + count.needless)
            .sum::<u64>()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_journaled_deploy_the_org_does_not_know_is_settled_from_the_triggers_status() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let engine = engine_for("mixed", &sim, &store);
    let before = org_state(&sim);
    let hold = hold(&store, "mixed", triggers_only()).await;
    assert_eq!(converge(&engine, now()).await.paused, 3);

    // The restore's rows carry a deploy id the org answers 404 NOT_FOUND for (a deploy
    // Salesforce no longer keeps): polling it can never succeed.
    release(&store, &hold, later(2)).await;
    let journal = store.journal("mixed").await.expect("journal");
    let keys: Vec<ComponentKey> = journal.iter().map(|entry| entry.key.clone()).collect();
    restore_write_ahead(&store, &keys, later(2)).await;
    store
        .set_deploy_id(&keys, "0AfZZ0000000001AAA", later(2))
        .await
        .expect("deploy id");

    let restored = converge(&engine, later(3)).await;
    assert_eq!(restored.restored, 3, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(org_state(&sim), before, "exact restore");
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 2, "one new deploy for the restore: {runs:?}");
    for key in &keys {
        let entry = store.journal_entry(key).await.expect("read").expect("row");
        assert_eq!(entry.step, Step::Restored);
        assert_eq!(
            entry.deploy_id.as_ref(),
            runs[1]["id"].as_str().map(str::to_owned).as_ref()
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deploy_that_outlasts_the_wait_is_left_in_flight_and_finished_by_the_next_converge() {
    let (sim, _dir, store) = org_and_store(mixed_scenario()).await;
    let _hold = hold(&store, "mixed", triggers_only()).await;

    // No time at all to wait: the deploy starts, its id is journaled, and the converge lets go.
    let impatient = engine_for("mixed", &sim, &store).with_deploy_wait(Duration::ZERO);
    let first = converge(&impatient, now()).await;
    assert_eq!((first.paused, first.deploying), (0, 3), "{first:?}");
    assert!(
        first.is_clean(),
        "still running is not a failure: {first:?}"
    );
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 1, "{runs:?}");
    for entry in trigger_rows(&store).await {
        assert_eq!(entry.step, Step::Pausing, "{entry:?}");
        assert_eq!(entry.last_error, None, "{entry:?}");
        assert_eq!(entry.deploy_id.as_deref(), runs[0]["id"].as_str());
    }
    assert!(
        impatient.watched_deploy().is_none(),
        "nothing is being polled once the converge let go"
    );

    let next = converge(&engine_for("mixed", &sim, &store), later(1)).await;
    assert_eq!((next.paused, next.deploying), (3, 0), "{next:?}");
    assert_eq!(deploys(&sim).len(), 1, "polled, not deployed again");
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Inactive", "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_now_answers_once_a_deploy_longer_than_the_wait_is_done() {
    let mut scenario = mixed_scenario();
    scenario.deploy.in_progress_polls = 60;
    let sim = start_sim(scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = pauseplay::config::Config::load(&common::write_config(dir.path(), &sim, ""))
        .expect("config");
    let store = Store::open(&config.daemon.state_dir).await.expect("store");
    // Each converge waits 150 ms; the deploy needs 60 polls at least 5 ms apart (after the
    // first few), so several converges. The wait is long enough for a poll to get through on a
    // busy machine: a poll cut off mid-flight gets no answer.
    let service = pauseplay::daemon::service::Service::with_engines(config, store, |engine| {
        engine
            .with_poll_policy(FAST_POLLS)
            .with_deploy_wait(Duration::from_millis(150))
    })
    .expect("service");
    let report = service
        .pause_now(
            &Actor::daemon(),
            &[],
            None,
            Some("a long deploy".to_owned()),
            now(),
            std::sync::Arc::new(|_: Progress| {}),
        )
        .await
        .expect("pause now");
    let outcome = report.orgs[0].result.as_ref().expect("converged");
    assert_eq!(outcome.paused, 19, "{outcome:?}");
    assert_eq!(outcome.deploying, 0, "{outcome:?}");
    assert!(outcome.is_clean(), "{outcome:?}");
    let runs = deploys(&sim);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "Succeeded");
    for name in ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"] {
        assert_eq!(trigger_status(&sim, name), "Inactive", "{name}");
    }
    sim.shutdown().await;
}
