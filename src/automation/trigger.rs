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

/// What the list query of triggers returns: the rows and, when it selected them, each
/// trigger's state with its source (by id), which a pause deploys.
#[derive(Debug, Default)]
pub struct Listed {
    rows: Vec<ApexTriggerRow>,
    sources: BTreeMap<String, Current>,
}

/// Lists the triggers, with their sources when `with_sources`.
pub async fn list(
    client: &OrgClient,
    scope: &Scope,
    with_sources: bool,
) -> Result<Listed, SfError> {
    if !scope.includes_kind(Kind::Trigger) {
        return Ok(Listed::default());
    }
    if !with_sources {
        let rows = client.tooling_query(QUERY).await?;
        return Ok(Listed {
            rows,
            sources: BTreeMap::new(),
        });
    }
    let query = format!(
        "SELECT {TRIGGER_FIELDS}, EntityDefinition.QualifiedApiName, ManageableState \
         FROM ApexTrigger"
    );
    let sourced: Vec<SourcedRow> = client.tooling_query(&query).await?;
    let mut listed = Listed::default();
    listed.rows.reserve(sourced.len());
    for row in sourced {
        listed.rows.push(ApexTriggerRow {
            id: row.trigger.id.clone(),
            name: row.trigger.name.clone(),
            status: row.trigger.status.clone(),
            entity_definition: row.entity_definition,
            namespace_prefix: row.trigger.namespace_prefix.clone(),
            manageable_state: row.manageable_state,
        });
        listed
            .sources
            .extend(Current::trigger(row.trigger, client.org())?);
    }
    Ok(listed)
}

/// Decides every trigger [`list`] found; the sources it read, by id.
pub fn discover(
    scope: &Scope,
    org: &OrgInfo,
    listed: Listed,
) -> (Vec<Component>, BTreeMap<String, Current>) {
    let Listed { rows, sources } = listed;
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
    (components, sources)
}
