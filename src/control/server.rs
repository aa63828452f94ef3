//! The daemon's side of the control socket: [`ControlServer`].
//!
//! [`ControlServer::bind`] sets up the socket file (see [`super::socket`]);
//! [`ControlServer::run`] accepts connections until shutdown. Each connection is one task
//! that:
//!
//! 1. reads the peer's credentials and looks up its user and groups;
//! 2. reads request lines (at most [`MAX_LINE_BYTES`] bytes, each
//!    within the idle timeout);
//! 3. refuses the request with `forbidden` if the peer is not authorized
//!    ([`super::auth::authorized`]), logging its uid and pid;
//! 4. parses it strictly, answering a malformed line or a wrong version with an error reply,
//!    logging the refusal at warn, and closing (the stream's framing can no longer be
//!    trusted);
//! 5. runs the [`Handler`], writing its events as they come, then the result or error.
//!
//! Nothing a client does ends the accept loop: errors stay in their connection's task.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use super::auth;
use super::handler::{ControlError, EventSink, Handler, Peer};
use super::protocol::{
    ErrorBody, ErrorCode, Event, MAX_LINE_BYTES, MAX_REPLY_LINE_BYTES, Reply, ReplyLine, Request,
    ResultBody, parse_request_line,
};
use super::socket::{self, BindError, SocketFile};

/// How long a connection may sit without sending a complete request line.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one reply line may take to write before the client is considered gone (it
/// stopped reading, say, because its terminal is suspended).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for in-flight requests before dropping them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections are served at once; further clients wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 128;

/// Events a handler may queue ahead of the connection's writer before they are dropped.
const EVENT_BUFFER: usize = 256;

/// How the server is set up; [`ServerConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the socket file is created.
    pub path: PathBuf,
    /// Members of this group may use the socket, which gets mode 0660 and this group.
    pub socket_group: Option<String>,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// See [`DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl ServerConfig {
    pub fn new(path: impl Into<PathBuf>, socket_group: Option<String>) -> Self {
        Self {
            path: path.into(),
            socket_group,
            idle_timeout: IDLE_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            drain_timeout: DRAIN_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// The bound control socket, ready to [`run`](ControlServer::run).
///
/// Dropping it (run or not) removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    file: SocketFile,
    config: ServerConfig,
    own_uid: u32,
    socket_gid: Option<u32>,
}

/// What every connection task needs; shared, read-only.
struct Context {
    handler: Arc<dyn Handler>,
    own_uid: u32,
    socket_gid: Option<u32>,
    idle_timeout: Duration,
    write_timeout: Duration,
}

type Connection = Framed<UnixStream, LinesCodec>;

impl ControlServer {
    /// Resolves `socket_group` and binds the socket (see [`socket::bind`]).
    pub async fn bind(config: ServerConfig) -> Result<Self, BindError> {
        let socket_gid = match &config.socket_group {
            None => None,
            Some(group) => {
                let name = group.clone();
                let found = tokio::task::spawn_blocking(move || auth::group_id(&name))
                    .await
                    .map_err(|error| BindError::Io {
                        action: "look up socket_group for",
                        path: config.path.clone(),
                        source: std::io::Error::other(error),
                    })?
                    .map_err(|source| BindError::Io {
                        action: "look up socket_group for",
                        path: config.path.clone(),
                        source,
                    })?;
                Some(found.ok_or_else(|| BindError::UnknownGroup {
                    group: group.clone(),
                })?)
            }
        };
        let (listener, file) = socket::bind(&config.path, socket_gid).await?;
        tracing::info!(path = %config.path.display(), group = ?config.socket_group, "control socket listening");
        Ok(Self {
            listener,
            file,
            config,
            own_uid: auth::own_uid(),
            socket_gid,
        })
    }

    /// The socket file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Serves connections until `shutdown` is cancelled, then stops accepting, removes the
    /// socket file and waits up to the drain timeout for requests in flight. Connections
    /// waiting for a request are closed at once.
    pub async fn run(self, handler: Arc<dyn Handler>, shutdown: CancellationToken) {
        let ControlServer {
            listener,
            file,
            config,
            own_uid,
            socket_gid,
        } = self;
        let context = Arc::new(Context {
            handler,
            own_uid,
            socket_gid,
            idle_timeout: config.idle_timeout,
            write_timeout: config.write_timeout,
        });
        // Each connection holds a permit; at the limit the loop stops accepting, so excess
        // clients wait in the kernel's backlog instead of costing memory here.
        let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let mut connections = JoinSet::new();
        let mut backoff = Duration::from_millis(10);

        loop {
            let permit = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    log_join(joined);
                    continue;
                }
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // The semaphore is never closed.
                    Err(_) => break,
                },
            };
            let stream = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        backoff = Duration::from_millis(10);
                        stream
                    }
                    Err(error) => {
                        // Usually running out of file descriptors: wait for connections to
                        // finish rather than spin. Never give up; the daemon's schedule does
                        // not depend on the socket.
                        tracing::error!(%error, "cannot accept a control connection");
                        drop(permit);
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            let context = Arc::clone(&context);
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                serve(stream, &context, &shutdown).await;
                drop(permit);
            });
        }

        // Stop accepting first: clients now get "connection refused" or "no such file",
        // which the CLI reports as "daemon not reachable".
        drop(listener);
        drop(file);
        let drained = tokio::time::timeout(config.drain_timeout, async {
            while let Some(joined) = connections.join_next().await {
                log_join(joined);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = connections.len(),
                "control requests still running after the drain timeout; dropping them"
            );
            connections.shutdown().await;
        }
        tracing::info!("control socket closed");
    }
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "a control connection task panicked");
    }
}

