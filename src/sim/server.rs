//! The HTTP face of the simulated org: router, authentication, the daily limit, the
//! `Sforce-Limit-Info` header, fault injection and the server's lifecycle.
//!
//! Every request under `/services` first passes the crash-point gate (`freeze.rs`), which
//! may withhold it or its answer. Every API request then goes through the same three steps:
//! 1. *admission*, under the state lock: version, bearer token, daily limit (the request is
//!    counted here), then the fault draws (dropped connection, slow answer, transient error,
//!    someone else's admin operation) and the admin-conflict check, which marks a write as in
//!    progress;
//! 2. the simulated network latency plus the server's cost per subrequest (and a slow
//!    answer's delay), with the lock released (a write keeps its "in progress" marker across
//!    it, which is what makes overlapping writes collide);
//! 3. *dispatch*, under the lock again, to the handler in `api.rs`, after which the write
//!    marker is cleared.
//!
//! Steps 2 and 3 of a slow request run in a task the server owns rather than in the request's
//! handler, so they finish even when the client gives up and its connection closes: a server
//! does not notice that nobody waits for its answer any more.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use url::Url;

use super::admin::{self, AdminAction};
use super::api::{self, ApiRequest, ApiResponse, Dispatch, Route};
use super::conn::{ConnectionHandle, KillableListener};
use super::faults::{Faults, Transient};
use super::freeze::{self, FreezeAt, Gate, SeenRequest, Thaw};
use super::handlers::deploy::{Upload, UploadResult};
use super::handlers::{composite, inspect, token};
use super::scenario::Scenario;
use super::state::{Shared, SimState, TokenCheck, counter};
use super::writes::WriteCount;

/// The longest request URI Salesforce accepts (reference §7: 414 past 16,384 bytes).
pub const URI_LIMIT: usize = 16_384;

/// The content type of every JSON answer, as Salesforce sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// The content type of the token endpoint's answers (reference §1.3).
pub const OAUTH_CONTENT_TYPE: &str = "application/json";

/// What the router's handlers share.
#[derive(Debug, Clone)]
pub struct App {
    pub shared: Arc<Shared>,
    /// `http://127.0.0.1:PORT`, the org's "My Domain".
    pub base_url: Arc<Url>,
    /// Slow requests being carried out (see the module docs); waited for on shutdown.
    pub slow_requests: Arc<std::sync::Mutex<JoinSet<()>>>,
}

impl App {
    fn new(scenario: &Scenario, listener: &TcpListener) -> anyhow::Result<App> {
        let base_url = base_url(listener)?;
        let mut state = SimState::new(scenario);
        state.instance_url = base_url.as_str().trim_end_matches('/').to_owned();
        Ok(App {
            shared: Arc::new(Shared::new(state)),
            base_url: Arc::new(base_url),
            slow_requests: Arc::default(),
        })
    }

    /// The base URL without the trailing slash `Url` always has (`instance_url`).
    pub fn instance_url(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// The URL clients use for a listener; a wildcard bind is reached through loopback.
fn base_url(listener: &TcpListener) -> anyhow::Result<Url> {
    let mut addr = listener
        .local_addr()
        .context("the simulated org's listener has no local address")?;
    if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        } else {
            addr.set_ip(Ipv6Addr::LOCALHOST.into());
        }
    }
    Url::parse(&format!("http://{addr}")).context("cannot build the simulated org's base URL")
}

/// Starts simulated orgs.
#[derive(Debug)]
pub struct SimServer;

impl SimServer {
    /// Serves the org on an already-bound listener (tests bind 127.0.0.1:0 first). The
    /// server runs until [`SimHandle::shutdown`] or until every handle is dropped.
    pub async fn start(scenario: Scenario, listener: TcpListener) -> anyhow::Result<SimHandle> {
        scenario.validate().context("invalid scenario")?;
        let app = App::new(&scenario, &listener)?;
        let (stop, mut stopped) = watch::channel(false);
        let router = router(app.clone());
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // Also ends when every handle (and so the sender) is gone.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(err) = serve(listener, router, shutdown).await {
                tracing::error!("simulated org stopped: {err:#}");
            }
        });
        Ok(SimHandle {
            inner: Arc::new(HandleInner {
                app,
                client_id: scenario.org.client_id.clone(),
                client_secret: scenario.org.client_secret.clone(),
                stop,
                task: std::sync::Mutex::new(Some(task)),
            }),
        })
    }
}

