//! The CLI's side of the control socket: [`ControlClient`].
//!
//! Errors are sorted by what the CLI does with them: [`ClientError::Unreachable`] is exit
//! code 3 ("is the daemon running?"), [`ClientError::Daemon`] carries the daemon's error code
//! for the CLI to branch on, and the rest are failed exchanges.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

use super::protocol::{
    ErrorCode, Event, MAX_REPLY_LINE_BYTES, PROTOCOL_VERSION, Reply, ReplyLine, Request,
    RequestLine, ResultBody,
};

/// How long [`ControlClient::connect`] waits for the daemon to accept.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the daemon's control socket. Requests on one connection run one after
/// another.
#[derive(Debug)]
pub struct ControlClient {
    connection: Framed<UnixStream, LinesCodec>,
    path: PathBuf,
}

/// Why the daemon could not be reached.
#[derive(Debug)]
pub enum UnreachableCause {
    /// No socket file, or nobody listening on it.
    NotRunning,
    /// The socket's mode or directory keeps this user out.
    PermissionDenied,
    /// Something listens but did not accept within the timeout.
    TimedOut(Duration),
    /// Any other failure to connect (a path that is not a socket, say).
    Other(io::Error),
}

/// Why a request did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon is not reachable at `path` (exit code 3).
    #[error("{}", unreachable_message(path, cause))]
    Unreachable {
        path: PathBuf,
        cause: UnreachableCause,
    },
    /// The daemon answered with an error reply.
    #[error("{message}")]
    Daemon { code: ErrorCode, message: String },
    /// The connection failed midway.
    #[error("lost the connection to the daemon at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The daemon closed the connection without a result.
    #[error(
        "the daemon at {path} closed the connection before answering; its log says why \
         (journalctl -u pauseplay)"
    )]
    Closed { path: PathBuf },
    /// The reply could not be understood.
    #[error(
        "cannot understand the daemon's reply ({message}); are the pauseplay CLI and daemon \
         the same version? (pauseplay --version; systemctl status pauseplay)"
    )]
    Protocol { message: String },
}

impl ClientError {
    /// Whether this is the "daemon not reachable" case (exit code 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}

fn unreachable_message(path: &Path, cause: &UnreachableCause) -> String {
    let path = path.display();
    match cause {
        UnreachableCause::NotRunning => format!(
            "cannot reach the daemon at {path}: is it running? (systemctl status pauseplay)"
        ),
        UnreachableCause::PermissionDenied => format!(
            "cannot reach the daemon at {path}: permission denied; only root, the daemon's user \
             and members of its socket_group (daemon.socket_group) may use the socket"
        ),
        UnreachableCause::TimedOut(after) => format!(
            "cannot reach the daemon at {path}: it did not accept the connection within {}s; \
             is it running? (systemctl status pauseplay)",
            after.as_secs_f32()
        ),
        UnreachableCause::Other(error) => format!(
            "cannot reach the daemon at {path}: {error}; is it running? (systemctl status \
             pauseplay)"
        ),
    }
}

impl fmt::Display for UnreachableCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnreachableCause::NotRunning => f.write_str("not running"),
            UnreachableCause::PermissionDenied => f.write_str("permission denied"),
            UnreachableCause::TimedOut(after) => write!(f, "timed out after {after:?}"),
            UnreachableCause::Other(error) => write!(f, "{error}"),
        }
    }
}

