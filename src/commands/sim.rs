//! `pauseplay sim`: serve a simulated org until interrupted.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;

use super::CommandError;
use crate::sim::{Scenario, SimServer};

/// The default address of `pauseplay sim`, which `config/sim-local.toml` points at.
pub const DEFAULT_SIM_ADDR: &str = "127.0.0.1:8455";

/// Serves the scenario (the built-in demo org when none is given) on `listen` until
/// `shutdown` completes. `announce` receives the lines to show the user once bound.
pub async fn sim(
    listen: SocketAddr,
    scenario_path: Option<&Path>,
    announce: impl FnOnce(String),
    shutdown: impl Future<Output = ()>,
) -> Result<(), CommandError> {
    let scenario = match scenario_path {
        // A scenario that does not load is a configuration error, like a bad config file.
        Some(path) => {
            Scenario::load(path).map_err(|error| CommandError::Usage(format!("{error:#}")))?
        }
        None => Scenario::demo(),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("could not listen on {listen}; is another `pauseplay sim` running there?")
        })?;
    let handle = SimServer::start(scenario, listener).await?;
    let source = scenario_path.map_or_else(
        || "the built-in demo scenario".to_owned(),
        |path| path.display().to_string(),
    );
    announce(format!(
        "pauseplay sim: serving {source} at {}\n  client id: {}\n  client secret: the [org] \
         client_secret of the scenario\n  inspection: {}__sim/state\nPress Ctrl-C to stop.",
        handle.base_url(),
        handle.client_id(),
        handle.base_url()
    ));
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}