/// Serves one connection until the client closes it, misbehaves, idles or shutdown comes.
async fn serve(stream: UnixStream, context: &Context, shutdown: &CancellationToken) {
    let credentials = match stream.peer_cred() {
        Ok(credentials) => credentials,
        Err(error) => {
            tracing::warn!(%error, "cannot read a control peer's credentials; closing");
            return;
        }
    };
    let (uid, gid, pid) = (credentials.uid(), credentials.gid(), credentials.pid());
    let identity = match tokio::task::spawn_blocking(move || auth::lookup_peer(uid, gid)).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::error!(%error, uid, "the control peer look-up failed; closing");
            return;
        }
    };
    let allowed = auth::authorized(uid, &identity.groups, context.own_uid, context.socket_gid);
    let peer = Peer {
        uid,
        gid,
        pid,
        user_name: identity.user_name.unwrap_or_else(|| uid.to_string()),
    };
    let mut connection = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE_BYTES));

    loop {
        let Some(line) = read_line(&mut connection, context, shutdown, &peer).await else {
            return;
        };
        // An unauthorized peer learns only that it is refused, whatever it sent.
        if !allowed {
            tracing::warn!(
                uid = peer.uid,
                pid = ?peer.pid,
                user = %peer.user_name,
                "refused a control request from a user who may not use the socket"
            );
            let refusal = ErrorBody {
                code: ErrorCode::Forbidden,
                message: format!(
                    "user {} (uid {}) may not use the pauseplay control socket; only root, the \
                     daemon's user{} may",
                    peer.user_name,
                    peer.uid,
                    if context.socket_gid.is_some() {
                        " and members of its socket_group"
                    } else {
                        " (set daemon.socket_group to admit a group)"
                    }
                ),
            };
            let _ = write_reply(&mut connection, context, Reply::Error(refusal)).await;
            return;
        }
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                log_refusal(&peer, &error);
                let _ = write_reply(&mut connection, context, Reply::Error(error)).await;
                return;
            }
        };
        let request = match parse_request_line(&line) {
            Ok(request) => request,
            Err(error) => {
                log_refusal(&peer, &error);
                let _ = write_reply(&mut connection, context, Reply::Error(error)).await;
                return;
            }
        };
        if request.changes_state() {
            tracing::info!(uid = peer.uid, pid = ?peer.pid, user = %peer.user_name, request = ?request, "control request");
        } else {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, request = request.kind(), "control request");
        }
        let outcome = dispatch(&mut connection, context, peer.clone(), request).await;
        let reply = match outcome {
            Ok(result) => Reply::Result(result),
            Err(error) => Reply::Error(error.into()),
        };
        if write_reply(&mut connection, context, reply).await.is_err() {
            return;
        }
    }
}

/// The longest part of a refusal's message that is logged. serde's messages quote the
/// offending value, which can be nearly as long as the line itself.
const LOGGED_MESSAGE_CHARS: usize = 200;

/// Logs a request line refused before it reached the handler (not UTF-8, too long, not a
/// request, another protocol version), at warn: it is a broken client or someone probing the
/// socket, and the operator reading the log should see who and why, not just a closed
/// connection. The message is logged with `Debug` so a quoted value cannot forge log lines.
fn log_refusal(peer: &Peer, error: &ErrorBody) {
    let message = match error.message.char_indices().nth(LOGGED_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &error.message[..cut]),
        None => error.message.clone(),
    };
    tracing::warn!(
        uid = peer.uid,
        pid = ?peer.pid,
        user = %peer.user_name,
        code = %error.code,
        reason = ?message,
        "refused a control request line"
    );
}

