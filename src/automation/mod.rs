//! The automations pauseplay pauses: their kinds, how each kind is discovered in an org, and
//! the classification of every component as *will pause* or *skip* with a reason.
//!
//! [`discover`] runs the read-only queries of every kind in scope and the `Organization`
//! query concurrently, then each kind's follow-up reads as soon as its own list is in (reads
//! to one org may overlap; only writes are serialised), and returns a [`Discovery`]. Each kind's
//! module owns its SOQL and the record shapes that SOQL selects; the shared rules (managed,
//! excluded, object scope, already inactive) live in [`scope`].

pub mod access;
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

use futures_util::FutureExt;

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
    /// `Metadata` and, from [`discover_to_pause`], triggers' sources and the `Metadata` of the
    /// validation rules the pause asked for.
    pub read: BTreeMap<String, Current>,
}

/// Which of the components a discovery will pause the caller wants read: those its holds
/// cover and its journal does not already have in hand.
pub type ToRead<'a> = dyn Fn(&Component) -> bool + Send + Sync + 'a;

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
    discover_for(client, scope, None).await
}

/// [`discover`], also reading what a pause of the components `to_read` accepts writes back:
/// every trigger's source (in the list query) and validation rules' `Metadata`.
pub async fn discover_to_pause(
    client: &OrgClient,
    scope: &Scope,
    to_read: &ToRead<'_>,
) -> Result<Discovery, DiscoveryError> {
    discover_for(client, scope, Some(to_read)).await
}

/// A discovery; `to_read` is `None` for `plan`, which reads nothing it does not need to
/// decide, and the pause's choice for a pause, which also reads what it will write back.
async fn discover_for(
    client: &OrgClient,
    scope: &Scope,
    to_read: Option<&ToRead<'_>>,
) -> Result<Discovery, DiscoveryError> {
    let failed = |what: &'static str| {
        move |source: SfError| DiscoveryError {
            org: client.org().to_owned(),
            what,
            source,
        }
    };
    // The Organization record's namespace decides which components are managed, but no
    // kind's list query needs it: it is read alongside them, and each kind waits for it only
    // once its list is in, to decide. Every kind's reads that follow (workflow rules' and
    // validation rules' `Metadata`, flows' versions) then overlap.
    let organization = read_org_info(client).shared();
    let org_info = || {
        let organization = organization.clone();
        async move {
            organization
                .await
                .map_err(failed("the Organization record"))
        }
    };
    let (org, flows, validation_rules, workflow_rules, triggers) = tokio::try_join!(
        org_info(),
        async {
            const WHAT: &str = "flows and Process Builders";
            let listed = flow::list(client, scope).await.map_err(failed(WHAT))?;
            let org = org_info().await?;
            let found = flow::discover(client, scope, &org, listed).await;
            found.map_err(failed(WHAT))
        },
        async {
            const WHAT: &str = "validation rules";
            let listed = validation_rule::list(client, scope)
                .await
                .map_err(failed(WHAT))?;
            let org = org_info().await?;
            let found = validation_rule::discover(client, scope, &org, listed, to_read).await;
            found.map_err(failed(WHAT))
        },
        async {
            const WHAT: &str = "workflow rules";
            let listed = workflow_rule::list(client, scope)
                .await
                .map_err(failed(WHAT))?;
            let org = org_info().await?;
            let found = workflow_rule::discover(client, scope, &org, listed).await;
            found.map_err(failed(WHAT))
        },
        async {
            const WHAT: &str = "Apex triggers";
            let listed = trigger::list(client, scope, to_read.is_some()).await;
            let listed = listed.map_err(failed(WHAT))?;
            let org = org_info().await?;
            Ok(trigger::discover(scope, &org, listed))
        },
    )?;
    let (validation_rules, rules_read) = validation_rules;
    let (workflow_rules, mut read) = workflow_rules;
    let (triggers, sources) = triggers;
    read.extend(rules_read);
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
