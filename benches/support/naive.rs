//! The naive approach peer tools take, for comparison: after the same discovery, one request
//! per component, one after another. A flow is read (`GET FlowDefinition`) and written
//! (`PATCH`) on its own; a rule is read for its `Metadata` and written back; a trigger's source
//! is read with a query of its own and deployed alone, its deploy polled back to back.
//!
//! Polling back to back is the naive side's best case for time (the engine polls with the
//! daemon's backoff), and costs it no extra calls: the simulated deploy advances per poll.

use std::collections::BTreeMap;

use anyhow::Context as _;
use pauseplay::automation::{Component, Kind};
use pauseplay::salesforce::{OrgClient, PollPolicy, TestLevel, TriggerSource, TriggerStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// What the naive pause saw, to give back on restore.
#[derive(Debug, Default)]
pub struct Saved {
    flows: BTreeMap<String, u64>,
    rules: Vec<(Kind, String)>,
    triggers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerRow {
    name: String,
    body: String,
    api_version: f64,
}

const BACK_TO_BACK: PollPolicy =
    PollPolicy::doubling(Duration::from_millis(1), Duration::from_millis(1));

/// Pauses every component discovery decided to pause, one request at a time.
pub async fn pause(client: &OrgClient, components: &[Component]) -> anyhow::Result<Saved> {
    let mut saved = Saved::default();
    for component in components.iter().filter(|c| c.will_pause()) {
        let id = component.id.as_str();
        match component.kind {
            Kind::Flow | Kind::ProcessBuilder => {
                let record: Value = client
                    .tooling_get("FlowDefinition", id, &["Metadata"])
                    .await?;
                let version = record["Metadata"]["activeVersionNumber"]
                    .as_u64()
                    .context("activeVersionNumber")?;
                set_flow(client, id, 0).await?;
                saved.flows.insert(id.to_owned(), version);
            }
            Kind::ValidationRule | Kind::WorkflowRule => {
                set_rule(client, component.kind, id, false).await?;
                saved.rules.push((component.kind, id.to_owned()));
            }
            Kind::Trigger => {
                deploy(client, id, TriggerStatus::Inactive).await?;
                saved.triggers.push(id.to_owned());
            }
        }
    }
    Ok(saved)
}

/// Restores what [`pause`] paused, one request at a time.
pub async fn restore(client: &OrgClient, saved: &Saved) -> anyhow::Result<()> {
    for (id, version) in &saved.flows {
        // A careful naive tool checks the flow is still off before turning it back on.
        let _: Value = client
            .tooling_get("FlowDefinition", id, &["Metadata"])
            .await?;
        set_flow(client, id, *version).await?;
    }
    for (kind, id) in &saved.rules {
        set_rule(client, *kind, id, true).await?;
    }
    for id in &saved.triggers {
        deploy(client, id, TriggerStatus::Active).await?;
    }
    Ok(())
}

async fn set_flow(client: &OrgClient, id: &str, version: u64) -> anyhow::Result<()> {
    let body = json!({ "Metadata": { "activeVersionNumber": version } });
    client.tooling_patch("FlowDefinition", id, &body).await?;
    Ok(())
}

/// Reads the rule's `Metadata` (one GET) and writes it back with `active` set (one PATCH).
async fn set_rule(client: &OrgClient, kind: Kind, id: &str, active: bool) -> anyhow::Result<()> {
    let sobject = match kind {
        Kind::ValidationRule => "ValidationRule",
        _ => "WorkflowRule",
    };
    let record: Value = client.tooling_get(sobject, id, &["Metadata"]).await?;
    let mut metadata = record["Metadata"].clone();
    metadata["active"] = Value::Bool(active);
    client
        .tooling_patch(sobject, id, &json!({ "Metadata": metadata }))
        .await?;
    Ok(())
}

/// Reads the trigger's source (one query) and deploys it alone with `status`.
async fn deploy(client: &OrgClient, id: &str, status: TriggerStatus) -> anyhow::Result<()> {
    let soql = format!("SELECT Name, Body, ApiVersion FROM ApexTrigger WHERE Id = '{id}'");
    let rows: Vec<TriggerRow> = client.tooling_query(&soql).await?;
    let row = rows.into_iter().next().context("trigger not found")?;
    let source = TriggerSource {
        name: row.name,
        body: row.body,
        api_version: format!("{:.1}", row.api_version),
    };
    let deploy = client
        .deploy_triggers(&[source], status, &TestLevel::NoTestRun)
        .await?;
    let outcome = client
        .wait_for_deploy(&deploy, BACK_TO_BACK, |_| {})
        .await?;
    anyhow::ensure!(outcome.success, "naive deploy of {id} failed");
    Ok(())
}