impl ControlClient {
    /// Connects to the daemon at `path`, waiting at most [`CONNECT_TIMEOUT`].
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        Self::connect_with_timeout(path, CONNECT_TIMEOUT).await
    }

    /// Connects to the daemon at `path`, waiting at most `timeout`.
    pub async fn connect_with_timeout(
        path: impl AsRef<Path>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let path = path.as_ref().to_path_buf();
        let unreachable = |cause| ClientError::Unreachable {
            path: path.clone(),
            cause,
        };
        let stream = match tokio::time::timeout(timeout, UnixStream::connect(&path)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(unreachable(match error.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                        UnreachableCause::NotRunning
                    }
                    io::ErrorKind::PermissionDenied => UnreachableCause::PermissionDenied,
                    // A full backlog: the daemon is up but swamped.
                    io::ErrorKind::WouldBlock => UnreachableCause::TimedOut(timeout),
                    _ => UnreachableCause::Other(error),
                }));
            }
            Err(_) => return Err(unreachable(UnreachableCause::TimedOut(timeout))),
        };
        Ok(Self {
            connection: Framed::new(
                stream,
                LinesCodec::new_with_max_length(MAX_REPLY_LINE_BYTES),
            ),
            path,
        })
    }

    /// The socket path this client is connected to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `request`, passes every event to `on_event` as it arrives and returns the
    /// result. An error reply from the daemon is [`ClientError::Daemon`].
    ///
    /// There is no overall timeout: a pause of a large org legitimately takes minutes, and
    /// the events show that it is moving.
    pub async fn request(
        &mut self,
        request: Request,
        mut on_event: impl FnMut(Event),
    ) -> Result<ResultBody, ClientError> {
        let line = serde_json::to_string(&RequestLine::new(request)).map_err(|e| {
            ClientError::Protocol {
                message: format!("cannot encode the request: {e}"),
            }
        })?;
        if let Err(error) = self.connection.send(line).await {
            // The daemon may have refused the connection and closed it before reading (a
            // forbidden peer); its error reply, if any, is still there to read.
            tracing::debug!(%error, "cannot send the control request; reading any reply");
        }
        loop {
            let line = match self.connection.next().await {
                None => {
                    return Err(ClientError::Closed {
                        path: self.path.clone(),
                    });
                }
                Some(Ok(line)) => line,
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    return Err(ClientError::Protocol {
                        message: format!(
                            "a reply line is longer than {MAX_REPLY_LINE_BYTES} bytes"
                        ),
                    });
                }
                Some(Err(LinesCodecError::Io(error))) => {
                    return Err(match error.kind() {
                        io::ErrorKind::InvalidData => ClientError::Protocol {
                            message: "a reply line is not UTF-8".into(),
                        },
                        // A reset after a refusal that we could not read is still "closed".
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                            ClientError::Closed {
                                path: self.path.clone(),
                            }
                        }
                        _ => ClientError::Io {
                            path: self.path.clone(),
                            source: error,
                        },
                    });
                }
            };
            match decode_reply(&line)? {
                Reply::Event(Event::Other) => {}
                Reply::Event(event) => on_event(event),
                Reply::Result(result) => return Ok(result),
                Reply::Error(error) => {
                    return Err(ClientError::Daemon {
                        code: error.code,
                        message: error.message,
                    });
                }
            }
        }
    }
}

fn decode_reply(line: &str) -> Result<Reply, ClientError> {
    let protocol = |message: String| ClientError::Protocol { message };
    let reply: ReplyLine =
        serde_json::from_str(line).map_err(|e| protocol(format!("invalid reply line: {e}")))?;
    if reply.v != PROTOCOL_VERSION {
        return Err(protocol(format!(
            "the daemon answered in protocol version {}, this CLI speaks {PROTOCOL_VERSION}",
            reply.v
        )));
    }
    reply.into_reply().map_err(protocol)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn unreachable_messages_say_what_to_check() {
        let error = ClientError::Unreachable {
            path: "/run/pauseplay/control.sock".into(),
            cause: UnreachableCause::NotRunning,
        };
        assert_eq!(
            error.to_string(),
            "cannot reach the daemon at /run/pauseplay/control.sock: is it running? \
             (systemctl status pauseplay)"
        );
        assert!(error.is_unreachable());
        let error = ClientError::Unreachable {
            path: "/run/pauseplay/control.sock".into(),
            cause: UnreachableCause::PermissionDenied,
        };
        let text = error.to_string();
        assert!(text.starts_with("cannot reach the daemon at /run/pauseplay/control.sock"));
        assert!(
            text.contains("permission denied") && text.contains("socket_group"),
            "{text}"
        );
    }

    #[test]
    fn a_reply_of_another_version_is_refused() {
        let error =
            decode_reply(r#"{"v":2,"result":{"type":"pong","daemon_version":"2","protocol":2}}"#)
                .unwrap_err();
        assert!(matches!(error, ClientError::Protocol { .. }), "{error}");
        assert!(!error.is_unreachable());
    }
}
