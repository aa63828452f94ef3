//! Apex triggers. Discovery only lists them; pausing goes through a Metadata API deploy.

use serde::Deserialize;

use super::scope::{Candidate, Scope, is_managed, namespaced};
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

const QUERY: &str = "SELECT Id, Name, Status, EntityDefinition.QualifiedApiName, \
     NamespacePrefix, ManageableState FROM ApexTrigger";

pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
) -> Result<Vec<Component>, SfError> {
    if !scope.includes_kind(Kind::Trigger) {
        return Ok(Vec::new());
    }
    let rows: Vec<ApexTriggerRow> = client.tooling_query(QUERY).await?;
    Ok(rows
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
        .collect())
}