/// Serves the org until `shutdown` completes (for `pauseplay sim`, which prints
/// `listener.local_addr()` first and passes Ctrl-C as `shutdown`).
pub async fn serve_until(
    scenario: Scenario,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    scenario.validate().context("invalid scenario")?;
    let app = App::new(&scenario, &listener)?;
    let shared = Arc::clone(&app.shared);
    let shutdown = async move {
        shutdown.await;
        // Graceful shutdown waits for in-flight requests; withheld ones wait for a thaw.
        shared.lock().freezer.thaw();
    };
    serve(listener, router(app), shutdown).await
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        KillableListener(listener),
        router.into_make_service_with_connect_info::<ConnectionHandle>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the simulated org's HTTP server failed")
}

/// A running simulated org. Cheap to clone; all clones control the same server.
#[derive(Debug, Clone)]
pub struct SimHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    app: App,
    client_id: String,
    client_secret: String,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`: the org's My Domain and `instance_url`.
    pub fn base_url(&self) -> Url {
        (*self.inner.app.base_url).clone()
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.inner.client_secret
    }

    /// Requests per endpoint class (see `state::counter`).
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner.app.shared.lock().counters.clone()
    }

    pub fn reset_counters(&self) {
        self.inner.app.shared.lock().counters.clear();
    }

    /// The org's true state as stable JSON (lists sorted by name).
    pub fn snapshot(&self) -> Value {
        self.inner.app.shared.lock().snapshot()
    }

    /// Replaces the fault configuration; rates outside 0–1 are clamped.
    pub fn set_faults(&self, faults: Faults) {
        self.inner.app.shared.lock().set_faults(faults);
    }

    /// Arms a crash point: the org freezes at the `at`-th request from now (see
    /// [`freeze`](super::freeze)). Refused while it is frozen.
    pub fn freeze_at(&self, point: FreezeAt) -> anyhow::Result<()> {
        self.inner
            .app
            .shared
            .lock()
            .freezer
            .arm(point)
            .map_err(anyhow::Error::msg)
    }

    /// Whether the org froze at its crash point.
    pub fn frozen(&self) -> bool {
        self.inner.app.shared.lock().freezer.frozen()
    }

    /// Disarms and unfreezes; withheld requests are dropped unprocessed.
    pub fn thaw(&self) {
        self.inner.app.shared.lock().freezer.thaw();
    }

    /// Requests received since the server started (what `freeze_at` counts).
    pub fn requests_seen(&self) -> u64 {
        self.inner.app.shared.lock().freezer.seen()
    }

    /// The requests received, oldest first (the last 65,536).
    pub fn request_log(&self) -> Vec<SeenRequest> {
        self.inner.app.shared.lock().freezer.log()
    }

    /// The client's writes per component id (see [`writes`](super::writes)).
    pub fn writes(&self) -> std::collections::BTreeMap<String, WriteCount> {
        self.inner.app.shared.lock().org.writes.by_id().clone()
    }

    /// Acts as a human admin in Setup.
    pub fn admin(&self, action: AdminAction) -> anyhow::Result<()> {
        admin::apply(&mut self.inner.app.shared.lock(), action)
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the
    /// serving task.
    pub async fn shutdown(self) {
        // In-flight requests are waited for; withheld ones only end with a thaw.
        self.thaw();
        let _ = self.inner.stop.send(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(Err(err)) = match task {
            Some(task) => Some(task.await),
            None => None,
        } {
            tracing::error!("simulated org task failed: {err}");
        }
        let mut slow = std::mem::take(&mut *lock_tasks(&self.inner.app.slow_requests));
        while slow.join_next().await.is_some() {}
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/services/oauth2/token", post(token_entry))
        .route("/services/data", any(versions_entry))
        .route("/services/data/", any(versions_entry))
        .route(
            "/services/data/{*rest}",
            any(api_entry).layer(DefaultBodyLimit::max(DEPLOY_BODY_LIMIT)),
        )
        .route("/__sim/state", get(inspect::state))
        .route("/__sim/counters", get(inspect::counters))
        .route("/__sim/counters/reset", post(inspect::reset_counters))
        .route(
            "/__sim/faults",
            get(inspect::faults).post(inspect::set_faults),
        )
        .route("/__sim/admin", post(inspect::admin))
        .route(
            "/__sim/freeze",
            get(inspect::freeze_status).post(inspect::freeze),
        )
        .route("/__sim/thaw", post(inspect::thaw))
        .route("/__sim/requests", get(inspect::requests))
        .route("/__sim/writes", get(inspect::writes))
        .fallback(fallback)
        .with_state(app)
}

/// A JSON response with Salesforce's content type and, for API answers, the usage header.
pub fn json_response(
    status: StatusCode,
    body: Option<&Value>,
    limit_info: Option<&str>,
) -> Response {
    let mut response = match body {
        Some(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(JSON_CONTENT_TYPE),
            )],
            serde_json::to_vec(body).unwrap_or_default(),
        )
            .into_response(),
        None => status.into_response(),
    };
    if let Some(value) = limit_info.and_then(|info| HeaderValue::from_str(info).ok()) {
        response.headers_mut().insert("sforce-limit-info", value);
    }
    response
}

/// Paths outside every endpoint (`/services/Soap/...`, `/foo`): Salesforce's 404 array,
/// counted as `not_found`. No usage header: these are not REST API answers.
async fn fallback(State(app): State<App>) -> Response {
    app.shared.lock().count(counter::NOT_FOUND);
    let response = ApiResponse::not_found();
    json_response(response.status, response.body.as_ref(), None)
}

async fn sleep(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// A withheld request: nothing is answered; once the org is thawed the connection is cut
/// (the client that sent it is gone by then).
async fn withheld(thaw: Thaw, connection: ConnectionHandle) -> Response {
    thaw.wait().await;
    connection.kill();
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

/// Draws the drop decision and reads the latency for a request outside the API.
fn network(state: &mut SimState) -> (Duration, bool) {
    let latency = state.faults.faults().latency;
    let dropped = state.faults.draw_drop();
    if dropped {
        state.count(counter::DROPPED);
        state.count(counter::FAULTS_INJECTED);
    }
    (latency, dropped)
}

async fn token_entry(
    State(app): State<App>,
    ConnectInfo(connection): ConnectInfo<ConnectionHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let gate = app.shared.lock().freezer.gate("token");
    if let Gate::Withheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    let (latency, dropped) = network(&mut app.shared.lock());
    sleep(latency).await;
    let answer = token::token(
        &mut app.shared.lock(),
        &headers,
        &body,
        &app.instance_url(),
        Instant::now(),
    );
    if dropped {
        connection.kill();
    }
    let mut response = json_response(answer.status, Some(&answer.body), None);
    let headers = response.headers_mut();
    // The OAuth error page shows `Content-Type: application/json` (no charset) and
    // `Cache-Control: no-store`; the sim answers every token response that way ([INFERRED]
    // for the 200: no source shows its headers).
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(OAUTH_CONTENT_TYPE),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Gate::AnswerWithheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    response
}

/// `GET /services/data`. Other methods get Salesforce's 405 array (with the usage header,
/// like every answer under `/services/data`) instead of axum's empty 405.
async fn versions_entry(
    State(app): State<App>,
    ConnectInfo(connection): ConnectInfo<ConnectionHandle>,
    method: Method,
) -> Response {
    let gate = app.shared.lock().freezer.gate("versions");
    if let Gate::Withheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    let (latency, dropped, limit_info) = {
        let mut state = app.shared.lock();
        state.count(counter::VERSIONS);
        let (latency, dropped) = network(&mut state);
        (latency, dropped, state.limit_info())
    };
    sleep(latency).await;
    if dropped {
        connection.kill();
    }
    let response = if method == Method::GET || method == Method::HEAD {
        ApiResponse::ok(api::versions())
    } else {
        api::method_not_allowed(&method, "GET,HEAD")
    };
    if let Gate::AnswerWithheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    json_response(response.status, response.body.as_ref(), Some(&limit_info))
}

/// The outcome of admission.
enum Admission {
    /// Answer now (after the latency) without dispatching.
    Answer(ApiResponse),
    /// Dispatch; `claimed` says this request holds the write marker.
    Dispatch { conflict: bool, claimed: bool },
}

/// Clears the write marker if the request is abandoned (client gone mid-latency).
struct WriteClaim {
    shared: Arc<Shared>,
    armed: bool,
}

impl Drop for WriteClaim {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().write_in_progress = false;
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn transient_response(kind: Transient, path: &str, org_id: &str) -> ApiResponse {
    match kind {
        Transient::ServerUnavailable => ApiResponse::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable",
        ),
        Transient::UnableToLockRow => {
            let id = match api::route(path) {
                Route::SObject { id, .. } => id.to_owned(),
                _ => org_id.to_owned(),
            };
            ApiResponse::bad_request(
                "UNABLE_TO_LOCK_ROW",
                format!("unable to obtain exclusive access to this record or 1 records: {id}"),
            )
        }
    }
}

/// Admits a request (see [`admit_now`]) and says how long its answer is held back beyond the
/// latency when it is drawn to be slow.
fn admit(
    state: &mut SimState,
    path: &str,
    token: Option<&str>,
    write: bool,
    now: Instant,
) -> (Admission, Option<Duration>) {
    let mut slow = None;
    let admission = admit_now(state, path, token, write, now, &mut slow);
    (admission, slow)
}

fn admit_now(
    state: &mut SimState,
    path: &str,
    token: Option<&str>,
    write: bool,
    now: Instant,
    slow: &mut Option<Duration>,
) -> Admission {
    if api::route(path) == Route::UnknownVersion {
        state.count(counter::NOT_FOUND);
        return Admission::Answer(ApiResponse::not_found());
    }
    let valid = token.is_some_and(|token| state.use_token(token, now) == TokenCheck::Valid);
    if !valid {
        state.count(counter::REJECTED_AUTH);
        return Admission::Answer(ApiResponse::error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ));
    }
    if state.api_used >= state.api_max {
        state.count(counter::REJECTED_LIMIT);
        return Admission::Answer(ApiResponse::error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ));
    }
    state.api_used += 1;
    // The others' share never takes the org past its allowance by itself.
    let others = state.faults.faults().shared_usage;
    state.api_used = state
        .api_used
        .saturating_add(others)
        .min(state.api_max.max(state.api_used));
    state.count(counter::API_REQUESTS);
    *slow = state.faults.draw_slow(write);
    if slow.is_some() {
        state.count(counter::SLOW);
        state.count(counter::FAULTS_INJECTED);
        if write {
            state.count(counter::SLOW_WRITES);
        }
    }
    if let Some(kind) = state.faults.draw_transient() {
        state.count(counter::TRANSIENT);
        state.count(counter::FAULTS_INJECTED);
        let org_id = state.org.info.id.clone();
        return Admission::Answer(transient_response(kind, path, &org_id));
    }
    if !write {
        return Admission::Dispatch {
            conflict: false,
            claimed: false,
        };
    }
    // Someone else's admin operation holds the org (drawn for every write, so the sequence
    // depends only on the order of writes). Counted by the dispatcher, like an overlap.
    let elsewhere = state.faults.draw_admin_conflict();
    if elsewhere || state.admin_operation {
        return Admission::Dispatch {
            conflict: true,
            claimed: false,
        };
    }
    if !state.faults.faults().admin_conflicts {
        return Admission::Dispatch {
            conflict: false,
            claimed: false,
        };
    }
    if !state.write_in_progress {
        state.write_in_progress = true;
        return Admission::Dispatch {
            conflict: false,
            claimed: true,
        };
    }
    // Another write holds the marker. The dispatcher refuses every PATCH of this request (a
    // top-level PATCH, or each PATCH item of a composite while its other items run) and
    // counts each refusal in `admin_conflicts` and `faults_injected` (never in
    // `sobject_patch`), whichever way the PATCH arrived.
    Admission::Dispatch {
        conflict: true,
        claimed: false,
    }
}

/// Body limit of every API request but a deploy: axum's default, which the `Bytes`
/// extractor applied before deploys existed.
const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Body limit of a deploy request: the 39 MB zip limit plus room for the multipart framing
/// and the json part, so that a zip just over the limit reaches the package check and gets
/// Salesforce-shaped failure instead of a bare 413. [INFERRED]
const DEPLOY_BODY_LIMIT: usize = 48 * 1024 * 1024;

/// Reads the two parts of a deploy request. Unknown parts are ignored [INFERRED]; a part
/// sent twice keeps the last copy.
async fn read_upload(request: Request) -> UploadResult {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|err| err.body_text())?;
    let mut upload = Upload::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|err| err.body_text())?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|err| err.body_text())?;
        match name.as_str() {
            "json" => upload.json = Some(bytes.to_vec()),
            "file" => upload.file = Some(bytes.to_vec()),
            _ => {}
        }
    }
    Ok(upload)
}

async fn api_entry(
    State(app): State<App>,
    ConnectInfo(connection): ConnectInfo<ConnectionHandle>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    // Salesforce refuses a URI over 16,384 bytes before anything else (reference §7): a
    // query's `IN` list must be split well before that.
    let uri_len = uri.path().len() + uri.query().map_or(0, |query| query.len() + 1);
    if uri_len > URI_LIMIT {
        app.shared.lock().count(counter::URI_TOO_LONG);
        return StatusCode::URI_TOO_LONG.into_response();
    }
    let headers = request.headers().clone();
    let is_deploy =
        method == Method::POST && matches!(api::route(uri.path()), Route::DeployRequest { .. });
    let (body, upload) = if is_deploy {
        (Bytes::new(), Some(read_upload(request).await))
    } else {
        match axum::body::to_bytes(request.into_body(), API_BODY_LIMIT).await {
            Ok(body) => (body, None),
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        }
    };
    let gate = {
        let class = freeze::class(&method, uri.path(), &body);
        app.shared.lock().freezer.gate(class)
    };
    if let Gate::Withheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    let write = api::is_write(&method, uri.path(), &body);
    let items = match api::route(uri.path()) {
        Route::Composite { .. } if method == Method::POST => composite::subrequests(&body),
        _ => 1,
    };
    let (admission, slow, latency, dropped, limit_info) = {
        let mut state = app.shared.lock();
        let (_, dropped) = network(&mut state);
        let latency = state.faults.faults().service_time(items);
        let (admission, slow) = admit(
            &mut state,
            uri.path(),
            bearer(&headers),
            write,
            Instant::now(),
        );
        (admission, slow, latency, dropped, state.limit_info())
    };
    let received = Received {
        method,
        uri,
        body,
        upload,
    };
    let finish = finish(
        Arc::clone(&app.shared),
        admission,
        latency.saturating_add(slow.unwrap_or_default()),
        received,
        limit_info,
    );
    let (response, limit_info) = if slow.is_some() {
        // Carried out even if the client gives up meanwhile (see the module docs): the task
        // outlives this handler, which only waits for the answer.
        let (answer, answered) = tokio::sync::oneshot::channel();
        {
            let mut tasks = lock_tasks(&app.slow_requests);
            while tasks.try_join_next().is_some() {}
            tasks.spawn(async move {
                let _ = answer.send(finish.await);
            });
        }
        match answered.await {
            Ok(answer) => answer,
            // Only when the server shuts down mid-request.
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    } else {
        finish.await
    };
    if let Gate::AnswerWithheld(thaw) = gate {
        return withheld(thaw, connection).await;
    }
    if dropped {
        connection.kill();
    }
    json_response(response.status, response.body.as_ref(), Some(&limit_info))
}

/// Locks the set of slow requests; a panic while it was held left it usable.
fn lock_tasks(tasks: &std::sync::Mutex<JoinSet<()>>) -> std::sync::MutexGuard<'_, JoinSet<()>> {
    tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What [`finish`] needs of a request, owned, so that a slow request can outlive its handler.
struct Received {
    method: Method,
    uri: Uri,
    body: Bytes,
    upload: Option<UploadResult>,
}

/// Steps 2 and 3 of the module docs: waits `delay`, then dispatches an admitted request.
/// Returns the answer and the usage header value to send with it.
async fn finish(
    shared: Arc<Shared>,
    admission: Admission,
    delay: Duration,
    received: Received,
    limit_info: String,
) -> (ApiResponse, String) {
    let mut claim = WriteClaim {
        shared: Arc::clone(&shared),
        armed: matches!(admission, Admission::Dispatch { claimed: true, .. }),
    };
    sleep(delay).await;
    match admission {
        Admission::Answer(response) => (response, limit_info),
        Admission::Dispatch { conflict, claimed } => {
            let mut state = shared.lock();
            let request = ApiRequest {
                method: &received.method,
                path: received.uri.path(),
                query: received.uri.query(),
                body: &received.body,
                upload: received.upload.as_ref(),
            };
            let response = api::dispatch(
                &mut state,
                &request,
                Dispatch {
                    admin_conflict: conflict,
                    in_composite: false,
                },
            );
            if claimed {
                state.write_in_progress = false;
            }
            let limit_info = state.limit_info();
            drop(state);
            // Released above, under the lock; nothing left for the guard to do.
            claim.armed = false;
            (response, limit_info)
        }
    }
}
