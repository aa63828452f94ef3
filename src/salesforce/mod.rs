//! The Salesforce client for one org: the only code that speaks HTTP to Salesforce.
//!
//! An [`OrgClient`] mints an access token with the OAuth 2.0 client-credentials grant at the
//! org's My Domain, keeps it until Salesforce answers 401 (then mints once more and repeats
//! the call), and offers the calls pauseplay needs: SOQL on `/query` and `/tooling/query`
//! (every page), Tooling sobject GET and PATCH, Tooling `/composite`, `/limits`, the
//! version list and Metadata API deploys of Apex triggers (REST `deployRequest`).
//!
//! Failures are [`SfError`]s that name the org. Transient ones (503/502/504, `SERVER_UNAVAILABLE`,
//! `UNABLE_TO_LOCK_ROW`, "admin operation already in progress", `ConcurrentPerOrgLongTxn`,
//! timeouts, connection failures) are retried with capped exponential backoff and jitter
//! ([`RetryPolicy`]), and so are composite items that fail that way inside a successful
//! call; everything else is returned at once. A daily `REQUEST_LIMIT_EXCEEDED` is its own
//! variant and is never retried. The one request that is never retried is the deploy POST
//! ([`OrgClient::deploy_triggers`]): a transient failure there may or may not have started a
//! deploy, so it is returned to the caller. The client secret and the access
//! token are [`secrecy::SecretString`]s and appear in no `Debug`, `Display`, log or error.
//!
//! Every JSON shape on the wire lives in `wire.rs`.

mod auth;
mod client;
mod composite;
mod deploy;
mod error;
mod limits;
mod query;
mod retry;
mod settings;
mod version;
mod wire;

pub use auth::Identity;
pub use client::OrgClient;
pub use composite::{COMPOSITE_LIMIT, CompositeRequest, CompositeResponse};
pub use deploy::{
    ComponentFailure, DeployId, DeployOutcome, PollPolicy, TestFailure, TestLevel, TriggerSource,
    TriggerStatus, build_trigger_package,
};
pub use error::{SfError, TokenRefusal, TransportKind};
pub use limits::{ApiUsage, LimitValue, Limits};
// The backoff schedule is shared with the notification webhooks, which retry the same way.
pub(crate) use retry::{backoff, delay_cap};
pub use settings::{ClientSettings, RetryPolicy};
pub use version::{ApiVersion, InvalidApiVersion};
pub use wire::{ApiErrorItem, VersionInfo};
