//! Flows and Process Builders. Both are `FlowDefinition`s; pausing either sets the
//! definition's `activeVersionNumber` to 0, and restoring sets it back to the exact number
//! that was active.
//!
//! Discovery reads `FlowDefinitionView` on the standard `/query` endpoint (it is a standard
//! object, not a Tooling one) for the type, trigger and object of every flow, and the Tooling
//! `FlowDefinition` for the active version *number* (the view only gives ids). A Process
//! Builder's object is only in its version's `Metadata`, read in composite batches.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::read::read_records;
use super::scope::{Candidate, Scope, is_managed, namespaced};
use super::{Component, Decision, Kind, ObservedState, OrgInfo, SkipReason};
use crate::salesforce::{OrgClient, SfError};

/// `ProcessType`s that are Process Builders.
const PROCESS_BUILDER_TYPES: [&str; 3] = ["Workflow", "InvocableProcess", "CustomEvent"];

/// `TriggerType`s of autolaunched flows that run by themselves and so can be paused.
const PAUSABLE_TRIGGER_TYPES: [&str; 5] = [
    "RecordBeforeSave",
    "RecordAfterSave",
    "RecordBeforeDelete",
    "Scheduled",
    "PlatformEvent",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowDefinitionViewRow {
    /// The `FlowDefinition` id (`300…`); `Id` of the view is not usable for Tooling writes.
    durable_id: String,
    api_name: String,
    process_type: Option<String>,
    trigger_type: Option<String>,
    trigger_object_or_event: Option<QualifiedApiName>,
    active_version_id: Option<String>,
    namespace_prefix: Option<String>,
    manageable_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QualifiedApiName {
    qualified_api_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowDefinitionRow {
    id: String,
    active_version_id: Option<String>,
    active_version: Option<VersionRef>,
    latest_version: Option<VersionRef>,
}

/// A `Flow` (one version of a flow): nested in a `FlowDefinition` row, or read on its own.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VersionRef {
    #[serde(default, deserialize_with = "super::de::version_number")]
    pub(super) version_number: Option<u32>,
}

/// Builds the `FlowDefinitionView` query for the kinds in scope, so an org that pauses only
/// flows never lists its Process Builders and the other way round.
fn view_query(scope: &Scope) -> Option<String> {
    let flows = scope.includes_kind(Kind::Flow);
    let builders = scope.includes_kind(Kind::ProcessBuilder);
    let types = PROCESS_BUILDER_TYPES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = match (flows, builders) {
        (true, true) => String::new(),
        (true, false) => format!(" WHERE ProcessType NOT IN ({types})"),
        (false, true) => format!(" WHERE ProcessType IN ({types})"),
        (false, false) => return None,
    };
    Some(format!(
        "SELECT DurableId, ApiName, ProcessType, TriggerType, \
         TriggerObjectOrEvent.QualifiedApiName, ActiveVersionId, NamespacePrefix, \
         ManageableState FROM FlowDefinitionView{filter}"
    ))
}

const VERSIONS_QUERY: &str = "SELECT Id, ActiveVersionId, ActiveVersion.VersionNumber, \
     LatestVersion.VersionNumber FROM FlowDefinition";

/// What the two list queries of flows return, before anything is decided.
#[derive(Debug, Default)]
pub struct Listed {
    views: Vec<FlowDefinitionViewRow>,
    definitions: Vec<FlowDefinitionRow>,
}

/// Lists flows and Process Builders (whichever of the two are in scope): both queries at once.
pub async fn list(client: &OrgClient, scope: &Scope) -> Result<Listed, SfError> {
    let Some(view_query) = view_query(scope) else {
        return Ok(Listed::default());
    };
    let (views, definitions) = tokio::try_join!(
        client.query::<FlowDefinitionViewRow>(&view_query),
        client.tooling_query::<FlowDefinitionRow>(VERSIONS_QUERY),
    )?;
    Ok(Listed { views, definitions })
}

/// Decides what [`list`] found, reading what the lists do not say where a decision needs it.
pub async fn discover(
    client: &OrgClient,
    scope: &Scope,
    org: &OrgInfo,
    listed: Listed,
) -> Result<Vec<Component>, SfError> {
    let Listed { views, definitions } = listed;
    let versions: BTreeMap<String, FlowDefinitionRow> = definitions
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();

    let mut components = Vec::with_capacity(views.len());
    // Process Builders still to be placed on an object: (index in `components`, version id).
    let mut builder_objects = Vec::new();
    // Flows whose active version number the two reads did not agree on: (index, version id).
    let mut unnumbered = Vec::new();
    for view in views {
        let definition = versions.get(&view.durable_id);
        // The view says whether a version is active, by id; the Tooling row gives the number.
        // The number is used only when both name the same version: the two reads run
        // concurrently and a version activated in between must not be mistaken for the one
        // to restore. Otherwise the version itself is read below.
        let active_version = view.active_version_id.as_ref().and_then(|active_id| {
            definition
                .filter(|d| d.active_version_id.as_ref() == Some(active_id))
                .and_then(|d| d.active_version.as_ref())
                .and_then(|v| v.version_number)
        });
        let latest_version = definition
            .and_then(|d| d.latest_version.as_ref())
            .and_then(|v| v.version_number);
        let process_type = view.process_type.as_deref().unwrap_or_default();
        let kind = if PROCESS_BUILDER_TYPES.contains(&process_type) {
            Kind::ProcessBuilder
        } else {
            Kind::Flow
        };
        let object = view
            .trigger_object_or_event
            .and_then(|object| object.qualified_api_name);
        let api_name = namespaced(view.namespace_prefix.as_deref(), &view.api_name);
        let managed = is_managed(
            view.namespace_prefix.as_deref(),
            view.manageable_state.as_deref(),
            org.namespace.as_deref(),
        );
        let active = view.active_version_id.is_some();
        let state = ObservedState::Flow {
            active_version,
            latest_version,
        };
        let candidate = Candidate {
            kind,
            api_name: &api_name,
            object: object.as_deref(),
            managed,
            active: Some(active),
        };
        let decision = match flow_type_skip(kind, process_type, view.trigger_type.as_deref()) {
            Some(reason) => Decision::Skip(reason),
            // A Process Builder's object is only in its metadata, read below for those that
            // would otherwise be paused.
            None if kind == Kind::ProcessBuilder && object.is_none() => {
                scope.decide_before_object(candidate)
            }
            None => scope.decide(candidate),
        };
        if let Some(version_id) = view.active_version_id.clone() {
            if active_version.is_none() && decision == Decision::Pause {
                unnumbered.push((components.len(), version_id.clone()));
            }
            if kind == Kind::ProcessBuilder && object.is_none() && decision == Decision::Pause {
                builder_objects.push((components.len(), version_id));
            }
        }
        components.push(Component {
            kind,
            id: view.durable_id,
            api_name,
            object,
            namespace: view.namespace_prefix,
            state,
            decision,
        });
    }
    number_active_versions(client, &mut components, unnumbered).await?;
    place_process_builders(client, scope, &mut components, builder_objects).await?;
    Ok(components)
}

/// The skip reasons that follow from the flow's type alone.
fn flow_type_skip(
    kind: Kind,
    process_type: &str,
    trigger_type: Option<&str>,
) -> Option<SkipReason> {
    if kind == Kind::ProcessBuilder {
        return None;
    }
    match process_type {
        "Flow" => Some(SkipReason::ScreenFlow),
        "AutoLaunchedFlow" => match trigger_type {
            Some(trigger) if PAUSABLE_TRIGGER_TYPES.contains(&trigger) => None,
            _ => Some(SkipReason::AutolaunchedWithoutTrigger),
        },
        other => Some(SkipReason::UnsupportedFlowType(other.to_owned())),
    }
}

/// Reads the version number of flows whose two discovery reads disagreed, from the version
/// the view names as active. A flow that is to be paused must have a known number: it is the
/// number restore sets back.
async fn number_active_versions(
    client: &OrgClient,
    components: &mut [Component],
    pending: Vec<(usize, String)>,
) -> Result<(), SfError> {
    let ids: Vec<String> = pending.iter().map(|(_, id)| id.clone()).collect();
    let records = read_records(client, "Flow", &ids, &["Id", "VersionNumber"]).await?;
    for (index, version_id) in pending {
        let component = &mut components[index];
        let number = records
            .found
            .get(&version_id)
            .map(VersionRef::deserialize)
            .transpose()
            .map_err(|error| SfError::Decode {
                org: client.org().to_owned(),
                path: format!("Flow/{version_id}"),
                expected: "a flow version with a whole VersionNumber".to_owned(),
                detail: error.to_string(),
            })?
            .and_then(|version| version.version_number)
            .ok_or_else(|| SfError::Decode {
                org: client.org().to_owned(),
                path: format!("Flow/{version_id}"),
                expected: "the active version of the flow".to_owned(),
                detail: format!(
                    "flow {} names {version_id} as its active version, but its number could \
                     not be read",
                    component.api_name
                ),
            })?;
        if let ObservedState::Flow { active_version, .. } = &mut component.state {
            *active_version = Some(number);
        }
    }
    Ok(())
}

/// Reads the active version of each Process Builder that needs an object and decides it
/// again with the object known.
async fn place_process_builders(
    client: &OrgClient,
    scope: &Scope,
    components: &mut [Component],
    pending: Vec<(usize, String)>,
) -> Result<(), SfError> {
    if pending.is_empty() {
        return Ok(());
    }
    let unique: BTreeSet<String> = pending.iter().map(|(_, id)| id.clone()).collect();
    let unique: Vec<String> = unique.into_iter().collect();
    let records = read_records(client, "Flow", &unique, &["Id", "Metadata"]).await?;
    for (index, version_id) in pending {
        let object = records
            .found
            .get(&version_id)
            .and_then(process_builder_object);
        let component = &mut components[index];
        component.object = object;
        // Only components decided `Pause` get here, so the managed rule has already let
        // them through; what is left to decide is the object.
        component.decision = scope.decide(Candidate {
            kind: component.kind,
            api_name: &component.api_name,
            object: component.object.as_deref(),
            managed: false,
            active: component.state.is_active(),
        });
    }
    Ok(())
}

/// A Process Builder keeps its object in `processMetadataValues` under `ObjectType`.
fn process_builder_object(record: &Value) -> Option<String> {
    record
        .get("Metadata")?
        .get("processMetadataValues")?
        .as_array()?
        .iter()
        .find(|value| value.get("name").and_then(Value::as_str) == Some("ObjectType"))?
        .get("value")?
        .get("stringValue")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_rules_skip_screen_and_untriggered_flows() {
        assert_eq!(
            flow_type_skip(Kind::Flow, "Flow", None),
            Some(SkipReason::ScreenFlow)
        );
        assert_eq!(
            flow_type_skip(Kind::Flow, "AutoLaunchedFlow", None),
            Some(SkipReason::AutolaunchedWithoutTrigger)
        );
        assert_eq!(
            flow_type_skip(Kind::Flow, "AutoLaunchedFlow", Some("RecordAfterSave")),
            None
        );
        assert_eq!(
            flow_type_skip(Kind::Flow, "Orchestrator", Some("RecordAfterSave")),
            Some(SkipReason::UnsupportedFlowType("Orchestrator".to_owned()))
        );
        assert_eq!(flow_type_skip(Kind::ProcessBuilder, "Workflow", None), None);
    }

    #[test]
    fn process_builder_object_comes_from_object_type_metadata() {
        let record = json!({"Metadata": {"processMetadataValues": [
            {"name": "TriggerType", "value": {"stringValue": "onAllChanges"}},
            {"name": "ObjectType", "value": {"stringValue": "Opportunity"}}
        ]}});
        assert_eq!(
            process_builder_object(&record).as_deref(),
            Some("Opportunity")
        );
        assert_eq!(process_builder_object(&json!({"Metadata": null})), None);
    }

    #[test]
    fn view_query_lists_only_the_kinds_in_scope() {
        let only_flows = Scope::new([Kind::Flow].into(), None, Vec::new(), false);
        let query = view_query(&only_flows).expect("flows are in scope");
        assert!(
            query.contains("WHERE ProcessType NOT IN ('Workflow'"),
            "{query}"
        );
        let none = Scope::new([Kind::Trigger].into(), None, Vec::new(), false);
        assert!(view_query(&none).is_none());
    }
}
