//! `pauseplay plan`: the read-only dry run of a pause, per org.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use tokio::task::JoinSet;

use super::{CommandError, client_for, load_config, select_orgs};
use crate::automation::{Discovery, Scope, discover};
use crate::engine::production_test_level;
use crate::plan::{OrgPlan, PlanApi, render_json, render_text};
use crate::salesforce::TestLevel;

/// Discovers every selected org (concurrently: reads only) and renders the plan. When some
/// orgs fail, the plans of the others are still rendered and the failures reported.
pub async fn plan(config_path: &Path, orgs: &[String], json: bool) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let selected = select_orgs(&config, orgs)?;
    let mut tasks = JoinSet::new();
    for (index, org) in selected.iter().enumerate() {
        let client = client_for(org)?;
        let scope = Scope::from_org(org);
        tasks.spawn(async move {
            let discovery = discover(&client, &scope).await;
            let api = PlanApi {
                discovery_calls: client.api_calls(),
                usage: client.api_usage(),
            };
            (index, discovery.map(|discovery| (discovery, api)))
        });
    }
    let mut discoveries: Vec<(usize, (Discovery, PlanApi))> = Vec::with_capacity(selected.len());
    let mut failures: Vec<(usize, anyhow::Error)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, discovery) = joined.context("a discovery task stopped unexpectedly")?;
        let org = selected[index];
        match discovery {
            Ok(discovery) => discoveries.push((index, discovery)),
            Err(error) => failures.push((
                index,
                anyhow::Error::from(error)
                    .context(format!("planning org `{}` ({})", org.name, org.url)),
            )),
        }
    }
    discoveries.sort_by_key(|(index, _)| *index);
    failures.sort_by_key(|(index, _)| *index);

    let levels: Vec<TestLevel> = selected
        .iter()
        .map(|org| production_test_level(org.trigger_test_level, org.trigger_tests.clone()))
        .collect();
    let plans: Vec<OrgPlan<'_>> = discoveries
        .iter()
        .map(|(index, (discovery, api))| OrgPlan {
            org: &selected[*index].name,
            api_version: selected[*index].api_version,
            discovery,
            production_tests: &levels[*index],
            api: Some(*api),
        })
        .collect();
    let output = if json {
        render_json(&plans)
    } else {
        plans.iter().map(render_text).collect::<Vec<_>>().join("\n")
    };
    let mut failures: Vec<anyhow::Error> = failures.into_iter().map(|(_, error)| error).collect();
    let error = match failures.len() {
        0 => return Ok(output),
        1 => failures.remove(0),
        count => {
            let list = failures
                .iter()
                .map(|error| format!("  - {error:#}"))
                .collect::<Vec<_>>()
                .join("\n");
            anyhow!(
                "{count} of {} orgs could not be planned:\n{list}",
                selected.len()
            )
        }
    };
    if plans.is_empty() {
        Err(CommandError::Failed(error))
    } else {
        Err(CommandError::Incomplete { output, error })
    }
}
