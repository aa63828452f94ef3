//! Tests of the Salesforce client (`pauseplay::salesforce`).
//!
//! `mock_*` tests run against a scripted server (tests/common/mock.rs) for answers that must
//! be exact; `sim_*` tests run against the simulated org.

mod common;

use common::mock::{Mock, Recorded, Reply, token_reply};
use common::{FAST_RETRY, client, settings};
use pauseplay::salesforce::{ApiUsage, CompositeRequest, RetryPolicy, SfError, TransportKind};
use serde::Deserialize;
use serde_json::json;

const SECRET: &str = "the-consumer-secret-7f3a";
const TOKEN: &str = "00DXX0000001abc!AQ4AQ.secret-token-value-91b2";
const TOKEN_PATH: &str = "/services/oauth2/token";

fn is_token(request: &Recorded) -> bool {
    request.path == TOKEN_PATH
}

fn limit_header(used: u64) -> String {
    format!("api-usage={used}/15000")
}

/// Asserts that neither the secret nor the token shows in an error's Display or Debug.
fn assert_no_leak(error: &SfError) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains("secret-token-value"), "token leaked: {text}");
    }
}

#[tokio::test]
async fn mock_token_request_is_form_encoded_and_the_token_is_sent_as_bearer() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            Reply::json(200, json!({"DailyApiRequests": {"Max": 15000, "Remaining": 14990,
                "Salesforce CLI": {"Max": 0, "Remaining": 0}}, "Other": {"Max": 1, "Remaining": 1}}))
            .header("Sforce-Limit-Info", &limit_header(10))
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "the-key", SECRET));
    assert_eq!(client.api_usage(), None);
    let limits = client.limits().await.expect("limits");
    assert_eq!(limits.daily_api_requests.max, 15000);
    assert_eq!(limits.daily_api_requests.remaining, 14990);
    assert_eq!(
        client.api_usage(),
        Some(ApiUsage {
            used: 10,
            max: 15000
        })
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.path, TOKEN_PATH);
    assert_eq!(
        token.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(token.body.as_bytes())
        .into_owned()
        .collect();
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())));
    assert!(form.contains(&("client_id".into(), "the-key".into())));
    assert!(form.contains(&("client_secret".into(), SECRET.into())));

    let api = &requests[1];
    assert_eq!(api.method, "GET");
    assert_eq!(api.path, "/services/data/v66.0/limits");
    assert_eq!(api.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(api.headers["accept"], "application/json");
    let agent = api.headers["user-agent"].to_str().expect("ascii");
    assert!(agent.starts_with("pauseplay/"), "{agent}");

    let identity = client.identity().await.expect("identity");
    assert_eq!(identity.org_id, "00DXX0000001abcEAA");
    assert_eq!(identity.user_id, "005XX000001xyzAAA");
    assert_eq!(identity.instance_url.host_str(), Some("127.0.0.1"));
    assert_eq!(mock.count(TOKEN_PATH), 1, "the token is cached");
}

