//! The control socket end to end: a real [`ControlServer`] on a socket in a temporary
//! directory, a fake [`Handler`], and the real [`ControlClient`] or raw bytes.
//!
//! The server is always bound before its task is spawned, so a test can connect at once;
//! where a test must wait for something (a file to disappear), it polls with a deadline.

#![allow(clippy::unwrap_used, reason = "tests may unwrap")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pauseplay::control::protocol::{
    ComponentIssue, ErrorCode, Event, HistoryView, HoldSource, HoldView, OrgOutcome, OrgStatusView,
    PROTOCOL_VERSION, Phase, Request, ResultBody, StatusView,
};
use pauseplay::control::{
    BindError, ClientError, ControlClient, ControlError, ControlServer, EventSink, Handler,
    HandlerFuture, Peer, ServerConfig,
};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any single wait in these tests may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The fake handler
// ---------------------------------------------------------------------------------------------

/// Answers every request with canned data; a few reasons and org names trigger special
/// behaviour (`fail`, `missing`, `block`, `panic`).
struct FakeHandler {
    seen: Mutex<Vec<(Peer, Request)>>,
    /// Told when a `block` request has started.
    blocked: Notify,
    /// A `block` request waits for a permit here.
    release: Semaphore,
}

impl Default for FakeHandler {
    fn default() -> Self {
        Self {
            seen: Mutex::default(),
            blocked: Notify::new(),
            release: Semaphore::new(0),
        }
    }
}

