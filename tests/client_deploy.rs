//! Tests of Metadata API trigger deploys (`OrgClient::deploy_triggers`, `deploy_status`,
//! `wait_for_deploy`) against the scripted mock server, with answers shaped like the
//! reference's recorded `deployRequest` JSON (§5.4.2).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::mock::{Mock, Recorded, Reply, token_reply};
use common::{client, settings};
use pauseplay::salesforce::{
    DeployId, PollPolicy, SfError, TestLevel, TriggerSource, TriggerStatus,
};
use serde_json::json;

const SECRET: &str = "the-consumer-secret-7f3a";
const TOKEN: &str = "00DXX0000001abc!AQ4AQ.secret-token-value-91b2";
const TOKEN_PATH: &str = "/services/oauth2/token";
const DEPLOY_PATH: &str = "/services/data/v66.0/metadata/deployRequest";
const DEPLOY_ID: &str = "0AfXX0000000001AAA";

fn poll_path() -> String {
    format!("{DEPLOY_PATH}/{DEPLOY_ID}")
}

fn is_token(request: &Recorded) -> bool {
    request.path == TOKEN_PATH
}

fn account_trigger() -> TriggerSource {
    TriggerSource {
        name: "AccountTrigger".to_owned(),
        body: "trigger AccountTrigger on Account (before insert) {\r\n}\r\n".to_owned(),
        api_version: "66.0".to_owned(),
    }
}

fn tiny_poll() -> PollPolicy {
    PollPolicy::doubling(Duration::from_millis(1), Duration::from_millis(4))
}

/// The 201 answer to the deploy POST.
fn created() -> Reply {
    Reply::json(
        201,
        json!({
            "id": DEPLOY_ID,
            "validatedDeployRequestId": null,
            "url": format!("https://acme.my.salesforce.com{DEPLOY_PATH}/{DEPLOY_ID}"),
            "deployOptions": {"checkOnly": false, "singlePackage": true,
                "testLevel": "RunLocalTests", "rollbackOnError": true},
            "deployResult": {"id": DEPLOY_ID, "status": "Pending", "done": false,
                "success": false},
        }),
    )
    .header("Sforce-Limit-Info", "api-usage=20/15000")
}

/// A poll answer in the recorded shape, with `status` / `done` / `success` as given.
fn poll_reply(status: &str, done: bool, success: bool) -> Reply {
    let details = if done {
        json!({
            "componentFailures": [],
            "componentSuccesses": [
                {"componentType": "ApexTrigger", "fileName": "triggers/AccountTrigger.trigger",
                 "fullName": "AccountTrigger", "id": "01qXX0000000001AAA", "problem": null,
                 "problemType": null, "success": true, "warning": false, "created": false,
                 "changed": true, "deleted": false, "lineNumber": null, "columnNumber": null,
                 "requiresProductionTestRun": false,
                 "createdDate": "2026-11-01T10:00:03.000+0000",
                 "knownPackagingProblem": false, "forPackageManifestFile": false},
                {"componentType": "", "fileName": "package.xml", "fullName": "package.xml",
                 "id": null, "problem": null, "problemType": null, "success": true,
                 "lineNumber": null, "columnNumber": null}
            ],
            "retrieveResult": null,
            "runTestResult": {"successes": [], "failures": [], "totalTime": 812.0,
                "apexLogId": null, "flowCoverage": [], "numFailures": 0, "codeCoverage": [],
                "codeCoverageWarnings": [], "flowCoverageWarnings": [], "numTestsRun": 3}
        })
    } else {
        json!({"componentFailures": [], "componentSuccesses": [], "retrieveResult": null,
               "runTestResult": null})
    };
    let state_detail = (status == "InProgress").then_some("Running Test: AccountTriggerTest");
    Reply::json(
        200,
        json!({
            "id": DEPLOY_ID, "validatedDeployRequestId": null, "deployOptions": null,
            "deployResult": {
                "id": DEPLOY_ID, "messages": null, "retrieveResult": null,
                "success": success, "checkOnly": false, "ignoreWarnings": false,
                "rollbackOnError": true, "status": status,
                "numberComponentsDeployed": u32::from(done), "numberComponentsTotal": 1,
                "numberComponentErrors": 0, "numberTestsCompleted": if done { 3 } else { 0 },
                "numberTestsTotal": 3, "numberTestErrors": 0,
                "details": details,
                "createdDate": "2026-11-01T10:00:00.000+0000",
                "startDate": null, "lastModifiedDate": "2026-11-01T10:00:04.000+0000",
                "completedDate": null, "errorStatusCode": null, "errorMessage": null,
                "stateDetail": state_detail, "createdBy": "005XX000001xyzA",
                "createdByName": "Integration User", "canceledBy": null,
                "canceledByName": null, "done": done, "runTestsEnabled": true,
                "runTestResult": null
            }
        }),
    )
}

