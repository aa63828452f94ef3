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

// ---------------------------------------------------------------------------------------
// Against the simulated org.
// ---------------------------------------------------------------------------------------

mod sim {
    use super::*;
    use pauseplay::salesforce::{ClientSettings, OrgClient};
    use pauseplay::sim::{Scenario, SimHandle, SimServer};

    pub async fn start(toml: &str) -> SimHandle {
        let scenario = Scenario::from_toml_str(toml).expect("scenario");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        SimServer::start(scenario, listener).await.expect("sim")
    }

    pub fn settings_for(handle: &SimHandle) -> ClientSettings {
        settings(
            "sim",
            &handle.base_url(),
            handle.client_id(),
            handle.client_secret(),
        )
    }

    pub fn client_for(handle: &SimHandle) -> OrgClient {
        client(settings_for(handle))
    }

    pub fn count(handle: &SimHandle, name: &str) -> u64 {
        handle.counters().get(name).copied().unwrap_or(0)
    }

    /// An org with `flows` record-triggered flows and `rules` validation rules on Account.
    pub fn org(flows: usize, rules: usize, extra: &str) -> String {
        let mut toml = String::from(extra);
        toml.push('\n');
        for i in 0..flows {
            toml.push_str(&format!(
                "[[flows]]\nname = \"Flow_{i:02}\"\nprocess_type = \"AutoLaunchedFlow\"\n\
                 trigger_type = \"RecordAfterSave\"\nobject = \"Account\"\n\
                 versions = [\"Obsolete\", \"Active\"]\n\n"
            ));
        }
        for i in 0..rules {
            toml.push_str(&format!(
                "[[validation_rules]]\nobject = \"Account\"\nname = \"Rule_{i:02}\"\n\
                 active = true\nformula = \"ISBLANK(Phone)\"\nmessage = \"Enter a phone {i}\"\n\n"
            ));
        }
        toml
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdRow {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowViewRow {
    durable_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleRow {
    id: String,
    validation_name: String,
}

#[tokio::test]
async fn sim_token_mint_and_identity() {
    let handle = sim::start(&sim::org(1, 1, "")).await;
    let client = sim::client_for(&handle);
    let identity = client.identity().await.expect("identity");
    assert!(identity.org_id.starts_with("00D"), "{identity:?}");
    assert!(identity.user_id.starts_with("005"), "{identity:?}");
    assert_eq!(identity.instance_url.origin(), handle.base_url().origin());
    client.identity().await.expect("cached");
    assert_eq!(sim::count(&handle, "token"), 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_expired_token_is_reminted_once() {
    let handle = sim::start(&sim::org(1, 1, "[faults]\ntoken_requests = 2")).await;
    let client = sim::client_for(&handle);
    for _ in 0..3 {
        client.limits().await.expect("limits");
    }
    assert_eq!(sim::count(&handle, "token"), 2, "{:?}", handle.counters());
    assert_eq!(sim::count(&handle, "rejected_auth"), 1);
    assert_eq!(sim::count(&handle, "limits"), 3);
    // The client's own tally: every token request, and every authenticated request sent,
    // which is what the org charged plus the one refused with 401 (not charged).
    assert_eq!(client.token_requests(), 2);
    assert_eq!(
        client.api_calls(),
        sim::count(&handle, "api_requests") + sim::count(&handle, "rejected_auth")
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_revoked_tokens_are_reminted() {
    let handle = sim::start(&sim::org(1, 1, "")).await;
    let client = sim::client_for(&handle);
    client.limits().await.expect("limits");
    handle
        .admin(pauseplay::sim::AdminAction::RevokeTokens)
        .expect("revoke");
    client.limits().await.expect("limits after revoke");
    assert_eq!(sim::count(&handle, "token"), 2);
    assert_eq!(sim::count(&handle, "rejected_auth"), 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_pagination_returns_every_record_once() {
    let handle = sim::start(&sim::org(5, 7, "[query]\npage_size = 2")).await;
    let client = sim::client_for(&handle);
    let rules: Vec<RuleRow> = client
        .tooling_query("SELECT Id, ValidationName FROM ValidationRule")
        .await
        .expect("rules");
    assert_eq!(rules.len(), 7);
    let unique: std::collections::BTreeSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(unique.len(), 7);
    let names: std::collections::BTreeSet<&str> =
        rules.iter().map(|r| r.validation_name.as_str()).collect();
    assert!(names.contains("Rule_00") && names.contains("Rule_06"));
    assert_eq!(sim::count(&handle, "tooling_query"), 1);
    assert_eq!(sim::count(&handle, "query_more"), 3);

    // The standard endpoint pages the same way. (FlowDefinitionView's `Id` is the same
    // placeholder on every row, as in Salesforce; `DurableId` identifies the flow.)
    let flows: Vec<FlowViewRow> = client
        .query("SELECT Id, DurableId, ApiName FROM FlowDefinitionView")
        .await
        .expect("flows");
    assert_eq!(flows.len(), 5);
    let unique: std::collections::BTreeSet<&str> =
        flows.iter().map(|r| r.durable_id.as_str()).collect();
    assert_eq!(unique.len(), 5);
    assert_eq!(sim::count(&handle, "query"), 1);
    assert_eq!(sim::count(&handle, "query_more"), 3 + 2);
    handle.shutdown().await;
}

/// Reference §2.5 / §4.1: `Metadata` on a multi-row Tooling query is 400 `MALFORMED_QUERY`
/// ("... no more than one row ...").
#[tokio::test]
async fn sim_one_row_rule_is_a_typed_error() {
    let handle = sim::start(&sim::org(0, 3, "")).await;
    let client = sim::client_for(&handle);
    let error = client
        .tooling_query::<serde_json::Value>("SELECT Id, Metadata FROM ValidationRule")
        .await
        .expect_err("one-row rule");
    assert!(matches!(error, SfError::MetadataOneRow { .. }), "{error:?}");
    assert_eq!(error.error_code(), Some("MALFORMED_QUERY"));
    assert!(!error.is_transient());
    assert_eq!(sim::count(&handle, "tooling_query"), 1);
    handle.shutdown().await;
}

/// Reference §4.1 (way 2): `SELECT Id, FullName, Metadata FROM ValidationRule WHERE Id = ...`
/// is allowed on one row.
#[tokio::test]
async fn sim_single_row_metadata_query_is_allowed() {
    let handle = sim::start(&sim::org(0, 3, "")).await;
    let client = sim::client_for(&handle);
    let rules: Vec<RuleRow> = client
        .tooling_query(
            "SELECT Id, ValidationName FROM ValidationRule WHERE ValidationName = 'Rule_02'",
        )
        .await
        .expect("rule");
    let soql = format!(
        "SELECT Id, FullName, Metadata FROM ValidationRule WHERE Id = '{}'",
        rules[0].id
    );
    let rows: Vec<RuleWithMetadata> = client.tooling_query(&soql).await.expect("one row");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].full_name, "Account.Rule_02");
    handle.shutdown().await;
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleWithMetadata {
    id: String,
    full_name: String,
    metadata: RuleMetadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleMetadata {
    active: bool,
    error_condition_formula: String,
    error_message: String,
}

#[tokio::test]
async fn sim_tooling_get_with_fields_and_a_strict_patch() {
    let handle = sim::start(&sim::org(0, 2, "")).await;
    let client = sim::client_for(&handle);
    let rules: Vec<RuleRow> = client
        .tooling_query(
            "SELECT Id, ValidationName FROM ValidationRule WHERE ValidationName = 'Rule_01'",
        )
        .await
        .expect("rule");
    let id = &rules[0].id;
    let rule: RuleWithMetadata = client
        .tooling_get("ValidationRule", id, &["Id", "FullName", "Metadata"])
        .await
        .expect("get");
    assert_eq!(&rule.id, id);
    assert_eq!(rule.full_name, "Account.Rule_01");
    assert!(rule.metadata.active);
    assert_eq!(rule.metadata.error_condition_formula, "ISBLANK(Phone)");
    assert_eq!(rule.metadata.error_message, "Enter a phone 1");

    // A partial Metadata is refused: a typed Api error with the code, not retried.
    handle.reset_counters();
    let error = client
        .tooling_patch(
            "ValidationRule",
            id,
            &json!({"Metadata": {"active": false}}),
        )
        .await
        .expect_err("partial metadata");
    assert!(
        matches!(error, SfError::Api { status: 400, .. }),
        "{error:?}"
    );
    // The reference leaves the exact code open (§4.1 [INFERRED]); the sim says
    // REQUIRED_FIELD_MISSING.
    assert_eq!(
        error.error_code(),
        Some("REQUIRED_FIELD_MISSING"),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(sim::count(&handle, "sobject_patch"), 1);

    // The full Metadata is accepted.
    let full = json!({"Metadata": {
        "active": false,
        "description": null,
        "errorConditionFormula": rule.metadata.error_condition_formula,
        "errorDisplayField": null,
        "errorMessage": rule.metadata.error_message,
    }});
    client
        .tooling_patch("ValidationRule", id, &full)
        .await
        .expect("full patch");
    let after: RuleWithMetadata = client
        .tooling_get("ValidationRule", id, &["Id", "FullName", "Metadata"])
        .await
        .expect("get");
    assert!(!after.metadata.active);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_composite_is_chunked_by_25_with_per_item_failures() {
    let handle = sim::start(&sim::org(30, 0, "")).await;
    let client = sim::client_for(&handle);
    let flows: Vec<IdRow> = client
        .tooling_query("SELECT Id FROM FlowDefinition")
        .await
        .expect("flows");
    assert_eq!(flows.len(), 30);
    let missing = "300000000000000AAA";
    let mut requests: Vec<CompositeRequest> = flows
        .iter()
        .map(|f| CompositeRequest::get("FlowDefinition", &f.id, &["Id", "Metadata"]))
        .collect();
    requests.insert(
        10,
        CompositeRequest::get("FlowDefinition", missing, &["Id"]),
    );
    let expected: Vec<String> = requests
        .iter()
        .map(|r| r.reference_id().to_owned())
        .collect();
    handle.reset_counters();
    let responses = client.tooling_composite(requests).await.expect("composite");
    assert_eq!(sim::count(&handle, "composite"), 2, "ceil(31 / 25) calls");
    let got: Vec<String> = responses.iter().map(|r| r.reference_id.clone()).collect();
    assert_eq!(got, expected, "request order");
    for (i, response) in responses.iter().enumerate() {
        if i == 10 {
            assert_eq!(response.status, 404);
            assert_eq!(response.errors()[0].error_code, "NOT_FOUND");
            let error = response.error("sim").expect("error");
            assert!(error.is_not_found() && !error.is_transient());
        } else {
            assert_eq!(response.status, 200, "{response:?}");
            let record: serde_json::Value = response.record().expect("record");
            assert_eq!(record["Metadata"]["activeVersionNumber"], json!(2));
        }
    }

    // PATCHes through composite: deactivate the first three flows.
    let patches: Vec<CompositeRequest> = flows[..3]
        .iter()
        .map(|f| {
            CompositeRequest::patch(
                "FlowDefinition",
                &f.id,
                json!({"Metadata": {"activeVersionNumber": 0}}),
            )
        })
        .collect();
    let responses = client.tooling_composite(patches).await.expect("patches");
    assert!(responses.iter().all(|r| r.is_success()), "{responses:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_transient_faults_are_retried_until_success() {
    let handle = sim::start(&sim::org(
        3,
        3,
        "[faults]\nseed = 7\ntransient_error_rate = 0.3",
    ))
    .await;
    let client = sim::client_for(&handle);
    let mut calls = 0u64;
    for _ in 0..10 {
        client.limits().await.expect("limits");
        let rules: Vec<IdRow> = client
            .tooling_query("SELECT Id FROM ValidationRule")
            .await
            .expect("query");
        client
            .tooling_get::<serde_json::Value>("ValidationRule", &rules[0].id, &["Id"])
            .await
            .expect("get");
        calls += 3;
    }
    let injected = sim::count(&handle, "faults_injected");
    assert!(injected > 0, "{:?}", handle.counters());
    assert_eq!(
        sim::count(&handle, "api_requests"),
        calls + injected,
        "every injected fault cost exactly one extra attempt: {:?}",
        handle.counters()
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_dropped_connections_are_retried_until_success() {
    let handle = sim::start(&sim::org(3, 3, "[faults]\nseed = 11\ndrop_rate = 0.3")).await;
    let client = sim::client_for(&handle);
    for _ in 0..10 {
        client.limits().await.expect("limits");
        let _: Vec<IdRow> = client
            .tooling_query("SELECT Id FROM FlowDefinition")
            .await
            .expect("query");
    }
    let dropped = sim::count(&handle, "dropped");
    assert!(dropped > 0, "{:?}", handle.counters());
    assert_eq!(
        sim::count(&handle, "limits") + sim::count(&handle, "tooling_query"),
        20 + dropped - (sim::count(&handle, "token") - 1),
        "{:?}",
        handle.counters()
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_permanent_errors_are_not_retried() {
    let handle = sim::start(&sim::org(1, 1, "")).await;
    let client = sim::client_for(&handle);
    client.identity().await.expect("token");
    handle.reset_counters();
    let error = client
        .tooling_get::<serde_json::Value>("ValidationRule", "03d000000000000AAA", &[])
        .await
        .expect_err("404");
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(
        sim::count(&handle, "sobject_get"),
        1,
        "{:?}",
        handle.counters()
    );

    let error = client
        .tooling_query::<serde_json::Value>("SELECT Id, NoSuchField__x FROM ValidationRule")
        .await
        .expect_err("400");
    assert!(
        matches!(error, SfError::Api { status: 400, .. }),
        "{error:?}"
    );
    assert_eq!(sim::count(&handle, "tooling_query"), 1);
    assert_eq!(sim::count(&handle, "api_requests"), 2);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_daily_limit_is_not_retried() {
    let handle = sim::start(&sim::org(
        1,
        0,
        "[limits]\ndaily_api_requests = 1000\nused = 1000",
    ))
    .await;
    let client = sim::client_for(&handle);
    let error = client.limits().await.expect_err("limit");
    assert!(
        matches!(error, SfError::RequestLimitExceeded { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(sim::count(&handle, "rejected_limit"), 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_token_errors_explain_what_to_check() {
    let handle = sim::start(&sim::org(0, 0, "")).await;
    let wrong_secret = "wrong-secret-5d1e";
    let mut settings = sim::settings_for(&handle);
    settings.client_secret = secrecy::SecretString::from(wrong_secret);
    let error = client(settings).identity().await.expect_err("bad secret");
    assert!(matches!(error, SfError::Auth { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("consumer secret"), "{message}");
    for text in [message, format!("{error:?}")] {
        assert!(!text.contains(wrong_secret), "{text}");
        assert!(!text.contains(handle.client_secret()), "{text}");
    }

    let mut settings = sim::settings_for(&handle);
    settings.client_id = "3MVG9unknown".into();
    let error = client(settings).identity().await.expect_err("bad id");
    assert_eq!(error.error_code(), Some("invalid_client_id"));
    assert!(error.to_string().contains("client_id"), "{error}");
    assert_eq!(sim::count(&handle, "token"), 0);
    handle.shutdown().await;

    for (auth, expected) in [
        ("no_run_as_user", "Run As user"),
        ("wrong_domain", "My Domain"),
    ] {
        let handle = sim::start(&format!("[org]\nauth = \"{auth}\"")).await;
        let error = sim::client_for(&handle).identity().await.expect_err(auth);
        assert!(matches!(error, SfError::Auth { .. }), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
        handle.shutdown().await;
    }
}

#[tokio::test]
async fn sim_api_usage_and_versions() {
    let handle = sim::start(&sim::org(
        1,
        0,
        "[limits]\ndaily_api_requests = 5000\nused = 100",
    ))
    .await;
    let client = sim::client_for(&handle);
    let versions = client.versions().await.expect("versions");
    assert!(versions.iter().any(|v| v.version == "66.0"), "{versions:?}");
    assert!(versions.iter().any(|v| v.url == "/services/data/v66.0"));
    assert_eq!(sim::count(&handle, "token"), 0, "versions needs no token");

    let limits = client.limits().await.expect("limits");
    assert_eq!(limits.daily_api_requests.max, 5000);
    let first = client.api_usage().expect("usage");
    assert_eq!(first.max, 5000);
    client.limits().await.expect("limits");
    let second = client.api_usage().expect("usage");
    assert_eq!(second.used, first.used + 1);
    assert_eq!(limits.daily_api_requests.remaining, 5000 - first.used);
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_concurrent_requests_share_one_token_mint() {
    let handle = sim::start(&sim::org(1, 1, "[faults]\nlatency = \"20ms\"")).await;
    let client = sim::client_for(&handle);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.limits().await })
        })
        .collect();
    for call in calls {
        call.await.expect("joins").expect("limits");
    }
    assert_eq!(sim::count(&handle, "token"), 1, "{:?}", handle.counters());
    assert_eq!(sim::count(&handle, "limits"), 8);

    // After a revocation, concurrent callers that all see the 401 share one re-mint.
    handle
        .admin(pauseplay::sim::AdminAction::RevokeTokens)
        .expect("revoke");
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.limits().await })
        })
        .collect();
    for call in calls {
        call.await.expect("joins").expect("limits");
    }
    assert_eq!(sim::count(&handle, "token"), 2, "{:?}", handle.counters());
    handle.shutdown().await;
}

#[tokio::test]
async fn sim_overlapping_writes_are_retried_after_admin_conflicts() {
    let handle = sim::start(&sim::org(4, 0, "[faults]\nlatency = \"30ms\"")).await;
    let client = sim::client_for(&handle);
    let flows: Vec<IdRow> = client
        .tooling_query("SELECT Id FROM FlowDefinition")
        .await
        .expect("flows");
    handle.reset_counters();
    let patches: Vec<_> = flows
        .iter()
        .map(|flow| {
            let client = client.clone();
            let id = flow.id.clone();
            tokio::spawn(async move {
                client
                    .tooling_patch(
                        "FlowDefinition",
                        &id,
                        &json!({"Metadata": {"activeVersionNumber": 0}}),
                    )
                    .await
            })
        })
        .collect();
    for patch in patches {
        patch
            .await
            .expect("joins")
            .expect("patch eventually succeeds");
    }
    let conflicts = sim::count(&handle, "admin_conflicts");
    assert!(conflicts > 0, "{:?}", handle.counters());
    // Each conflict cost one refused request; each PATCH was applied once.
    assert_eq!(
        sim::count(&handle, "api_requests"),
        4 + conflicts,
        "{:?}",
        handle.counters()
    );
    assert_eq!(sim::count(&handle, "sobject_patch"), 4);
    let rows: Vec<serde_json::Value> = client
        .tooling_query("SELECT Id, ActiveVersionId FROM FlowDefinition")
        .await
        .expect("flows");
    assert!(
        rows.iter().all(|row| row["ActiveVersionId"].is_null()),
        "{rows:?}"
    );
    handle.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Review additions: wire tolerance, composite item retries, secrets in logs.
// ---------------------------------------------------------------------------------------

/// The token response as the reference shows it in full (§1.2): `issued_at` a string, no
/// `expires_in`, an `api_instance_url` that must be ignored and an identity URL on a host
/// that is neither login nor test.
#[tokio::test]
async fn mock_token_response_with_every_documented_field() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            let host = request.headers["host"].to_str().expect("host").to_owned();
            return Reply::json(
                200,
                json!({
                    "access_token": TOKEN,
                    "signature": "nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=",
                    "token_format": "opaque",
                    "scope": "sfap_api analytics_agent_api api",
                    "instance_url": format!("http://{host}"),
                    "id": "https://login.pc-rnd.salesforce.com/id/00DXX0000001abcEAA/005XX000001xyzAAA",
                    "token_type": "Bearer",
                    "issued_at": "1735689600000",
                    "api_instance_url": "https://api.salesforce.com",
                }),
            );
        }
        Reply::json(200, json!({"DailyApiRequests": {"Max": 15000.0, "Remaining": 14998.0}}))
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let identity = client.identity().await.expect("identity");
    assert_eq!(identity.org_id, "00DXX0000001abcEAA");
    assert_eq!(identity.user_id, "005XX000001xyzAAA");
    let limits = client.limits().await.expect("limits");
    assert_eq!(limits.daily_api_requests.remaining, 14998);
    // Every API call went to instance_url (the mock), none to api_instance_url.
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path == "/services/data/v66.0/limits")
    );
}

/// A token response the client cannot use is reported without echoing its body, and
/// `invalid_client` at 401 (Appendix C) is an [`SfError::Auth`] that is not retried.
#[tokio::test]
async fn mock_unusable_token_responses_never_echo_the_body() {
    let mock = Mock::start(|request, _| {
        if request.body.contains("client_id=unusable") {
            // 200 but no instance_url / id: the body holds the token.
            return Reply::json(200, json!({"access_token": TOKEN, "issued_at": 1}));
        }
        if request.body.contains("client_id=garbled") {
            return Reply::text(200, &format!("access_token={TOKEN}&oops"));
        }
        Reply::json(
            401,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        )
    })
    .await;
    for client_id in ["unusable", "garbled"] {
        let error = client(settings("prod", &mock.url, client_id, SECRET))
            .identity()
            .await
            .expect_err(client_id);
        assert!(matches!(error, SfError::Decode { .. }), "{error:?}");
        assert!(!error.is_transient());
        assert_no_leak(&error);
    }
    let before = mock.count(TOKEN_PATH);
    let error = client(settings("prod", &mock.url, "wrong", SECRET))
        .identity()
        .await
        .expect_err("401 invalid_client");
    assert!(
        matches!(error, SfError::Auth { status: 401, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("consumer secret"), "{error}");
    assert_eq!(
        mock.count(TOKEN_PATH) - before,
        1,
        "an Auth error is not retried"
    );
    assert_no_leak(&error);
}

/// The 401 variant about scopes (§1.4) re-mints exactly once, then is a permanent
/// `SessionInvalid` naming the scope problem.
#[tokio::test]
async fn mock_401_scope_variant_remints_once_and_stops() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        Reply::json(
            401,
            json!([{"errorCode": "INVALID_SESSION_ID", "message":
                "This session is not valid for use with the specified REST API endpoint. One of the following scopes is required: api"}]),
        )
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let error = client.limits().await.expect_err("always 401");
    assert!(matches!(error, SfError::SessionInvalid { .. }), "{error:?}");
    assert!(error.to_string().contains("scopes is required"), "{error}");
    assert_eq!(mock.count(TOKEN_PATH), 2, "the first mint and one re-mint");
    assert_eq!(mock.count("/services/data/v66.0/limits"), 2);
    assert_eq!(client.api_calls(), 2);
}

/// A `nextRecordsUrl` that would leave the instance host is refused, not followed.
#[tokio::test]
async fn mock_next_records_url_cannot_leave_the_host() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        Reply::json(
            200,
            json!({"totalSize": 2, "done": false, "records": [{"Id": "1"}],
                   "nextRecordsUrl": "/\\evil.example/services/data/v66.0/query/01g-1"}),
        )
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let error = client
        .query::<serde_json::Value>("SELECT Id FROM Account")
        .await
        .expect_err("refused");
    assert!(matches!(error, SfError::Decode { .. }), "{error:?}");
    assert_eq!(client.api_calls(), 1, "only the first page was requested");
}

/// Items that fail transiently inside a successful composite are sent again on their own;
/// permanent item failures are returned as they are (§6.1, §7.1).
#[tokio::test]
async fn mock_transient_composite_items_are_sent_again() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let round = seen.iter().filter(|r| r.path == request.path).count();
        let body: serde_json::Value = serde_json::from_str(&request.body).expect("json body");
        let items: Vec<serde_json::Value> = body["compositeRequest"]
            .as_array()
            .expect("array")
            .iter()
            .map(|sub| {
                let reference = sub["referenceId"].as_str().expect("referenceId");
                let (status, body) = match (reference, round) {
                    ("patch_300A", 0) => (500, json!([{"errorCode": "UNKNOWN_EXCEPTION",
                        "message": "admin operation already in progress"}])),
                    ("patch_300B", 0) => (400, json!([{"errorCode": "PROCESSING_HALTED",
                        "message": "The transaction was rolled back since another operation in the same transaction failed."}])),
                    ("patch_300B", 1) => (400, json!([{"errorCode": "UNABLE_TO_LOCK_ROW",
                        "message": "unable to obtain exclusive access to this record"}])),
                    ("patch_300C", _) => (404, json!([{"errorCode": "NOT_FOUND",
                        "message": "The requested resource does not exist"}])),
                    ("patch_300D", _) => (500, json!("An unexpected error occurred")),
                    _ => (204, serde_json::Value::Null),
                };
                json!({"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference})
            })
            .rev()
            .collect();
        Reply::json(200, json!({"compositeResponse": items}))
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let requests = ["300A", "300B", "300C", "300D", "300E"]
        .map(|id| {
            CompositeRequest::patch(
                "FlowDefinition",
                id,
                json!({"Metadata": {"activeVersionNumber": 0}}),
            )
        })
        .to_vec();
    let responses = client.tooling_composite(requests).await.expect("composite");
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 204, 404, 500, 204]);
    assert!(responses[2].error("prod").is_some_and(|e| e.is_not_found()));
    let server_error = responses[3].error("prod").expect("an error");
    assert!(
        matches!(server_error, SfError::Http { status: 500, .. }),
        "{server_error:?}"
    );

    let calls: Vec<Vec<String>> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/services/data/v66.0/tooling/composite")
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
            body["compositeRequest"]
                .as_array()
                .expect("array")
                .iter()
                .map(|sub| sub["referenceId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        calls,
        [
            vec![
                "patch_300A",
                "patch_300B",
                "patch_300C",
                "patch_300D",
                "patch_300E"
            ],
            vec!["patch_300A", "patch_300B"],
            vec!["patch_300B"],
        ]
    );
}

/// With every log level on, no log line carries the secret or the token: not the mint, not
/// the 401 re-mint, not retries, not decode errors.
#[test]
fn logs_never_carry_the_secret_or_the_token() {
    let logs = common::capture_logs(tracing::Level::TRACE);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    {
        runtime.block_on(async {
            let mock = Mock::start(|request, seen| {
                let earlier = seen.iter().filter(|r| r.path == request.path).count();
                if is_token(request) {
                    return token_reply(request, TOKEN);
                }
                match (request.path.as_str(), earlier) {
                    (_, 0) => Reply::json(
                        401,
                        json!([{"errorCode": "INVALID_SESSION_ID",
                        "message": "Session expired or invalid"}]),
                    ),
                    (_, 1) => Reply::json(
                        503,
                        json!([{"errorCode": "SERVER_UNAVAILABLE",
                        "message": "Server Unavailable"}]),
                    ),
                    _ => Reply::json(200, json!({"unexpected": true})),
                }
            })
            .await;
            let client = client(settings("prod", &mock.url, "key", SECRET));
            let error = client.limits().await.expect_err("decode error at the end");
            assert!(matches!(error, SfError::Decode { .. }), "{error:?}");
            assert_eq!(mock.count(TOKEN_PATH), 2, "one re-mint");
        });
    }
    let logs = logs.text();
    assert!(logs.contains("minting an access token"), "{logs}");
    assert!(logs.contains("retrying"), "{logs}");
    assert!(!logs.contains(SECRET), "secret in logs: {logs}");
    assert!(
        !logs.contains("secret-token-value"),
        "token in logs: {logs}"
    );
}
