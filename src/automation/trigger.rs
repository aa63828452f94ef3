//! Apex triggers. Discovery lists them; pausing goes through a Metadata API deploy of their
//! source, which a discovery for a pause selects in the same query.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::switch::{Current, TRIGGER_FIELDS, TriggerRow};
use super::validation_rule::EntityName;
use super::{Component, Kind, ObservedState, OrgInfo};
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApexTriggerRow {
    id: String,
    name: String,
    status: String,
    entity_definition: Option<EntityName>,
    namespace_prefix: Option<String>,
    manageable_state: Option<String>,
}

/// A row of the query with sources: the switch's fields plus what discovery decides by.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SourcedRow {
    #[serde(flatten)]
    trigger: TriggerRow,
    entity_definition: Option<EntityName>,
    manageable_state: Option<String>,
}

const QUERY: &str = "SELECT Id, Name, Status, EntityDefinition.QualifiedApiName, \
     NamespacePrefix, ManageableState FROM ApexTrigger";

/// The triggers and, when `with_sources`, each one's state with its source (by id), which a
/// pause deploys.
pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
    with_sources: bool,
) -> Result<(Vec<Component>, BTreeMap<String, Current>), SfError> {
    if !scope.includes_kind(Kind::Trigger) {
        return Ok((Vec::new(), BTreeMap::new()));
    }
    let mut sources = BTreeMap::new();
    let rows: Vec<ApexTriggerRow> = if with_sources {
        let query = format!(
            "SELECT {TRIGGER_FIELDS}, EntityDefinition.QualifiedApiName, ManageableState \
             FROM ApexTrigger"
        );
        let rows: Vec<SourcedRow> = client.tooling_query(&query).await?;
        let mut listed = Vec::with_capacity(rows.len());
        for row in rows {
            listed.push(ApexTriggerRow {
                id: row.trigger.id.clone(),
                name: row.trigger.name.clone(),
                status: row.trigger.status.clone(),
                entity_definition: row.entity_definition,
                namespace_prefix: row.trigger.namespace_prefix.clone(),
                manageable_state: row.manageable_state,
            });
            sources.extend(Current::trigger(row.trigger, client.org())?);
        }
        listed
    } else {
        client.tooling_query(QUERY).await?
    };
    let components = rows
        .into_iter()
        .map(|row| {
            let object = row.entity_definition.and_then(|e| e.qualified_api_name);
            let api_name = namespaced(row.namespace_prefix.as_deref(), &row.name);
            let decision = scope.decide(Candidate {
                kind: Kind::Trigger,
                api_name: &api_name,
                object: object.as_deref(),
                managed: is_managed(
                    row.namespace_prefix.as_deref(),
                    row.manageable_state.as_deref(),
                    org.namespace.as_deref(),
                ),
                // `Deleted` triggers are as inactive as `Inactive` ones.
                active: Some(row.status == "Active"),
            });
            Component {
                kind: Kind::Trigger,
                id: row.id,
                api_name,
                object,
                namespace: row.namespace_prefix,
                state: ObservedState::Trigger { status: row.status },
                decision,
            }
        })
        .collect();
    Ok((components, sources))
}