/// One part of a multipart body: its headers (lowercased names) and its content.
#[derive(Debug)]
struct Part {
    headers: Vec<(String, String)>,
    content: String,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Splits a recorded `multipart/form-data` request into its parts.
fn multipart_parts(request: &Recorded) -> Vec<Part> {
    let content_type = request.headers["content-type"].to_str().expect("ascii");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("multipart content type, got {content_type}"));
    let delimiter = format!("--{boundary}");
    let body = request.body.as_str();
    let closing = format!("{delimiter}--");
    assert!(body.trim_end().ends_with(&closing), "closing delimiter");
    body.split(delimiter.as_str())
        .skip(1)
        .filter(|chunk| !chunk.starts_with("--"))
        .map(|chunk| {
            let chunk = chunk
                .strip_prefix("\r\n")
                .expect("CRLF after the delimiter");
            let (head, content) = chunk.split_once("\r\n\r\n").expect("part headers");
            let headers = head
                .split("\r\n")
                .map(|line| {
                    let (name, value) = line.split_once(':').expect("header line");
                    (name.trim().to_ascii_lowercase(), value.trim().to_owned())
                })
                .collect();
            let content = content
                .strip_suffix("\r\n")
                .expect("CRLF before the delimiter");
            Part {
                headers,
                content: content.to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn mock_deploy_request_is_multipart_and_201_gives_the_id() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            created()
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let level = TestLevel::RunSpecifiedTests(vec!["AccountTriggerTest".to_owned()]);
    let id = client
        .deploy_triggers(&[account_trigger()], TriggerStatus::Inactive, &level)
        .await
        .expect("deploy starts");
    assert_eq!(id, DeployId(DEPLOY_ID.to_owned()));
    assert_eq!(client.api_usage().map(|usage| usage.used), Some(20));

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let post = &requests[1];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, DEPLOY_PATH);
    assert_eq!(post.query, None);
    assert_eq!(post.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(post.headers["accept"], "application/json");

    let parts = multipart_parts(post);
    assert_eq!(parts.len(), 2, "{parts:?}");
    let json_part = &parts[0];
    assert_eq!(
        json_part.header("content-disposition"),
        Some("form-data; name=\"json\"")
    );
    assert_eq!(json_part.header("content-type"), Some("application/json"));
    assert_eq!(
        json_part.content,
        r#"{"deployOptions":{"allowMissingFiles":false,"autoUpdatePackage":false,"checkOnly":false,"ignoreWarnings":false,"performRetrieve":false,"purgeOnDelete":false,"rollbackOnError":true,"runTests":["AccountTriggerTest"],"singlePackage":true,"testLevel":"RunSpecifiedTests"}}"#
    );
    let file_part = &parts[1];
    assert_eq!(
        file_part.header("content-disposition"),
        Some("form-data; name=\"file\"; filename=\"deploy.zip\"")
    );
    assert_eq!(file_part.header("content-type"), Some("application/zip"));
    // The mock keeps bodies as (lossy) text, so only the zip's magic number is checked here;
    // the zip's content is checked byte for byte by the unit tests of the package builder.
    assert!(file_part.content.starts_with("PK\u{3}\u{4}"), "a zip");
    assert!(file_part.content.contains("package.xml"));
    assert!(
        file_part
            .content
            .contains("triggers/AccountTrigger.trigger-meta.xml")
    );
}

#[tokio::test]
async fn mock_no_test_run_options_have_no_run_tests() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            created()
        }
    })
    .await;
    let client = client(settings("sandbox", &mock.url, "key", SECRET));
    client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Active,
            &TestLevel::NoTestRun,
        )
        .await
        .expect("deploy starts");
    let post = mock
        .requests()
        .into_iter()
        .find(|request| request.path == DEPLOY_PATH)
        .expect("the POST");
    let options: serde_json::Value =
        serde_json::from_str(&multipart_parts(&post)[0].content).expect("json");
    assert_eq!(options["deployOptions"]["testLevel"], "NoTestRun");
    assert!(
        options["deployOptions"].get("runTests").is_none(),
        "{options}"
    );

    let error = client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Active,
            &TestLevel::RunSpecifiedTests(Vec::new()),
        )
        .await
        .expect_err("no tests named");
    assert!(matches!(error, SfError::Config { .. }), "{error:?}");
    assert_eq!(error.org(), "sandbox");
    assert_eq!(mock.count(DEPLOY_PATH), 1, "nothing sent for a bad request");
}