/// Waits for the next request line. `None`: close quietly (client gone, idle, shutdown).
/// `Some(Err)`: close after this error reply.
async fn read_line(
    connection: &mut Connection,
    context: &Context,
    shutdown: &CancellationToken,
    peer: &Peer,
) -> Option<Result<String, ErrorBody>> {
    let next = tokio::select! {
        biased;
        _ = shutdown.cancelled() => return None,
        next = tokio::time::timeout(context.idle_timeout, connection.next()) => next,
    };
    match next {
        Err(_) => {
            // At info, not debug: a connection that never finishes a line holds one of the
            // bounded connection slots for the whole timeout, so whoever does it should show.
            tracing::info!(
                uid = peer.uid,
                pid = ?peer.pid,
                user = %peer.user_name,
                timeout_secs = context.idle_timeout.as_secs_f64(),
                "closed a control connection that sent no complete request line in time"
            );
            None
        }
        Ok(None) => None,
        Ok(Some(Ok(line))) => Some(Ok(line)),
        Ok(Some(Err(LinesCodecError::MaxLineLengthExceeded))) => Some(Err(ErrorBody {
            code: ErrorCode::TooLong,
            message: format!("a request line may be at most {MAX_LINE_BYTES} bytes"),
        })),
        // LinesCodec reports a line that is not UTF-8 as `InvalidData`.
        Ok(Some(Err(LinesCodecError::Io(error))))
            if error.kind() == std::io::ErrorKind::InvalidData =>
        {
            Some(Err(ErrorBody {
                code: ErrorCode::BadRequest,
                message: "the request line is not valid UTF-8".into(),
            }))
        }
        Ok(Some(Err(LinesCodecError::Io(error)))) => {
            tracing::debug!(uid = peer.uid, %error, "control connection failed while reading");
            None
        }
    }
}

/// Runs the handler while writing the events it sends, concurrently: a slow write never
/// stops the handler from making progress.
async fn dispatch(
    connection: &mut Connection,
    context: &Context,
    peer: Peer,
    request: Request,
) -> Result<ResultBody, ControlError> {
    let (event_tx, mut event_rx) = mpsc::channel::<Event>(EVENT_BUFFER);
    let (done_tx, mut done_rx) = oneshot::channel::<()>();
    let handler = Arc::clone(&context.handler);

    let work = async move {
        let future = handler.handle(peer, request, EventSink::new(event_tx));
        // A panicking handler is a bug, but the client still deserves an answer and the
        // daemon keeps serving.
        let outcome = match AssertUnwindSafe(future).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "a control request handler panicked");
                Err(ControlError::internal(
                    "the daemon hit a bug while handling the request; its log has the details \
                     (journalctl -u pauseplay)",
                ))
            }
        };
        let _ = done_tx.send(());
        outcome
    };

    let writer = async {
        let mut client_alive = true;
        loop {
            tokio::select! {
                // Events queued before the handler finished go out before the result.
                biased;
                event = event_rx.recv() => match event {
                    Some(event) => {
                        if write_reply(connection, context, Reply::Event(event)).await.is_err() {
                            client_alive = false;
                            // Further events fail fast in `EventSink::send`.
                            event_rx.close();
                        }
                    }
                    None => break,
                },
                _ = &mut done_rx => {
                    while let Ok(event) = event_rx.try_recv() {
                        if !client_alive {
                            break;
                        }
                        if write_reply(connection, context, Reply::Event(event)).await.is_err() {
                            client_alive = false;
                        }
                    }
                    break;
                }
            }
        }
        client_alive
    };

    let (outcome, client_alive) = tokio::join!(work, writer);
    if !client_alive {
        tracing::debug!("control client went away before the result");
    }
    outcome
}

/// Why a reply line could not be written; the connection is then closed.
#[derive(Debug)]
struct WriteFailed;

async fn write_reply(
    connection: &mut Connection,
    context: &Context,
    reply: Reply,
) -> Result<(), WriteFailed> {
    let line = match encode_reply(reply) {
        Ok(line) => line,
        Err(error) => {
            tracing::error!(%error, "cannot encode a control reply");
            let fallback = Reply::Error(ErrorBody {
                code: ErrorCode::Internal,
                message: error,
            });
            encode_reply(fallback).map_err(|_| WriteFailed)?
        }
    };
    match tokio::time::timeout(context.write_timeout, connection.send(line)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::debug!(%error, "cannot write to a control client");
            Err(WriteFailed)
        }
        Err(_) => {
            tracing::debug!("a control client stopped reading; closing");
            Err(WriteFailed)
        }
    }
}

fn encode_reply(reply: Reply) -> Result<String, String> {
    let line = serde_json::to_string(&ReplyLine::new(reply))
        .map_err(|e| format!("the daemon could not encode its reply: {e}"))?;
    if line.len() > MAX_REPLY_LINE_BYTES {
        return Err(format!(
            "the reply would be {} bytes, more than the {MAX_REPLY_LINE_BYTES} a client reads; \
             ask for less (history --limit)",
            line.len()
        ));
    }
    Ok(line)
}