fn ts(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

fn hold(id: i64, org: &str) -> HoldView {
    HoldView {
        id,
        org: org.into(),
        source: HoldSource::Manual,
        window: None,
        owner_uid: Some(1000),
        owner_name: "alice".into(),
        reason: Some("INC-4711".into()),
        created_at: ts("2026-05-01T01:00:00Z"),
        starts_at: None,
        expires_at: ts("2026-05-01T01:30:00Z"),
    }
}

/// An ad hoc hold that is not in force yet, as `pause at` creates it.
fn upcoming_hold(id: i64, org: &str) -> HoldView {
    HoldView {
        source: HoldSource::Adhoc,
        window: Some("at-2026-12-01T21:00Z".into()),
        reason: Some("q4 migration".into()),
        starts_at: Some(ts("2026-12-01T20:58:00Z")),
        expires_at: ts("2026-12-02T03:00:00Z"),
        ..hold(id, org)
    }
}

fn outcome(org: &str) -> OrgOutcome {
    OrgOutcome {
        org: org.into(),
        paused: 7,
        restored: 0,
        unchanged: 1,
        skipped: 2,
        failed: vec![ComponentIssue {
            kind: "validation_rule".into(),
            api_name: "Account.Keep_Name".into(),
            id: "03d000000000001AAA".into(),
            message: "UNABLE_TO_LOCK_ROW".into(),
        }],
        conflicts: vec![],
        error: None,
    }
}

fn pause_events() -> Vec<Event> {
    vec![
        Event::Progress {
            org: "prod".into(),
            phase: Phase::Discovering,
            done: 0,
            total: 1,
        },
        Event::Notice {
            org: Some("prod".into()),
            message: "2 managed components skipped".into(),
        },
        Event::Progress {
            org: "prod".into(),
            phase: Phase::Pausing,
            done: 1,
            total: 2,
        },
        Event::Progress {
            org: "prod".into(),
            phase: Phase::Pausing,
            done: 2,
            total: 2,
        },
    ]
}

/// The result the fake handler gives for `request`, when it gives one.
fn expected(request: &Request) -> ResultBody {
    match request {
        Request::PauseNow { .. } => ResultBody::Pause {
            holds: vec![hold(1, "prod")],
            orgs: vec![outcome("prod")],
        },
        Request::PauseAt { start, .. } => ResultBody::PauseAt {
            start: *start,
            holds: vec![upcoming_hold(3, "prod")],
            orgs: vec![],
        },
        Request::Resume { .. } => ResultBody::Resume {
            released: vec![hold(1, "prod")],
            orgs: vec![OrgOutcome {
                restored: 7,
                paused: 0,
                ..outcome("prod")
            }],
        },
        Request::Status {} => ResultBody::Status(StatusView {
            holds: vec![hold(1, "prod"), hold(2, "uat")],
            upcoming: vec![upcoming_hold(3, "prod")],
            windows: Vec::new(),
            missed: Vec::new(),
            orgs: vec![OrgStatusView {
                org: "prod".into(),
                paused: 7,
                pausing: 0,
                restoring: 0,
                failed: 1,
                conflict: 0,
                deploys: Vec::new(),
                failures: vec![ComponentIssue {
                    kind: "flow".into(),
                    api_name: "Lead_Router".into(),
                    id: "300000000000001".into(),
                    message: "UNABLE_TO_LOCK_ROW".into(),
                }],
                conflicts: Vec::new(),
                error: None,
            }],
        }),
        Request::History { org, limit } => ResultBody::History {
            entries: (0..limit.unwrap_or(1))
                .map(|i| HistoryView {
                    id: i64::from(i),
                    at: ts("2026-05-01T01:00:00Z"),
                    org: org.clone(),
                    actor_uid: Some(1000),
                    actor_name: "alice".into(),
                    action: "pause".into(),
                    hold_id: Some(1),
                    detail: json!({"paused": 7, "org": org}),
                })
                .collect(),
        },
        Request::Ping {} => ResultBody::Pong {
            daemon_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
        },
    }
}

impl Handler for FakeHandler {
    fn handle(&self, peer: Peer, request: Request, events: EventSink) -> HandlerFuture<'_> {
        Box::pin(async move {
            self.seen.lock().unwrap().push((peer, request.clone()));
            match &request {
                Request::PauseNow { reason, .. } => match reason.as_deref() {
                    Some("fail") => {
                        return Err(ControlError::failed("prod: REQUEST_LIMIT_EXCEEDED"));
                    }
                    Some("panic") => panic!("the fake handler panics on request"),
                    Some("block") => {
                        self.blocked.notify_one();
                        let permit = self.release.acquire().await.unwrap();
                        permit.forget();
                    }
                    _ => {
                        for event in pause_events() {
                            events.send(event);
                            // Let the writer run between events, as a real engine would.
                            tokio::task::yield_now().await;
                        }
                    }
                },
                Request::History { org: Some(org), .. } if org == "missing" => {
                    return Err(ControlError::not_found("no org named \"missing\""));
                }
                _ => {}
            }
            Ok(expected(&request))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

struct Daemon {
    /// Holds the socket's directory alive.
    _dir: TempDir,
    path: PathBuf,
    handler: Arc<FakeHandler>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn socket_path(dir: &TempDir) -> PathBuf {
    dir.path().join("control.sock")
}

async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let mut config = ServerConfig::new(&path, None);
    configure(&mut config);
    start_in(dir, config).await
}

async fn start_in(dir: TempDir, config: ServerConfig) -> Daemon {
    let path = config.path.clone();
    let server = ControlServer::bind(config).await.unwrap();
    let handler = Arc::new(FakeHandler::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(handler.clone(), shutdown.clone()));
    Daemon {
        _dir: dir,
        path,
        handler,
        shutdown,
        task,
    }
}

async fn start() -> Daemon {
    start_with(|_| {}).await
}

impl Daemon {
    async fn client(&self) -> ControlClient {
        ControlClient::connect(&self.path).await.unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Writes `bytes` on a fresh connection, ends the client's side of it and returns every reply
/// line until the server closes.
async fn raw(path: &Path, bytes: &[u8]) -> Vec<Value> {
    let mut stream = UnixStream::connect(path).await.unwrap();
    // The server may close before reading everything (a line over the limit); the reply is
    // still there to read.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    read_replies(stream).await
}

/// Every reply line until the server closes the connection.
async fn read_replies(mut stream: UnixStream) -> Vec<Value> {
    let mut text = String::new();
    tokio::time::timeout(DEADLINE, stream.read_to_string(&mut text))
        .await
        .expect("the server closes the connection")
        .unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn assert_single_error(lines: &[Value], code: &str) {
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["v"], json!(PROTOCOL_VERSION));
    assert_eq!(lines[0]["error"]["code"], json!(code), "{lines:?}");
    assert!(
        !lines[0]["error"]["message"].as_str().unwrap().is_empty(),
        "{lines:?}"
    );
}

/// Polls `done` every few milliseconds until it holds or the deadline passes.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn all_requests() -> Vec<Request> {
    vec![
        Request::PauseNow {
            orgs: vec!["prod".into()],
            duration_secs: Some(1800),
            reason: Some("INC-4711 runaway flow".into()),
        },
        Request::PauseAt {
            orgs: vec!["prod".into()],
            start: ts("2026-12-01T21:00:00Z"),
            duration_secs: 6 * 3600,
            reason: Some("q4 migration".into()),
        },
        Request::Resume {
            orgs: vec![],
            hold: Some(1),
            window: None,
        },
        Request::Status {},
        Request::History {
            org: Some("prod".into()),
            limit: Some(3),
        },
        Request::Ping {},
    ]
}

// ---------------------------------------------------------------------------------------------
// Requests and replies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_request_gets_its_result_from_the_handler() {
    let daemon = start().await;
    for request in all_requests() {
        // One connection per request, as the CLI does.
        let mut client = daemon.client().await;
        let result = client.request(request.clone(), |_| {}).await.unwrap();
        assert_eq!(result, expected(&request), "{request:?}");
    }
    let seen = daemon.handler.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        all_requests()
    );
    let uid = nix::unistd::getuid().as_raw();
    for (peer, _) in &seen {
        assert_eq!(peer.uid, uid);
        assert_eq!(peer.gid, nix::unistd::getgid().as_raw());
        assert_eq!(peer.pid, Some(i32::try_from(std::process::id()).unwrap()));
        assert!(!peer.user_name.is_empty());
    }
    daemon.stop().await;
}

#[tokio::test]
async fn one_connection_carries_several_requests_in_turn() {
    let daemon = start().await;
    let mut client = daemon.client().await;
    for request in all_requests().into_iter().rev() {
        let result = client.request(request.clone(), |_| {}).await.unwrap();
        assert_eq!(result, expected(&request));
    }
    daemon.stop().await;
}

#[tokio::test]
async fn events_stream_in_order_before_the_result() {
    let daemon = start().await;
    let mut client = daemon.client().await;
    let mut events = Vec::new();
    let request = all_requests().remove(0);
    let result = client
        .request(request.clone(), |event| events.push(event))
        .await
        .unwrap();
    assert_eq!(events, pause_events());
    assert_eq!(result, expected(&request));

    // On the wire: four event lines, then the result line, each with the version.
    let lines = raw(
        &daemon.path,
        b"{\"v\":1,\"request\":{\"type\":\"pause_now\",\"orgs\":[\"prod\"]}}\n",
    )
    .await;
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines[..4] {
        assert!(line.get("event").is_some(), "{line}");
    }
    assert_eq!(lines[4]["result"]["type"], json!("pause"));
    assert!(lines.iter().all(|line| line["v"] == json!(1)));
    daemon.stop().await;
}

#[tokio::test]
async fn handler_errors_reach_the_client_typed_and_the_connection_stays_usable() {
    let daemon = start().await;
    let mut client = daemon.client().await;
    let failed = client
        .request(
            Request::PauseNow {
                orgs: vec![],
                duration_secs: None,
                reason: Some("fail".into()),
            },
            |_| {},
        )
        .await
        .unwrap_err();
    match &failed {
        ClientError::Daemon { code, message } => {
            assert_eq!(*code, ErrorCode::Failed);
            assert_eq!(message, "prod: REQUEST_LIMIT_EXCEEDED");
        }
        other => panic!("expected a daemon error, got {other:?}"),
    }
    assert_eq!(failed.to_string(), "prod: REQUEST_LIMIT_EXCEEDED");
    assert!(!failed.is_unreachable());

    let missing = client
        .request(
            Request::History {
                org: Some("missing".into()),
                limit: None,
            },
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            ClientError::Daemon {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{missing:?}"
    );
    let pong = client.request(Request::Ping {}, |_| {}).await.unwrap();
    assert_eq!(pong, expected(&Request::Ping {}));
    daemon.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_gets_an_internal_error_and_the_daemon_keeps_serving() {
    let daemon = start().await;
    let mut client = daemon.client().await;
    let error = client
        .request(
            Request::PauseNow {
                orgs: vec![],
                duration_secs: None,
                reason: Some("panic".into()),
            },
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Daemon {
                code: ErrorCode::Internal,
                ..
            }
        ),
        "{error:?}"
    );
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Misbehaving clients
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_garbage_line_gets_bad_request_and_the_server_keeps_serving() {
    let daemon = start().await;
    assert_single_error(&raw(&daemon.path, b"hello daemon\n").await, "bad_request");
    let mut client = daemon.client().await;
    client.request(Request::Status {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn a_line_that_is_not_utf8_gets_bad_request() {
    let daemon = start().await;
    assert_single_error(
        &raw(&daemon.path, b"{\"v\":1,\"request\":\xff\xfe}\n").await,
        "bad_request",
    );
    daemon.client().await;
    daemon.stop().await;
}

#[tokio::test]
async fn unknown_request_fields_and_types_get_bad_request() {
    let daemon = start().await;
    for line in [
        &b"{\"v\":1,\"request\":{\"type\":\"pause_now\",\"orgs\":[],\"duraton_secs\":60}}\n"[..],
        b"{\"v\":1,\"request\":{\"type\":\"status\",\"json\":true}}\n",
        b"{\"v\":1,\"request\":{\"type\":\"reboot\"}}\n",
        b"{\"v\":1,\"request\":{\"type\":\"resume\"}}\n",
        b"\n",
    ] {
        assert_single_error(&raw(&daemon.path, line).await, "bad_request");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn a_line_over_64_kib_gets_too_long() {
    let daemon = start().await;
    let mut line = br#"{"v":1,"request":{"type":"status","pad":""#.to_vec();
    line.resize(65 * 1024, b'x');
    line.extend_from_slice(b"\"}}\n");
    assert_single_error(&raw(&daemon.path, &line).await, "too_long");
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn another_protocol_version_gets_unsupported_version() {
    let daemon = start().await;
    let lines = raw(
        &daemon.path,
        b"{\"v\":2,\"request\":{\"type\":\"status\",\"since\":\"yesterday\"}}\n",
    )
    .await;
    assert_single_error(&lines, "unsupported_version");
    daemon.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout() {
    let daemon = start_with(|config| config.idle_timeout = Duration::from_millis(100)).await;
    // Nothing at all, and half a line: both are closed without a reply.
    let silent = UnixStream::connect(&daemon.path).await.unwrap();
    assert_eq!(read_replies(silent).await, Vec::<Value>::new());
    let mut halfway = UnixStream::connect(&daemon.path).await.unwrap();
    halfway.write_all(b"{\"v\":1,\"request\":").await.unwrap();
    assert_eq!(read_replies(halfway).await, Vec::<Value>::new());
    daemon.client().await;
    daemon.stop().await;
}

#[test]
fn the_default_idle_timeout_is_ten_seconds() {
    assert_eq!(
        ServerConfig::new("/x", None).idle_timeout,
        Duration::from_secs(10)
    );
}

#[tokio::test]
async fn a_hundred_concurrent_clients_each_get_their_own_answer() {
    let daemon = start().await;
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..100u32 {
        let path = daemon.path.clone();
        clients.spawn(async move {
            let mut client = ControlClient::connect(&path).await.unwrap();
            let request = Request::History {
                org: Some(format!("org_{i}")),
                limit: Some(i % 5 + 1),
            };
            let result = client.request(request.clone(), |_| {}).await.unwrap();
            assert_eq!(result, expected(&request));
        });
    }
    let mut answered = 0;
    while let Some(joined) = tokio::time::timeout(DEADLINE, clients.join_next())
        .await
        .unwrap()
    {
        joined.unwrap();
        answered += 1;
    }
    assert_eq!(answered, 100);
    daemon.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The socket file
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_socket_is_mode_0600_without_a_group() {
    let daemon = start().await;
    let meta = std::fs::symlink_metadata(&daemon.path).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    daemon.stop().await;
}

#[tokio::test]
async fn with_socket_group_the_socket_is_mode_0660_and_owned_by_the_group() {
    let gid = nix::unistd::getgid();
    let Some(group) = nix::unistd::Group::from_gid(gid).unwrap() else {
        eprintln!("skipped: the test's primary gid {gid} has no group entry to name");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(socket_path(&dir), Some(group.name.clone()));
    let daemon = start_in(dir, config).await;
    let meta = std::fs::symlink_metadata(&daemon.path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid.as_raw());
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn an_unknown_socket_group_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(socket_path(&dir), Some("pauseplay-no-such-group-x".into()));
    let error = ControlServer::bind(config).await.unwrap_err();
    assert!(matches!(error, BindError::UnknownGroup { .. }), "{error}");
    assert!(error.to_string().contains("pauseplay-no-such-group-x"));
    assert!(!socket_path(&dir).exists());
}

#[tokio::test]
async fn a_missing_socket_directory_is_created_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/pauseplay/control.sock");
    let config = ServerConfig::new(&path, None);
    let daemon = start_in(dir, config).await;
    let parent = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(
        parent.permissions().mode() & 0o077,
        0,
        "no access for others"
    );
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn a_stale_socket_file_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    // A socket file nobody listens on, as a daemon killed with SIGKILL leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let before = ControlClient::connect(&path).await.unwrap_err();
    assert!(before.is_unreachable(), "{before}");

    let config = ServerConfig::new(&path, None);
    let daemon = start_in(dir, config).await;
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

#[tokio::test]
async fn a_live_daemon_on_the_path_is_detected_and_left_running() {
    let daemon = start().await;
    let error = ControlServer::bind(ServerConfig::new(&daemon.path, None))
        .await
        .unwrap_err();
    assert!(matches!(error, BindError::AlreadyRunning { .. }), "{error}");
    assert!(error.to_string().contains("already listening"), "{error}");
    let mut client = daemon.client().await;
    client.request(Request::Ping {}, |_| {}).await.unwrap();
    daemon.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Shutdown and the client's errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_stops_accepting_finishes_requests_in_flight_and_removes_the_socket() {
    let daemon = start().await;
    let blocked = daemon.handler.blocked.notified();
    let mut busy = daemon.client().await;
    let in_flight = tokio::spawn(async move {
        busy.request(
            Request::PauseNow {
                orgs: vec!["prod".into()],
                duration_secs: None,
                reason: Some("block".into()),
            },
            |_| {},
        )
        .await
    });
    tokio::time::timeout(DEADLINE, blocked).await.unwrap();
    // A connection that got its answer and now waits for its next request.
    let mut idle = UnixStream::connect(&daemon.path).await.unwrap();
    idle.write_all(b"{\"v\":1,\"request\":{\"type\":\"ping\"}}\n")
        .await
        .unwrap();
    let mut pong = Vec::new();
    while !pong.ends_with(b"\n") {
        let mut byte = [0u8; 1];
        assert_eq!(idle.read(&mut byte).await.unwrap(), 1);
        pong.push(byte[0]);
    }
    assert!(String::from_utf8(pong).unwrap().contains("pong"));

    daemon.shutdown.cancel();
    let path = daemon.path.clone();
    eventually("the socket file is removed", || !path.exists()).await;
    let refused = ControlClient::connect(&daemon.path).await.unwrap_err();
    assert!(refused.is_unreachable(), "{refused}");
    // A connection waiting for a request is closed at once.
    let mut rest = Vec::new();
    tokio::time::timeout(DEADLINE, idle.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    // The request in flight is not cut off: the server waits for it.
    assert!(!daemon.task.is_finished());
    assert!(!in_flight.is_finished());

    daemon.handler.release.add_permits(1);
    let result = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(result, ResultBody::Pause { .. }));
    tokio::time::timeout(DEADLINE, daemon.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_after_the_drain_timeout() {
    let daemon = start_with(|config| config.drain_timeout = Duration::from_millis(100)).await;
    let blocked = daemon.handler.blocked.notified();
    let mut busy = daemon.client().await;
    let in_flight = tokio::spawn(async move {
        busy.request(
            Request::PauseNow {
                orgs: vec![],
                duration_secs: None,
                reason: Some("block".into()),
            },
            |_| {},
        )
        .await
    });
    tokio::time::timeout(DEADLINE, blocked).await.unwrap();
    daemon.shutdown.cancel();
    tokio::time::timeout(DEADLINE, daemon.task)
        .await
        .unwrap()
        .unwrap();
    let error = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, ClientError::Closed { .. }), "{error:?}");
    assert!(!daemon.path.exists());
}

#[tokio::test]
async fn dropping_a_server_that_never_ran_removes_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let server = ControlServer::bind(ServerConfig::new(&path, None))
        .await
        .unwrap();
    assert_eq!(server.path(), path);
    assert!(path.exists());
    drop(server);
    assert!(!path.exists());
}

#[tokio::test]
async fn a_missing_socket_means_the_daemon_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let error = ControlClient::connect(&path).await.unwrap_err();
    assert!(error.is_unreachable());
    assert_eq!(
        error.to_string(),
        format!(
            "cannot reach the daemon at {}: is it running? (systemctl status pauseplay)",
            path.display()
        )
    );
}