#[tokio::test]
async fn mock_wait_for_deploy_polls_pending_in_progress_succeeded() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let earlier = seen.iter().filter(|r| r.path == request.path).count();
        match earlier {
            0 => poll_reply("Pending", false, false),
            1 => poll_reply("InProgress", false, false),
            _ => poll_reply("Succeeded", true, true),
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let mut seen = Vec::new();
    let outcome = client
        .wait_for_deploy(&DeployId(DEPLOY_ID.to_owned()), tiny_poll(), |outcome| {
            seen.push((outcome.status.clone(), outcome.state_detail.clone()));
        })
        .await
        .expect("done");
    assert_eq!(
        seen,
        [
            ("Pending".to_owned(), None),
            (
                "InProgress".to_owned(),
                Some("Running Test: AccountTriggerTest".to_owned())
            ),
            ("Succeeded".to_owned(), None),
        ]
    );
    assert!(outcome.done && outcome.success);
    assert_eq!(outcome.id, DeployId(DEPLOY_ID.to_owned()));
    assert_eq!(outcome.succeeded, ["AccountTrigger"]);
    assert_eq!(outcome.tests_run, 3);
    assert!(outcome.component_failures.is_empty());
    let polls: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| !is_token(r))
        .collect();
    assert_eq!(polls.len(), 3);
    for poll in &polls {
        assert_eq!(poll.method, "GET");
        assert_eq!(poll.path, poll_path());
        assert_eq!(poll.query.as_deref(), Some("includeDetails=true"));
    }
}

#[tokio::test]
async fn mock_production_no_test_run_is_an_api_error_sent_once() {
    let message = "testLevel of NoTestRun cannot be used in production organizations";
    let mock = Mock::start(move |request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            Reply::json(
                400,
                json!([{"errorCode": "INVALID_OPERATION", "message": message}]),
            )
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let error = client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Inactive,
            &TestLevel::NoTestRun,
        )
        .await
        .expect_err("refused");
    match &error {
        SfError::Api { status, errors, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(errors[0].error_code, "INVALID_OPERATION");
            assert_eq!(errors[0].message, message);
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(!error.is_transient());
    assert!(error.to_string().contains(message), "{error}");
    assert!(!error.to_string().contains(TOKEN));
    assert_eq!(mock.count(DEPLOY_PATH), 1, "sent once");
}

#[tokio::test]
async fn mock_transient_503_on_the_deploy_post_is_returned_not_retried() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            token_reply(request, TOKEN)
        } else {
            Reply::json(
                503,
                json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "Server Unavailable"}]),
            )
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let error = client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Inactive,
            &TestLevel::RunLocalTests,
        )
        .await
        .expect_err("503");
    assert!(error.is_transient(), "the caller sees it is transient");
    assert_eq!(error.status(), Some(503));
    assert_eq!(mock.count(DEPLOY_PATH), 1, "not retried");
}

