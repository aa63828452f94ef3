//! Switching components off and on against the simulated org: the per-kind reads and writes
//! the engine builds on. A pause followed by writing the saved states back must leave the org
//! exactly as it was, and a rule edited meanwhile must keep its edit.

mod common;

use std::collections::BTreeMap;

use pauseplay::automation::switch::{Activation, Current, Target, read_current, write};
use pauseplay::automation::{Component, Kind, Scope, discover};
use pauseplay::salesforce::OrgClient;
use pauseplay::sim::{AdminAction, ComponentKind, SimHandle};

use common::{mixed_scenario, sim_client, start_sim};

const SWITCHED: [Kind; 4] = [
    Kind::Flow,
    Kind::ProcessBuilder,
    Kind::ValidationRule,
    Kind::WorkflowRule,
];

fn client_for(sim: &SimHandle) -> OrgClient {
    sim_client("sim", sim)
}

async fn pause_candidates(client: &OrgClient, kind: Kind) -> Vec<Component> {
    let scope = Scope::new([kind].into_iter().collect(), None, Vec::new(), false);
    discover(client, &scope)
        .await
        .expect("discovery")
        .components
        .into_iter()
        .filter(|c| c.kind == kind && c.will_pause())
        .collect()
}

/// Sets every component in `states` to its state, after reading it; panics on any failure.
async fn set_all(client: &OrgClient, kind: Kind, states: &BTreeMap<String, Activation>) {
    let ids: Vec<String> = states.keys().cloned().collect();
    let current = read_current(client, kind, &ids).await.expect("read");
    let targets: Vec<Target<'_>> = ids
        .iter()
        .map(|id| Target {
            kind,
            id,
            to: states[id],
            current: &current[id],
        })
        .collect();
    let outcomes = write(client, &targets).await.expect("write");
    for (id, outcome) in outcomes {
        outcome.unwrap_or_else(|error| panic!("{kind} {id}: {error}"));
    }
}

#[tokio::test]
async fn pausing_and_writing_the_saved_states_back_restores_the_org_exactly() {
    let sim = start_sim(mixed_scenario()).await;
    let before = sim.snapshot();
    let client = client_for(&sim);

    let mut saved: BTreeMap<Kind, BTreeMap<String, Activation>> = BTreeMap::new();
    for kind in SWITCHED {
        let ids: Vec<String> = pause_candidates(&client, kind)
            .await
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert!(!ids.is_empty(), "the mixed org has {kind} to pause");
        let current: BTreeMap<String, Current> =
            read_current(&client, kind, &ids).await.expect("read");
        saved.insert(
            kind,
            current
                .iter()
                .map(|(id, current)| (id.clone(), current.activation))
                .collect(),
        );
        let paused = Activation::paused(kind).expect("switchable kind");
        set_all(
            &client,
            kind,
            &ids.iter().map(|id| (id.clone(), paused)).collect(),
        )
        .await;
        let after = read_current(&client, kind, &ids).await.expect("read back");
        assert!(
            after.values().all(|current| current.activation == paused),
            "every {kind} is paused"
        );
    }
    assert_ne!(sim.snapshot(), before, "the pause changed the org");

    for (kind, states) in &saved {
        set_all(&client, *kind, states).await;
    }
    assert_eq!(
        sim.snapshot(),
        before,
        "restoring the saved states is exact"
    );
    // The flow whose active version is older than a later draft got its own version back.
    let flows = sim.snapshot()["flows"].clone();
    let contact = flows
        .as_array()
        .expect("flows")
        .iter()
        .find(|f| f["name"] == "Contact_After_Save")
        .cloned()
        .expect("Contact_After_Save");
    assert_eq!(contact["active_version"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rule_edited_during_the_pause_keeps_its_edit_when_reactivated() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let rule = pause_candidates(&client, Kind::ValidationRule)
        .await
        .into_iter()
        .find(|c| c.api_name == "Account.Require_Phone")
        .expect("Account.Require_Phone");
    let ids = vec![rule.id.clone()];
    set_all(
        &client,
        Kind::ValidationRule,
        &[(rule.id.clone(), Activation::Rule { active: false })].into(),
    )
    .await;

    sim.admin(AdminAction::EditValidationRule {
        full_name: "Account.Require_Phone".to_owned(),
        formula: Some("ISBLANK(Phone) && ISBLANK(Fax)".to_owned()),
        message: None,
        description: None,
    })
    .expect("admin edit");

    set_all(
        &client,
        Kind::ValidationRule,
        &[(rule.id.clone(), Activation::Rule { active: true })].into(),
    )
    .await;
    let current = read_current(&client, Kind::ValidationRule, &ids)
        .await
        .expect("read");
    assert_eq!(
        current[&rule.id].activation,
        Activation::Rule { active: true }
    );
    let rules = sim.snapshot()["validation_rules"].clone();
    let stored = rules
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["full_name"] == "Account.Require_Phone")
        .cloned()
        .expect("the rule");
    assert_eq!(
        stored["metadata"]["errorConditionFormula"],
        "ISBLANK(Phone) && ISBLANK(Fax)"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deleted_component_is_absent_from_the_read_and_another_version_is_visible() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let flows = pause_candidates(&client, Kind::Flow).await;
    let workflow = pause_candidates(&client, Kind::WorkflowRule).await;
    let contact = flows
        .iter()
        .find(|c| c.api_name == "Contact_After_Save")
        .expect("Contact_After_Save");

    sim.admin(AdminAction::ActivateFlowVersion {
        flow: "Contact_After_Save".to_owned(),
        version: 3,
    })
    .expect("activate v3");
    let deleted = &workflow[0];
    sim.admin(AdminAction::Delete {
        kind: ComponentKind::WorkflowRule,
        name: deleted.api_name.clone(),
    })
    .expect("delete");

    let current = read_current(&client, Kind::Flow, std::slice::from_ref(&contact.id))
        .await
        .expect("read");
    assert_eq!(
        current[&contact.id].activation,
        Activation::Flow {
            active_version: Some(3)
        }
    );
    let ids: Vec<String> = workflow.iter().map(|c| c.id.clone()).collect();
    let current = read_current(&client, Kind::WorkflowRule, &ids)
        .await
        .expect("read");
    assert!(!current.contains_key(&deleted.id));
    assert_eq!(current.len(), ids.len() - 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_write_the_org_refuses_is_reported_per_item() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let flows = pause_candidates(&client, Kind::Flow).await;
    let ids: Vec<String> = flows.iter().map(|c| c.id.clone()).collect();
    let current = read_current(&client, Kind::Flow, &ids).await.expect("read");
    // Version 99 exists nowhere: that item fails, the others succeed.
    let targets: Vec<Target<'_>> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| Target {
            kind: Kind::Flow,
            id,
            to: Activation::Flow {
                active_version: if index == 0 { Some(99) } else { None },
            },
            current: &current[id],
        })
        .collect();
    let outcomes = write(&client, &targets).await.expect("write");
    let failed: Vec<&String> = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.is_err())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(failed, [&ids[0]]);
    let error = outcomes[&ids[0]].as_ref().expect_err("refused");
    assert_eq!(
        error.error_code(),
        Some("FIELD_INTEGRITY_EXCEPTION"),
        "{error}"
    );
    sim.shutdown().await;
}

