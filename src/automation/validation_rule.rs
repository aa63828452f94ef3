//! Validation rules. The list query gives the `Active` flag and the object; pausing (a later
//! step) reads each rule's full `Metadata` and writes it back with `active: false`.

use serde::Deserialize;

use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::{Component, Kind, ObservedState, OrgInfo};
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ValidationRuleRow {
    id: String,
    validation_name: String,
    active: bool,
    entity_definition: Option<EntityName>,
    namespace_prefix: Option<String>,
    manageable_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EntityName {
    pub(super) qualified_api_name: Option<String>,
}

const QUERY: &str = "SELECT Id, ValidationName, Active, EntityDefinition.QualifiedApiName, \
     NamespacePrefix, ManageableState FROM ValidationRule";

pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
) -> Result<Vec<Component>, SfError> {
    if !scope.includes_kind(Kind::ValidationRule) {
        return Ok(Vec::new());
    }
    let rows: Vec<ValidationRuleRow> = client.tooling_query(QUERY).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let object = row.entity_definition.and_then(|e| e.qualified_api_name);
            // The `FullName` form `Object.Rule` is what `exclude` patterns are written in.
            let rule = namespaced(row.namespace_prefix.as_deref(), &row.validation_name);
            let api_name = match &object {
                Some(object) => format!("{object}.{rule}"),
                None => rule,
            };
            let decision = scope.decide(Candidate {
                kind: Kind::ValidationRule,
                api_name: &api_name,
                object: object.as_deref(),
                managed: is_managed(
                    row.namespace_prefix.as_deref(),
                    row.manageable_state.as_deref(),
                    org.namespace.as_deref(),
                ),
                active: Some(row.active),
            });
            Component {
                kind: Kind::ValidationRule,
                id: row.id,
                api_name,
                object,
                namespace: row.namespace_prefix,
                state: ObservedState::Rule {
                    active: Some(row.active),
                },
                decision,
            }
        })
        .collect())
}