#[tokio::test]
async fn mock_token_503_before_the_deploy_post_is_retried() {
    let token_calls = AtomicU32::new(0);
    let mock = Mock::start(move |request, _| {
        if is_token(request) {
            if token_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::text(503, "Service Unavailable")
            } else {
                token_reply(request, TOKEN)
            }
        } else {
            created()
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let id = client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Inactive,
            &TestLevel::RunLocalTests,
        )
        .await
        .expect("deploy starts once a token is minted");
    assert_eq!(id.0, DEPLOY_ID);
    assert_eq!(mock.count(TOKEN_PATH), 2);
    assert_eq!(mock.count(DEPLOY_PATH), 1);
}

#[tokio::test]
async fn mock_expired_token_on_the_deploy_post_remints_and_sends_again() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        if seen.iter().any(|r| r.path == DEPLOY_PATH) {
            created()
        } else {
            Reply::json(
                401,
                json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
            )
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let id = client
        .deploy_triggers(
            &[account_trigger()],
            TriggerStatus::Inactive,
            &TestLevel::RunLocalTests,
        )
        .await
        .expect("deploy starts after a re-mint");
    assert_eq!(id.0, DEPLOY_ID);
    assert_eq!(mock.count(TOKEN_PATH), 2);
    assert_eq!(mock.count(DEPLOY_PATH), 2);
    let posts: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == DEPLOY_PATH)
        .collect();
    assert_eq!(
        multipart_parts(&posts[0])[0].content,
        multipart_parts(&posts[1])[0].content,
        "the same options are sent again"
    );
}

#[tokio::test]
async fn mock_transient_503_on_a_poll_is_retried() {
    let mock = Mock::start(|request, seen| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        let earlier = seen.iter().filter(|r| r.path == request.path).count();
        match earlier {
            0 => poll_reply("InProgress", false, false),
            1 => Reply::json(
                503,
                json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "Server Unavailable"}]),
            ),
            2 => Reply::text(502, "<html>Bad gateway</html>"),
            _ => poll_reply("Succeeded", true, true),
        }
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let mut polls = 0;
    let outcome = client
        .wait_for_deploy(&DeployId(DEPLOY_ID.to_owned()), tiny_poll(), |_| polls += 1)
        .await
        .expect("done");
    assert!(outcome.success);
    assert_eq!(polls, 2, "on_poll sees statuses, not failed attempts");
    assert_eq!(mock.count(&poll_path()), 4);

    // One poll on its own retries too.
    let status = client
        .deploy_status(&DeployId(DEPLOY_ID.to_owned()))
        .await
        .expect("status");
    assert!(status.done);
}

#[tokio::test]
async fn mock_failed_deploy_reports_component_and_test_failures() {
    let mock = Mock::start(|request, _| {
        if is_token(request) {
            return token_reply(request, TOKEN);
        }
        Reply::json(
            200,
            json!({"id": DEPLOY_ID, "deployResult": {
                "id": DEPLOY_ID, "status": "Failed", "done": true, "success": false,
                "numberTestErrors": 1, "errorStatusCode": null, "errorMessage": null,
                "stateDetail": null,
                "details": {
                    "componentFailures": {"componentType": "ApexTrigger",
                        "fileName": "triggers/AccountTrigger.trigger",
                        "fullName": "AccountTrigger", "problem": "Test coverage of selected Apex Trigger is 0%, at least 1% test coverage is required",
                        "problemType": "Error", "success": false, "lineNumber": null,
                        "columnNumber": null},
                    "componentSuccesses": [],
                    "runTestResult": {"numTestsRun": 1, "numFailures": 1,
                        "failures": [{"name": "AccountTriggerTest", "methodName": "testInsert",
                            "message": "System.AssertException: Assertion Failed",
                            "stackTrace": "Class.AccountTriggerTest.testInsert: line 9"}],
                        "codeCoverageWarnings": []}
                },
                "runTestResult": null
            }}),
        )
    })
    .await;
    let client = client(settings("prod", &mock.url, "key", SECRET));
    let outcome = client
        .deploy_status(&DeployId(DEPLOY_ID.to_owned()))
        .await
        .expect("status");
    assert!(outcome.done && !outcome.success);
    assert_eq!(outcome.status, "Failed");
    assert_eq!(outcome.component_failures.len(), 1);
    assert_eq!(outcome.component_failures[0].full_name, "AccountTrigger");
    assert_eq!(outcome.component_failures[0].problem_type, "Error");
    assert_eq!(outcome.test_failures.len(), 1);
    assert_eq!(outcome.test_failures[0].method_name, "testInsert");
    assert_eq!(outcome.tests_run, 1);
}
