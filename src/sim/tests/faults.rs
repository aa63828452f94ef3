//! Fault injection over HTTP: transient errors, dropped connections, admin conflicts,
//! latency, slow answers and someone else's admin operation.

use std::time::Duration;

use super::*;
use crate::sim::{AdminAction, Faults};

/// Status codes of `n` limits requests.
async fn statuses(org: &Org, n: usize) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let answer = org.get(&format!("{V}/limits")).await;
        let code = if answer.status.is_success() {
            String::new()
        } else {
            answer.error_code().to_owned()
        };
        out.push((answer.status.as_u16(), code));
    }
    out
}

#[tokio::test]
async fn transient_errors_are_deterministic_for_a_seed() {
    let text = "[faults]\nseed = 42\ntransient_error_rate = 0.4\n";
    let first = statuses(&Org::start(scenario(text)).await, 40).await;
    let second = statuses(&Org::start(scenario(text)).await, 40).await;
    assert_eq!(first, second);
    let errors: Vec<&(u16, String)> = first.iter().filter(|(s, _)| *s != 200).collect();
    assert!(errors.len() >= 5 && errors.len() <= 30, "{errors:?}");
    for pair in errors.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "transient errors alternate");
    }
    for (status, code) in &errors {
        match code.as_str() {
            "SERVER_UNAVAILABLE" => assert_eq!(*status, 503),
            "UNABLE_TO_LOCK_ROW" => assert_eq!(*status, 400),
            other => panic!("unexpected {other}"),
        }
    }
    // Setting the same faults at runtime restarts the same sequence.
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        seed: 42,
        transient_error_rate: 0.4,
        ..Faults::default()
    });
    assert_eq!(statuses(&org, 40).await, first);
    let counters = org.handle.counters();
    assert!(counters["faults_injected"] >= 5);
    assert_eq!(counters["transient"], counters["faults_injected"]);
}

#[tokio::test]
async fn unable_to_lock_row_names_the_record() {
    let org = Org::start(scenario(
        "[faults]\nseed = 1\ntransient_error_rate = 1.0\n[[flows]]\nname = \"F\"\nprocess_type = \"Flow\"\nversions = [\"Active\"]\n",
    ))
    .await;
    let id = org.flow_id("F");
    let first = org
        .get(&format!("{V}/tooling/sobjects/FlowDefinition/{id}"))
        .await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.message(), "Server temporarily unavailable");
    let second = org
        .get(&format!("{V}/tooling/sobjects/FlowDefinition/{id}"))
        .await;
    assert_eq!(
        second.message(),
        format!("unable to obtain exclusive access to this record or 1 records: {id}")
    );
}

