//! Crash points (`freeze`) and the write tally, over HTTP.

use std::time::{Duration, Instant};

use super::*;
use crate::sim::{FreezeAt, FreezeMode, WriteCount};

fn deactivate() -> Value {
    json!({"Metadata": {"activeVersionNumber": 0}})
}

/// Polls (with a deadline) until the org froze.
async fn until_frozen(handle: &SimHandle) {
    let started = Instant::now();
    while !handle.frozen() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the org never froze"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Sends a request in the background; its answer, or `None` when the connection was cut.
fn spawn_send(
    org: &Org,
    method: Method,
    path: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<Option<StatusCode>> {
    let request = org
        .http
        .request(method, org.handle.base_url().join(&path).unwrap())
        .bearer_auth(&org.token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    tokio::spawn(async move { request.send().await.ok().map(|r| r.status()) })
}

#[tokio::test]
async fn applied_lands_the_request_withholds_its_answer_and_processes_nothing_after() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let active = org.flow("Account_After_Save")["active_version"].clone();
    let before = org.handle.requests_seen();
    org.handle
        .freeze_at(FreezeAt::nth(2, FreezeMode::Applied))
        .unwrap();
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    let path = format!("{V}/tooling/sobjects/FlowDefinition/{flow}");
    let cut = spawn_send(&org, Method::PATCH, path.clone(), Some(deactivate()));
    until_frozen(&org.handle).await;
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null,
        "the frozen request was processed"
    );
    // Later requests are withheld and never processed, not even after the thaw.
    let counters = org.handle.counters();
    let later = spawn_send(
        &org,
        Method::PATCH,
        path,
        Some(json!({"Metadata": {"activeVersionNumber": active}})),
    );
    let started = Instant::now();
    while org.handle.requests_seen() < before + 3 {
        assert!(started.elapsed() < Duration::from_secs(10), "not received");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    org.handle.thaw();
    assert_eq!(cut.await.unwrap(), None, "the frozen answer is never sent");
    assert_eq!(
        later.await.unwrap(),
        None,
        "a withheld request is never answered"
    );
    assert_eq!(
        org.handle.counters(),
        counters,
        "nothing processed after the freeze"
    );
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    let classes: Vec<&str> = org.handle.request_log()[before as usize..]
        .iter()
        .map(|r| r.class)
        .collect();
    assert_eq!(classes, ["limits", "sobject_patch", "sobject_patch"]);
    // Thawed: requests are answered again.
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    println!(
        "sim freeze (applied): frozen at request 2 of {}, 1 write landed unanswered, 1 later request withheld and never processed",
        classes.len()
    );
}

#[tokio::test]
async fn not_applied_withholds_the_request_unprocessed_and_the_admin_routes_drive_it() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let active = org.flow("Account_After_Save")["active_version"].clone();
    assert_ne!(active, Value::Null);
    let armed = org
        .post(
            "/__sim/freeze",
            Some(json!({"at": 1, "mode": "not_applied"})),
        )
        .await
        .body;
    assert_eq!(armed, json!({"ok": true}));
    let status = org.get("/__sim/freeze").await.body;
    assert_eq!(
        status["armed"],
        json!({"remaining": 1, "mode": "not_applied", "class": null})
    );
    assert_eq!(status["frozen"], Value::Null);

    let cut = spawn_send(
        &org,
        Method::PATCH,
        format!("{V}/tooling/sobjects/FlowDefinition/{flow}"),
        Some(deactivate()),
    );
    until_frozen(&org.handle).await;
    let status = org.get("/__sim/freeze").await.body;
    assert_eq!(status["frozen"]["mode"], "not_applied");
    assert_eq!(status["frozen"]["class"], "sobject_patch");
    let refused = org
        .post("/__sim/freeze", Some(json!({"at": 3, "mode": "applied"})))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let thawed = org.post("/__sim/thaw", None).await;
    assert_eq!(thawed.status, StatusCode::OK);
    assert_eq!(cut.await.unwrap(), None);
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        active,
        "the withheld request was not processed"
    );
    assert!(!org.handle.frozen());
    let log = org.get("/__sim/requests").await.body;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["class"], "sobject_patch");
    println!(
        "sim freeze (not applied): frozen at request 1 through /__sim/freeze, 0 processed, re-arming while frozen refused"
    );
}

#[tokio::test]
async fn writes_are_tallied_per_component_as_changed_or_needless() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let rule = org.id_of("validation_rules", "full_name", "Account.Require_Phone");
    let path = format!("{V}/tooling/sobjects/FlowDefinition/{flow}");
    assert_eq!(
        org.patch(&path, deactivate()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.patch(&path, deactivate()).await.status,
        StatusCode::NO_CONTENT
    );
    // A refused write is no write.
    let refused = org
        .patch(&path, json!({"Metadata": {"activeVersionNumber": 99}}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // The rule's own metadata sent back in a composite: needless.
    let read = org
        .get(&format!(
            "{V}/tooling/sobjects/ValidationRule/{rule}?fields=Metadata"
        ))
        .await;
    let mut metadata = read.body["Metadata"].clone();
    metadata.as_object_mut().unwrap().remove("urls");
    let answer = org
        .composite(json!({
            "allOrNone": false,
            "compositeRequest": [{
                "method": "PATCH",
                "url": format!("{V}/tooling/sobjects/ValidationRule/{rule}"),
                "referenceId": "r1",
                "body": {"Metadata": metadata},
            }]
        }))
        .await;
    assert_eq!(answer.body["compositeResponse"][0]["httpStatusCode"], 204);

    let writes = org.handle.writes();
    assert_eq!(
        writes[&flow],
        WriteCount {
            changed: 1,
            needless: 1
        }
    );
    assert_eq!(
        writes[&rule],
        WriteCount {
            changed: 0,
            needless: 1
        }
    );
    assert_eq!(writes.len(), 2, "{writes:?}");
    let over_http = org.get("/__sim/writes").await.body;
    assert_eq!(over_http[&flow], json!({"changed": 1, "needless": 1}));
    println!(
        "sim write tally: 4 PATCHes sent, 3 counted (1 changed, 2 needless), 1 refused and not counted"
    );
}
