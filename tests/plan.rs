//! Discovery and `plan` against the simulated org: exact classification of the mixed
//! scenario (as documented at the top of `config/sim/mixed.toml`), the effect of every scope
//! setting, and the API calls a plan costs.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use pauseplay::automation::{
    Component, Discovery, Kind, ObservedState, Scope, discover, discover_to_pause,
};
use pauseplay::salesforce::OrgClient;
use pauseplay::sim::{Scenario, SimHandle};

use common::{mixed_scenario, repo_path, sim_client, start_sim};

fn all_kinds() -> BTreeSet<Kind> {
    Kind::ALL.into_iter().collect()
}

fn scope(objects: Option<&[&str]>, exclude: &[&str], include_managed: bool) -> Scope {
    Scope::new(
        all_kinds(),
        objects.map(|objects| objects.iter().map(|o| (*o).to_owned()).collect()),
        exclude
            .iter()
            .map(|pattern| pattern.parse().expect("valid exclude pattern"))
            .collect(),
        include_managed,
    )
}

fn client_for(sim: &SimHandle) -> OrgClient {
    sim_client("sim", sim)
}

/// (kind, action or skip reason) -> count.
fn tally(discovery: &Discovery) -> BTreeMap<(Kind, &'static str), usize> {
    let mut counts = BTreeMap::new();
    for component in &discovery.components {
        let key = (
            component.kind,
            component
                .skip_reason()
                .map_or("pause", |reason| reason.code()),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn find<'a>(discovery: &'a Discovery, api_name: &str) -> &'a Component {
    discovery
        .components
        .iter()
        .find(|c| c.api_name == api_name)
        .unwrap_or_else(|| panic!("{api_name} was not discovered"))
}

fn paused_names(discovery: &Discovery, kind: Kind) -> Vec<&str> {
    discovery
        .components
        .iter()
        .filter(|c| c.kind == kind && c.will_pause())
        .map(|c| c.api_name.as_str())
        .collect()
}

#[tokio::test]
async fn the_mixed_org_is_classified_exactly_as_documented() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let discovery = discover(&client, &scope(None, &[], false))
        .await
        .expect("discovery");

    let expected: BTreeMap<(Kind, &str), usize> = [
        ((Kind::Flow, "pause"), 6),
        ((Kind::Flow, "already_inactive"), 2),
        ((Kind::Flow, "screen_flow"), 1),
        ((Kind::Flow, "autolaunched_without_trigger"), 1),
        ((Kind::Flow, "managed_package"), 1),
        ((Kind::ProcessBuilder, "pause"), 2),
        ((Kind::ProcessBuilder, "already_inactive"), 1),
        ((Kind::ValidationRule, "pause"), 5),
        ((Kind::ValidationRule, "already_inactive"), 2),
        ((Kind::ValidationRule, "managed_package"), 1),
        ((Kind::WorkflowRule, "pause"), 3),
        ((Kind::WorkflowRule, "already_inactive"), 1),
        ((Kind::WorkflowRule, "managed_package"), 1),
        ((Kind::Trigger, "pause"), 3),
        ((Kind::Trigger, "already_inactive"), 1),
        ((Kind::Trigger, "managed_package"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(tally(&discovery), expected);
    assert_eq!(discovery.components.len(), 32);
    assert!(discovery.org.is_sandbox);

    assert_eq!(
        paused_names(&discovery, Kind::Flow),
        [
            "Account_After_Save",
            "Account_Before_Save_Defaults",
            "Nightly_Account_Cleanup",
            "Contact_After_Save",
            "Contact_Before_Delete_Guard",
            "Order_Event_Listener",
        ]
    );
    assert_eq!(
        paused_names(&discovery, Kind::WorkflowRule),
        [
            "Account.Set Account Rating",
            "Contact.Update_Mailing_Flag",
            "Invoice__c.Invoice Overdue Notice",
        ]
    );
    assert_eq!(
        paused_names(&discovery, Kind::ProcessBuilder),
        ["Account_Process", "Opportunity_Process"]
    );

    // The version to restore is the active one, never the newer draft.
    let contact = find(&discovery, "Contact_After_Save");
    assert_eq!(
        contact.state,
        ObservedState::Flow {
            active_version: Some(2),
            latest_version: Some(3),
        }
    );
    assert!(
        contact.id.starts_with("300"),
        "FlowDefinition id: {}",
        contact.id
    );
    // Process Builders are placed on their object from their metadata.
    assert_eq!(
        find(&discovery, "Opportunity_Process").object.as_deref(),
        Some("Opportunity")
    );
    // Custom objects are named, not left as 01I ids.
    assert_eq!(
        find(&discovery, "Invoice__c.Invoice Overdue Notice")
            .object
            .as_deref(),
        Some("Invoice__c")
    );
    // Managed components carry their namespace in their name, as in their FullName.
    assert!(
        find(&discovery, "Opportunity.acmepkg__Pkg_Amount_Check")
            .namespace
            .is_some()
    );
    assert!(
        find(&discovery, "acmepkg__AcmeAccountTrigger")
            .namespace
            .is_some()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_plan_costs_a_fixed_number_of_calls_and_writes_nothing() {
    let sim = start_sim(mixed_scenario()).await;
    let before = sim.snapshot();
    let client = client_for(&sim);
    let discovery = discover(&client, &scope(None, &[], false))
        .await
        .expect("discovery");
    assert!(!discovery.components.is_empty());
    // Organization, FlowDefinitionView, FlowDefinition versions, ValidationRule, WorkflowRule,
    // ApexTrigger, one composite of workflow-rule metadata and one of Process Builder
    // metadata: never one call per component.
    assert_eq!(client.api_calls(), 8, "counters: {:?}", sim.counters());
    assert_eq!(sim.snapshot(), before, "discovery must be read-only");
    sim.shutdown().await;
}

#[tokio::test]
async fn objects_exclude_and_include_managed_narrow_or_widen_the_plan() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);

    let accounts = discover(&client, &scope(Some(&["account"]), &[], false))
        .await
        .expect("discovery");
    let paused: Vec<&Component> = accounts
        .components
        .iter()
        .filter(|c| c.will_pause())
        .collect();
    assert_eq!(paused.len(), 8, "Account has 8 pausable components");
    assert!(
        paused
            .iter()
            .all(|c| c.object.as_deref() == Some("Account"))
    );
    assert_eq!(
        find(&accounts, "Order_Event_Listener")
            .skip_reason()
            .map(|r| r.code()),
        Some("object_not_in_scope")
    );
    // Reasons that do not depend on the object keep precedence.
    assert_eq!(
        find(&accounts, "Case_Intake_Screen")
            .skip_reason()
            .map(|r| r.code()),
        Some("screen_flow")
    );

    let excluded = discover(
        &client,
        &scope(
            None,
            &["validation_rule:Account.Keep_*", "flow:*_after_save"],
            false,
        ),
    )
    .await
    .expect("discovery");
    for name in [
        "Account.Keep_Billing_Country",
        "Account_After_Save",
        "Contact_After_Save",
    ] {
        assert_eq!(
            find(&excluded, name).skip_reason().map(|r| r.code()),
            Some("excluded"),
            "{name}"
        );
    }

    let managed = discover(&client, &scope(None, &[], true))
        .await
        .expect("discovery");
    for name in [
        "acmepkg__Partner_Account_Sync",
        "Opportunity.acmepkg__Pkg_Amount_Check",
        "acmepkg__AcmeAccountTrigger",
    ] {
        assert!(find(&managed, name).will_pause(), "{name}");
    }
    // With include_managed the managed workflow rule's flag is read like any other.
    assert!(matches!(
        find(&managed, "Lead.acmepkg__Pkg_Lead_Route").state,
        ObservedState::Rule { active: Some(_) }
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn kinds_not_configured_are_not_queried() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let only_rules = Scope::new(
        [Kind::ValidationRule].into_iter().collect(),
        None,
        Vec::new(),
        false,
    );
    let discovery = discover(&client, &only_rules).await.expect("discovery");
    assert!(
        discovery
            .components
            .iter()
            .all(|c| c.kind == Kind::ValidationRule)
    );
    assert_eq!(discovery.components.len(), 8);
    // Organization and ValidationRule only.
    assert_eq!(client.api_calls(), 2, "counters: {:?}", sim.counters());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_large_generated_org_is_planned_across_pages_with_batched_reads() {
    let mut scenario =
        Scenario::load(&repo_path("config/sim/large.toml")).expect("large scenario loads");
    // Small pages make every list query span several pages.
    scenario.query.page_size = 200;
    let sim = start_sim(scenario).await;
    let client = client_for(&sim);
    let discovery = discover(&client, &scope(None, &[], false))
        .await
        .expect("discovery");

    let by_kind = |kind: Kind| {
        discovery
            .components
            .iter()
            .filter(|c| c.kind == kind)
            .count()
    };
    assert_eq!(by_kind(Kind::Flow) + by_kind(Kind::ProcessBuilder), 650);
    assert_eq!(by_kind(Kind::ValidationRule), 400);
    assert_eq!(by_kind(Kind::WorkflowRule), 200);
    assert_eq!(by_kind(Kind::Trigger), 120);
    let ids: BTreeSet<&str> = discovery.components.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        discovery.components.len(),
        "every component exactly once"
    );

    let counters = sim.counters();
    let composites = counters.get("composite").copied().unwrap_or(0);
    let read_workflow = discovery
        .components
        .iter()
        .filter(|c| {
            c.kind == Kind::WorkflowRule
                && matches!(c.state, ObservedState::Rule { active: Some(_) })
        })
        .count();
    let placed_builders = discovery
        .components
        .iter()
        .filter(|c| c.kind == Kind::ProcessBuilder && c.will_pause())
        .count();
    // Metadata reads are batched 25 to a call.
    assert!(
        composites <= (read_workflow.div_ceil(25) + placed_builders.div_ceil(25)) as u64,
        "composites {composites} for {read_workflow} workflow rules and {placed_builders} \
         process builders"
    );
    sim.shutdown().await;
}

/// A discovery for a pause also reads what the pause writes back, and only for the components
/// the caller names: validation rules' `Metadata` (in the same composite calls' round as the
/// workflow rules') and every trigger's source (in its list query). A plan reads neither.
#[tokio::test]
async fn a_discovery_to_pause_reads_the_metadata_of_the_validation_rules_asked_for_only() {
    let sim = start_sim(mixed_scenario()).await;
    let client = client_for(&sim);
    let all = scope(None, &[], false);
    let account = |c: &Component| c.object.as_deref() == Some("Account");
    let discovery = discover_to_pause(&client, &all, &account)
        .await
        .expect("discovery");
    let rules_read = |discovery: &Discovery| -> BTreeSet<String> {
        discovery
            .components
            .iter()
            .filter(|c| c.kind == Kind::ValidationRule && discovery.read.contains_key(&c.id))
            .map(|c| c.api_name.clone())
            .collect()
    };
    let account_rules: BTreeSet<String> = discovery
        .components
        .iter()
        .filter(|c| c.kind == Kind::ValidationRule && c.will_pause() && account(c))
        .map(|c| c.api_name.clone())
        .collect();
    assert!(!account_rules.is_empty(), "the mixed org has Account rules");
    assert_eq!(rules_read(&discovery), account_rules);
    let triggers_read = discovery
        .components
        .iter()
        .filter(|c| c.kind == Kind::Trigger && discovery.read.contains_key(&c.id))
        .count();
    assert_eq!(
        triggers_read,
        discovery
            .components
            .iter()
            .filter(|c| c.kind == Kind::Trigger)
            .count(),
        "every trigger's source comes with the list"
    );

    let composites = |sim: &SimHandle| sim.counters().get("composite").copied().unwrap_or(0);
    let before = composites(&sim);
    let none = discover_to_pause(&client, &all, &|_: &Component| false)
        .await
        .expect("discovery");
    assert!(rules_read(&none).is_empty());
    let asked_for_none = composites(&sim) - before;
    let before = composites(&sim);
    let plan = discover(&client, &all).await.expect("discovery");
    assert!(rules_read(&plan).is_empty());
    assert!(
        plan.components
            .iter()
            .all(|c| c.kind != Kind::Trigger || !plan.read.contains_key(&c.id)),
        "a plan reads no trigger source"
    );
    assert_eq!(
        composites(&sim) - before,
        asked_for_none,
        "no validation rule read when none is asked for"
    );
    sim.shutdown().await;
}
