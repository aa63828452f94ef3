//! `metadata/deployRequest`: create, poll, queue, apply, production test rules, package
//! checks. Zips are built here with the zip crate; multipart bodies are written by hand.

use std::io::Write;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Answer, Org, V, scenario};
use crate::sim::AdminAction;

const BOUNDARY: &str = "XYZsimdeployboundary";

const SANDBOX: &str = r#"
[deploy]
pending_polls = 1
in_progress_polls = 2

[[triggers]]
object = "Account"
name = "AccountTrigger"
status = "Active"

[[triggers]]
object = "Contact"
name = "ContactTrigger"
status = "Active"
"#;

const PRODUCTION: &str = r#"
[org]
is_sandbox = false

[deploy]
pending_polls = 0
in_progress_polls = 0

[[triggers]]
object = "Account"
name = "AccountTrigger"
status = "Active"
"#;

const PACKAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types>
        <members>AccountTrigger</members>
        <name>ApexTrigger</name>
    </types>
    <version>66.0</version>
</Package>
"#;

/// A body with CRLFs, a tab, trailing spaces and non-ASCII text: it must come back as sent.
const BODY: &str = "trigger AccountTrigger on Account (before insert) {\r\n\t// café ✓  \r\n}\n";

fn meta(status: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ApexTrigger xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>{version}</apiVersion>
    <status>{status}</status>
</ApexTrigger>
"#
    )
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The usual package: AccountTrigger set to `status` with [`BODY`].
fn trigger_zip(status: &str) -> Vec<u8> {
    let meta = meta(status, "61.0");
    zip(&[
        ("package.xml", PACKAGE.as_bytes()),
        ("triggers/AccountTrigger.trigger", BODY.as_bytes()),
        ("triggers/AccountTrigger.trigger-meta.xml", meta.as_bytes()),
    ])
}

fn options(level: &str) -> Value {
    json!({
        "allowMissingFiles": false, "autoUpdatePackage": false, "checkOnly": false,
        "ignoreWarnings": false, "performRetrieve": false, "purgeOnDelete": false,
        "rollbackOnError": true, "singlePackage": true, "testLevel": level,
    })
}

