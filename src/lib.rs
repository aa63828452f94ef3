//! pauseplay pauses Salesforce automations during maintenance windows and restores them
//! exactly afterwards.
//!
//! # Layout
//!
//! The library does the work; `src/main.rs` only parses the command line, calls into here and
//! maps the outcome to an exit code.
//!
//! - [`config`]: the layered, validated configuration; secrets are loaded and wrapped here.
//! - [`salesforce`]: the HTTP client for one org (token minting, query, Tooling sobjects,
//!   composite, limits) and the Salesforce wire types. Only this module, [`notify`] (webhooks)
//!   and [`sim`] speak HTTP.
//! - [`automation`]: the five kinds of automation, their discovery queries and the
//!   *will pause* / *skip* classification of every component.
//! - [`plan`]: turns a discovery into the report that `pauseplay plan` prints.
//! - [`schedule`]: maintenance windows as UTC occurrences (croner + jiff), with the DST policy.
//! - [`engine`]: brings one org to the state its holds call for, through the journal.
//! - [`daemon`]: the daemon's operations, its control-socket handler, its tasks and shutdown.
//! - [`notify`]: notifications to webhooks and Slack: the events, a queue per target that
//!   never blocks the sender, delivery with retries.
//! - [`store`]: the state database (holds, the write-ahead journal, history) in SQLite. The
//!   only module that touches SQL.
//! - [`sim`]: the simulated Salesforce org used by `pauseplay sim`, `pauseplay demo` and every
//!   test. It is written from the wire-format reference, never from the client.
//! - [`control`]: the control socket: versioned JSON-lines wire types, the daemon's server
//!   side (framing, peer authorization, dispatch to a handler) and the CLI's client side.
//! - [`commands`]: the CLI's commands as functions returning an outcome.
//! - [`demo`]: the end-to-end demonstration on a built-in simulated org.
//!
//! See `ARCHITECTURE.md` for the invariants that hold across these modules.

pub mod automation;
pub mod budget;
pub mod commands;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod floor;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod salesforce;
pub mod schedule;
pub mod sim;
pub mod store;

/// An error and its causes on one line, for history entries, replies, `status` and the
/// journal's last-error column.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
