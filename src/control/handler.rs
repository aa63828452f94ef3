//! What the server hands a request to: the [`Handler`] trait, the [`Peer`] who sent the
//! request, the [`EventSink`] for progress, and the [`ControlError`] a handler returns.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

use super::protocol::{ErrorBody, ErrorCode, Event, Request, ResultBody};

/// The future a [`Handler`] returns.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ResultBody, ControlError>> + Send + 'a>>;

/// Carries out control requests; the daemon implements it on top of the engine.
///
/// The server runs the returned future to completion even when the client disconnects
/// midway (a pause half done because someone pressed Ctrl-C would leave the org half-paused
/// with nobody told). A handler that must stop on daemon shutdown watches the daemon's own
/// cancellation token.
pub trait Handler: Send + Sync + 'static {
    /// Carries out `request` for `peer`, streaming progress through `events`.
    fn handle(&self, peer: Peer, request: Request, events: EventSink) -> HandlerFuture<'_>;
}

/// The process at the other end of a connection, from the kernel's peer credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Effective uid of the connecting process.
    pub uid: u32,
    /// Effective gid of the connecting process.
    pub gid: u32,
    /// Its pid, when the kernel reports one.
    pub pid: Option<i32>,
    /// The user name of `uid`, or the uid in decimal when the user database has no entry.
    pub user_name: String,
}

/// Where a handler sends progress events for the client.
///
/// Sending never waits: a client that stops reading must not stall a pause. Events that do
/// not fit the connection's buffer, or that are sent after the client went away, are dropped;
/// they are progress, and the result carries everything that matters.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
}

impl EventSink {
    pub(crate) fn new(tx: mpsc::Sender<Event>) -> Self {
        Self { tx }
    }

    /// A sink that drops everything, for work the daemon starts without a client (a window
    /// opening on the tick).
    pub fn discard() -> Self {
        let (tx, _) = mpsc::channel(1);
        Self { tx }
    }

    /// Queues `event` for the client; `false` when it was dropped.
    pub fn send(&self, event: Event) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!("control client is not keeping up; dropped an event");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// A request the handler refused or could not carry out; the client gets it as an error
/// reply with the same code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub code: ErrorCode,
    /// For people: what went wrong and what to do next.
    pub message: String,
}

impl ControlError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The request is invalid (an unknown org name is [`ControlError::not_found`]).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// The request names an org or hold that does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// The operation ran and failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Failed, message)
    }

    /// A bug or an unexpected condition in the daemon.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<ControlError> for ErrorBody {
    fn from(error: ControlError) -> Self {
        ErrorBody {
            code: error.code,
            message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Event {
        Event::Notice {
            org: None,
            message: "m".into(),
        }
    }

    #[tokio::test]
    async fn a_full_or_closed_sink_drops_events_without_waiting() {
        let (tx, mut rx) = mpsc::channel(1);
        let sink = EventSink::new(tx);
        assert!(sink.send(notice()));
        assert!(!sink.send(notice()), "the buffer holds one");
        assert_eq!(rx.recv().await, Some(notice()));
        drop(rx);
        assert!(!sink.send(notice()));
        assert!(!EventSink::discard().send(notice()));
    }
}