#[tokio::test]
async fn mock_second_401_is_session_invalid() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            Reply::json(
                401,
                json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
            )
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let error = client
        .tooling_get::<serde_json::Value>("FlowDefinition", "300XX0000000001AAA", &[])
        .await
        .expect_err("401 twice");
    assert!(matches!(error, SfError::SessionInvalid { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(error.error_code(), Some("INVALID_SESSION_ID"));
    assert_no_leak(&error);
    assert_eq!(mock.count(TOKEN_PATH), 2, "exactly one re-mint");
    assert_eq!(
        mock.count("/services/data/v66.0/tooling/sobjects/FlowDefinition/300XX0000000001AAA"),
        2
    );
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct FlowDefinitionRow {
    id: String,
    developer_name: String,
    active_version: Option<VersionRef>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct VersionRef {
    version_number: u32,
}

#[tokio::test]
async fn mock_pagination_uses_next_records_url_verbatim() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let row = |n: u32, active: Option<u32>| {
            json!({
                "attributes": {"type": "FlowDefinition", "url": format!("/services/data/v66.0/tooling/sobjects/FlowDefinition/300{n}")},
                "Id": format!("300{n}"),
                "DeveloperName": format!("Flow_{n}"),
                "ActiveVersion": active.map(|v| json!({"attributes": {"type": "Flow"}, "VersionNumber": v})),
            })
        };
        match request.path.as_str() {
            "/services/data/v66.0/tooling/query" => Reply::json(200, json!({
                "size": 2, "totalSize": 5, "done": false, "queryLocator": "01gXX-2",
                "entityTypeName": "FlowDefinition",
                "nextRecordsUrl": "/services/data/v66.0/tooling/query/01gXX-2",
                "records": [row(1, Some(3)), row(2, None)]})),
            "/services/data/v66.0/tooling/query/01gXX-2" => Reply::json(200, json!({
                "size": 2, "totalSize": 5, "done": false,
                "nextRecordsUrl": "/services/data/v66.0/tooling/query/01gXX-4",
                "records": [row(3, Some(1)), row(4, None)]})),
            "/services/data/v66.0/tooling/query/01gXX-4" => Reply::json(200, json!({
                "size": 1, "totalSize": 5, "done": true, "queryLocator": null,
                "records": [row(5, Some(2))]})),
            _ => Reply::json(404, json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])),
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let soql = "SELECT Id, DeveloperName, ActiveVersion.VersionNumber FROM FlowDefinition";
    let rows: Vec<FlowDefinitionRow> = client.tooling_query(soql).await.expect("rows");
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(ids, ["3001", "3002", "3003", "3004", "3005"]);
    assert_eq!(
        rows[0].active_version,
        Some(VersionRef { version_number: 3 })
    );
    assert_eq!(rows[1].active_version, None);
    assert_eq!(rows[0].developer_name, "Flow_1");

    let api: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| !is_token(r))
        .collect();
    assert_eq!(api.len(), 3);
    let first_query: Vec<(String, String)> =
        url::form_urlencoded::parse(api[0].query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    assert_eq!(first_query, vec![("q".to_owned(), soql.to_owned())]);
    assert_eq!(api[1].query, None, "later pages carry no q");
    assert_eq!(api[2].path, "/services/data/v66.0/tooling/query/01gXX-4");
}

#[tokio::test]
async fn mock_transient_status_is_retried_and_permanent_is_not() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let earlier = seen.iter().filter(|r| r.path == request.path).count();
        match request.path.as_str() {
            // Two 503s, then success.
            "/services/data/v66.0/limits" if earlier < 2 => Reply::json(
                503,
                json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "Server Unavailable"}]),
            ),
            "/services/data/v66.0/limits" => Reply::json(
                200,
                json!({"DailyApiRequests": {"Max": 100, "Remaining": 50}}),
            ),
            // Always an HTML 502 from a proxy.
            "/services/data/v66.0/tooling/sobjects/Flow/301A" => {
                Reply::text(502, &format!("<html><body>Bad gateway {}</body></html>", "x".repeat(400)))
            }
            // A success that is not JSON.
            "/services/data/v66.0/tooling/sobjects/Flow/301B" => Reply::text(200, "<html>login</html>"),
            _ => Reply::json(
                400,
                json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'Foo'", "fields": ["Foo"]}]),
            ),
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    client
        .limits()
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(mock.count("/services/data/v66.0/limits"), 3);

    let error = client
        .tooling_get::<serde_json::Value>("Flow", "301A", &[])
        .await
        .expect_err("502 every time");
    match &error {
        SfError::Http { status, body, .. } => {
            assert_eq!(*status, 502);
            assert!(body.starts_with("<html>"));
            assert!(body.chars().count() <= 201);
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert_eq!(
        mock.count("/services/data/v66.0/tooling/sobjects/Flow/301A"),
        FAST_RETRY.max_attempts as usize,
        "bounded attempts"
    );

    let error = client
        .tooling_get::<serde_json::Value>("Flow", "301B", &[])
        .await
        .expect_err("not JSON");
    assert!(matches!(error, SfError::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("a Flow record"), "{error}");
    assert_eq!(
        mock.count("/services/data/v66.0/tooling/sobjects/Flow/301B"),
        1
    );

    let error = client
        .tooling_get::<serde_json::Value>("Flow", "301C", &["Id", "Foo"])
        .await
        .expect_err("400");
    assert_eq!(error.error_code(), Some("INVALID_FIELD"));
    assert_eq!(
        mock.count("/services/data/v66.0/tooling/sobjects/Flow/301C"),
        1
    );
    let fields_query = mock
        .requests()
        .iter()
        .find(|r| r.path.ends_with("/301C"))
        .and_then(|r| r.query.clone())
        .expect("query string");
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(fields_query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(fields, vec![("fields".to_owned(), "Id,Foo".to_owned())]);
}

#[tokio::test]
async fn mock_composite_body_and_response_order() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let body: serde_json::Value = serde_json::from_str(&request.body).expect("json body");
        let mut items: Vec<serde_json::Value> = body["compositeRequest"]
            .as_array()
            .expect("array")
            .iter()
            .map(|sub| {
                json!({
                    "body": if sub["method"] == "GET" { json!({"Id": sub["referenceId"]}) } else { serde_json::Value::Null },
                    "httpHeaders": {},
                    "httpStatusCode": if sub["method"] == "GET" { 200 } else { 204 },
                    "referenceId": sub["referenceId"],
                })
            })
            .collect();
        // Answer in reverse order: the client must still return request order.
        items.reverse();
        Reply::json(200, json!({"compositeResponse": items}))
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let requests = vec![
        CompositeRequest::get("ValidationRule", "03dA", &["Id", "FullName", "Metadata"]),
        CompositeRequest::patch(
            "FlowDefinition",
            "300B",
            json!({"Metadata": {"activeVersionNumber": 0}}),
        ),
    ];
    let responses = client.tooling_composite(requests).await.expect("composite");
    assert_eq!(responses[0].reference_id, "get_03dA");
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[1].reference_id, "patch_300B");
    assert_eq!(responses[1].status, 204);
    assert!(responses.iter().all(|r| r.is_success()));

    let sent = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/services/data/v66.0/tooling/composite")
        .expect("composite call");
    assert_eq!(sent.method, "POST");
    let body: serde_json::Value = serde_json::from_str(&sent.body).expect("json");
    assert_eq!(body["allOrNone"], json!(false));
    assert_eq!(
        body["compositeRequest"][0],
        json!({"method": "GET", "referenceId": "get_03dA",
               "url": "/services/data/v66.0/tooling/sobjects/ValidationRule/03dA?fields=Id,FullName,Metadata"})
    );
    assert_eq!(
        body["compositeRequest"][1],
        json!({"method": "PATCH", "referenceId": "patch_300B",
               "url": "/services/data/v66.0/tooling/sobjects/FlowDefinition/300B",
               "body": {"Metadata": {"activeVersionNumber": 0}}})
    );
}

#[tokio::test]
async fn mock_limit_info_keeps_the_latest_value() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let n = seen.len() as u64;
        let header = if n.is_multiple_of(2) {
            format!("api-usage={n}/5000; per-app-api-usage=1/250(appName=pauseplay)")
        } else {
            format!("api-usage={n}/5000")
        };
        Reply::json(
            200,
            json!({"DailyApiRequests": {"Max": 5000, "Remaining": 1}}),
        )
        .header("Sforce-Limit-Info", &header)
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    client.limits().await.expect("limits");
    assert_eq!(client.api_usage(), Some(ApiUsage { used: 1, max: 5000 }));
    client.limits().await.expect("limits");
    assert_eq!(client.api_usage(), Some(ApiUsage { used: 2, max: 5000 }));
    // Clones share the value.
    let clone = client.clone();
    clone.limits().await.expect("limits");
    assert_eq!(client.api_usage(), Some(ApiUsage { used: 3, max: 5000 }));
}

