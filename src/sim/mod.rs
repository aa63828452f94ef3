//! The simulated Salesforce org.
//!
//! `pauseplay sim`, `pauseplay demo` and every test talk to this instead of Salesforce. It is
//! written from `reference/salesforce-api.md`, never from the client: where the reference
//! only infers a behaviour, the sim takes the strict reading, so a client that works here
//! does not lean on anything Salesforce might not do.
//!
//! # Layout
//!
//! - [`scenario`]: the TOML scenario (the org to start with); [`generate`]: large orgs.
//! - [`model`]: the org's true state; [`ids`]: Salesforce ids.
//! - [`schema`], [`records`], [`catalog`]: sObject schemas, JSON records, SOQL catalogs.
//! - [`soql`]: the SOQL subset engine.
//! - [`server`]: router, auth, limits, faults, lifecycle; [`api`]: the API dispatcher;
//!   [`handlers`]: one module per endpoint; [`conn`]: droppable connections.
//! - [`deploy`], [`package`]: Metadata API deploys and their zip checks.
//! - [`faults`], [`admin`]: fault injection and admin actions; [`state`]: the locked state.
//! - [`freeze`]: deterministic crash points; [`writes`]: the tally of the client's writes
//!   per component.

pub mod admin;
pub mod api;
pub mod catalog;
pub mod conn;
pub mod deploy;
pub mod faults;
pub mod freeze;
pub mod generate;
pub mod handlers;
pub mod ids;
pub mod model;
pub mod package;
pub mod records;
pub mod scenario;
pub mod schema;
pub mod server;
pub mod soql;
pub mod state;
pub mod writes;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;

pub use admin::{AdminAction, Component, ComponentKind, RuleKind};
pub use faults::Faults;
pub use freeze::{FreezeAt, FreezeMode, SeenRequest};
pub use generate::GenerateSpec;
pub use scenario::{
    AuthMode, DEFAULT_RUN_AS_PERMISSIONS, DeploySpec, FlowSpec, FlowStatus, LimitsSpec, ObjectSpec,
    OrgSpec, QuerySpec, Scenario, TriggerSpec, TriggerStatus, ValidationRuleSpec, WorkflowRuleSpec,
};
pub use server::{SimHandle, SimServer, serve_until};
pub use writes::WriteCount;