#[tokio::test]
async fn dropped_connections_are_errors_for_the_client() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let url = org.handle.base_url().join(&format!("{V}/limits")).unwrap();
    let outcome = async {
        let response = org
            .http
            .get(url.clone())
            .bearer_auth(&org.token)
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(outcome.is_err(), "a dropped request must fail: {outcome:?}");
    assert_eq!(org.handle.counters()["dropped"], 1);
    // Drops are per request: the next one succeeds.
    org.handle.set_faults(Faults::default());
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    // The token endpoint drops too.
    org.handle.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let token = client()
        .post(
            org.handle
                .base_url()
                .join("/services/oauth2/token")
                .unwrap(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert!(token.is_err() || token.unwrap().bytes().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn overlapping_writes_conflict() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        latency: Duration::from_millis(500),
        ..Faults::default()
    });
    let first = org.flow_id("Account_After_Save");
    let second = org.flow_id("Contact_After_Save");
    let first_url = format!("{V}/tooling/sobjects/FlowDefinition/{first}");
    let second_url = format!("{V}/tooling/sobjects/FlowDefinition/{second}");
    let body = json!({"Metadata": {"activeVersionNumber": 0}});
    let (a, b) = tokio::join!(org.patch(&first_url, body.clone()), async {
        // Arrives while the first is still in its latency.
        tokio::time::sleep(Duration::from_millis(100)).await;
        org.patch(&second_url, body.clone()).await
    });
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(b.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        b.body,
        json!([{"message": "admin operation already in progress", "errorCode": "UNKNOWN_EXCEPTION"}])
    );
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    assert_eq!(org.flow("Contact_After_Save")["active_version"], 2);

    // Inside a composite, only the PATCH item fails; reads overlapping a write are fine.
    let composite = json!({"compositeRequest": [
        {"method": "GET", "url": format!("{V}/tooling/sobjects/FlowDefinition/{second}"), "referenceId": "read"},
        {"method": "PATCH", "url": format!("{V}/tooling/sobjects/FlowDefinition/{second}"), "referenceId": "write", "body": body},
    ]});
    let (a, b, c) = tokio::join!(
        org.patch(&first_url, json!({"Metadata": {"activeVersionNumber": 2}})),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            org.composite(composite.clone()).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            org.get(&format!("{V}/limits")).await
        }
    );
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(c.status, StatusCode::OK);
    let items = b.body["compositeResponse"].as_array().unwrap();
    assert_eq!(items[0]["httpStatusCode"], 200);
    assert_eq!(items[1]["httpStatusCode"], 500);
    assert_eq!(items[1]["body"][0]["errorCode"], "UNKNOWN_EXCEPTION");
    // Sequential writes never conflict.
    let c = org
        .patch(&second_url, json!({"Metadata": {"activeVersionNumber": 0}}))
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT);

    // With admin_conflicts off, overlapping writes both succeed.
    org.handle.set_faults(Faults {
        latency: Duration::from_millis(500),
        admin_conflicts: false,
        ..Faults::default()
    });
    let (a, b) = tokio::join!(
        org.patch(&first_url, json!({"Metadata": {"activeVersionNumber": 0}})),
        org.patch(&second_url, json!({"Metadata": {"activeVersionNumber": 2}})),
    );
    assert_eq!(
        (a.status, b.status),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_added() {
    let org = Org::start(scenario("[faults]\nlatency = \"2s\"\n")).await;
    let started = tokio::time::Instant::now();
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn faults_over_the_inspection_endpoint() {
    let org = Org::mixed().await;
    let set = org
        .post(
            "/__sim/faults",
            Some(json!({"seed": 3, "transient_error_rate": 1.0})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(
        org.get(&format!("{V}/limits")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let current = org.get("/__sim/faults").await.body;
    assert_eq!(current["seed"], 3);
    assert_eq!(current["admin_conflicts"], true);
    let bad = org
        .post("/__sim/faults", Some(json!({"drop_rate": 3.0})))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = org
        .post("/__sim/faults", Some(json!({"dorp_rate": 0.1})))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["error"]
            .as_str()
            .unwrap()
            .contains("dorp_rate")
    );
}

#[tokio::test(start_paused = true)]
async fn every_refused_patch_is_counted_alike() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        latency: Duration::from_millis(500),
        ..Faults::default()
    });
    let first = org.flow_id("Account_After_Save");
    let second = org.flow_id("Contact_After_Save");
    let first_url = format!("{V}/tooling/sobjects/FlowDefinition/{first}");
    let second_url = format!("{V}/tooling/sobjects/FlowDefinition/{second}");
    let body = json!({"Metadata": {"activeVersionNumber": 0}});
    let composite = json!({"compositeRequest": [
        {"method": "PATCH", "url": second_url.clone(), "referenceId": "a", "body": body.clone()},
        {"method": "PATCH", "url": second_url.clone(), "referenceId": "b", "body": body.clone()},
    ]});
    org.handle.reset_counters();
    let (holder, top_level, in_composite) = tokio::join!(
        org.patch(&first_url, body.clone()),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            org.patch(&second_url, body.clone()).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            org.composite(composite.clone()).await
        }
    );
    assert_eq!(holder.status, StatusCode::NO_CONTENT);
    assert_eq!(top_level.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(in_composite.status, StatusCode::OK);
    let counters = org.handle.counters();
    // One PATCH went through, three were refused: one top-level, two composite items.
    // Refusals are faults, like transient errors: they do not reach `sobject_patch`.
    assert_eq!(counters["sobject_patch"], 1);
    assert_eq!(counters["admin_conflicts"], 3);
    assert_eq!(counters["faults_injected"], 3);
    assert_eq!(counters["composite_subrequest"], 2);
    assert_eq!(counters["api_requests"], 3);
}

/// A PATCH of flow `id` to no active version that gives up after `timeout`.
async fn patch_with_timeout(
    org: &Org,
    id: &str,
    timeout: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    org.http
        .patch(
            org.handle
                .base_url()
                .join(&format!("{V}/tooling/sobjects/FlowDefinition/{id}"))
                .unwrap(),
        )
        .bearer_auth(&org.token)
        .timeout(timeout)
        .json(&json!({"Metadata": {"activeVersionNumber": 0}}))
        .send()
        .await
}

#[tokio::test(start_paused = true)]
async fn a_slow_write_lands_after_the_client_gave_up_and_holds_the_org_until_then() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        slow_rate: 1.0,
        slow_delay: Duration::from_secs(2),
        ..Faults::default()
    });
    let first = org.flow_id("Account_After_Save");
    let second = org.flow_id("Contact_After_Save");
    let started = tokio::time::Instant::now();
    let gave_up = patch_with_timeout(&org, &first, Duration::from_millis(200)).await;
    assert!(
        gave_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{gave_up:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Not carried out yet, and the org is busy with it: another write is refused.
    assert_eq!(org.flow("Account_After_Save")["active_version"], 2);
    org.handle.set_faults(Faults::default());
    let refused = org
        .patch(
            &format!("{V}/tooling/sobjects/FlowDefinition/{second}"),
            json!({"Metadata": {"activeVersionNumber": 0}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(refused.message(), "admin operation already in progress");
    // Once the delay is over the abandoned write lands, and the org takes writes again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null
    );
    let accepted = org
        .patch(
            &format!("{V}/tooling/sobjects/FlowDefinition/{second}"),
            json!({"Metadata": {"activeVersionNumber": 0}}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::NO_CONTENT);
    let counters = org.handle.counters();
    assert_eq!(counters["slow"], 1);
    assert_eq!(counters["slow_writes"], 1);
    assert_eq!(counters["sobject_patch"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_slow_read_answers_late_and_a_patient_client_gets_it() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        seed: 5,
        slow_rate: 1.0,
        slow_delay: Duration::from_secs(3),
        ..Faults::default()
    });
    let url = org.handle.base_url().join(&format!("{V}/limits")).unwrap();
    let gave_up = org
        .http
        .get(url)
        .bearer_auth(&org.token)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(gave_up.is_err_and(|err| err.is_timeout()));
    let started = tokio::time::Instant::now();
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(org.handle.counters()["slow"], 2);
    assert!(!org.handle.counters().contains_key("slow_writes"));
    // The shutdown waits for slow requests still being carried out.
    org.handle.shutdown().await;
}

#[test]
fn slow_answers_need_a_delay() {
    let faults = Faults {
        slow_rate: 0.1,
        ..Faults::default()
    };
    let error = faults.validate().unwrap_err();
    assert!(error.contains("faults.slow_delay"), "{error}");
    let bad_rate = Faults {
        admin_conflict_rate: -0.5,
        ..Faults::default()
    };
    assert!(
        bad_rate
            .validate()
            .unwrap_err()
            .contains("faults.admin_conflict_rate")
    );
}

#[tokio::test]
async fn someone_elses_admin_operation_refuses_every_write_until_it_ends() {
    let org = Org::mixed().await;
    let id = org.flow_id("Account_After_Save");
    let url = format!("{V}/tooling/sobjects/FlowDefinition/{id}");
    let off = json!({"Metadata": {"activeVersionNumber": 0}});
    org.handle
        .admin(AdminAction::SetAdminOperation { in_progress: true })
        .unwrap();
    for _ in 0..3 {
        let refused = org.patch(&url, off.clone()).await;
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(refused.error_code(), "UNKNOWN_EXCEPTION");
        assert_eq!(refused.message(), "admin operation already in progress");
    }
    // Reads go on.
    assert_eq!(org.get(&url).await.status, StatusCode::OK);
    assert_eq!(org.flow("Account_After_Save")["active_version"], 2);
    org.handle
        .admin(AdminAction::SetAdminOperation { in_progress: false })
        .unwrap();
    assert_eq!(org.patch(&url, off).await.status, StatusCode::NO_CONTENT);
    let counters = org.handle.counters();
    assert_eq!(counters["admin_conflicts"], 3);
    assert_eq!(counters["sobject_patch"], 1);
}

#[tokio::test]
async fn a_rate_of_admin_conflicts_refuses_that_share_of_writes_and_no_read() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        seed: 9,
        admin_conflict_rate: 0.5,
        ..Faults::default()
    });
    let id = org.flow_id("Account_After_Save");
    let url = format!("{V}/tooling/sobjects/FlowDefinition/{id}");
    let mut refused = 0;
    for _ in 0..40 {
        assert_eq!(org.get(&url).await.status, StatusCode::OK);
        let answer = org
            .patch(&url, json!({"Metadata": {"activeVersionNumber": 2}}))
            .await;
        if answer.status == StatusCode::INTERNAL_SERVER_ERROR {
            assert_eq!(answer.message(), "admin operation already in progress");
            refused += 1;
        } else {
            assert_eq!(answer.status, StatusCode::NO_CONTENT);
        }
    }
    assert!((8..=32).contains(&refused), "{refused} of 40 refused");
    assert_eq!(org.handle.counters()["admin_conflicts"], refused);
}

#[tokio::test(start_paused = true)]
async fn a_slow_write_rate_slows_writes_only() {
    let org = Org::mixed().await;
    org.handle.set_faults(Faults {
        slow_write_rate: 1.0,
        slow_delay: Duration::from_secs(2),
        ..Faults::default()
    });
    let id = org.flow_id("Account_After_Save");
    let started = tokio::time::Instant::now();
    let read = org
        .get(&format!("{V}/tooling/sobjects/FlowDefinition/{id}"))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reads are not slow"
    );
    let gave_up = patch_with_timeout(&org, &id, Duration::from_millis(200)).await;
    assert!(gave_up.is_err_and(|err| err.is_timeout()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        org.flow("Account_After_Save")["active_version"],
        Value::Null,
        "the write landed after the client gave up"
    );
    let counters = org.handle.counters();
    assert_eq!((counters["slow"], counters["slow_writes"]), (1, 1));
}
