//! Hostile and odd requests: every one gets a Salesforce-shaped answer and the org keeps
//! serving (a panic in a handler would surface here as a dropped connection).

use super::*;

/// Sends raw bytes as the body with the given content type.
async fn raw(org: &Org, method: Method, path: &str, content_type: &str, body: &[u8]) -> Answer {
    let response = org
        .http
        .request(method, org.handle.base_url().join(path).unwrap())
        .bearer_auth(&org.token)
        .header("Content-Type", content_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
    }
}

#[tokio::test]
async fn odd_requests_get_answers_not_panics() {
    let org = Org::mixed().await;
    let flow = org.flow_id("Account_After_Save");
    let flow_path = format!("{V}/tooling/sobjects/FlowDefinition/{flow}");

    // Queries: a LIMIT past u64, runaway nesting, bytes that are not UTF-8, a lone quote.
    let huge = org
        .query("SELECT Id FROM Organization LIMIT 99999999999999999999999999")
        .await;
    assert_eq!(huge.status, StatusCode::OK);
    let nested = format!(
        "SELECT Id FROM FlowDefinition WHERE {}Id = null{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert_eq!(
        org.tooling_query(&nested).await.error_code(),
        "MALFORMED_QUERY"
    );
    let not_utf8 = org.get(&format!("{V}/tooling/query?q=%FF%FE%00")).await;
    assert_eq!(not_utf8.error_code(), "MALFORMED_QUERY");
    assert_eq!(
        org.tooling_query("SELECT Id FROM Flow WHERE Status = '")
            .await
            .error_code(),
        "MALFORMED_QUERY"
    );
    for locator in [
        "-",
        "01g-",
        "01gX--1",
        "01gX-99999999999999999999999",
        "é-1",
    ] {
        let answer = org.get(&format!("{V}/query/{}", encode(locator))).await;
        assert_eq!(answer.error_code(), "INVALID_QUERY_LOCATOR", "{locator}");
    }

    // Sobject GETs with odd ids and field lists.
    for id in ["%FF", "x", "300", &"3".repeat(200)] {
        let answer = org
            .get(&format!("{V}/tooling/sobjects/FlowDefinition/{id}"))
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{id}");
    }
    for fields in ["", ",,", "Id,,FullName", "%FF"] {
        let answer = org.get(&format!("{flow_path}?fields={fields}")).await;
        assert_eq!(answer.error_code(), "INVALID_FIELD", "{fields}");
    }

    // PATCH bodies that are not what they should be.
    for body in [
        &b"{"[..],
        b"[]",
        b"null",
        b"\xff\xfe",
        b"",
        br#"{"Metadata": {"activeVersionNumber": 18446744073709551616}}"#,
        br#"{"Metadata": {"activeVersionNumber": 1e300}}"#,
        br#"{"Metadata": {"activeVersionNumber": -1}}"#,
    ] {
        let answer = raw(&org, Method::PATCH, &flow_path, "application/json", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert!(answer.body.is_array(), "{body:?}: {}", answer.body);
    }

    // Composite bodies and subrequests that make no sense.
    let composite = format!("{V}/tooling/composite");
    for body in [
        &b"{"[..],
        br#"{"compositeRequest": "x"}"#,
        br#"{"compositeRequest": [{"method": "GET"}]}"#,
    ] {
        let answer = raw(&org, Method::POST, &composite, "application/json", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
    }
    let odd_items = org
        .composite(json!({"compositeRequest": [
            {"method": "NOT A METHOD", "url": flow_path, "referenceId": "a"},
            {"method": "GET", "url": format!("{V}/tooling/query?q=%FF"), "referenceId": "b"},
        ]}))
        .await;
    assert_eq!(odd_items.status, StatusCode::OK);
    let items = odd_items.body["compositeResponse"].as_array().unwrap();
    assert_eq!(items[0]["httpStatusCode"], 405);
    assert_eq!(items[1]["httpStatusCode"], 400);

    // Duplicate Authorization headers: the first one counts.
    let response = org
        .http
        .get(org.handle.base_url().join(&format!("{V}/limits")).unwrap())
        .header("Authorization", format!("Bearer {}", org.token))
        .header("Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A token request with garbage credentials is an OAuth error, not a crash.
    let token = org
        .http
        .post(
            org.handle
                .base_url()
                .join("/services/oauth2/token")
                .unwrap(),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Authorization", "Basic %%%not-base64")
        .body(b"grant_type=client_credentials&client_id=\xff".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);

    // A path outside every endpoint is a counted 404 array.
    org.handle.reset_counters();
    let nowhere = org.get("/services/Soap/m/66.0").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.error_code(), "NOT_FOUND");
    assert_eq!(org.handle.counters()["not_found"], 1);

    // Still serving, and nothing changed.
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    assert_eq!(org.flow("Account_After_Save")["active_version"], 2);
}
