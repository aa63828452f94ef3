//! The pause/restore engine against the simulated org and a real store: exact restore,
//! overlapping holds, drift during a pause, interrupted steps, faults, expiry and two orgs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pauseplay::automation::{Kind, Scope};
use pauseplay::engine::{OrgEngine, Outcome, Progress};
use pauseplay::sim::{AdminAction, ComponentKind, Faults, Scenario, SimHandle};
use pauseplay::store::{
    Actor, ComponentKey, HoldScope, HoldSource, NewHold, NewJournalEntry, Step, Store,
};
use serde_json::{Value, json};

use common::{client, mixed_scenario, repo_path, settings, sim_client, start_sim};

fn now() -> Timestamp {
    // A fixed clock: the engine takes time as a parameter.
    Timestamp::from_second(1_795_000_000).expect("valid timestamp")
}

fn later(minutes: i64) -> Timestamp {
    now()
        .checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// Every kind but triggers: these tests need no Metadata API deploy (triggers are covered by
/// `tests/engine_triggers.rs`).
fn switched_scope() -> Scope {
    Scope::new(
        [
            Kind::Flow,
            Kind::ProcessBuilder,
            Kind::ValidationRule,
            Kind::WorkflowRule,
        ]
        .into_iter()
        .collect::<BTreeSet<_>>(),
        None,
        Vec::new(),
        false,
    )
}

async fn engine_for(org: &str, sim: &SimHandle, store: &Store) -> OrgEngine {
    let mut settings = settings(org, &sim.base_url(), sim.client_id(), sim.client_secret());
    settings.request_timeout = Duration::from_secs(10);
    OrgEngine::new(
        org.to_owned(),
        client(settings),
        switched_scope(),
        store.clone(),
    )
}

async fn store(dir: &Path) -> Store {
    Store::open(dir).await.expect("open the store")
}

fn operator() -> Actor {
    Actor {
        uid: Some(1000),
        name: "oncall".to_owned(),
    }
}

async fn manual_hold(
    store: &Store,
    org: &str,
    scope: HoldScope,
    minutes: i64,
) -> pauseplay::store::Hold {
    store
        .insert_hold(&NewHold {
            org: org.to_owned(),
            source: HoldSource::Manual,
            owner: operator(),
            reason: Some("test".to_owned()),
            scope,
            created_at: now(),
            starts_at: None,
            expires_at: later(minutes),
        })
        .await
        .expect("insert hold")
}

fn whole_org() -> HoldScope {
    HoldScope {
        kinds: None,
        objects: None,
    }
}

async fn converge(engine: &OrgEngine, at: Timestamp) -> Outcome {
    engine
        .converge(at, &|_: Progress| {})
        .await
        .expect("converge")
}

/// The true state of the components in these tests' scope (triggers left out).
fn switched_state(sim: &SimHandle) -> Value {
    let snapshot = sim.snapshot();
    json!({
        "flows": snapshot["flows"],
        "validation_rules": snapshot["validation_rules"],
        "workflow_rules": snapshot["workflow_rules"],
    })
}

fn flow<'a>(snapshot: &'a Value, name: &str) -> &'a Value {
    snapshot["flows"]
        .as_array()
        .and_then(|flows| flows.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("flow {name}"))
}

