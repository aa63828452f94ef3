//! The automations pauseplay pauses: their kinds, how each kind is discovered in an org, and
//! the classification of every component as *will pause* or *skip* with a reason.
//!
//! [`discover`] runs the read-only queries of every kind in scope concurrently (reads to one
//! org may overlap; only writes are serialised) and returns a [`Discovery`]. Each kind's
//! module owns its SOQL and the record shapes that SOQL selects; the shared rules (managed,
//! excluded, object scope, already inactive) live in [`scope`].

mod component;
mod de;
mod flow;
mod kind;
mod org;
pub mod read;
pub mod scope;
pub mod switch;
mod trigger;
mod validation_rule;
mod workflow_rule;

pub use component::{Component, Decision, ObservedState, SkipReason};
pub use kind::{Kind, UnknownKind};
pub use org::{OrgInfo, read_org_info};
pub use scope::Scope;

use std::collections::BTreeMap;

use crate::salesforce::{OrgClient, SfError};
use switch::Current;

/// Everything discovery found in one org.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub org: OrgInfo,
    /// Sorted by kind, object, then API name, so reports and JSON are stable.
    pub components: Vec<Component>,
    /// The switch state discovery read on the way, by component id, so a pause that follows
    /// at once need not read it again: flows' active version numbers, workflow rules'
    /// `Metadata` and, from [`discover_to_pause`], triggers' sources. Validation rules are not
    /// here: their list query has no `Metadata`.
    pub read: BTreeMap<String, Current>,
}

/// What a discovery is for: `plan` needs no trigger source; a pause deploys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Plan,
    Pause,
}

/// The failure of a discovery: which kind's read failed, and the Salesforce error.
#[derive(Debug, thiserror::Error)]
#[error("could not list {what} in org `{org}`")]
pub struct DiscoveryError {
    pub org: String,
    pub what: &'static str,
    #[source]
    pub source: SfError,
}

/// Lists every component of the kinds in `scope` and decides what a pause would do with it.
pub async fn discover(client: &OrgClient, scope: &Scope) -> Result<Discovery, DiscoveryError> {
    discover_for(client, scope, Purpose::Plan).await
}

/// [`discover`], also reading the source of every trigger (in the same query), which a pause
/// deploys with the new status.
pub async fn discover_to_pause(
    client: &OrgClient,
    scope: &Scope,
) -> Result<Discovery, DiscoveryError> {
    discover_for(client, scope, Purpose::Pause).await
}

async fn discover_for(
    client: &OrgClient,
    scope: &Scope,
    purpose: Purpose,
) -> Result<Discovery, DiscoveryError> {
    let failed = |what: &'static str| {
        move |source: SfError| DiscoveryError {
            org: client.org().to_owned(),
            what,
            source,
        }
    };
    let org = read_org_info(client)
        .await
        .map_err(failed("the Organization record"))?;
    let (flows, validation_rules, workflow_rules, triggers) = tokio::try_join!(
        async {
            let found = flow::discover(client, scope, &org).await;
            found.map_err(failed("flows and Process Builders"))
        },
        async {
            let found = validation_rule::discover(client, scope, &org).await;
            found.map_err(failed("validation rules"))
        },
        async {
            let found = workflow_rule::discover(client, scope, &org).await;
            found.map_err(failed("workflow rules"))
        },
        async {
            let found = trigger::discover(client, scope, &org, purpose == Purpose::Pause).await;
            found.map_err(failed("Apex triggers"))
        },
    )?;
    let (workflow_rules, mut read) = workflow_rules;
    let (triggers, sources) = triggers;
    read.extend(sources);
    read.extend(flows.iter().filter_map(|component| match component.state {
        // Only a known number can be restored; an active flow without one is read again.
        ObservedState::Flow {
            active_version: Some(number),
            ..
        } => Some((component.id.clone(), Current::flow(Some(number)))),
        _ => None,
    }));
    let mut components: Vec<Component> = flows
        .into_iter()
        .chain(validation_rules)
        .chain(workflow_rules)
        .chain(triggers)
        .collect();
    components.sort_by(|a, b| {
        (a.kind, &a.object, &a.api_name, &a.id).cmp(&(b.kind, &b.object, &b.api_name, &b.id))
    });
    Ok(Discovery {
        org,
        components,
        read,
    })
}
