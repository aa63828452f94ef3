//! `pauseplay daemon`: run the daemon in the foreground until SIGTERM or SIGINT.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::CommandError;
use crate::config::Config;

/// Runs the daemon with an already loaded configuration (the caller needed it to set up
/// logging). SIGTERM and SIGINT take the same path: cancel the token, let the daemon finish
/// its in-flight work, return.
pub async fn daemon(config: Config) -> Result<String, CommandError> {
    let shutdown = CancellationToken::new();
    let signals = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            info!("stop requested; finishing work in flight");
            shutdown.cancel();
        })
    };
    let result = crate::daemon::run(config, shutdown.clone()).await;
    // The signal task is ours: stop it and wait for it, whichever way the daemon ended.
    signals.abort();
    let _ = signals.await;
    result?;
    Ok(String::new())
}

async fn wait_for_stop_signal() {
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            warn!(error = %error, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
