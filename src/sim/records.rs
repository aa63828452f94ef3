//! The org's components as Salesforce JSON records.
//!
//! One function per sObject type builds a row with every field of its schema (plus
//! `FullName`, `Metadata` and nested relationship rows), keyed by canonical field name. The
//! query catalogs hand these rows to the SOQL engine; the Tooling sobjects GET picks fields
//! from the same rows, so both endpoints always agree.

use serde_json::{Map, Value, json};

use super::ids::EMPTY_ID;
use super::model::{
    ApexTrigger, CREATED_DATE, Flow, FlowVersion, LAST_MODIFIED_DATE, Org, SObjectInfo,
    ValidationRule, ValidationRuleMetadata, WorkflowRule, WorkflowRuleMetadata,
};

/// How deep relationship rows nest (`ActiveVersion.Definition.DeveloperName` is depth 2).
/// Rows at the last level carry no relationship keys, which keeps rows finite.
pub const MAX_DEPTH: u8 = 2;

pub type Row = Map<String, Value>;

fn row(pairs: Vec<(&str, Value)>) -> Row {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// `attributes` of a record: its type and its sobjects URL under `url_prefix`
/// (e.g. `/services/data/v66.0/tooling/sobjects`).
pub fn attributes(object: &str, id: &str, url_prefix: &str) -> Value {
    json!({ "type": object, "url": format!("{url_prefix}/{object}/{id}") })
}

pub fn organization_row(org: &Org) -> Row {
    let info = &org.info;
    row(vec![
        ("Id", json!(info.id)),
        ("Name", json!(info.name)),
        ("IsSandbox", json!(info.is_sandbox)),
        ("OrganizationType", json!(info.organization_type)),
        ("InstanceName", json!(info.instance_name)),
        ("NamespacePrefix", json!(info.namespace)),
        ("TrialExpirationDate", json!(info.trial_expiration_date)),
    ])
}

pub fn user_row(org: &Org) -> Row {
    let user = &org.info.user;
    row(vec![
        ("Id", json!(user.id)),
        ("Username", json!(user.username)),
        ("Name", json!(user.name)),
        ("Email", json!(user.email)),
        ("IsActive", json!(true)),
    ])
}

/// The Run As user's permissions: every permission the sim knows, true when the scenario
/// grants it.
pub fn user_permission_access_row(org: &Org) -> Row {
    let granted = &org.info.user.permissions;
    let mut row = row(vec![("Id", json!(EMPTY_ID))]);
    for name in super::schema::user_permissions() {
        row.insert(format!("Permissions{name}"), json!(granted.contains(name)));
    }
    row
}

pub fn entity_definition_row(object: &SObjectInfo) -> Row {
    row(vec![
        ("DurableId", json!(object.durable_id)),
        ("QualifiedApiName", json!(object.api_name)),
        ("Label", json!(object.label)),
        ("NamespacePrefix", json!(object.namespace)),
    ])
}

/// The EntityDefinition row of `api_name`, or `null` when the object is unknown.
fn entity_value(org: &Org, api_name: &str) -> Value {
    org.object(api_name).map_or(Value::Null, |object| {
        Value::Object(entity_definition_row(object))
    })
}

pub fn flow_definition_view_row(org: &Org, flow: &Flow) -> Row {
    let active = flow.active();
    let latest = flow.latest();
    let object = flow.object.as_deref().and_then(|name| org.object(name));
    // Process Builders carry their object only in the version Metadata, not here.
    let trigger_object = object.filter(|_| flow.trigger_type.is_some());
    let is_active = match (active, latest) {
        // The strict reading of the documentation: the *latest* version is the active one.
        (Some(active), Some(latest)) => active.number == latest.number,
        _ => false,
    };
    // [INFERRED] the reference only says the two descriptions nearly overlap (§3.3); the sim
    // makes IsOutOfDate the complement of IsActive while a version is active.
    let is_out_of_date = match (active, latest) {
        (Some(active), Some(latest)) => active.number != latest.number,
        _ => false,
    };
    let builder = if flow.is_process_builder() {
        "Process Builder"
    } else {
        "Flow Builder"
    };
    row(vec![
        ("Id", json!(EMPTY_ID)),
        ("DurableId", json!(flow.id)),
        ("ApiName", json!(flow.full_name())),
        ("Label", json!(flow.label)),
        ("ProcessType", json!(flow.process_type)),
        ("TriggerType", json!(flow.trigger_type)),
        ("RecordTriggerType", json!(flow.record_trigger_type)),
        (
            "TriggerObjectOrEventId",
            json!(trigger_object.map(|o| &o.durable_id)),
        ),
        (
            "TriggerObjectOrEventLabel",
            json!(trigger_object.map(|o| &o.label)),
        ),
        (
            "TriggerObjectOrEvent",
            trigger_object.map_or(Value::Null, |o| Value::Object(entity_definition_row(o))),
        ),
        ("IsActive", json!(is_active)),
        ("ActiveVersionId", json!(active.map(|v| &v.id))),
        ("LatestVersionId", json!(latest.map(|v| &v.id))),
        ("NamespacePrefix", json!(flow.namespace)),
        ("ManageableState", json!(flow.manageable_state)),
        ("IsTemplate", json!(false)),
        ("IsOutOfDate", json!(is_out_of_date)),
        // [INFERRED] the reference lists the field without saying which version it counts.
        ("VersionNumber", json!(latest.map(|v| v.number))),
        ("Description", json!(flow.description)),
        (
            "InstalledPackageName",
            json!(flow.namespace.as_ref().map(|ns| format!("{ns} Package"))),
        ),
        ("LastModifiedBy", json!(org.info.user.name)),
        ("LastModifiedDate", json!(LAST_MODIFIED_DATE)),
        ("ApiVersion", json!(flow.api_version)),
        ("Builder", json!(builder)),
    ])
}

/// [INFERRED] shape (§3.1): `activeVersionNumber` is null, not 0, when no version is active.
pub fn flow_definition_metadata(flow: &Flow) -> Value {
    json!({
        "activeVersionNumber": flow.active().map(|v| v.number),
        "description": flow.description,
        "masterLabel": flow.label,
        "urls": null,
    })
}

pub fn flow_definition_row(org: &Org, flow: &Flow, depth: u8) -> Row {
    let active = flow.active();
    let latest = flow.latest();
    let mut out = row(vec![
        ("Id", json!(flow.id)),
        ("DeveloperName", json!(flow.name)),
        ("MasterLabel", json!(flow.label)),
        ("Description", json!(flow.description)),
        ("NamespacePrefix", json!(flow.namespace)),
        ("ManageableState", json!(flow.manageable_state)),
        ("ActiveVersionId", json!(active.map(|v| &v.id))),
        ("LatestVersionId", json!(latest.map(|v| &v.id))),
        ("FullName", json!(flow.full_name())),
        ("Metadata", flow_definition_metadata(flow)),
    ]);
    if depth < MAX_DEPTH {
        let nested = |version: Option<&FlowVersion>| {
            version.map_or(Value::Null, |v| {
                Value::Object(flow_row(org, flow, v, depth + 1))
            })
        };
        out.insert("ActiveVersion".to_owned(), nested(active));
        out.insert("LatestVersion".to_owned(), nested(latest));
    }
    out
}

/// One `processMetadataValues` entry. [INFERRED] The value carries every member of the
/// Metadata API's `FlowElementReferenceOrValue` with the unused ones null, so a client has to
/// pick `stringValue` (reference §3.2) rather than take the only key there is.
fn process_value(name: &str, value: &str) -> Value {
    json!({
        "name": name,
        "value": {
            "apexValue": null,
            "booleanValue": null,
            "dateTimeValue": null,
            "dateValue": null,
            "elementReference": null,
            "numberValue": null,
            "sobjectValue": null,
            "stringValue": value,
        },
    })
}

/// The `start` element of a flow version: set for record-, schedule- and event-triggered
/// flows, `null` otherwise.
fn flow_start(flow: &Flow) -> Value {
    match flow.trigger_type.as_deref() {
        Some("Scheduled") => json!({
            "object": flow.object,
            "triggerType": "Scheduled",
            "recordTriggerType": null,
            "schedule": { "frequency": "Daily", "startDate": "2026-09-01", "startTime": "01:00:00.000Z" },
        }),
        Some(trigger) => json!({
            "object": flow.object,
            "triggerType": trigger,
            "recordTriggerType": flow.record_trigger_type,
            "schedule": null,
        }),
        None => Value::Null,
    }
}

pub fn flow_metadata(flow: &Flow, version: &FlowVersion) -> Value {
    let mut values = Vec::new();
    if flow.is_process_builder() {
        if let Some(object) = &flow.object {
            values.push(process_value("ObjectType", object));
        }
        values.push(process_value("ObjectVariable", "myVariable_current"));
        values.push(process_value("TriggerType", "onAllChanges"));
    } else {
        values.push(process_value("BuilderType", "LightningFlowBuilder"));
        values.push(process_value("CanvasMode", "AUTO_LAYOUT_CANVAS"));
    }
    json!({
        "apiVersion": flow.api_version,
        "description": flow.description,
        "label": flow.label,
        "processMetadataValues": values,
        "processType": flow.process_type,
        "runInMode": null,
        "start": flow_start(flow),
        "status": version.status.as_str(),
        "urls": null,
    })
}

pub fn flow_row(org: &Org, flow: &Flow, version: &FlowVersion, depth: u8) -> Row {
    let mut out = row(vec![
        ("Id", json!(version.id)),
        ("DefinitionId", json!(flow.id)),
        ("MasterLabel", json!(flow.label)),
        ("VersionNumber", json!(version.number)),
        ("Status", json!(version.status.as_str())),
        ("ProcessType", json!(flow.process_type)),
        ("ApiVersion", json!(flow.api_version)),
        ("Description", json!(flow.description)),
        ("RunInMode", json!("DefaultMode")),
        (
            "FullName",
            json!(format!("{}-{}", flow.full_name(), version.number)),
        ),
        ("Metadata", flow_metadata(flow, version)),
    ]);
    if depth < MAX_DEPTH {
        out.insert(
            "Definition".to_owned(),
            Value::Object(flow_definition_row(org, flow, depth + 1)),
        );
    }
    out
}

pub fn validation_rule_metadata(metadata: &ValidationRuleMetadata) -> Value {
    json!({
        "active": metadata.active,
        "description": metadata.description,
        "errorConditionFormula": metadata.error_condition_formula,
        "errorDisplayField": metadata.error_display_field,
        "errorMessage": metadata.error_message,
        "shouldEvaluateOnClient": metadata.should_evaluate_on_client,
        "urls": null,
    })
}

pub fn validation_rule_row(org: &Org, rule: &ValidationRule) -> Row {
    let metadata = &rule.metadata;
    let mut out = row(vec![
        ("Id", json!(rule.id)),
        ("ValidationName", json!(rule.name)),
        ("Active", json!(metadata.active)),
        ("Description", json!(metadata.description)),
        ("EntityDefinitionId", json!(org.durable_id(&rule.object))),
        (
            "ErrorDisplayField",
            // The list field shows a sentinel where the Metadata has null (reported in
            // real orgs; clients must not treat it as a field name).
            json!(
                metadata
                    .error_display_field
                    .as_deref()
                    .unwrap_or("Top of Page")
            ),
        ),
        ("ErrorMessage", json!(metadata.error_message)),
        ("NamespacePrefix", json!(rule.namespace)),
        ("ManageableState", json!(rule.manageable_state)),
        ("FullName", json!(rule.full_name())),
        ("Metadata", validation_rule_metadata(metadata)),
    ]);
    // EntityDefinition rows have no relationships, so this nesting always ends here.
    out.insert(
        "EntityDefinition".to_owned(),
        entity_value(org, &rule.object),
    );
    out
}

pub fn workflow_rule_metadata(metadata: &WorkflowRuleMetadata) -> Value {
    json!({
        "actions": metadata.actions,
        "active": metadata.active,
        "booleanFilter": metadata.boolean_filter,
        "criteriaItems": metadata.criteria_items,
        "description": metadata.description,
        "formula": metadata.formula,
        "triggerType": metadata.trigger_type,
        "workflowTimeTriggers": metadata.workflow_time_triggers,
        "urls": null,
    })
}

pub fn workflow_rule_row(org: &Org, rule: &WorkflowRule) -> Row {
    row(vec![
        ("Id", json!(rule.id)),
        ("Name", json!(rule.name)),
        ("TableEnumOrId", json!(org.durable_id(&rule.object))),
        ("NamespacePrefix", json!(rule.namespace)),
        ("CreatedDate", json!(CREATED_DATE)),
        ("LastModifiedDate", json!(LAST_MODIFIED_DATE)),
        ("FullName", json!(rule.full_name())),
        ("Metadata", workflow_rule_metadata(&rule.metadata)),
    ])
}

pub fn apex_trigger_metadata(trigger: &ApexTrigger) -> Value {
    json!({
        "apiVersion": trigger.api_version,
        "packageVersions": [],
        "status": trigger.status.as_str(),
        "urls": null,
    })
}

/// The DML events in a trigger's header, lower-cased (`before insert`, ...).
fn trigger_events(body: &str) -> Vec<String> {
    let header = body.split('{').next().unwrap_or("");
    let Some(open) = header.find('(') else {
        return Vec::new();
    };
    let inner = &header[open + 1..];
    let inner = inner.split(')').next().unwrap_or("");
    inner
        .split(',')
        .map(|event| {
            event
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|event| !event.is_empty())
        .collect()
}

/// Length of the source without `//` and `/* */` comments.
fn length_without_comments(body: &str) -> usize {
    let mut length = 0;
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                length += c.len_utf8();
            }
            rest = chars.as_str();
        }
    }
    length
}

