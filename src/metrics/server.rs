//! The metrics endpoint: `GET /metrics` on `daemon.metrics_listen`, in the OpenMetrics text
//! format Prometheus scrapes. Each scrape asks the daemon for a fresh text (it reads the state
//! then), so the endpoint holds no state of its own. Bound before the daemon reports ready, so
//! a port already taken fails the start instead of leaving the daemon unwatched.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` for the endpoint.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled; `render` gives each
/// scrape its body, or why there is none (answered 500, so the scrape shows as failed rather
/// than as a daemon with nothing held).
pub async fn serve<F, Fut>(listener: TcpListener, render: F, shutdown: CancellationToken)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, String>> + Send + 'static,
{
    let render = Arc::new(render);
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let render = Arc::clone(&render);
            async move {
                match render().await {
                    Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], body)
                        .into_response(),
                    Err(error) => {
                        warn!(error = %error, "a metrics scrape failed");
                        (StatusCode::INTERNAL_SERVER_ERROR, error).into_response()
                    }
                }
            }
        }),
    );
    let addr = listener
        .local_addr()
        .map(|addr| addr.to_string())
        .unwrap_or_default();
    info!(%addr, "serving metrics at /metrics");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = served {
        warn!(%addr, error = %error, "the metrics endpoint stopped");
    }
}
