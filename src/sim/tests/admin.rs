//! Admin actions, the snapshot and the inspection endpoint.

use super::*;
use crate::sim::{
    AdminAction, Component, ComponentKind, FlowStatus, RuleKind, TriggerStatus, ValidationRuleSpec,
};

#[tokio::test]
async fn admin_actions_change_the_true_state() {
    let org = Org::mixed().await;
    let handle = &org.handle;
    handle
        .admin(AdminAction::ActivateFlowVersion {
            flow: "Contact_After_Save".into(),
            version: 3,
        })
        .unwrap();
    let flow = org.flow("Contact_After_Save");
    assert_eq!(flow["active_version"], 3);
    assert_eq!(flow["versions"][1]["status"], "Obsolete");
    handle
        .admin(AdminAction::DeactivateFlow {
            flow: "Account_After_Save".into(),
        })
        .unwrap();
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    handle
        .admin(AdminAction::AddFlowVersion {
            flow: "Account_After_Save".into(),
            status: FlowStatus::Draft,
        })
        .unwrap();
    let flow = org.flow("Account_After_Save");
    assert_eq!(flow["latest_version"], 3);
    assert!(
        flow["versions"][2]["id"]
            .as_str()
            .unwrap()
            .starts_with("301")
    );

    handle
        .admin(AdminAction::SetRuleActive {
            kind: RuleKind::ValidationRule,
            full_name: "Account.Require_Phone".into(),
            active: false,
        })
        .unwrap();
    handle
        .admin(AdminAction::SetRuleActive {
            kind: RuleKind::WorkflowRule,
            full_name: "Account.Set Account Rating".into(),
            active: false,
        })
        .unwrap();
    handle
        .admin(AdminAction::EditValidationRule {
            full_name: "Contact.Require_Email".into(),
            formula: Some("ISBLANK(Email) && NOT(ISBLANK(LastName))".into()),
            message: None,
            description: Some("edited during the window".into()),
        })
        .unwrap();
    handle
        .admin(AdminAction::SetTriggerStatus {
            name: "ContactTrigger".into(),
            status: TriggerStatus::Inactive,
        })
        .unwrap();
    handle
        .admin(AdminAction::Delete {
            kind: ComponentKind::WorkflowRule,
            name: "Contact.Update_Mailing_Flag".into(),
        })
        .unwrap();
    handle
        .admin(AdminAction::Add {
            component: Component::ValidationRule(ValidationRuleSpec {
                object: "Lead".into(),
                name: "New_Rule".into(),
                active: true,
                formula: "ISBLANK(Company)".into(),
                message: "Company!".into(),
                description: None,
                error_display_field: None,
                namespace: None,
                manageable_state: None,
            }),
        })
        .unwrap();

    let snapshot = handle.snapshot();
    let rule = |name: &str| {
        snapshot["validation_rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["full_name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(rule("Account.Require_Phone")["active"], false);
    assert_eq!(
        rule("Contact.Require_Email")["metadata"]["description"],
        "edited during the window"
    );
    assert!(
        rule("Lead.New_Rule")["id"]
            .as_str()
            .unwrap()
            .starts_with("03d")
    );
    assert!(
        !snapshot["workflow_rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["full_name"] == "Contact.Update_Mailing_Flag")
    );
    let trigger = snapshot["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ContactTrigger")
        .unwrap();
    assert_eq!(trigger["status"], "Inactive");
    // The API sees the same state.
    let id = org.id_of("validation_rules", "full_name", "Account.Require_Phone");
    assert_eq!(
        org.get(&format!("{V}/tooling/sobjects/ValidationRule/{id}"))
            .await
            .body["Active"],
        false
    );
}

#[tokio::test]
async fn admin_errors_name_what_is_wrong() {
    let handle = start(Scenario::demo()).await;
    let err = handle
        .admin(AdminAction::DeactivateFlow {
            flow: "Nope".into(),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("Nope"), "{err}");
    let err = handle
        .admin(AdminAction::ActivateFlowVersion {
            flow: "Account_After_Save".into(),
            version: 9,
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("version 9"), "{err}");
    let err = handle
        .admin(AdminAction::Delete {
            kind: ComponentKind::ValidationRule,
            name: "Require_Phone".into(),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("Require_Phone"), "{err}");
    let duplicate = serde_json::from_value::<AdminAction>(json!({
        "action": "add",
        "component": {"kind": "trigger", "object": "Account", "name": "AccountTrigger", "status": "Active"}
    }))
    .unwrap();
    let err = format!("{:#}", handle.admin(duplicate).unwrap_err());
    assert!(err.contains("already exists"), "{err}");
    let unknown_object = serde_json::from_value::<AdminAction>(json!({
        "action": "add",
        "component": {"kind": "trigger", "object": "Widget", "name": "W", "status": "Active"}
    }))
    .unwrap();
    let err = format!("{:#}", handle.admin(unknown_object).unwrap_err());
    assert!(err.contains("Widget"), "{err}");
}

#[tokio::test]
async fn inspection_endpoint() {
    let org = Org::mixed().await;
    let state = org.get("/__sim/state").await.body;
    assert_eq!(state, org.handle.snapshot());
    for list in ["flows", "validation_rules", "workflow_rules", "triggers"] {
        assert!(!state[list].as_array().unwrap().is_empty());
    }
    let action = json!({"action": "deactivate_flow", "flow": "Account_After_Save"});
    let response = org.post("/__sim/admin", Some(action)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    let add = json!({"action": "add", "component": {"kind": "flow", "name": "Late_Flow", "process_type": "AutoLaunchedFlow",
        "trigger_type": "RecordAfterSave", "object": "Account", "versions": ["Active"]}});
    let response = org.post("/__sim/admin", Some(add)).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(org.flow("Late_Flow")["active_version"], 1);
    let bad = org
        .post(
            "/__sim/admin",
            Some(json!({"action": "deactivate_flow", "flow": "Ghost"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let body = bad.body;
    assert!(body["error"].as_str().unwrap().contains("Ghost"));
    let revoke = org
        .post("/__sim/admin", Some(json!({"action": "revoke_tokens"})))
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    assert_eq!(
        org.get(&format!("{V}/limits")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let counters = org.get("/__sim/counters").await.body;
    assert_eq!(counters["token"], 1);
    assert_eq!(counters["rejected_auth"], 1);
    let reset = org.post("/__sim/counters/reset", None).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(org.handle.counters().is_empty());
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let handle = start(Scenario::demo()).await;
    let url = handle.base_url().join("/services/data").unwrap();
    assert!(client().get(url.clone()).send().await.is_ok());
    handle.clone().shutdown().await;
    assert!(client().get(url).send().await.is_err());
}