#[tokio::test]
async fn a_pause_and_its_release_leave_the_org_exactly_as_it_was() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("mixed", &sim, &store).await;
    let before = sim.snapshot();

    let hold = manual_hold(&store, "mixed", whole_org(), 60).await;
    let paused = converge(&engine, now()).await;
    assert_eq!(
        paused.paused, 16,
        "6 flows, 2 process builders, 5 + 3 rules: {paused:?}"
    );
    assert!(paused.is_clean(), "{paused:?}");
    let during = sim.snapshot();
    assert_eq!(
        flow(&during, "Contact_After_Save")["active_version"],
        Value::Null
    );
    assert_eq!(
        during["triggers"], before["triggers"],
        "triggers are outside this engine's scope"
    );

    // Converging again with nothing changed makes no call.
    let calls = engine.client().api_calls();
    let again = converge(&engine, later(1)).await;
    assert_eq!((again.paused, again.restored), (0, 0));
    assert_eq!(engine.client().api_calls(), calls);

    store
        .release_hold(hold.id, &operator(), later(2))
        .await
        .expect("release")
        .expect("was active");
    let restored = converge(&engine, later(2)).await;
    assert_eq!(restored.restored, 16, "{restored:?}");
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(sim.snapshot(), before, "exact restore");
    assert_eq!(
        flow(&sim.snapshot(), "Contact_After_Save")["active_version"],
        2
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn overlapping_holds_restore_only_when_the_last_is_released() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("mixed", &sim, &store).await;
    let before = switched_state(&sim);

    let first = manual_hold(&store, "mixed", whole_org(), 60).await;
    converge(&engine, now()).await;
    let second = manual_hold(&store, "mixed", whole_org(), 120).await;
    let outcome = converge(&engine, later(1)).await;
    assert_eq!(outcome.paused, 0, "already paused by the first hold");
    let paused_state = switched_state(&sim);

    store
        .release_hold(first.id, &operator(), later(2))
        .await
        .expect("release");
    let outcome = converge(&engine, later(2)).await;
    assert_eq!(outcome.restored, 0);
    assert_eq!(
        switched_state(&sim),
        paused_state,
        "still held by the second hold"
    );

    store
        .release_hold(second.id, &operator(), later(3))
        .await
        .expect("release");
    converge(&engine, later(3)).await;
    assert_eq!(switched_state(&sim), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hold_narrowed_to_an_object_touches_nothing_else() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("mixed", &sim, &store).await;
    let before = sim.snapshot();

    let scope = HoldScope {
        kinds: Some([Kind::Flow].into_iter().collect()),
        objects: Some(["Contact".to_owned()].into_iter().collect()),
    };
    let hold = manual_hold(&store, "mixed", scope, 60).await;
    let outcome = converge(&engine, now()).await;
    assert_eq!(outcome.paused, 2, "Contact's two flows: {outcome:?}");
    let during = sim.snapshot();
    assert_eq!(
        flow(&during, "Account_After_Save"),
        flow(&before, "Account_After_Save")
    );
    assert_eq!(during["validation_rules"], before["validation_rules"]);

    store
        .release_hold(hold.id, &operator(), later(1))
        .await
        .expect("release");
    converge(&engine, later(1)).await;
    assert_eq!(sim.snapshot(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn changes_made_during_the_pause_stand_and_are_reported_as_conflicts() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("mixed", &sim, &store).await;

    let hold = manual_hold(&store, "mixed", whole_org(), 60).await;
    converge(&engine, now()).await;

    // An admin works during the window.
    sim.admin(AdminAction::ActivateFlowVersion {
        flow: "Contact_After_Save".to_owned(),
        version: 3,
    })
    .expect("activate v3");
    sim.admin(AdminAction::EditValidationRule {
        full_name: "Account.Require_Phone".to_owned(),
        formula: Some("ISBLANK(Phone) && ISBLANK(Fax)".to_owned()),
        message: None,
        description: None,
    })
    .expect("edit the rule");
    sim.admin(AdminAction::Delete {
        kind: ComponentKind::WorkflowRule,
        name: "Contact.Update_Mailing_Flag".to_owned(),
    })
    .expect("delete the rule");

    store
        .release_hold(hold.id, &operator(), later(1))
        .await
        .expect("release");
    let outcome = converge(&engine, later(1)).await;

    let conflicts: BTreeSet<&str> = outcome
        .conflicts
        .iter()
        .map(|c| c.api_name.as_str())
        .collect();
    assert_eq!(
        conflicts,
        ["Contact_After_Save", "Contact.Update_Mailing_Flag"]
            .into_iter()
            .collect(),
        "{outcome:?}"
    );
    let after = sim.snapshot();
    assert_eq!(
        flow(&after, "Contact_After_Save")["active_version"],
        3,
        "the admin's version stands"
    );
    let rule = after["validation_rules"]
        .as_array()
        .and_then(|rules| {
            rules
                .iter()
                .find(|r| r["full_name"] == "Account.Require_Phone")
        })
        .expect("rule");
    assert_eq!(rule["active"], true, "the edited rule is active again");
    assert_eq!(
        rule["metadata"]["errorConditionFormula"],
        "ISBLANK(Phone) && ISBLANK(Fax)"
    );

    let journal = store.journal("mixed").await.expect("journal");
    let conflicted = journal.iter().filter(|e| e.step == Step::Conflict).count();
    assert_eq!(conflicted, 2);
    sim.shutdown().await;
}

/// What a crash right after the journal write of a pause leaves: the row in `Pausing`, the
/// org untouched.
async fn journal_interrupted_pause(store: &Store, flow: &pauseplay::automation::Component) {
    store
        .record_pausing(
            &[NewJournalEntry {
                key: ComponentKey {
                    org: "mixed".to_owned(),
                    kind: Kind::Flow,
                    sf_id: flow.id.clone(),
                },
                api_name: flow.api_name.clone(),
                object: flow.object.clone(),
                prior_state: json!({"type": "flow", "active_version": 2}),
                set_state: json!({"type": "flow", "active_version": null}),
            }],
            now(),
        )
        .await
        .expect("journal");
}

#[tokio::test]
async fn rows_left_mid_step_by_a_crash_are_settled_from_the_remote_state() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let before = sim.snapshot();
    let contact_flow = {
        let client = sim_client("mixed", &sim);
        let discovery = pauseplay::automation::discover(&client, &switched_scope())
            .await
            .expect("discovery");
        discovery
            .components
            .into_iter()
            .find(|c| c.api_name == "Contact_After_Save")
            .expect("flow")
    };
    // A crash right after the journal write, before any remote change.
    journal_interrupted_pause(&store, &contact_flow).await;

    // No hold: the interrupted pause is not wanted any more, and nothing was changed.
    let engine = engine_for("mixed", &sim, &store).await;
    let outcome = converge(&engine, now()).await;
    assert_eq!(
        (outcome.paused, outcome.restored, outcome.unchanged),
        (0, 0, 1)
    );
    assert_eq!(sim.snapshot(), before);

    // With a hold, the same interrupted step is finished instead.
    journal_interrupted_pause(&store, &contact_flow).await;
    let hold = manual_hold(
        &store,
        "mixed",
        HoldScope {
            kinds: Some([Kind::Flow].into_iter().collect()),
            objects: Some(["Contact".to_owned()].into_iter().collect()),
        },
        60,
    )
    .await;
    let restarted = engine_for("mixed", &sim, &store).await;
    converge(&restarted, now()).await;
    assert_eq!(
        flow(&sim.snapshot(), "Contact_After_Save")["active_version"],
        Value::Null
    );
    store
        .release_hold(hold.id, &operator(), later(1))
        .await
        .expect("release");
    converge(&restarted, later(1)).await;
    assert_eq!(sim.snapshot(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_manual_hold_that_expires_is_restored_without_any_command() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("mixed", &sim, &store).await;
    let before = sim.snapshot();
    manual_hold(&store, "mixed", whole_org(), 30).await;
    converge(&engine, now()).await;
    assert_ne!(sim.snapshot(), before);
    // 31 minutes later the hold has expired by itself.
    let outcome = converge(&engine, later(31)).await;
    assert_eq!(outcome.restored, 16, "{outcome:?}");
    assert_eq!(sim.snapshot(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_expiry_and_transient_faults_do_not_change_the_result() {
    let mut scenario = Scenario::load(&repo_path("config/sim/large.toml")).expect("large scenario");
    scenario.faults = Faults {
        seed: 7,
        transient_error_rate: 0.10,
        token_requests: 25,
        ..Faults::default()
    };
    let sim = start_sim(scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("large", &sim, &store).await;
    let before = switched_state(&sim);

    let hold = manual_hold(&store, "large", whole_org(), 60).await;
    let mut at = now();
    let mut paused = converge(&engine, at).await;
    // Items whose retries ran out are finished by later converges, as the daemon's tick would.
    for _ in 0..5 {
        if paused.failed.is_empty() {
            break;
        }
        at = at
            .checked_add(SignedDuration::from_hours(1))
            .expect("in range");
        paused = converge(&engine, at).await;
    }
    assert!(paused.paused > 300, "a large pause: {}", paused.paused);
    store
        .release_hold(hold.id, &operator(), at)
        .await
        .expect("release");
    let mut restored = converge(&engine, at).await;
    for _ in 0..5 {
        if restored.failed.is_empty() {
            break;
        }
        at = at
            .checked_add(SignedDuration::from_hours(1))
            .expect("in range");
        restored = converge(&engine, at).await;
    }
    assert!(restored.is_clean(), "{restored:?}");
    assert_eq!(switched_state(&sim), before, "exact despite faults");
    let counters = sim.counters();
    assert!(
        counters.get("token").copied().unwrap_or(0) > 2,
        "tokens were re-minted: {counters:?}"
    );
    assert!(
        counters.get("faults_injected").copied().unwrap_or(0) > 5,
        "faults were injected: {counters:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn two_orgs_are_paused_in_parallel() {
    let first = start_sim(mixed_scenario()).await;
    let second = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let a = engine_for("a", &first, &store).await;
    let b = engine_for("b", &second, &store).await;
    let before = (first.snapshot(), second.snapshot());
    let hold_a = manual_hold(&store, "a", whole_org(), 60).await;
    let hold_b = manual_hold(&store, "b", whole_org(), 60).await;
    let (out_a, out_b) = tokio::join!(converge(&a, now()), converge(&b, now()));
    assert_eq!((out_a.paused, out_b.paused), (16, 16));
    store
        .release_hold(hold_a.id, &operator(), later(1))
        .await
        .expect("release");
    store
        .release_hold(hold_b.id, &operator(), later(1))
        .await
        .expect("release");
    tokio::join!(converge(&a, later(1)), converge(&b, later(1)));
    assert_eq!((first.snapshot(), second.snapshot()), before);
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn a_refused_restore_stays_visible_and_is_retried_with_backoff_until_it_succeeds() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let engine = engine_for("sim", &sim, &store).await;
    // A flow paused by us whose saved version (3) the org does not have (it has v1 and v2):
    // Salesforce refuses to activate it.
    let legacy = {
        let client = sim_client("sim", &sim);
        pauseplay::automation::discover(&client, &switched_scope())
            .await
            .expect("discovery")
            .components
            .into_iter()
            .find(|c| c.api_name == "Account_Legacy_Sync")
            .expect("flow")
    };
    let key = ComponentKey {
        org: "sim".to_owned(),
        kind: Kind::Flow,
        sf_id: legacy.id.clone(),
    };
    store
        .record_pausing(
            &[NewJournalEntry {
                key: key.clone(),
                api_name: legacy.api_name.clone(),
                object: legacy.object.clone(),
                prior_state: json!({"type": "flow", "active_version": 3}),
                set_state: json!({"type": "flow", "active_version": null}),
            }],
            now(),
        )
        .await
        .expect("journal");

    let outcome = converge(&engine, now()).await;
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed[0].api_name, "Account_Legacy_Sync");
    assert!(
        outcome.failed[0]
            .message
            .contains("FIELD_INTEGRITY_EXCEPTION"),
        "{outcome:?}"
    );
    let row = store.journal_entry(&key).await.expect("read").expect("row");
    assert_eq!(
        row.step,
        Step::Restoring,
        "a failed restore is never given up"
    );
    assert!(row.last_error.is_some());
    assert_eq!(row.attempts, 1);
    // `status` counts it as failed, not as progress.
    let config = pauseplay::config::Config::load(&common::write_config(dir.path(), &sim, ""))
        .expect("config");
    let service = pauseplay::daemon::service::Service::new(config, store.clone()).expect("service");
    let status = service.status(now()).await.expect("status");
    assert_eq!(status.orgs["sim"].counts.failed, 1);
    assert_eq!(status.orgs["sim"].counts.restoring, 0);
    let listed = &status.orgs["sim"].failures;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].message.contains("FIELD_INTEGRITY_EXCEPTION"),
        "status says why: {listed:?}"
    );

    // Too soon for another attempt: no call is made.
    let calls = engine.client().api_calls();
    converge(&engine, later(0)).await;
    assert_eq!(
        engine.client().api_calls(),
        calls,
        "backoff: not retried at once"
    );

    // An admin saves version 3; the next attempt after the backoff succeeds.
    sim.admin(AdminAction::AddFlowVersion {
        flow: "Account_Legacy_Sync".to_owned(),
        status: pauseplay::sim::FlowStatus::Draft,
    })
    .expect("add version");
    let outcome = converge(&engine, later(1)).await;
    assert_eq!(outcome.restored, 1, "{outcome:?}");
    let row = store.journal_entry(&key).await.expect("read").expect("row");
    assert_eq!(row.step, Step::Restored);
    assert_eq!(
        flow(&sim.snapshot(), "Account_Legacy_Sync")["active_version"],
        3
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_org_out_of_api_calls_is_reported_once_and_paused_when_calls_return() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let config = pauseplay::config::Config::load(&common::write_config(dir.path(), &sim, ""))
        .expect("config");
    let service = pauseplay::daemon::service::Service::new(config, store.clone()).expect("service");
    sim.admin(AdminAction::SetApiUsage {
        used: 1000,
        max: 1000,
    })
    .expect("exhaust the daily limit");
    manual_hold(&store, "sim", whole_org(), 60).await;
    let quiet: pauseplay::daemon::service::ProgressFn = std::sync::Arc::new(|_| {});

    for minute in 0..3 {
        let reports = service.reconcile(later(minute), quiet.clone()).await;
        let error = reports[0].result.as_ref().expect_err("no calls left");
        assert!(error.to_string().contains("no API calls left"), "{error}");
    }
    let history = store.history(Some("sim"), 10).await.expect("history");
    assert_eq!(
        history.len(),
        1,
        "recorded when it started, not on every tick: {history:?}"
    );
    assert_eq!(history[0].action, "reconcile");

    sim.admin(AdminAction::SetApiUsage { used: 0, max: 1000 })
        .expect("a new day");
    let reports = service.reconcile(later(4), quiet).await;
    let outcome = reports[0].result.as_ref().expect("converged");
    // The daemon's configuration covers every kind: 16 flows and rules and the 3 triggers.
    assert_eq!(outcome.paused, 19);
    sim.shutdown().await;
}

/// A [`Service`](pauseplay::daemon::service::Service) over the mixed org with the kinds these
/// tests switch (no trigger deploys), `lead_time` as given.
fn ad_hoc_service(
    dir: &Path,
    sim: &SimHandle,
    store: &Store,
    lead_time: Duration,
) -> pauseplay::daemon::service::Service {
    let mut config = pauseplay::config::Config::load(&common::write_config(
        dir,
        sim,
        "kinds = [\"flow\", \"process_builder\", \"validation_rule\", \"workflow_rule\"]\n",
    ))
    .expect("config");
    config.daemon.lead_time = lead_time;
    pauseplay::daemon::service::Service::new(config, store.clone()).expect("service")
}

fn quiet() -> pauseplay::daemon::service::ProgressFn {
    std::sync::Arc::new(|_: Progress| {})
}

fn seconds_after(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(seconds))
        .expect("in range")
}

#[tokio::test]
async fn a_pause_at_pauses_the_org_when_its_window_opens_and_restores_it_when_it_ends() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let service = ad_hoc_service(dir.path(), &sim, &store, Duration::ZERO);
    let before = switched_state(&sim);
    let opens = seconds_after(now(), 2);
    let ends = seconds_after(opens, 60);

    let report = service
        .pause_at(
            &operator(),
            &["sim".to_owned()],
            opens,
            Duration::from_secs(60),
            Some("q4 migration".to_owned()),
            now(),
            quiet(),
        )
        .await
        .expect("pause at");
    assert!(report.orgs.is_empty(), "not in force yet: no converge");
    let hold = &report.holds[0];
    assert_eq!(
        hold.source,
        HoldSource::AdHoc {
            name: pauseplay::daemon::service::ad_hoc_name(opens)
        }
    );
    assert_eq!(hold.starts_at, Some(opens), "no lead time");
    assert_eq!(hold.expires_at, ends);
    assert_eq!(hold.owner, operator());
    let status = service.status(now()).await.expect("status");
    assert!(status.holds.is_empty());
    assert_eq!(status.upcoming, vec![hold.clone()]);
    assert_eq!(
        service.next_edge(now()).await.expect("edge"),
        Some(opens),
        "the loop wakes up when the hold starts"
    );
    let history = store.history(Some("sim"), 10).await.expect("history");
    assert_eq!(history[0].action, "pause_at");
    assert_eq!(history[0].hold_id, Some(hold.id));
    assert_eq!(history[0].detail["start"], opens.to_string());
    assert!(history[0].detail.get("outcome").is_none());

    // A moment before the window opens, a pass leaves the org alone.
    let reports = service
        .reconcile(opens - SignedDuration::from_millis(1), quiet())
        .await;
    let outcome = reports[0].result.as_ref().expect("converged");
    assert_eq!(outcome.paused, 0, "{outcome:?}");
    assert_eq!(switched_state(&sim), before);

    // When it opens, the org is paused.
    let reports = service.reconcile(opens, quiet()).await;
    let outcome = reports[0].result.as_ref().expect("converged");
    assert_eq!(outcome.paused, 16, "{outcome:?}");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_ne!(switched_state(&sim), before);
    let status = service.status(opens).await.expect("status");
    assert_eq!(status.holds.len(), 1);
    assert!(status.upcoming.is_empty());
    assert_eq!(service.next_edge(opens).await.expect("edge"), Some(ends));

    // Still paused just before it ends; restored exactly when it ends.
    let reports = service
        .reconcile(ends - SignedDuration::from_millis(1), quiet())
        .await;
    assert_eq!(reports[0].result.as_ref().expect("converged").restored, 0);
    let reports = service.reconcile(ends, quiet()).await;
    let outcome = reports[0].result.as_ref().expect("converged");
    assert_eq!(outcome.restored, 16, "{outcome:?}");
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(switched_state(&sim), before, "exactly as it was");
    let actions: Vec<String> = store
        .history(Some("sim"), 10)
        .await
        .expect("history")
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        ["reconcile", "hold_expired", "reconcile", "pause_at"],
        "newest first"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pause_at_within_the_lead_time_pauses_at_once_and_keeps_the_nominal_start() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let service = ad_hoc_service(dir.path(), &sim, &store, Duration::from_secs(120));
    let opens = seconds_after(now(), 60);

    let report = service
        .pause_at(
            &operator(),
            &[],
            opens,
            Duration::from_secs(600),
            None,
            now(),
            quiet(),
        )
        .await
        .expect("pause at");
    let hold = &report.holds[0];
    assert_eq!(hold.starts_at, Some(now()), "lead time, but not before now");
    assert_eq!(hold.expires_at, seconds_after(opens, 600));
    assert_eq!(report.orgs.len(), 1);
    let outcome = report.orgs[0].result.as_ref().expect("converged");
    assert_eq!(outcome.paused, 16, "{outcome:?}");
    let history = store.history(Some("sim"), 1).await.expect("history");
    assert_eq!(history[0].action, "pause_at");
    assert_eq!(history[0].detail["start"], opens.to_string());
    assert_eq!(history[0].detail["starts_pausing_at"], now().to_string());
    assert_eq!(history[0].detail["outcome"]["paused"], 16);

    // With the default lead time of two minutes, a window an hour away starts pausing two
    // minutes before it opens.
    let later_window = seconds_after(now(), 3600);
    let report = service
        .pause_at(
            &operator(),
            &[],
            later_window,
            Duration::from_secs(600),
            None,
            now(),
            quiet(),
        )
        .await
        .expect("pause at");
    assert_eq!(
        report.holds[0].starts_at,
        Some(seconds_after(later_window, -120))
    );
    assert!(report.orgs.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pause_at_past_too_long_or_empty_is_refused_and_an_upcoming_one_is_cancelled() {
    use pauseplay::daemon::service::ServiceError;

    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let service = ad_hoc_service(dir.path(), &sim, &store, Duration::ZERO);
    let oncall = operator();
    let pause_at = |start: Timestamp, duration: Duration| {
        service.pause_at(&oncall, &[], start, duration, None, now(), quiet())
    };

    let past = pause_at(seconds_after(now(), -60), Duration::from_secs(3600))
        .await
        .expect_err("in the past");
    assert!(matches!(past, ServiceError::StartInPast { .. }), "{past}");
    assert!(past.to_string().contains("in the past"), "{past}");
    let long = pause_at(seconds_after(now(), 60), Duration::from_secs(13 * 3600))
        .await
        .expect_err("too long");
    assert!(matches!(long, ServiceError::TooLong { .. }), "{long}");
    let zero = pause_at(seconds_after(now(), 60), Duration::ZERO)
        .await
        .expect_err("zero");
    assert!(matches!(zero, ServiceError::ZeroDuration), "{zero}");
    let unknown = service
        .pause_at(
            &operator(),
            &["nope".to_owned()],
            seconds_after(now(), 60),
            Duration::from_secs(60),
            None,
            now(),
            quiet(),
        )
        .await
        .expect_err("unknown org");
    assert!(
        matches!(unknown, ServiceError::UnknownOrg { .. }),
        "{unknown}"
    );
    assert!(
        store.recent_holds(10).await.expect("holds").is_empty(),
        "nothing stored"
    );

    // A start a few seconds ago is taken as now.
    let report = pause_at(seconds_after(now(), -3), Duration::from_secs(60))
        .await
        .expect("within the grace");
    assert_eq!(report.holds[0].starts_at, Some(now()));
    assert_eq!(report.orgs[0].result.as_ref().expect("paused").paused, 16);

    // An upcoming hold is cancelled by its id and never comes into force.
    let opens = seconds_after(now(), 600);
    let upcoming = pause_at(opens, Duration::from_secs(60))
        .await
        .expect("upcoming")
        .holds
        .remove(0);
    let resumed = service
        .resume(
            &operator(),
            &[],
            pauseplay::daemon::service::Release::Hold(upcoming.id),
            now(),
            quiet(),
        )
        .await
        .expect("resume --hold");
    assert_eq!(resumed.released[0].id, upcoming.id);
    assert!(
        service
            .status(now())
            .await
            .expect("status")
            .upcoming
            .is_empty()
    );
    assert!(
        !store
            .active_holds(opens)
            .await
            .expect("active")
            .iter()
            .any(|hold| hold.id == upcoming.id)
    );
    sim.shutdown().await;
}
