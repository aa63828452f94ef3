//! Validation rules. The list query gives the `Active` flag and the object; pausing reads
//! each rule's full `Metadata` (during a discovery for a pause) and writes it back with
//! `active: false`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::switch::{Current, read_rules};
use super::{Component, Kind, ObservedState, OrgInfo, ToRead};
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationRuleRow {
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

/// Lists the validation rules.
pub async fn list(client: &OrgClient, scope: &Scope) -> Result<Vec<ValidationRuleRow>, SfError> {
    if !scope.includes_kind(Kind::ValidationRule) {
        return Ok(Vec::new());
    }
    client.tooling_query(QUERY).await
}

/// Decides every rule [`list`] found and, for a pause, reads the `Metadata` of the rules it
/// will pause that `to_read` accepts (the pause writes it back with `active: false`): they are
/// read here, alongside the other kinds' reads, rather than after the whole discovery. Rules
/// deleted since the list was read are dropped. Returns the state read, by id.
pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
    rows: Vec<ValidationRuleRow>,
    to_read: Option<&ToRead<'_>>,
) -> Result<(Vec<Component>, BTreeMap<String, Current>), SfError> {
    let mut components = decide(scope, org, rows);
    let Some(to_read) = to_read else {
        return Ok((components, BTreeMap::new()));
    };
    let ids: Vec<String> = components
        .iter()
        .filter(|component| component.will_pause() && to_read(component))
        .map(|component| component.id.clone())
        .collect();
    let (read, gone) = read_rules(client, "ValidationRule", &ids).await?;
    components.retain(|component| !gone.contains(&component.id));
    Ok((components, read))
}

fn decide(scope: &Scope, org: &OrgInfo, rows: Vec<ValidationRuleRow>) -> Vec<Component> {
    rows.into_iter()
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
        .collect()
}
