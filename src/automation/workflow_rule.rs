//! Workflow rules. Their active flag lives only in `Metadata`, which Salesforce returns one
//! record at a time, so discovery lists them, decides every rule it can without the flag, and
//! reads `Metadata` (in composite batches of 25) only for the rules still in the running.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::read::read_records;
use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::{Component, Decision, Kind, ObservedState, OrgInfo, SkipReason};
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WorkflowRuleRow {
    id: String,
    name: String,
    table_enum_or_id: Option<String>,
    namespace_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EntityDefinitionRow {
    durable_id: String,
    qualified_api_name: String,
}

const QUERY: &str = "SELECT Id, Name, TableEnumOrId, NamespacePrefix FROM WorkflowRule";

/// Ids per `IN (...)` list when mapping custom-object ids, well below SOQL's length limit.
const IDS_PER_QUERY: usize = 200;

pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
) -> Result<Vec<Component>, SfError> {
    if !scope.includes_kind(Kind::WorkflowRule) {
        return Ok(Vec::new());
    }
    let rows: Vec<WorkflowRuleRow> = client.tooling_query(QUERY).await?;
    let objects = object_names(client, &rows).await?;

    let mut components: Vec<Component> = rows
        .into_iter()
        .map(|row| {
            let object = row
                .table_enum_or_id
                .as_ref()
                .map(|table| objects.get(table).cloned().unwrap_or_else(|| table.clone()));
            let rule = namespaced(row.namespace_prefix.as_deref(), &row.name);
            let api_name = match &object {
                Some(object) => format!("{object}.{rule}"),
                None => rule,
            };
            let decision = scope.decide(Candidate {
                kind: Kind::WorkflowRule,
                api_name: &api_name,
                object: object.as_deref(),
                // WorkflowRule has no ManageableState: a foreign namespace is managed.
                managed: is_managed(
                    row.namespace_prefix.as_deref(),
                    None,
                    org.namespace.as_deref(),
                ),
                active: None,
            });
            Component {
                kind: Kind::WorkflowRule,
                id: row.id,
                api_name,
                object,
                namespace: row.namespace_prefix,
                state: ObservedState::Rule { active: None },
                decision,
            }
        })
        .collect();

    let to_read: Vec<String> = components
        .iter()
        .filter(|component| component.will_pause())
        .map(|component| component.id.clone())
        .collect();
    if to_read.is_empty() {
        return Ok(components);
    }
    let records = read_records(client, "WorkflowRule", &to_read, &["Id", "Metadata"]).await?;
    let gone: BTreeSet<&String> = records.gone.iter().collect();
    for component in &mut components {
        if let Some(record) = records.found.get(&component.id) {
            let active = metadata_active(record).ok_or_else(|| SfError::Decode {
                org: client.org().to_owned(),
                path: format!("tooling/sobjects/WorkflowRule/{}", component.id),
                expected: "Metadata.active as a boolean".to_owned(),
                detail: format!("workflow rule {} has no active flag", component.api_name),
            })?;
            component.state = ObservedState::Rule {
                active: Some(active),
            };
            if !active {
                component.decision = Decision::Skip(SkipReason::AlreadyInactive);
            }
        }
    }
    // A rule deleted between the list and the read no longer exists to be paused.
    components.retain(|component| !gone.contains(&component.id));
    Ok(components)
}

/// `TableEnumOrId` holds the API name for standard objects and a `01I…` id for custom ones;
/// map those ids to API names through `EntityDefinition`.
async fn object_names(
    client: &OrgClient,
    rows: &[WorkflowRuleRow],
) -> Result<BTreeMap<String, String>, SfError> {
    let ids: BTreeSet<&str> = rows
        .iter()
        .filter_map(|row| row.table_enum_or_id.as_deref())
        .filter(|table| table.starts_with("01I"))
        .collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut names = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let list = chunk
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let query = format!(
            "SELECT DurableId, QualifiedApiName FROM EntityDefinition WHERE DurableId IN ({list})"
        );
        let rows: Vec<EntityDefinitionRow> = client.tooling_query(&query).await?;
        names.extend(
            rows.into_iter()
                .map(|row| (row.durable_id, row.qualified_api_name)),
        );
    }
    Ok(names)
}

fn metadata_active(record: &Value) -> Option<bool> {
    record.get("Metadata")?.get("active")?.as_bool()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_active_flag_is_read_from_metadata_only() {
        assert_eq!(
            metadata_active(&json!({"Metadata": {"active": true}})),
            Some(true)
        );
        assert_eq!(
            metadata_active(&json!({"Metadata": {"active": false}})),
            Some(false)
        );
        assert_eq!(metadata_active(&json!({"Active": true})), None);
    }
}
