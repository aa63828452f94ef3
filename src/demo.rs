//! `pauseplay demo`: the whole job on this machine with no Salesforce account. It starts the
//! built-in simulated org in-process, authenticates to it exactly as to a real org and prints
//! the plan of a pause.
//!
//! The demo checks itself: it fails unless discovery found components to pause and the org's
//! true state is unchanged afterwards (planning must never write).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::{Context as _, ensure};
use secrecy::SecretString;

use crate::automation::{Kind, Scope, discover};
use crate::commands::REQUEST_TIMEOUT;
use crate::plan::{OrgPlan, render_text};
use crate::salesforce::{ApiVersion, ClientSettings, OrgClient, RetryPolicy};
use crate::sim::{Scenario, SimServer};

/// The name the demo org goes by in messages.
const DEMO_ORG: &str = "demo";

/// Runs the demo and returns what it shows, or why it failed.
pub async fn run() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not bind a loopback port for the simulated org")?;
    let sim = SimServer::start(Scenario::demo(), listener).await?;
    let result = run_against(&sim).await;
    sim.shutdown().await;
    result
}

async fn run_against(sim: &crate::sim::SimHandle) -> anyhow::Result<String> {
    let before = sim.snapshot();
    let client = OrgClient::new(ClientSettings {
        org: DEMO_ORG.to_owned(),
        login_url: sim.base_url(),
        client_id: sim.client_id().to_owned(),
        client_secret: SecretString::from(sim.client_secret().to_owned()),
        api_version: ApiVersion::DEFAULT,
        request_timeout: REQUEST_TIMEOUT,
        retry: RetryPolicy::default(),
    })?;
    let identity = client.identity().await?;
    let scope = Scope::new(
        Kind::ALL.into_iter().collect::<BTreeSet<_>>(),
        None,
        Vec::new(),
        false,
    );
    let discovery = discover(&client, &scope).await?;
    let plan = OrgPlan {
        org: DEMO_ORG,
        api_version: ApiVersion::DEFAULT,
        discovery: &discovery,
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "pauseplay demo: simulated org at {} (run-as user {})\n",
        sim.base_url(),
        identity.user_id
    );
    out.push_str(&render_text(&plan));
    ensure!(
        plan.pause_count() > 0,
        "the demo org should have automations to pause, but discovery found none"
    );
    ensure!(
        sim.snapshot() == before,
        "planning changed the simulated org; planning must be read-only"
    );
    let _ = writeln!(
        out,
        "\nThe plan was read-only: the simulated org is exactly as it was ({} API calls).",
        client.api_calls()
    );
    Ok(out)
}