/// An org of 2,500 generated flows, with the ids of those a pause would switch.
async fn many_flows() -> (SimHandle, OrgClient, Vec<String>) {
    let scenario = pauseplay::sim::Scenario::from_toml_str("[generate]\nseed = 3\nflows = 2500\n")
        .expect("scenario");
    let sim = start_sim(scenario).await;
    let client = client_for(&sim);
    let ids: Vec<String> = pause_candidates(&client, Kind::Flow)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(
        ids.len() > 1_200,
        "enough flows to need several IN lists: {}",
        ids.len()
    );
    (sim, client, ids)
}

#[tokio::test]
async fn flows_are_read_by_lists_of_400_ids_that_fit_in_a_url() {
    let (sim, client, ids) = many_flows().await;
    sim.reset_counters();
    let current = read_current(&client, Kind::Flow, &ids).await.expect("read");
    assert_eq!(current.len(), ids.len(), "every flow read");
    let counters = sim.counters();
    assert_eq!(
        counters.get("tooling_query").copied(),
        Some(ids.len().div_ceil(400) as u64),
        "one query per 400 ids: {counters:?}"
    );
    assert_eq!(counters.get("uri_too_long"), None, "{counters:?}");
}

#[tokio::test]
async fn flows_are_read_by_the_whole_table_when_its_pages_are_fewer_calls() {
    let (sim, client, ids) = many_flows().await;
    let by_lists = read_current(&client, Kind::Flow, &ids).await.expect("read");
    sim.reset_counters();
    // 2,500 rows are 2 pages; the ids need at least 4 lists.
    let whole =
        pauseplay::automation::switch::read_current_sized(&client, Kind::Flow, &ids, Some(2_500))
            .await
            .expect("read");
    assert_eq!(whole, by_lists, "the same states either way");
    let counters = sim.counters();
    let pages = counters.get("tooling_query").copied().unwrap_or(0)
        + counters.get("query_more").copied().unwrap_or(0);
    assert_eq!(pages, 2, "{counters:?}");
    // A few ids in a large table are still read by a list.
    sim.reset_counters();
    let few = pauseplay::automation::switch::read_current_sized(
        &client,
        Kind::Flow,
        &ids[..10],
        Some(2_500),
    )
    .await
    .expect("read");
    assert_eq!(few.len(), 10);
    assert_eq!(sim.counters().get("tooling_query").copied(), Some(1));
    assert_eq!(sim.counters().get("query_more"), None);
}
