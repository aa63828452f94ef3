//! The daemon (`pauseplay daemon`): its operations ([`service`]), what `status` derives from
//! the journal ([`status`]), the control socket's [`handler`], and [`run`], which owns the tasks and the one shutdown path.
//!
//! Tasks: the control server (which tracks a task per connection), the reconcile loop
//! ([`reconciler`]), the notifications' delivery ([`crate::notify`]), the metrics endpoint
//! when `metrics_listen` is set ([`crate::metrics`]) and a small task that tells systemd the
//! service is stopping. All are spawned into one `JoinSet`,
//! all stop when the shutdown token is cancelled, and `run` waits for every one before closing
//! the store. A converge in flight when shutdown comes is given
//! [`SHUTDOWN_GRACE`] to finish its writes; if it is cut short, the journal has every step it
//! started and the next start finishes it.

pub mod alerts;
pub mod handler;
pub mod reconciler;
pub mod service;
pub mod status;
pub mod windows;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::control::{ControlServer, ServerConfig};
use crate::engine::OrgEngine;
use crate::store::{StateDirLock, Store};
use crate::{metrics, notify};
use handler::DaemonHandler;
use service::Service;

pub use reconciler::TICK;

/// How long a converge in flight may keep going after a shutdown request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Runs the daemon until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_engines(config, shutdown, |engine| engine).await
}

/// [`run`], with `tune` applied to each org's engine (the demo polls its deploys faster).
pub async fn run_with_engines(
    config: Config,
    shutdown: CancellationToken,
    tune: impl Fn(OrgEngine) -> OrgEngine,
) -> anyhow::Result<()> {
    let state_dir = config.daemon.state_dir.clone();
    // Held until this function returns: the daemon's claim on its journal.
    let _claim = StateDirLock::acquire(&state_dir)
        .with_context(|| format!("claiming the state directory {}", state_dir.display()))?;
    let store = Store::open(&state_dir)
        .await
        .with_context(|| format!("opening the state in {}", state_dir.display()))?;
    let socket = config.daemon.socket.clone();
    let server = ControlServer::bind(ServerConfig::new(
        socket.clone(),
        config.daemon.socket_group.clone(),
    ))
    .await
    .with_context(|| format!("opening the control socket {}", socket.display()))?;
    for warning in &config.warnings {
        warn!(%warning, "configuration warning");
    }
    // Bound before READY=1: a port already taken fails the start rather than leaving the
    // daemon running unwatched.
    let metrics = match config.daemon.metrics_listen {
        Some(addr) => Some(metrics::server::bind(addr).await.with_context(|| {
            format!(
                "opening the metrics endpoint on {addr} (daemon.metrics_listen); is another \
                 process using that port?"
            )
        })?),
        None => None,
    };
    let (notifier, delivery) = notify::start(&config.notify, notify::RetryPolicy::DEFAULT);
    let service =
        Arc::new(Service::with_engines(config, store.clone(), tune)?.with_notifier(notifier));
    info!(socket = %socket.display(), state = %store.path().display(), "pauseplay daemon started");

    // The state is open (migrated) and the socket bound; the loop's first pass recovers the
    // journal and then sends READY=1. (Notifications are no-ops outside systemd, where
    // NOTIFY_SOCKET is unset.)
    let mut tasks = JoinSet::new();
    // Notifications stop only once the reconcile loop has: a converge finishing within
    // SHUTDOWN_GRACE still has its events delivered (the drop guard also fires if the loop
    // panics, so delivery never outlives it).
    let delivery_stop = CancellationToken::new();
    {
        let stop = delivery_stop.clone().drop_guard();
        let service = Arc::clone(&service);
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _stop = stop;
            reconciler::run(service, shutdown).await;
        });
    }
    tasks.spawn(delivery.run(delivery_stop));
    if let Some(listener) = metrics {
        let service = Arc::clone(&service);
        let render = move || {
            let service = Arc::clone(&service);
            async move {
                service
                    .metrics_text(jiff::Timestamp::now())
                    .await
                    .map_err(|error| format!("pauseplay could not read its state: {error}"))
            }
        };
        tasks.spawn(metrics::server::serve(listener, render, shutdown.clone()));
    }
    tasks.spawn(server.run(
        Arc::new(DaemonHandler::new(Arc::clone(&service))),
        shutdown.clone(),
    ));
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            shutdown.cancelled().await;
            notify(&[sd_notify::NotifyState::Stopping]);
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined {
            warn!(error = %error, "a daemon task stopped unexpectedly; shutting down");
            shutdown.cancel();
        }
    }
    store.close().await;
    info!("pauseplay daemon stopped");
    Ok(())
}

/// Tells systemd `state`; a no-op outside systemd.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        warn!(error = %error, "could not notify systemd");
    }
}
