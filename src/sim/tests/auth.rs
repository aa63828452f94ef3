//! The token endpoint, bearer tokens, the usage header, the daily limit and versions.

use std::time::Duration;

use base64::Engine;

use super::*;
use crate::sim::{AdminAction, Faults};

async fn token_request(
    handle: &SimHandle,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = client()
        .post(handle.base_url().join("/services/oauth2/token").unwrap())
        .form(form);
    if let Some((id, secret)) = basic {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        request = request.header("Authorization", format!("Basic {encoded}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn token_in_form_and_basic_auth() {
    let handle = start(Scenario::demo()).await;
    let (id, secret) = (
        handle.client_id().to_owned(),
        handle.client_secret().to_owned(),
    );
    let (status, headers, body) = token_request(
        &handle,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // §1.3: the OAuth endpoint answers `application/json` with `Cache-Control: no-store`.
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    let snapshot = handle.snapshot();
    let org_id = snapshot["org"]["id"].as_str().unwrap();
    let user_id = snapshot["org"]["run_as_user_id"].as_str().unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{}!", &org_id[..15])), "{token}");
    assert_eq!(
        body["instance_url"],
        handle.base_url().as_str().trim_end_matches('/')
    );
    // The mixed org is a sandbox.
    assert_eq!(
        body["id"],
        format!("https://test.salesforce.com/id/{org_id}/{user_id}")
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["token_format"], "opaque");
    assert!(body["signature"].is_string());
    assert!(body["scope"].is_string());
    let issued: u64 = body["issued_at"].as_str().unwrap().parse().unwrap();
    assert!(issued > 1_700_000_000_000);
    assert!(body.get("expires_in").is_none());
    assert!(body.get("refresh_token").is_none());

    let (status, _, body) = token_request(
        &handle,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["access_token"].is_string());

    // Token calls do not count toward the API limit.
    let org = Org {
        handle: handle.clone(),
        http: client(),
        token: body["access_token"].as_str().unwrap().to_owned(),
    };
    let limits = org.get(&format!("{V}/limits")).await;
    assert_eq!(limits.api_used(), 1201);
    handle.shutdown().await;
}

#[tokio::test]
async fn production_identity_url_uses_login() {
    let handle = start(scenario("[org]\nis_sandbox = false\n")).await;
    let (status, _, body) = token_request(
        &handle,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", handle.client_id()),
            ("client_secret", handle.client_secret()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["id"]
            .as_str()
            .unwrap()
            .starts_with("https://login.salesforce.com/id/00D")
    );
}

#[tokio::test]
async fn every_token_error() {
    let handle = start(Scenario::demo()).await;
    let id = handle.client_id().to_owned();
    let secret = handle.client_secret().to_owned();
    let expect = |status: StatusCode,
                  headers: &reqwest::header::HeaderMap,
                  body: &Value,
                  error: &str,
                  description: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["content-type"], "application/json");
        assert!(!headers.contains_key("sforce-limit-info"));
        assert!(body.is_object(), "{body}");
        assert_eq!(body["error"], error);
        assert_eq!(body["error_description"], description);
    };
    let (s, h, b) = token_request(
        &handle,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    expect(s, &h, &b, "invalid_client_id", "client identifier invalid");
    let (s, h, b) = token_request(
        &handle,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "wrong"),
        ],
        None,
    )
    .await;
    expect(s, &h, &b, "invalid_client", "invalid client credentials");
    let (s, h, b) = token_request(
        &handle,
        &[("grant_type", "client_credentials"), ("client_id", &id)],
        None,
    )
    .await;
    expect(s, &h, &b, "invalid_client", "invalid client credentials");
    let (s, h, b) = token_request(
        &handle,
        &[("grant_type", "client_credentials")],
        Some((&id, "wrong")),
    )
    .await;
    expect(s, &h, &b, "invalid_client", "invalid client credentials");
    let (s, h, b) = token_request(
        &handle,
        &[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    expect(
        s,
        &h,
        &b,
        "unsupported_grant_type",
        "grant type not supported",
    );
    let (s, h, b) = token_request(
        &handle,
        &[("client_id", &id), ("client_secret", &secret)],
        None,
    )
    .await;
    expect(
        s,
        &h,
        &b,
        "unsupported_grant_type",
        "grant type not supported",
    );
    // A JSON body is not a form.
    let response = client()
        .post(handle.base_url().join("/services/oauth2/token").unwrap())
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap();
    let (s, h) = (response.status(), response.headers().clone());
    expect(
        s,
        &h,
        &response.json().await.unwrap(),
        "unsupported_grant_type",
        "grant type not supported",
    );

    for (auth, error, description) in [
        (
            "no_run_as_user",
            "invalid_grant",
            "no client credentials user enabled",
        ),
        (
            "wrong_domain",
            "invalid_grant",
            "request not supported on this domain",
        ),
        (
            "flow_disabled",
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ] {
        let handle = start(scenario(&format!("[org]\nauth = \"{auth}\"\n"))).await;
        let (s, h, b) = token_request(
            &handle,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", handle.client_id()),
                ("client_secret", handle.client_secret()),
            ],
            None,
        )
        .await;
        expect(s, &h, &b, error, description);
    }
    // An app whose flow is off still checks its key first: Salesforce must find the app.
    let disabled = start(scenario("[org]\nauth = \"flow_disabled\"\n")).await;
    let (s, h, b) = token_request(
        &disabled,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("client_secret", disabled.client_secret()),
        ],
        None,
    )
    .await;
    expect(s, &h, &b, "invalid_client_id", "client identifier invalid");
    let counters = handle.counters();
    assert_eq!(counters["token_rejected"], 7);
    assert!(!counters.contains_key("api_requests"));
}

async fn expect_401(org: &Org) {
    let answer = org.get(&format!("{V}/limits")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
}

#[tokio::test]
async fn unknown_missing_and_revoked_tokens_get_401() {
    let mut org = Org::mixed().await;
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    let good = org.token.clone();
    org.token = "00D000000000000!bogus".to_owned();
    expect_401(&org).await;
    let response = org
        .http
        .get(org.handle.base_url().join(&format!("{V}/limits")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    org.token = good;
    org.handle.admin(AdminAction::RevokeTokens).unwrap();
    expect_401(&org).await;
    assert_eq!(org.handle.counters()["rejected_auth"], 3);
    // A new token works again.
    org.token = mint(&org.http, &org.handle).await;
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_expire_after_a_number_of_requests() {
    let org = Org::start(scenario("[faults]\ntoken_requests = 3\n")).await;
    for _ in 0..3 {
        assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    }
    expect_401(&org).await;
}

#[tokio::test(start_paused = true)]
async fn tokens_expire_after_their_ttl() {
    let org = Org::start(scenario("[faults]\ntoken_ttl = \"2h\"\n")).await;
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(2 * 3600 - 1)).await;
    assert_eq!(org.get(&format!("{V}/limits")).await.status, StatusCode::OK);
    tokio::time::advance(Duration::from_secs(1)).await;
    expect_401(&org).await;
    // Faults can change at runtime: without a TTL fresh tokens live on.
    org.handle.set_faults(Faults::default());
    let fresh = Org {
        handle: org.handle.clone(),
        http: org.http.clone(),
        token: mint(&org.http, &org.handle).await,
    };
    tokio::time::advance(Duration::from_secs(100 * 3600)).await;
    assert_eq!(
        fresh.get(&format!("{V}/limits")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn shared_usage_spends_the_others_calls_with_each_request_up_to_the_allowance() {
    let org = Org::start(scenario(
        "[limits]\ndaily_api_requests = 10\nused = 0\n\n[faults]\nshared_usage = 3\n",
    ))
    .await;
    let first = org.get(&format!("{V}/limits")).await;
    // One of ours and three of theirs; `/limits` answers after the request is charged.
    assert_eq!(first.api_used(), 4);
    assert_eq!(first.body["DailyApiRequests"]["Remaining"], 6);
    assert_eq!(org.get(&format!("{V}/limits")).await.api_used(), 8);
    // 9 with ours; theirs stop at the allowance.
    assert_eq!(org.get(&format!("{V}/limits")).await.api_used(), 10);
    let refused = org.get(&format!("{V}/limits")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn usage_header_on_every_response_and_the_daily_limit() {
    let org = Org::start(scenario("[limits]\ndaily_api_requests = 5\nused = 2\n")).await;
    let first = org.get(&format!("{V}/limits")).await;
    assert_eq!(first.headers["sforce-limit-info"], "api-usage=3/5");
    assert_eq!(
        first.body["DailyApiRequests"],
        json!({"Max": 5, "Remaining": 2})
    );
    let second = org
        .get(&format!(
            "{V}/tooling/sobjects/FlowDefinition/300000000000000"
        ))
        .await;
    assert_eq!(second.status, StatusCode::NOT_FOUND);
    assert_eq!(second.api_used(), 4);
    let third = org.get(&format!("{V}/limits")).await;
    assert_eq!(third.api_used(), 5);
    let refused = org.get(&format!("{V}/limits")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(refused.headers["sforce-limit-info"], "api-usage=5/5");
    // Errors carry the header too.
    let mut bad = Org {
        handle: org.handle.clone(),
        http: org.http.clone(),
        token: "x".into(),
    };
    assert!(
        bad.get(&format!("{V}/limits"))
            .await
            .headers
            .contains_key("sforce-limit-info")
    );
    // An admin raises the limit.
    org.handle
        .admin(AdminAction::SetApiUsage { used: 5, max: 10 })
        .unwrap();
    bad.token = org.token.clone();
    assert_eq!(bad.get(&format!("{V}/limits")).await.api_used(), 6);
}

#[tokio::test]
async fn versions_and_unknown_versions() {
    let org = Org::mixed().await;
    let response = org
        .http
        .get(org.handle.base_url().join("/services/data").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let versions: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["65.0", "66.0", "67.0", "68.0"]);
    assert_eq!(
        body[1],
        json!({"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"})
    );
    // Every answer under /services/data is a Salesforce answer, even a wrong method.
    let posted = org.send(Method::POST, "/services/data", None).await;
    assert_eq!(posted.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(posted.error_code(), "METHOD_NOT_ALLOWED");
    assert!(posted.headers.contains_key("sforce-limit-info"));
    let old = org.get("/services/data/v58.0/limits").await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    assert_eq!(old.error_code(), "NOT_FOUND");
    assert_eq!(
        org.get("/services/data/v68.0/limits").await.status,
        StatusCode::OK
    );
    let nowhere = org.get(&format!("{V}/sobjects/Account/001")).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(
        nowhere.body,
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
}

#[tokio::test]
async fn user_permission_access_answers_the_scenarios_permissions_and_refuses_others() {
    let fields = "PermissionsApiEnabled, PermissionsAuthorApex, PermissionsModifyMetadata, \
                  PermissionsModifyAllData";
    let org = Org::mixed().await;
    let answer = org
        .query(&format!("SELECT {fields} FROM UserPermissionAccess"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["totalSize"], 1);
    let record = &answer.body["records"][0];
    assert_eq!(record["attributes"]["type"], "UserPermissionAccess");
    // The default Run As user holds the guide's permission set, not Modify All Data.
    assert_eq!(record["PermissionsApiEnabled"], true);
    assert_eq!(record["PermissionsAuthorApex"], true);
    assert_eq!(record["PermissionsModifyMetadata"], true);
    assert_eq!(record["PermissionsModifyAllData"], false);

    let limited = Org::start(scenario(
        "[org]\nrun_as_permissions = [\"ApiEnabled\", \"ViewSetup\"]\n",
    ))
    .await;
    let answer = limited
        .query(&format!("SELECT {fields} FROM UserPermissionAccess"))
        .await;
    let record = &answer.body["records"][0];
    assert_eq!(record["PermissionsApiEnabled"], true);
    assert_eq!(record["PermissionsAuthorApex"], false);
    assert_eq!(record["PermissionsModifyMetadata"], false);

    // A permission this org does not have is not a field, as in Salesforce.
    let answer = limited
        .query("SELECT PermissionsManageSandboxes FROM UserPermissionAccess")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "INVALID_FIELD");
    // A standard object: the Tooling endpoint does not serve it.
    let answer = limited
        .tooling_query("SELECT PermissionsApiEnabled FROM UserPermissionAccess")
        .await;
    assert_eq!(answer.error_code(), "INVALID_TYPE");
}

#[test]
fn run_as_permissions_must_be_known_and_listed_once() {
    for (text, wanted) in [
        (
            "[org]\nrun_as_permissions = [\"AuthorApx\"]\n",
            "org.run_as_permissions: `AuthorApx` is not a permission the sim knows",
        ),
        (
            "[org]\nrun_as_permissions = [\"ApiEnabled\", \"ApiEnabled\"]\n",
            "org.run_as_permissions: `ApiEnabled` is listed twice",
        ),
    ] {
        let error = Scenario::from_toml_str(text).expect_err(text).to_string();
        assert!(error.contains(wanted), "{error}");
    }
}