/// Produces every error variant through real calls and checks that none shows the secret or
/// the token, and neither does the client's `Debug`.
#[tokio::test]
async fn no_error_variant_or_debug_output_leaks_secrets() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            // The client id selects the token endpoint's behaviour.
            return if request.body.contains("client_id=refused") {
                Reply::json(400, json!({"error": "invalid_client", "error_description": "invalid client credentials"}))
            } else {
                token_reply(request, TOKEN)
            };
        }
        let id = request.path.rsplit('/').next().unwrap_or_default();
        match id {
            "api" => Reply::json(400, json!([{"errorCode": "INVALID_FIELD", "message": "nope"}])),
            "limit" => Reply::json(403, json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])),
            "onerow" => Reply::json(400, json!([{"errorCode": "MALFORMED_QUERY", "message": "When retrieving results with Metadata or FullName fields, the query qualifications must specify no more than one row for retrieval. Result size: 2"}])),
            "session" => Reply::json(401, json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])),
            "decode" => Reply::json(200, json!({"unexpected": true})),
            _ => Reply::text(418, "teapot"),
        }
    })
    .await;
    let no_retry = |client_id: &str| {
        let mut settings = settings("prod", &mock.url, client_id, SECRET);
        settings.retry = RetryPolicy::NONE;
        settings
    };
    let good = client(no_retry("key"));
    let mut errors = Vec::new();
    for id in ["api", "limit", "onerow", "session", "decode", "http"] {
        let error = good
            .tooling_get::<Vec<String>>("Flow", id, &[])
            .await
            .expect_err(id);
        errors.push(error);
    }
    errors.push(
        client(no_retry("refused"))
            .identity()
            .await
            .expect_err("auth"),
    );
    let mut plain = no_retry("key");
    plain.login_url = url::Url::parse("http://example.com").expect("url");
    errors.push(pauseplay::salesforce::OrgClient::new(plain).expect_err("config"));
    // A port nobody listens on: connect error.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let mut unreachable = no_retry("key");
    unreachable.login_url = url::Url::parse(&format!("http://{closed}")).expect("url");
    let transport = client(unreachable).identity().await.expect_err("transport");
    assert!(matches!(
        transport,
        SfError::Transport {
            kind: TransportKind::Connect,
            ..
        }
    ));
    assert!(transport.is_transient());
    errors.push(transport);

    let names: Vec<&str> = errors
        .iter()
        .map(|error| match error {
            SfError::Config { .. } => "Config",
            SfError::Auth { .. } => "Auth",
            SfError::Api { .. } => "Api",
            SfError::RequestLimitExceeded { .. } => "RequestLimitExceeded",
            SfError::MetadataOneRow { .. } => "MetadataOneRow",
            SfError::SessionInvalid { .. } => "SessionInvalid",
            SfError::Transport { .. } => "Transport",
            SfError::Decode { .. } => "Decode",
            SfError::Http { .. } => "Http",
        })
        .collect();
    assert_eq!(
        names,
        [
            "Api",
            "RequestLimitExceeded",
            "MetadataOneRow",
            "SessionInvalid",
            "Decode",
            "Http",
            "Auth",
            "Config",
            "Transport"
        ]
    );
    for error in &errors {
        assert_eq!(error.org(), "prod");
        assert_no_leak(error);
    }
    let auth = &errors[6];
    assert!(auth.to_string().contains("consumer secret"), "{auth}");
    let debug = format!("{good:?}");
    assert!(!debug.contains(SECRET) && !debug.contains(TOKEN), "{debug}");
}

#[tokio::test]
async fn mock_timeouts_and_token_endpoint_503_are_retried() {
    let mock = Mock::start(|request, seen| {
        let earlier = seen.iter().filter(|r| r.path == request.path).count();
        if is_token(request) {
            return if earlier == 0 {
                Reply::text(503, "Service Unavailable")
            } else {
                token_reply(request, TOKEN)
            };
        }
        let reply = Reply::json(
            200,
            json!({"DailyApiRequests": {"Max": 100, "Remaining": 50}}),
        );
        if earlier == 0 {
            // Longer than the client's request timeout: the first attempt times out.
            reply.delayed(std::time::Duration::from_secs(5))
        } else {
            reply
        }
    })
    .await;
    let mut settings = settings("prod", &mock.url, "key", SECRET);
    settings.request_timeout = std::time::Duration::from_millis(200);
    let client = client(settings);
    client.limits().await.expect("eventually succeeds");
    assert_eq!(mock.count(TOKEN_PATH), 2, "one 503, then the token");
    assert_eq!(
        mock.count("/services/data/v66.0/limits"),
        2,
        "one timeout, then success"
    );
}