/// A multipart body with the given parts (name, content type, bytes).
fn multipart(parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, bytes) in parts {
        let filename = if *name == "file" {
            "; filename=\"deploy.zip\""
        } else {
            ""
        };
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_raw(org: &Org, content_type: &str, body: Vec<u8>) -> Answer {
    let response = org
        .http
        .post(
            org.handle
                .base_url()
                .join(&format!("{V}/metadata/deployRequest"))
                .unwrap(),
        )
        .bearer_auth(&org.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn deploy(org: &Org, options: Value, zip: &[u8]) -> Answer {
    let json = serde_json::to_vec(&json!({ "deployOptions": options })).unwrap();
    post_raw(
        org,
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        multipart(&[
            ("json", "application/json", &json),
            ("file", "application/zip", zip),
        ]),
    )
    .await
}

async fn poll(org: &Org, id: &str) -> Value {
    let answer = org
        .get(&format!(
            "{V}/metadata/deployRequest/{id}?includeDetails=true"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["deployResult"].clone()
}

async fn until_done(org: &Org, id: &str) -> Value {
    for _ in 0..20 {
        let result = poll(org, id).await;
        if result["done"] == true {
            return result;
        }
    }
    panic!("deploy {id} never completed");
}

async fn deployed(org: &Org, options: Value, zip: &[u8]) -> Value {
    let answer = deploy(org, options, zip).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let id = answer.body["id"].as_str().unwrap().to_owned();
    until_done(org, &id).await
}

fn trigger(org: &Org) -> Value {
    org.handle.snapshot()["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "AccountTrigger")
        .unwrap()
        .clone()
}

#[tokio::test]
async fn created_answer_has_the_reference_shape() {
    let org = Org::start(scenario(SANDBOX)).await;
    let mut sent = options("RunSpecifiedTests");
    sent["runTests"] = json!(["AccountTriggerTest"]);
    let answer = deploy(&org, sent.clone(), &trigger_zip("Inactive")).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    let id = answer.body["id"].as_str().unwrap();
    assert!(id.starts_with("0Af") && id.len() == 18, "{id}");
    assert_eq!(answer.body["validatedDeployRequestId"], Value::Null);
    assert_eq!(
        answer.body["url"],
        format!(
            "{}services/data/v66.0/metadata/deployRequest/{id}",
            org.handle.base_url()
        )
    );
    assert_eq!(answer.body["deployOptions"], sent);
    let result = &answer.body["deployResult"];
    assert_eq!(result["id"], id);
    assert_eq!(result["status"], "Pending");
    assert_eq!(result["done"], false);
    assert_eq!(result["success"], false);
    assert_eq!(result["checkOnly"], false);
    assert_eq!(result["numberComponentsTotal"], 0);
    assert_eq!(answer.api_used(), 1);
    let counters = org.handle.counters();
    assert_eq!(counters["deploy_request"], 1);
    assert_eq!(counters["api_requests"], 1);
}

#[tokio::test]
async fn polls_move_through_the_states_and_apply_status_and_body_byte_for_byte() {
    let org = Org::start(scenario(SANDBOX)).await;
    let answer = deploy(&org, options("NoTestRun"), &trigger_zip("Inactive")).await;
    let id = answer.body["id"].as_str().unwrap().to_owned();
    // Without includeDetails the details are null.
    let plain = org.get(&format!("{V}/metadata/deployRequest/{id}")).await;
    assert_eq!(plain.body["deployResult"]["status"], "Pending");
    assert_eq!(plain.body["deployResult"]["details"], Value::Null);
    assert_eq!(plain.body["deployOptions"], Value::Null);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let result = poll(&org, &id).await;
        assert_eq!(result["done"], false);
        assert_eq!(result["completedDate"], Value::Null);
        assert!(result["startDate"].is_string());
        seen.push(result["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["InProgress", "InProgress"]);
    let result = poll(&org, &id).await;
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(result["done"], true);
    assert_eq!(result["success"], true);
    assert_eq!(result["numberComponentsDeployed"], 1);
    assert_eq!(result["numberComponentErrors"], 0);
    assert!(result["completedDate"].as_str().unwrap().ends_with("+0000"));
    let successes = result["details"]["componentSuccesses"].as_array().unwrap();
    let success = successes
        .iter()
        .find(|c| c["componentType"] == "ApexTrigger")
        .unwrap();
    assert_eq!(success["fullName"], "AccountTrigger");
    assert_eq!(success["fileName"], "triggers/AccountTrigger.trigger");
    assert_eq!(success["success"], true);
    assert_eq!(result["details"]["componentFailures"], json!([]));
    // NoTestRun in a sandbox: no tests.
    assert_eq!(result["details"]["runTestResult"], Value::Null);
    assert_eq!(result["runTestsEnabled"], false);

    let after = trigger(&org);
    assert_eq!(after["status"], "Inactive");
    assert_eq!(after["body"], BODY);
    assert_eq!(after["api_version"], json!(61.0));
    let tooling = org
        .get(&format!(
            "{V}/tooling/sobjects/ApexTrigger/{}?fields=Id,Body,Status,ApiVersion",
            after["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(tooling.body["Status"], "Inactive");
    assert_eq!(tooling.body["Body"], BODY);
    assert_eq!(tooling.body["ApiVersion"], json!(61.0));

    // A later poll keeps answering the final state and changes nothing.
    assert_eq!(poll(&org, &id).await["status"], "Succeeded");
    let deploys = &org.handle.snapshot()["deploys"];
    assert_eq!(deploys[0]["id"], id.as_str());
    assert_eq!(deploys[0]["test_level"], "NoTestRun");
    assert_eq!(deploys[0]["options"]["testLevel"], "NoTestRun");
    assert_eq!(deploys[0]["members"], json!(["AccountTrigger"]));
    assert_eq!(deploys[0]["status"], "Succeeded");
    let counters = org.handle.counters();
    assert_eq!(counters["deploy_request"], 1);
    assert_eq!(counters["deploy_poll"], 5);
}

#[tokio::test]
async fn a_second_deploy_waits_for_the_first() {
    let org = Org::start(scenario(SANDBOX)).await;
    let first = deploy(&org, options("NoTestRun"), &trigger_zip("Inactive")).await;
    let second = deploy(&org, options("NoTestRun"), &trigger_zip("Active")).await;
    let first = first.body["id"].as_str().unwrap().to_owned();
    let second = second.body["id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    // The second cannot start while the first is not done: its polls answer `Pending` and
    // move the first on, as Salesforce runs a queued deploy without being asked.
    assert_eq!(poll(&org, &second).await["status"], "Pending");
    assert_eq!(poll(&org, &first).await["status"], "InProgress");
    assert_eq!(poll(&org, &second).await["status"], "Pending");
    assert_eq!(
        trigger(&org)["status"],
        "Active",
        "the first is not applied yet"
    );
    assert_eq!(poll(&org, &second).await["status"], "Pending");
    assert_eq!(trigger(&org)["status"], "Inactive", "the first completed");
    assert_eq!(until_done(&org, &first).await["status"], "Succeeded");
    // Now it starts, with its own pending poll first.
    assert_eq!(poll(&org, &second).await["status"], "Pending");
    assert_eq!(poll(&org, &second).await["status"], "InProgress");
    let result = until_done(&org, &second).await;
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(trigger(&org)["status"], "Active");
}

#[tokio::test]
async fn production_refuses_no_test_run_and_bad_requests() {
    let org = Org::start(scenario(PRODUCTION)).await;
    let zip = trigger_zip("Inactive");
    let answer = deploy(&org, options("NoTestRun"), &zip).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "INVALID_OPERATION");
    assert_eq!(
        answer.message(),
        "INVALID_OPERATION: testLevel of NoTestRun cannot be used in production organizations"
    );
    let answer = deploy(&org, options("RunSpecifiedTests"), &zip).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "INVALID_OPERATION");

    let not_multipart = post_raw(&org, "application/json", b"{}".to_vec()).await;
    assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
    assert!(not_multipart.body.is_array());
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let no_file = post_raw(
        &org,
        &content_type,
        multipart(&[("json", "application/json", b"{\"deployOptions\":{}}")]),
    )
    .await;
    assert_eq!(no_file.status, StatusCode::BAD_REQUEST);
    assert!(no_file.message().contains("file"), "{:?}", no_file.body);
    let bad_json = post_raw(
        &org,
        &content_type,
        multipart(&[
            ("json", "application/json", b"{not json"),
            ("file", "application/zip", &zip),
        ]),
    )
    .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_json.error_code(), "JSON_PARSER_ERROR");
    let truncated = post_raw(
        &org,
        &content_type,
        b"--XYZsimdeployboundary\r\nContent-Disp".to_vec(),
    )
    .await;
    assert_eq!(truncated.status, StatusCode::BAD_REQUEST);
    assert!(
        org.handle.snapshot()["deploys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(trigger(&org)["status"], "Active");

    // A level that runs tests is accepted and reports the tests run.
    let result = deployed(&org, options("RunLocalTests"), &zip).await;
    assert_eq!(result["status"], "Succeeded");
    let tests = &result["details"]["runTestResult"];
    assert_eq!(tests["numTestsRun"], 4);
    assert_eq!(tests["numFailures"], 0);
    assert_eq!(tests["successes"][0]["name"], "AccountTriggerTest");
    assert_eq!(result["numberTestsTotal"], 4);
    assert_eq!(trigger(&org)["status"], "Inactive");
    assert_eq!(
        org.handle.snapshot()["deploys"][0]["test_level"],
        "RunLocalTests"
    );
}

#[tokio::test]
async fn failing_tests_and_coverage_fail_the_deploy_and_apply_nothing() {
    let mut text = PRODUCTION.replace(
        "in_progress_polls = 0",
        "in_progress_polls = 0\nfailing_tests = [\"AccountTriggerTest.testInsert\"]",
    );
    text.push('\n');
    let org = Org::start(scenario(&text)).await;
    let before = trigger(&org);
    let result = deployed(&org, options("RunLocalTests"), &trigger_zip("Inactive")).await;
    assert_eq!(result["status"], "Failed");
    assert_eq!(result["success"], false);
    assert_eq!(result["numberTestErrors"], 1);
    let failures = &result["details"]["runTestResult"]["failures"];
    assert_eq!(failures.as_array().unwrap().len(), 1);
    assert_eq!(failures[0]["name"], "AccountTriggerTest");
    assert_eq!(failures[0]["methodName"], "testInsert");
    assert!(failures[0]["message"].as_str().unwrap().contains("Assert"));
    assert!(failures[0]["stackTrace"].is_string());
    assert_eq!(result["details"]["runTestResult"]["numFailures"], 1);
    assert_eq!(trigger(&org), before);

    // Flipped mid-run: tests pass, coverage falls short.
    org.handle
        .admin(AdminAction::SetDeployBehaviour {
            failing_tests: Vec::new(),
            coverage_shortfall: true,
        })
        .unwrap();
    let mut specified = options("RunSpecifiedTests");
    specified["runTests"] = json!(["AccountTriggerTest"]);
    let result = deployed(&org, specified, &trigger_zip("Inactive")).await;
    assert_eq!(result["status"], "Failed");
    let tests = &result["details"]["runTestResult"];
    assert_eq!(tests["numFailures"], 0);
    assert_eq!(tests["numTestsRun"], 2);
    assert_eq!(
        tests["codeCoverageWarnings"][0]["message"],
        "Average test coverage across all Apex Classes and Triggers is 0%, at least 75% test coverage is required."
    );
    assert_eq!(trigger(&org), before);

    org.handle
        .admin(AdminAction::SetDeployBehaviour {
            failing_tests: Vec::new(),
            coverage_shortfall: false,
        })
        .unwrap();
    let result = deployed(&org, options("RunLocalTests"), &trigger_zip("Inactive")).await;
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(trigger(&org)["status"], "Inactive");
    let deploys = org.handle.snapshot()["deploys"].clone();
    let statuses: Vec<&str> = deploys
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Failed", "Failed", "Succeeded"]);
    assert_eq!(deploys[1]["test_level"], "RunSpecifiedTests");
    assert!(
        org.handle
            .admin(AdminAction::SetDeployBehaviour {
                failing_tests: vec!["NoMethod".to_owned()],
                coverage_shortfall: false,
            })
            .is_err()
    );
}

/// Deploys `zip` in a fast sandbox and returns its component failures.
async fn failures_of(zip: &[u8]) -> Vec<Value> {
    let text = SANDBOX
        .replace("pending_polls = 1", "pending_polls = 0")
        .replace("in_progress_polls = 2", "in_progress_polls = 0");
    let org = Org::start(scenario(&text)).await;
    let before = org.handle.snapshot()["triggers"].clone();
    let result = deployed(&org, options("NoTestRun"), zip).await;
    assert_eq!(result["status"], "Failed");
    assert_eq!(result["success"], false);
    assert_eq!(org.handle.snapshot()["triggers"], before);
    let failures = result["details"]["componentFailures"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!failures.is_empty());
    for failure in &failures {
        assert_eq!(failure["problemType"], "Error");
        assert_eq!(failure["success"], false);
        assert!(failure["problem"].is_string());
    }
    assert_eq!(result["numberComponentErrors"], failures.len());
    failures
}

#[tokio::test]
async fn malformed_packages_fail_with_component_failures() {
    let inactive = meta("Inactive", "66.0");
    let body = BODY.as_bytes();

    let none = failures_of(&zip(&[("triggers/AccountTrigger.trigger", body)])).await;
    assert_eq!(none[0]["problem"], "No package.xml found");
    assert_eq!(none[0]["fileName"], "package.xml");

    let missing = failures_of(&zip(&[
        ("package.xml", PACKAGE.as_bytes()),
        ("triggers/AccountTrigger.trigger", body),
    ]))
    .await;
    assert_eq!(missing.len(), 1);
    assert_eq!(
        missing[0]["fileName"],
        "triggers/AccountTrigger.trigger-meta.xml"
    );
    assert_eq!(missing[0]["fullName"], "AccountTrigger");
    assert_eq!(missing[0]["componentType"], "ApexTrigger");
    assert!(
        missing[0]["problem"]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    // Listed and valid, plus ContactTrigger not listed: all or nothing.
    let unlisted = failures_of(&zip(&[
        ("package.xml", PACKAGE.as_bytes()),
        ("triggers/AccountTrigger.trigger", body),
        (
            "triggers/AccountTrigger.trigger-meta.xml",
            inactive.as_bytes(),
        ),
        (
            "triggers/ContactTrigger.trigger",
            b"trigger ContactTrigger on Contact (after insert) {}",
        ),
    ]))
    .await;
    assert_eq!(unlisted.len(), 1);
    assert_eq!(unlisted[0]["fullName"], "ContactTrigger");
    assert!(
        unlisted[0]["problem"]
            .as_str()
            .unwrap()
            .contains("not named in package.xml")
    );

    let unknown_package = PACKAGE.replace("AccountTrigger", "GhostTrigger");
    let unknown = failures_of(&zip(&[
        ("package.xml", unknown_package.as_bytes()),
        ("triggers/GhostTrigger.trigger", body),
        (
            "triggers/GhostTrigger.trigger-meta.xml",
            inactive.as_bytes(),
        ),
    ]))
    .await;
    assert_eq!(unknown[0]["fullName"], "GhostTrigger");
    assert!(
        unknown[0]["problem"]
            .as_str()
            .unwrap()
            .contains("GhostTrigger")
    );

    let bad_manifest = failures_of(&zip(&[
        (
            "package.xml",
            b"<Package><types><members>AccountTrigger</members></Package>",
        ),
        ("triggers/AccountTrigger.trigger", body),
        (
            "triggers/AccountTrigger.trigger-meta.xml",
            inactive.as_bytes(),
        ),
    ]))
    .await;
    assert_eq!(bad_manifest[0]["fileName"], "package.xml");
    assert!(
        bad_manifest[0]["problem"]
            .as_str()
            .unwrap()
            .starts_with("Error parsing file")
    );

    let bad_meta = failures_of(&zip(&[
        ("package.xml", PACKAGE.as_bytes()),
        ("triggers/AccountTrigger.trigger", body),
        (
            "triggers/AccountTrigger.trigger-meta.xml",
            meta("Paused", "66.0").as_bytes(),
        ),
    ]))
    .await;
    assert_eq!(
        bad_meta[0]["fileName"],
        "triggers/AccountTrigger.trigger-meta.xml"
    );
    assert!(bad_meta[0]["problem"].as_str().unwrap().contains("Paused"));

    let not_zip = failures_of(b"definitely not a zip").await;
    assert_eq!(not_zip[0]["fileName"], "package.xml");
}

#[tokio::test]
async fn unknown_deploy_id_is_not_found() {
    let org = Org::start(scenario(SANDBOX)).await;
    let answer = org
        .get(&format!(
            "{V}/metadata/deployRequest/0AfXX0000000099AAA?includeDetails=true"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error_code(), "NOT_FOUND");
    let unauthenticated = super::send(
        &org.http,
        &org.handle,
        "bogus",
        reqwest::Method::GET,
        &format!("{V}/metadata/deployRequest/0AfXX0000000099AAA"),
        None,
    )
    .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_parent_folder_with_single_package_false_and_check_only() {
    let text = SANDBOX
        .replace("pending_polls = 1", "pending_polls = 0")
        .replace("in_progress_polls = 2", "in_progress_polls = 0");
    let org = Org::start(scenario(&text)).await;
    let inactive = meta("Inactive", "66.0");
    let nested = zip(&[
        ("metadata/package.xml", PACKAGE.as_bytes()),
        ("metadata/triggers/AccountTrigger.trigger", BODY.as_bytes()),
        (
            "metadata/triggers/AccountTrigger.trigger-meta.xml",
            inactive.as_bytes(),
        ),
    ]);
    let mut check_only = options("NoTestRun");
    check_only["singlePackage"] = json!(false);
    check_only["checkOnly"] = json!(true);
    let result = deployed(&org, check_only, &nested).await;
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(result["checkOnly"], true);
    assert_eq!(trigger(&org)["status"], "Active");
    // The same zip with singlePackage=true has no package.xml at its root.
    let result = deployed(&org, options("NoTestRun"), &nested).await;
    assert_eq!(result["status"], "Failed");
    assert_eq!(
        result["details"]["componentFailures"][0]["problem"],
        "No package.xml found"
    );
    let mut real = options("NoTestRun");
    real["singlePackage"] = json!(false);
    let result = deployed(&org, real, &nested).await;
    assert_eq!(result["status"], "Succeeded");
    assert_eq!(trigger(&org)["status"], "Inactive");
    let deploys = org.handle.snapshot()["deploys"].clone();
    assert_eq!(deploys[0]["members"], json!(["AccountTrigger"]));
    assert_eq!(deploys[1]["members"], json!([]));
    assert_eq!(deploys[2]["members"], json!(["AccountTrigger"]));
}

#[tokio::test]
async fn a_completed_deploy_is_one_write_per_trigger_and_a_repeat_is_needless() {
    let org = Org::start(scenario(SANDBOX)).await;
    let id = trigger(&org)["id"].as_str().unwrap().to_owned();
    let mut check_only = options("NoTestRun");
    check_only["checkOnly"] = json!(true);
    assert_eq!(
        deployed(&org, check_only, &trigger_zip("Inactive")).await["status"],
        "Succeeded"
    );
    assert!(
        org.handle.writes().is_empty(),
        "a validation writes nothing"
    );
    for _ in 0..2 {
        let result = deployed(&org, options("NoTestRun"), &trigger_zip("Inactive")).await;
        assert_eq!(result["status"], "Succeeded");
    }
    let writes = org.handle.writes();
    assert_eq!(
        writes[&id],
        crate::sim::WriteCount {
            changed: 1,
            needless: 1
        },
        "the second deploy set what the first had set"
    );
    assert_eq!(writes.len(), 1, "{writes:?}");
    println!("sim deploy tally: 1 validation (0 writes), 2 deploys (1 changed, 1 needless)");
}
