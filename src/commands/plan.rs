//! `pauseplay plan`: the read-only dry run of a pause, per org.

use std::path::Path;

use anyhow::Context as _;
use tokio::task::JoinSet;

use super::{CommandError, client_for, load_config, select_orgs};
use crate::automation::{Discovery, Scope, discover};
use crate::plan::{OrgPlan, render_json, render_text};
use crate::salesforce::ApiVersion;

/// Discovers every selected org (concurrently: reads only) and renders the plan.
pub async fn plan(config_path: &Path, orgs: &[String], json: bool) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let selected = select_orgs(&config, orgs)?;
    let mut tasks = JoinSet::new();
    for (index, org) in selected.iter().enumerate() {
        let client = client_for(org)?;
        let scope = Scope::from_org(org);
        tasks.spawn(async move { (index, discover(&client, &scope).await) });
    }
    let mut results: Vec<(usize, Discovery)> = Vec::with_capacity(selected.len());
    while let Some(joined) = tasks.join_next().await {
        let (index, discovery) = joined.context("a discovery task stopped unexpectedly")?;
        let org = selected[index];
        let discovery = discovery
            .map_err(anyhow::Error::from)
            .with_context(|| format!("planning org `{}` ({})", org.name, org.url))?;
        results.push((index, discovery));
    }
    results.sort_by_key(|(index, _)| *index);
    let plans: Vec<(String, ApiVersion, Discovery)> = results
        .into_iter()
        .map(|(index, discovery)| {
            let org = selected[index];
            (org.name.clone(), org.api_version, discovery)
        })
        .collect();
    let plans: Vec<OrgPlan<'_>> = plans
        .iter()
        .map(|(org, api_version, discovery)| OrgPlan {
            org,
            api_version: *api_version,
            discovery,
        })
        .collect();
    if json {
        return Ok(render_json(&plans));
    }
    Ok(plans.iter().map(render_text).collect::<Vec<_>>().join("\n"))
}
