//! Tooling sobjects GET and the strict PATCH rules.

use super::*;

fn path(object: &str, id: &str) -> String {
    format!("{V}/tooling/sobjects/{object}/{id}")
}

#[tokio::test]
async fn get_returns_all_fields_or_the_listed_ones() {
    let org = Org::mixed().await;
    let id = org.flow_id("Contact_After_Save");
    let all = org.get(&path("FlowDefinition", &id)).await;
    assert_eq!(all.status, StatusCode::OK);
    let body = &all.body;
    assert_eq!(body["attributes"]["type"], "FlowDefinition");
    assert_eq!(
        body["attributes"]["url"],
        format!("{V}/tooling/sobjects/FlowDefinition/{id}")
    );
    assert_eq!(body["DeveloperName"], "Contact_After_Save");
    assert_eq!(body["FullName"], "Contact_After_Save");
    assert_eq!(
        body["Metadata"],
        json!({"activeVersionNumber": 2, "description": "Keeps contact roles in sync", "masterLabel": "Contact After Save", "urls": null})
    );
    assert!(body.get("ActiveVersion").is_none());
    let listed = org
        .get(&format!(
            "{}?fields=Id,FullName,Metadata",
            path("FlowDefinition", &id[..15])
        ))
        .await;
    let keys: Vec<&String> = listed.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["FullName", "Id", "Metadata", "attributes"]);
    assert_eq!(listed.body["Id"], id);

    let no_active = org
        .get(&path("FlowDefinition", &org.flow_id("Account_Legacy_Sync")))
        .await;
    assert_eq!(
        no_active.body["Metadata"]["activeVersionNumber"],
        Value::Null
    );
    assert_eq!(no_active.body["ActiveVersionId"], Value::Null);

    let pb_latest = org.flow("Account_Process")["versions"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pb = org
        .get(&format!(
            "{}?fields=Id,DefinitionId,FullName,Metadata",
            path("Flow", &pb_latest)
        ))
        .await;
    assert_eq!(pb.body["FullName"], "Account_Process-2");
    let values = pb.body["Metadata"]["processMetadataValues"]
        .as_array()
        .unwrap();
    let object_type = values.iter().find(|v| v["name"] == "ObjectType").unwrap();
    assert_eq!(object_type["value"]["stringValue"], "Account");
    // The other members of the value are there, and null.
    assert_eq!(object_type["value"]["booleanValue"], Value::Null);
    assert!(
        object_type["value"]
            .as_object()
            .unwrap()
            .contains_key("elementReference")
    );
    let record_flow = org.flow("Account_After_Save")["versions"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = &org.get(&path("Flow", &record_flow)).await.body["Metadata"]["start"];
    assert_eq!(start["object"], "Account");
    assert_eq!(start["triggerType"], "RecordAfterSave");
    assert_eq!(start["recordTriggerType"], "CreateAndUpdate");

    let trigger_id = org.id_of("triggers", "name", "AccountTrigger");
    let trigger = org
        .get(&format!(
            "{}?fields=Id,FullName,Metadata,Body,ApiVersion,Status",
            path("ApexTrigger", &trigger_id)
        ))
        .await;
    assert_eq!(trigger.body["ApiVersion"], json!(66.0));
    assert_eq!(
        trigger.body["Metadata"],
        json!({"apiVersion": 66.0, "packageVersions": [], "status": "Active", "urls": null})
    );
    assert!(
        trigger.body["Body"]
            .as_str()
            .unwrap()
            .starts_with("trigger AccountTrigger on Account")
    );
    let full = org.get(&path("ApexTrigger", &trigger_id)).await;
    assert_eq!(full.body["UsageBeforeInsert"], true);
    assert_eq!(full.body["UsageAfterUpdate"], true);
    assert_eq!(full.body["UsageBeforeDelete"], false);
    assert_eq!(full.body["TableEnumOrId"], "Account");

    let vr_id = org.id_of(
        "validation_rules",
        "full_name",
        "Invoice__c.Amount_Positive",
    );
    let vr = org.get(&path("ValidationRule", &vr_id)).await;
    assert_eq!(vr.body["FullName"], "Invoice__c.Amount_Positive");
    assert!(
        vr.body["EntityDefinitionId"]
            .as_str()
            .unwrap()
            .starts_with("01I")
    );
    assert_eq!(vr.body["ErrorDisplayField"], "Top of Page");
    assert_eq!(vr.body["Metadata"]["errorDisplayField"], Value::Null);
    let wr_id = org.id_of("workflow_rules", "full_name", "Account.Set Account Rating");
    let wr = org.get(&path("WorkflowRule", &wr_id)).await;
    assert_eq!(wr.body["FullName"], "Account.Set Account Rating");
    assert_eq!(wr.body["Metadata"]["active"], true);
    assert!(wr.body.get("Active").is_none());
}

#[tokio::test]
async fn get_errors() {
    let org = Org::mixed().await;
    let id = org.flow_id("Account_After_Save");
    let unknown_id = org.get(&path("FlowDefinition", "300Dn0000000000AAA")).await;
    assert_eq!(unknown_id.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unknown_id.body,
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
    assert_eq!(
        org.get(&path("Gadget", &id)).await.status,
        StatusCode::NOT_FOUND
    );
    // The id of another type is not found either.
    assert_eq!(
        org.get(&path("ValidationRule", &id)).await.status,
        StatusCode::NOT_FOUND
    );
    let bad_field = org
        .get(&format!(
            "{}?fields=Id,ActiveVersionNumber",
            path("FlowDefinition", &id)
        ))
        .await;
    assert_eq!(bad_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_field.error_code(), "INVALID_FIELD");
}

#[tokio::test]
async fn flow_definition_patch_switches_versions() {
    let org = Org::mixed().await;
    let id = org.flow_id("Contact_After_Save");
    let url = path("FlowDefinition", &id);
    let off = org
        .patch(&url, json!({"Metadata": {"activeVersionNumber": 0}}))
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert_eq!(off.body, Value::Null);
    let flow = org.flow("Contact_After_Save");
    assert_eq!(flow["active_version"], Value::Null);
    assert_eq!(flow["versions"][1]["status"], "Obsolete");
    assert_eq!(flow["versions"][2]["status"], "Draft");
    // Reactivate v2, never the latest.
    assert_eq!(
        org.patch(&url, json!({"Metadata": {"activeVersionNumber": 2}}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.flow("Contact_After_Save")["active_version"], 2);
    // null and omitted deactivate too; a full body as read by GET is accepted.
    let mut body = org
        .get(&format!("{url}?fields=FullName,Metadata"))
        .await
        .body;
    body.as_object_mut().unwrap().remove("attributes");
    body["Metadata"]["activeVersionNumber"] = Value::Null;
    assert_eq!(org.patch(&url, body).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        org.flow("Contact_After_Save")["active_version"],
        Value::Null
    );
    assert_eq!(
        org.patch(&url, json!({"Metadata": {"activeVersionNumber": 3}}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let flow = org.flow("Contact_After_Save");
    assert_eq!(flow["active_version"], 3);
    assert_eq!(flow["versions"][2]["status"], "Active");
    assert_eq!(
        org.patch(&url, json!({"Metadata": {}})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.flow("Contact_After_Save")["active_version"],
        Value::Null
    );
    assert_eq!(org.handle.counters()["sobject_patch"], 5);
}

#[tokio::test]
async fn flow_definition_patch_is_strict() {
    let org = Org::mixed().await;
    let url = path("FlowDefinition", &org.flow_id("Account_After_Save"));
    let before = org.handle.snapshot();
    let missing = org
        .patch(&url, json!({"Metadata": {"activeVersionNumber": 7}}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error_code(), "FIELD_INTEGRITY_EXCEPTION");
    let top_level = org.patch(&url, json!({"ActiveVersionNumber": 0})).await;
    assert_eq!(top_level.error_code(), "INVALID_FIELD");
    let read_only = org
        .patch(
            &url,
            json!({"Metadata": {"activeVersionNumber": 0}, "DeveloperName": "X"}),
        )
        .await;
    assert_eq!(read_only.error_code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
    let string = org
        .patch(&url, json!({"Metadata": {"activeVersionNumber": "0"}}))
        .await;
    assert_eq!(string.error_code(), "JSON_PARSER_ERROR");
    let no_metadata = org
        .patch(&url, json!({"FullName": "Account_After_Save"}))
        .await;
    assert_eq!(no_metadata.error_code(), "REQUIRED_FIELD_MISSING");
    let renamed = org
        .patch(
            &url,
            json!({"FullName": "Other", "Metadata": {"activeVersionNumber": 0}}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST);
    let unknown_key = org
        .patch(&url, json!({"Metadata": {"activeVersion": 0}}))
        .await;
    assert_eq!(unknown_key.status, StatusCode::BAD_REQUEST);
    let managed_id = org.flow_id("acmepkg__Partner_Account_Sync");
    let managed = org
        .patch(
            &path("FlowDefinition", &managed_id),
            json!({"Metadata": {"activeVersionNumber": 0}}),
        )
        .await;
    assert_eq!(managed.status, StatusCode::BAD_REQUEST);
    assert_eq!(managed.error_code(), "CANNOT_MODIFY_MANAGED_OBJECT");
    assert_eq!(
        managed.message(),
        format!(
            "Cannot modify managed object: entity=FlowDefinition, component={managed_id}, field=ActiveVersionNumber, state=installed"
        )
    );
    let unknown = org
        .patch(
            &path("FlowDefinition", "300Dn0000000000AAA"),
            json!({"Metadata": {}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(org.handle.snapshot(), before);
}

fn require_phone_metadata() -> Value {
    json!({
        "active": false,
        "description": "Phone is required for customers",
        "errorConditionFormula": "ISPICKVAL(Type, 'Customer') && ISBLANK(Phone)",
        "errorDisplayField": "Phone",
        "errorMessage": "Enter a phone number.",
        "shouldEvaluateOnClient": null,
        "urls": null
    })
}

#[tokio::test]
async fn validation_rule_patch_replaces_the_full_metadata() {
    let org = Org::mixed().await;
    let id = org.id_of("validation_rules", "full_name", "Account.Require_Phone");
    let url = path("ValidationRule", &id);
    let before = org.handle.snapshot();
    assert_eq!(
        org.patch(&url, json!({"Metadata": require_phone_metadata()}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let rule = org.get(&url).await.body;
    assert_eq!(rule["Active"], false);
    assert_eq!(rule["Metadata"]["active"], false);
    let mut back = require_phone_metadata();
    back["active"] = json!(true);
    assert_eq!(
        org.patch(
            &url,
            json!({"FullName": "Account.Require_Phone", "Metadata": back})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.handle.snapshot(), before);
    // Optional fields left out are cleared.
    let trimmed = json!({"Metadata": {"active": true, "errorConditionFormula": "ISBLANK(Phone)", "errorMessage": "Phone!"}});
    assert_eq!(
        org.patch(&url, trimmed).await.status,
        StatusCode::NO_CONTENT
    );
    let rule = org.get(&url).await.body;
    assert_eq!(rule["Metadata"]["description"], Value::Null);
    assert_eq!(rule["Metadata"]["errorDisplayField"], Value::Null);
}

#[tokio::test]
async fn validation_rule_patch_is_strict() {
    let org = Org::mixed().await;
    let url = path(
        "ValidationRule",
        &org.id_of("validation_rules", "full_name", "Account.Require_Phone"),
    );
    let before = org.handle.snapshot();
    let partial = org
        .patch(&url, json!({"Metadata": {"active": false}}))
        .await;
    assert_eq!(partial.status, StatusCode::BAD_REQUEST);
    assert_eq!(partial.error_code(), "REQUIRED_FIELD_MISSING");
    assert_eq!(
        partial.message(),
        "Required fields are missing: [errorConditionFormula, errorMessage]"
    );
    let mut no_active = require_phone_metadata();
    no_active.as_object_mut().unwrap().remove("active");
    assert_eq!(
        org.patch(&url, json!({"Metadata": no_active}))
            .await
            .message(),
        "Required fields are missing: [active]"
    );
    let mut stringly = require_phone_metadata();
    stringly["active"] = json!("false");
    assert_eq!(
        org.patch(&url, json!({"Metadata": stringly}))
            .await
            .error_code(),
        "JSON_PARSER_ERROR"
    );
    let top = org.patch(&url, json!({"Active": false})).await;
    assert_eq!(top.error_code(), "INVALID_FIELD_FOR_INSERT_UPDATE");
    let managed_id = org.id_of(
        "validation_rules",
        "full_name",
        "Opportunity.acmepkg__Pkg_Amount_Check",
    );
    let managed = org
        .patch(
            &path("ValidationRule", &managed_id),
            json!({"Metadata": require_phone_metadata()}),
        )
        .await;
    assert_eq!(managed.error_code(), "CANNOT_MODIFY_MANAGED_OBJECT");
    assert!(
        managed
            .message()
            .contains(&format!("entity=ValidationRule, component={managed_id}"))
    );
    assert_eq!(org.handle.snapshot(), before);
}

#[tokio::test]
async fn workflow_rule_patch() {
    let org = Org::mixed().await;
    let id = org.id_of("workflow_rules", "full_name", "Account.Set Account Rating");
    let url = path("WorkflowRule", &id);
    let before = org.handle.snapshot();
    let mut metadata = org.get(&url).await.body["Metadata"].clone();
    metadata["active"] = json!(false);
    assert_eq!(
        org.patch(&url, json!({"Metadata": metadata.clone()}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.get(&url).await.body["Metadata"]["active"], false);
    metadata["active"] = json!(true);
    assert_eq!(
        org.patch(&url, json!({"Metadata": metadata})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.handle.snapshot(), before);
    let partial = org
        .patch(&url, json!({"Metadata": {"active": false}}))
        .await;
    assert_eq!(partial.error_code(), "REQUIRED_FIELD_MISSING");
    assert_eq!(
        partial.message(),
        "Required fields are missing: [triggerType]"
    );
    let bad_type = org
        .patch(
            &url,
            json!({"Metadata": {"active": false, "triggerType": "always"}}),
        )
        .await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    let stringly = org
        .patch(
            &url,
            json!({"Metadata": {"active": "false", "triggerType": "onAllChanges"}}),
        )
        .await;
    assert_eq!(stringly.error_code(), "JSON_PARSER_ERROR");
    // WorkflowRule has no Active field at all.
    assert_eq!(
        org.patch(&url, json!({"Active": false})).await.error_code(),
        "INVALID_FIELD"
    );
    let managed = org.id_of(
        "workflow_rules",
        "full_name",
        "Lead.acmepkg__Pkg_Lead_Route",
    );
    let answer = org
        .patch(
            &path("WorkflowRule", &managed),
            json!({"Metadata": {"active": false, "triggerType": "onAllChanges"}}),
        )
        .await;
    assert_eq!(answer.error_code(), "CANNOT_MODIFY_MANAGED_OBJECT");
    assert_eq!(org.handle.snapshot(), before);
    // A minimal but complete body clears the optional parts.
    assert_eq!(
        org.patch(
            &url,
            json!({"Metadata": {"active": true, "triggerType": "onAllChanges"}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.get(&url).await.body["Metadata"]["actions"], json!([]));
}

#[tokio::test]
async fn apex_trigger_patch_is_always_refused() {
    let sandbox = Org::mixed().await;
    let id = sandbox.id_of("triggers", "name", "AccountTrigger");
    let answer = sandbox
        .patch(&path("ApexTrigger", &id), json!({"Status": "Inactive"}))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "INVALID_OPERATION");
    assert!(answer.message().contains("ApexTriggerMember"));
    let metadata = sandbox
        .patch(
            &path("ApexTrigger", &id),
            json!({"Metadata": {"apiVersion": 66.0, "packageVersions": [], "status": "Inactive"}}),
        )
        .await;
    assert_eq!(metadata.status, StatusCode::BAD_REQUEST);
    let production = Org::start(scenario(
        "[org]\nis_sandbox = false\n[[triggers]]\nobject = \"Account\"\nname = \"T\"\nstatus = \"Active\"\n",
    ))
    .await;
    let id = production.id_of("triggers", "name", "T");
    let answer = production
        .patch(
            &path("ApexTrigger", &id),
            json!({"Metadata": {"status": "Inactive"}}),
        )
        .await;
    assert_eq!(
        answer.message(),
        "Can not update Apex Trigger on an active organization."
    );
    assert_eq!(
        production.handle.snapshot()["triggers"][0]["status"],
        "Active"
    );
}

#[tokio::test]
async fn managed_components_are_locked_unless_editable_or_the_orgs_own() {
    let org = Org::start(scenario(
        r#"
[org]
namespace = "acme"

[[flows]]
name = "Deprecated_Flow"
process_type = "AutoLaunchedFlow"
trigger_type = "RecordAfterSave"
object = "Account"
namespace = "other"
manageable_state = "deprecated"
versions = ["Active"]

[[flows]]
name = "Editable_Flow"
process_type = "AutoLaunchedFlow"
trigger_type = "RecordAfterSave"
object = "Account"
namespace = "other"
manageable_state = "installedEditable"
versions = ["Active"]

[[flows]]
name = "Own_Flow"
process_type = "AutoLaunchedFlow"
trigger_type = "RecordAfterSave"
object = "Account"
namespace = "acme"
manageable_state = "released"
versions = ["Active"]

[[workflow_rules]]
object = "Account"
name = "Own Rule"
active = true
namespace = "acme"
"#,
    ))
    .await;
    let off = json!({"Metadata": {"activeVersionNumber": 0}});
    let deprecated = org.flow_id("other__Deprecated_Flow");
    let refused = org
        .patch(&path("FlowDefinition", &deprecated), off.clone())
        .await;
    assert_eq!(refused.error_code(), "CANNOT_MODIFY_MANAGED_OBJECT");
    assert_eq!(
        refused.message(),
        format!(
            "Cannot modify managed object: entity=FlowDefinition, component={deprecated}, field=ActiveVersionNumber, state=deprecated"
        )
    );
    for name in ["other__Editable_Flow", "acme__Own_Flow"] {
        let answer = org
            .patch(&path("FlowDefinition", &org.flow_id(name)), off.clone())
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{name}");
    }
    let rule = org.id_of("workflow_rules", "full_name", "Account.acme__Own Rule");
    let answer = org
        .patch(
            &path("WorkflowRule", &rule),
            json!({"Metadata": {"active": false, "triggerType": "onAllChanges"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
}
