//! The control socket: how `pauseplay pause now`, `resume`, `status` and `history` talk to
//! the daemon.
//!
//! - [`protocol`]: the versioned wire types (JSON lines); the only place they live. The
//!   versioning rules and an example exchange are in `docs/control-protocol.md`.
//! - [`server`]: [`ControlServer`], the daemon's side: accept loop, framing, peer
//!   authorization, dispatch to a [`Handler`].
//! - [`handler`]: the [`Handler`] trait the daemon implements, with [`Peer`], [`EventSink`]
//!   and [`ControlError`].
//! - [`client`]: [`ControlClient`], the CLI's side.
//! - [`auth`]: who may use the socket ([`auth::authorized`]) and the user/group look-ups.
//! - [`socket`]: the socket file: stale-file and live-daemon detection, mode and group,
//!   removal.

pub mod auth;
pub mod client;
pub mod handler;
pub mod protocol;
pub mod server;
pub mod socket;

pub use client::{ClientError, ControlClient, UnreachableCause};
pub use handler::{ControlError, EventSink, Handler, HandlerFuture, Peer};
pub use server::{ControlServer, ServerConfig};
pub use socket::BindError;
