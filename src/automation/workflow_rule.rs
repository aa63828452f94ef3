//! Workflow rules. Their active flag lives only in `Metadata`, which Salesforce returns one
//! record at a time, so discovery lists them, decides every rule it can without the flag, and
//! reads `FullName` and `Metadata` (in composite batches of 25) only for the rules still in
//! the running.
//!
//! The list gives a rule's object as `TableEnumOrId`: the API name for standard objects, an
//! id for custom ones. Rather than map those ids through `EntityDefinition` (whose id format
//! and filter support are not documented well enough to rely on), a rule on a custom object is
//! named from its `FullName` (`Object.Rule`), read in the same call as its `Metadata`, and
//! only then matched against `objects` and `exclude`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::read::read_records;
use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::switch::{Activation, Current};
use super::{Component, Decision, Kind, ObservedState, OrgInfo, SkipReason};
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkflowRuleRow {
    id: String,
    name: String,
    table_enum_or_id: Option<String>,
    namespace_prefix: Option<String>,
}

const QUERY: &str = "SELECT Id, Name, TableEnumOrId, NamespacePrefix FROM WorkflowRule";

/// A rule whose decision waits for its `FullName` and `Metadata`.
#[derive(Debug)]
struct Unread {
    index: usize,
    managed: bool,
}

/// Lists the workflow rules.
pub async fn list(client: &OrgClient, scope: &Scope) -> Result<Vec<WorkflowRuleRow>, SfError> {
    if !scope.includes_kind(Kind::WorkflowRule) {
        return Ok(Vec::new());
    }
    client.tooling_query(QUERY).await
}

/// The rules [`list`] found, and the state read for each rule whose `Metadata` was read (by
/// id), which a pause writes back.
pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
    rows: Vec<WorkflowRuleRow>,
) -> Result<(Vec<Component>, BTreeMap<String, Current>), SfError> {
    let mut components = Vec::with_capacity(rows.len());
    let mut unread = Vec::new();
    for row in rows {
        // WorkflowRule has no ManageableState: a foreign namespace is managed.
        let managed = is_managed(
            row.namespace_prefix.as_deref(),
            None,
            org.namespace.as_deref(),
        );
        let rule = namespaced(row.namespace_prefix.as_deref(), &row.name);
        let object = row.table_enum_or_id.filter(|table| is_object_name(table));
        let api_name = match &object {
            Some(object) => format!("{object}.{rule}"),
            None => rule,
        };
        let decision = match &object {
            Some(object) => scope.decide(Candidate {
                kind: Kind::WorkflowRule,
                api_name: &api_name,
                object: Some(object),
                managed,
                active: None,
            }),
            // Named and placed once its FullName is read; only the managed rule can be
            // applied before that.
            None if managed && !scope.include_managed => Decision::Skip(SkipReason::ManagedPackage),
            None => Decision::Pause,
        };
        if decision == Decision::Pause {
            unread.push(Unread {
                index: components.len(),
                managed,
            });
        }
        components.push(Component {
            kind: Kind::WorkflowRule,
            id: row.id,
            api_name,
            object,
            namespace: row.namespace_prefix,
            state: ObservedState::Rule { active: None },
            decision,
        });
    }
    let read = read_and_decide(client, scope, &mut components, &unread).await?;
    Ok((components, read))
}

/// Reads `FullName` and `Metadata` of the rules in `unread` and decides them with their full
/// name, object and active flag. Rules deleted since the list was read are dropped. Returns
/// the state read, by id.
async fn read_and_decide(
    client: &OrgClient,
    scope: &Scope,
    components: &mut Vec<Component>,
    unread: &[Unread],
) -> Result<BTreeMap<String, Current>, SfError> {
    let mut read = BTreeMap::new();
    let ids: Vec<String> = unread
        .iter()
        .map(|rule| components[rule.index].id.clone())
        .collect();
    let records = read_records(
        client,
        "WorkflowRule",
        &ids,
        &["Id", "FullName", "Metadata"],
    )
    .await?;
    for rule in unread {
        let component = &mut components[rule.index];
        let Some(record) = records.found.get(&component.id) else {
            continue;
        };
        let unexpected = |expected: &str| SfError::Decode {
            org: client.org().to_owned(),
            path: format!("/tooling/sobjects/WorkflowRule/{}", component.id),
            expected: expected.to_owned(),
            detail: format!("workflow rule {} ({})", component.api_name, component.id),
        };
        let current =
            Current::rule(record).ok_or_else(|| unexpected("Metadata.active as a boolean"))?;
        let Activation::Rule { active } = current.activation else {
            return Err(unexpected("a rule's state"));
        };
        read.insert(component.id.clone(), current);
        let full_name = record
            .get("FullName")
            .and_then(Value::as_str)
            .filter(|name| name.contains('.'))
            .ok_or_else(|| unexpected("FullName of the form Object.Rule"))?;
        component.api_name = full_name.to_owned();
        component.object = full_name
            .split_once('.')
            .map(|(object, _)| object.to_owned());
        component.state = ObservedState::Rule {
            active: Some(active),
        };
        component.decision = scope.decide(Candidate {
            kind: Kind::WorkflowRule,
            api_name: &component.api_name,
            object: component.object.as_deref(),
            managed: rule.managed,
            active: Some(active),
        });
    }
    let gone = &records.gone;
    components.retain(|component| !gone.contains(&component.id));
    Ok(read)
}

/// Whether `TableEnumOrId` holds an object's API name rather than a custom object's id (15 or
/// 18 letters and digits, with digits in it; custom object names contain `__`). Should a name
/// ever be taken for an id, the rule is only read before it is decided, which costs a share of
/// a composite call and changes no decision.
fn is_object_name(table: &str) -> bool {
    let looks_like_id = matches!(table.len(), 15 | 18)
        && table.chars().all(|c| c.is_ascii_alphanumeric())
        && table.chars().any(|c| c.is_ascii_digit());
    !looks_like_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_active_flag_is_read_from_metadata_only() {
        let active = |record: serde_json::Value| Current::rule(&record).map(|c| c.activation);
        assert_eq!(
            active(json!({"Metadata": {"active": true}})),
            Some(Activation::Rule { active: true })
        );
        assert_eq!(
            active(json!({"Metadata": {"active": false}})),
            Some(Activation::Rule { active: false })
        );
        assert_eq!(active(json!({"Active": true})), None);
    }

    #[test]
    fn custom_object_ids_are_told_from_object_names() {
        assert!(is_object_name("Account"));
        assert!(is_object_name("Invoice__c"));
        assert!(is_object_name("OpportunityLineItem"));
        assert!(is_object_name("ServiceAppointment"));
        assert!(!is_object_name("01IXX0000000001AAA"));
        assert!(!is_object_name("01IXX0000000001"));
    }
}
