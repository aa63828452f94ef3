//! `/tooling/composite`: limits, per-item statuses, allOrNone rollback, accounting.

use super::*;

fn sub(method: &str, url: String, reference: &str, body: Option<Value>) -> Value {
    let mut item = json!({"method": method, "url": url, "referenceId": reference});
    if let Some(body) = body {
        item["body"] = body;
    }
    item
}

fn sobject(object: &str, id: &str) -> String {
    format!("{V}/tooling/sobjects/{object}/{id}")
}

#[tokio::test]
async fn per_item_statuses_and_one_api_call() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let rule = org.id_of("validation_rules", "full_name", "Account.Require_Phone");
    let used_before = org.get(&format!("{V}/limits")).await.api_used();
    org.handle.reset_counters();
    let answer = org
        .composite(json!({
            "allOrNone": false,
            "compositeRequest": [
                sub("PATCH", sobject("FlowDefinition", &flow), &format!("r{flow}"), Some(json!({"Metadata": {"activeVersionNumber": 0}}))),
                sub("GET", format!("{}?fields=Id,FullName,Metadata", sobject("ValidationRule", &rule)), "rule_1", None),
                sub("GET", sobject("ValidationRule", "03dDn0000000000AAA"), "missing", None),
                sub("GET", format!("{V}/tooling/query?q=SELECT+Id+FROM+ApexTrigger"), "q1", None),
            ]
        }))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let items = answer.body["compositeResponse"].as_array().unwrap();
    assert_eq!(
        items[0],
        json!({"body": null, "httpHeaders": {}, "httpStatusCode": 204, "referenceId": format!("r{flow}")})
    );
    assert_eq!(items[1]["httpStatusCode"], 200);
    assert_eq!(items[1]["body"]["FullName"], "Account.Require_Phone");
    assert_eq!(items[2]["httpStatusCode"], 404);
    assert_eq!(
        items[2]["body"],
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
    assert_eq!(items[3]["body"]["totalSize"], 5);
    // Without allOrNone the PATCH stays applied.
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    assert_eq!(answer.api_used(), used_before + 1);
    let counters = org.handle.counters();
    assert_eq!(counters["composite"], 1);
    assert_eq!(counters["composite_subrequest"], 4);
    assert_eq!(counters["api_requests"], 1);
    assert_eq!(counters["sobject_patch"], 1);
}

#[tokio::test]
async fn all_or_none_rolls_back() {
    let org = Org::mixed().await;
    let before = org.handle.snapshot();
    let first = org.flow_id("Account_After_Save");
    let second = org.flow_id("Contact_After_Save");
    let third = org.flow_id("Order_Event_Listener");
    let answer = org
        .composite(json!({
            "allOrNone": true,
            "compositeRequest": [
                sub("PATCH", sobject("FlowDefinition", &first), "a", Some(json!({"Metadata": {"activeVersionNumber": 0}}))),
                sub("PATCH", sobject("FlowDefinition", &second), "b", Some(json!({"Metadata": {"activeVersionNumber": 9}}))),
                sub("PATCH", sobject("FlowDefinition", &third), "c", Some(json!({"Metadata": {"activeVersionNumber": 0}}))),
            ]
        }))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let items = answer.body["compositeResponse"].as_array().unwrap();
    let halted = json!([{"message": "The transaction was rolled back since another operation in the same transaction failed.", "errorCode": "PROCESSING_HALTED"}]);
    assert_eq!(items[0]["httpStatusCode"], 400);
    assert_eq!(items[0]["body"], halted);
    assert_eq!(items[1]["httpStatusCode"], 400);
    assert_eq!(
        items[1]["body"][0]["errorCode"],
        "FIELD_INTEGRITY_EXCEPTION"
    );
    assert_eq!(items[2]["httpStatusCode"], 400);
    assert_eq!(items[2]["body"], halted);
    assert_eq!(items[2]["referenceId"], "c");
    assert_eq!(org.handle.snapshot(), before);
}

#[tokio::test]
async fn request_level_refusals() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let get = |i: usize| {
        sub(
            "GET",
            sobject("FlowDefinition", &flow),
            &format!("r{i}"),
            None,
        )
    };
    let too_many = org
        .composite(json!({"compositeRequest": (0..26).map(get).collect::<Vec<_>>()}))
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_many.error_code(), "LIMIT_EXCEEDED");
    let ok = org
        .composite(json!({"compositeRequest": (0..25).map(get).collect::<Vec<_>>()}))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let empty = org.composite(json!({"compositeRequest": []})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.error_code(), "INVALID_INPUT");
    let bad_reference = org
        .composite(
            json!({"compositeRequest": [sub("GET", sobject("FlowDefinition", &flow), "_x", None)]}),
        )
        .await;
    assert_eq!(bad_reference.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_reference.message(),
        "Provided referenceId ('_x') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
    );
    let dashed = org.composite(json!({"compositeRequest": [sub("GET", sobject("FlowDefinition", &flow), "a-b", None)]})).await;
    assert_eq!(dashed.status, StatusCode::BAD_REQUEST);
    let relative = org
        .composite(json!({"compositeRequest": [sub("GET", format!("v66.0/tooling/sobjects/FlowDefinition/{flow}"), "a", None)]}))
        .await;
    assert_eq!(relative.status, StatusCode::BAD_REQUEST);
    let standard = org
        .composite(json!({"compositeRequest": [sub("GET", format!("{V}/query?q=SELECT+Id+FROM+Organization"), "a", None)]}))
        .await;
    assert_eq!(standard.status, StatusCode::BAD_REQUEST);
    let not_json = org
        .send(
            Method::POST,
            &format!("{V}/tooling/composite"),
            Some(json!({"requests": []})),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
}
