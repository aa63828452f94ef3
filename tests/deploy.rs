//! The client's Metadata API trigger deploy against the simulated org's deploy endpoint: the
//! two were written separately from the reference, and here they must agree. Sandboxes deploy
//! with NoTestRun; production refuses it and runs tests; failing tests change nothing.

mod common;

use std::time::Duration;

use pauseplay::salesforce::{
    OrgClient, PollPolicy, SfError, TestLevel, TriggerSource, TriggerStatus,
};
use pauseplay::sim::{AdminAction, Scenario, SimHandle};
use serde::Deserialize;
use serde_json::Value;

use common::{mixed_scenario, repo_path, sim_client, start_sim};

const FAST_POLLS: PollPolicy =
    PollPolicy::doubling(Duration::from_millis(1), Duration::from_millis(5));

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerRow {
    name: String,
    body: String,
    api_version: f64,
    status: String,
    namespace_prefix: Option<String>,
}

/// The org's own active triggers, read from Tooling as the engine will.
async fn active_triggers(client: &OrgClient) -> Vec<TriggerSource> {
    let rows: Vec<TriggerRow> = client
        .tooling_query(
            "SELECT Id, Name, Body, ApiVersion, Status, NamespacePrefix FROM ApexTrigger",
        )
        .await
        .expect("trigger query");
    rows.into_iter()
        .filter(|row| row.status == "Active" && row.namespace_prefix.is_none())
        .map(|row| TriggerSource {
            name: row.name,
            body: row.body,
            api_version: format!("{:.1}", row.api_version),
        })
        .collect()
}

/// Deploys `sources` with `status` at `level` and waits for the result.
async fn deploy_and_wait(
    client: &OrgClient,
    sources: &[TriggerSource],
    status: TriggerStatus,
    level: &TestLevel,
) -> pauseplay::salesforce::DeployOutcome {
    let id = client
        .deploy_triggers(sources, status, level)
        .await
        .expect("deploy accepted");
    client
        .wait_for_deploy(&id, FAST_POLLS, |_| {})
        .await
        .expect("deploy finished")
}

fn triggers(sim: &SimHandle) -> Value {
    sim.snapshot()["triggers"].clone()
}

#[tokio::test]
async fn a_sandbox_deploys_triggers_off_and_back_on_exactly() {
    let sim = start_sim(mixed_scenario()).await;
    let client = sim_client("sandbox", &sim);
    let before = triggers(&sim);
    let sources = active_triggers(&client).await;
    assert_eq!(
        sources.len(),
        3,
        "AccountTrigger, ContactTrigger, InvoiceTrigger"
    );

    let id = client
        .deploy_triggers(&sources, TriggerStatus::Inactive, &TestLevel::NoTestRun)
        .await
        .expect("deploy accepted");
    let mut seen = Vec::new();
    let outcome = client
        .wait_for_deploy(&id, FAST_POLLS, |poll| seen.push(poll.status.clone()))
        .await
        .expect("deploy finished");
    assert!(outcome.success, "{outcome:?}");
    assert!(seen.iter().any(|status| status == "InProgress"), "{seen:?}");
    let paused = triggers(&sim);
    for trigger in paused.as_array().expect("triggers") {
        if sources.iter().any(|s| trigger["name"] == s.name.as_str()) {
            assert_eq!(trigger["status"], "Inactive", "{trigger}");
        }
    }

    let outcome = deploy_and_wait(
        &client,
        &sources,
        TriggerStatus::Active,
        &TestLevel::NoTestRun,
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(
        triggers(&sim),
        before,
        "bodies, versions and statuses as they were"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn production_refuses_no_test_run_and_runs_tests_otherwise() {
    let scenario =
        Scenario::load(&repo_path("config/sim/production.toml")).expect("production scenario");
    let sim = start_sim(scenario).await;
    let client = sim_client("prod", &sim);
    let sources = active_triggers(&client).await;
    assert!(!sources.is_empty());

    let refused = client
        .deploy_triggers(&sources, TriggerStatus::Inactive, &TestLevel::NoTestRun)
        .await
        .expect_err("production refuses NoTestRun");
    assert!(
        matches!(&refused, SfError::Api { status: 400, .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("NoTestRun"), "{refused}");

    let outcome = deploy_and_wait(
        &client,
        &sources,
        TriggerStatus::Inactive,
        &TestLevel::RunLocalTests,
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    assert!(outcome.tests_run > 0, "production runs tests: {outcome:?}");
    let deploys = sim.snapshot()["deploys"].clone();
    let levels: Vec<&str> = deploys
        .as_array()
        .expect("deploys")
        .iter()
        .filter_map(|deploy| deploy["test_level"].as_str())
        .collect();
    assert_eq!(
        levels,
        ["RunLocalTests"],
        "the refused request never became a deploy"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn failing_tests_fail_the_deploy_name_the_test_and_change_nothing() {
    let scenario =
        Scenario::load(&repo_path("config/sim/production.toml")).expect("production scenario");
    let sim = start_sim(scenario).await;
    let client = sim_client("prod", &sim);
    let before = triggers(&sim);
    sim.admin(AdminAction::SetDeployBehaviour {
        failing_tests: vec!["AccountTriggerTest.testInsert".to_owned()],
        coverage_shortfall: false,
    })
    .expect("make a test fail");
    let sources = active_triggers(&client).await;
    let outcome = deploy_and_wait(
        &client,
        &sources,
        TriggerStatus::Inactive,
        &TestLevel::RunLocalTests,
    )
    .await;
    assert!(!outcome.success, "{outcome:?}");
    assert_eq!(outcome.status, "Failed");
    assert!(
        outcome
            .test_failures
            .iter()
            .any(|failure| failure.name == "AccountTriggerTest"
                && failure.method_name == "testInsert"),
        "{outcome:?}"
    );
    assert_eq!(triggers(&sim), before, "a failed deploy changes nothing");
    sim.shutdown().await;
}