/// CRC-32 (IEEE) of the body, as `BodyCrc` reports a checksum of the source.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

pub fn apex_trigger_row(org: &Org, trigger: &ApexTrigger) -> Row {
    let hidden = trigger.body == "(hidden)";
    let events = trigger_events(&trigger.body);
    let uses = |event: &str| json!(events.iter().any(|e| e == event));
    let length: i64 = if hidden {
        -1
    } else {
        i64::try_from(length_without_comments(&trigger.body)).unwrap_or(i64::MAX)
    };
    let durable = org.durable_id(&trigger.object);
    let mut out = row(vec![
        ("Id", json!(trigger.id)),
        ("Name", json!(trigger.name)),
        ("ApiVersion", json!(trigger.api_version)),
        ("Body", json!(trigger.body)),
        ("BodyCrc", json!(f64::from(crc32(trigger.body.as_bytes())))),
        ("EntityDefinitionId", json!(durable)),
        ("TableEnumOrId", json!(durable)),
        ("Status", json!(trigger.status.as_str())),
        ("NamespacePrefix", json!(trigger.namespace)),
        ("ManageableState", json!(trigger.manageable_state)),
        ("IsValid", json!(true)),
        ("LengthWithoutComments", json!(length)),
        ("UsageAfterDelete", uses("after delete")),
        ("UsageAfterInsert", uses("after insert")),
        ("UsageAfterUndelete", uses("after undelete")),
        ("UsageAfterUpdate", uses("after update")),
        ("UsageBeforeDelete", uses("before delete")),
        ("UsageBeforeInsert", uses("before insert")),
        ("UsageBeforeUpdate", uses("before update")),
        ("UsageIsBulk", json!(true)),
        ("FullName", json!(trigger.full_name())),
        ("Metadata", apex_trigger_metadata(trigger)),
    ]);
    // EntityDefinition rows have no relationships, so this nesting always ends here.
    out.insert(
        "EntityDefinition".to_owned(),
        entity_value(org, &trigger.object),
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn trigger_header_and_comments_are_read() {
        let body =
            "trigger T on Account (before insert, AFTER  update) {\n// note\n/* block */x\n}";
        assert_eq!(trigger_events(body), vec!["before insert", "after update"]);
        assert_eq!(length_without_comments("a// c\nb/* d */c"), "a\nbc".len());
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
