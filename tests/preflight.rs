//! `pauseplay auth-test` as the preflight of an org: every branch, run through the binary
//! against simulated orgs (and one scripted server for answers the sim never gives).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::mock::{Mock, Reply, token_reply};
use common::{mixed_scenario, repo_path, run_cli, start_sim, write_config};
use pauseplay::sim::{AuthMode, Scenario};
use serde_json::json;
use tempfile::TempDir;

const GUIDE: &str = "docs/connect-an-org.md";

/// Runs `auth-test --org sim` against a sim started from `scenario`, with `org_extra` in the
/// org's table. Returns exit code, stdout and stderr.
async fn preflight(scenario: Scenario, org_extra: &str) -> (i32, String, String) {
    let sim = start_sim(scenario).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, org_extra);
    let result = auth_test(&config).await;
    sim.shutdown().await;
    result
}

async fn auth_test(config: &Path) -> (i32, String, String) {
    run_cli(
        [
            "--config",
            config.to_str().expect("utf-8"),
            "auth-test",
            "--org",
            "sim",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect(),
    )
    .await
}

/// The mixed org with its Run As user holding exactly `permissions`.
fn with_permissions(permissions: &[&str]) -> Scenario {
    let mut scenario = mixed_scenario();
    scenario.org.run_as_permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
    scenario
}

/// The permission set of the guide, without `gone`.
fn guide_set_without(gone: &[&str]) -> Vec<&'static str> {
    pauseplay::sim::DEFAULT_RUN_AS_PERMISSIONS
        .iter()
        .copied()
        .filter(|p| !gone.contains(p))
        .collect()
}

/// The line of `kind` in the "each kind" table.
fn kind_line<'a>(stdout: &'a str, kind: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{kind} ")))
        .unwrap_or_else(|| panic!("no line for {kind}: {stdout}"))
}

#[tokio::test]
async fn a_user_with_the_guides_permission_set_passes_for_every_kind() {
    let (code, stdout, stderr) = preflight(mixed_scenario(), "").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    for kind in [
        "flow",
        "process_builder",
        "trigger",
        "validation_rule",
        "workflow_rule",
    ] {
        assert!(kind_line(&stdout, kind).ends_with("yes"), "{stdout}");
    }
    for line in [
        "  yes  API Enabled",
        "  yes  View Setup and Configuration",
        "  yes  Customize Application",
        "  yes  Modify Metadata Through Metadata API Functions",
        "  yes  Manage Flow",
        "  yes  Author Apex",
        "  no   Modify All Data  (not needed)",
        "sandbox",
        "API version   66.0 (served by the org)",
        "left of 100000 today",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test]
async fn a_user_without_author_apex_cannot_pause_triggers_and_the_preflight_fails() {
    let scenario = with_permissions(&guide_set_without(&["AuthorApex"]));
    let (code, stdout, stderr) = preflight(scenario, "").await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        kind_line(&stdout, "trigger").contains("NO: the Run As user lacks Author Apex"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deploying Apex needs Author Apex"),
        "{stdout}"
    );
    for kind in [
        "flow",
        "process_builder",
        "validation_rule",
        "workflow_rule",
    ] {
        assert!(kind_line(&stdout, kind).ends_with("yes"), "{stdout}");
    }
    assert!(stdout.contains("  no   Author Apex"), "{stdout}");
    assert!(
        stderr.contains("org `sim` is not ready for pauseplay"),
        "{stderr}"
    );
    assert!(
        stderr.contains("may not pause trigger (Author Apex)"),
        "{stderr}"
    );
    assert!(stderr.contains(GUIDE), "{stderr}");
    assert_names_a_section_of_the_guide("missing Author Apex", &stderr);
}

/// `text` names a section of the guide (`section "..."`) that the guide has.
fn assert_names_a_section_of_the_guide(what: &str, text: &str) {
    let guide = fs::read_to_string(repo_path(GUIDE)).expect("the guide exists");
    let section = text
        .split("section \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{what}: no section named in {text}"));
    assert!(
        guide.contains(&format!("\n## {section}\n")),
        "{what}: the guide has no section `{section}`"
    );
}

#[tokio::test]
async fn a_kind_the_org_does_not_configure_does_not_count() {
    let scenario = with_permissions(&guide_set_without(&["AuthorApex"]));
    let (code, stdout, stderr) = preflight(
        scenario,
        "kinds = [\"flow\", \"process_builder\", \"validation_rule\", \"workflow_rule\"]",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        kind_line(&stdout, "trigger").contains("not configured"),
        "{stdout}"
    );
}

#[tokio::test]
async fn several_missing_permissions_are_all_named_per_kind() {
    let scenario = with_permissions(&guide_set_without(&["ManageInteraction", "ModifyMetadata"]));
    let (code, stdout, stderr) = preflight(scenario, "").await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        kind_line(&stdout, "flow").contains(
            "lacks Modify Metadata Through Metadata API Functions (or Modify All Data) and \
             Manage Flow"
        ),
        "{stdout}"
    );
    assert!(
        kind_line(&stdout, "validation_rule")
            .contains("lacks Modify Metadata Through Metadata API Functions (or Modify All Data)"),
        "{stdout}"
    );
    for kind in [
        "flow",
        "process_builder",
        "trigger",
        "validation_rule",
        "workflow_rule",
    ] {
        assert!(
            stderr.contains(&format!("{kind} (")),
            "{kind} missing from: {stderr}"
        );
    }
}

#[tokio::test]
async fn modify_all_data_stands_in_for_modify_metadata_with_a_note() {
    let mut permissions = guide_set_without(&["ModifyMetadata"]);
    permissions.push("ModifyAllData");
    let (code, stdout, stderr) = preflight(with_permissions(&permissions), "").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("yes  Modify All Data  (more than pauseplay needs"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_user_without_api_access_can_pause_nothing() {
    let (code, stdout, stderr) = preflight(
        with_permissions(&guide_set_without(&["ApiEnabled", "ApiUserOnly"])),
        "",
    )
    .await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    for kind in ["flow", "trigger", "workflow_rule"] {
        assert!(
            kind_line(&stdout, kind).contains("NO: the Run As user lacks API Enabled"),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("no   API Only User  (recommended"),
        "{stdout}"
    );
}

#[tokio::test]
async fn production_says_trigger_deploys_run_tests() {
    let mut scenario = mixed_scenario();
    scenario.org.is_sandbox = false;
    let (code, stdout, stderr) = preflight(
        scenario,
        "trigger_test_level = \"RunSpecifiedTests\"\ntrigger_tests = [\"AccountTests\"]",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("), production"), "{stdout}");
    assert!(
        kind_line(&stdout, "trigger")
            .contains("yes, by Metadata API deploys that run Apex tests (RunSpecifiedTests)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_edition_without_the_metadata_api_is_noted() {
    let mut scenario = mixed_scenario();
    scenario.org.organization_type = "Professional Edition".to_owned();
    let (code, stdout, _) = preflight(scenario, "").await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("this org is Professional Edition, so its writes may be refused"),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_api_version_the_org_does_not_serve_fails_before_any_query() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "api_version = \"64.0\"");
    sim.reset_counters();
    let (code, stdout, stderr) = auth_test(&config).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "API version   64.0: NOT served by the org (it serves 65.0, 66.0, 67.0, 68.0)"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("set `api_version` in orgs.sim to one it serves (the newest is 68.0)"),
        "{stderr}"
    );
    let counters = sim.counters();
    assert!(!counters.contains_key("api_requests"), "{counters:?}");
    sim.shutdown().await;
}

/// Each refusal of the token endpoint, played by the sim, gets its own explanation and the
/// section of the guide that sets the thing up.
#[tokio::test]
async fn each_token_error_gets_its_own_explanation() {
    struct Case {
        name: &'static str,
        auth: AuthMode,
        org_extra: &'static str,
        wrong_secret: bool,
        expect: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "unknown consumer key",
            auth: AuthMode::Ok,
            org_extra: "",
            wrong_secret: false,
            expect: &[
                "invalid_client_id",
                "knows no External Client App with this consumer key",
                "ten minutes",
                "section \"4. Read the consumer key and secret\"",
            ],
        },
        Case {
            name: "wrong consumer secret",
            auth: AuthMode::Ok,
            org_extra: "",
            wrong_secret: true,
            expect: &[
                "invalid_client:",
                "consumer secret does not match",
                "section \"4. Read the consumer key and secret\"",
            ],
        },
        Case {
            name: "no Run As user",
            auth: AuthMode::NoRunAsUser,
            org_extra: "",
            wrong_secret: false,
            expect: &[
                "no client credentials user enabled",
                "set Run As to the integration user",
                "section \"3. Set the Run As user\"",
            ],
        },
        Case {
            name: "not the My Domain",
            auth: AuthMode::WrongDomain,
            org_extra: "",
            wrong_secret: false,
            expect: &[
                "request not supported on this domain",
                "My Domain URL",
                "not login.salesforce.com or test.salesforce.com",
                "section \"6. Tell pauseplay about the org\"",
            ],
        },
        Case {
            name: "flow not enabled",
            auth: AuthMode::FlowDisabled,
            org_extra: "",
            wrong_secret: false,
            expect: &[
                "unsupported_grant_type",
                "Flow Enablement",
                "Enable Client Credentials Flow",
                "section \"2. Create the External Client App\"",
            ],
        },
    ];
    for case in cases {
        let mut scenario = mixed_scenario();
        scenario.org.auth = case.auth;
        let sim = start_sim(scenario).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), &sim, case.org_extra);
        if case.name == "unknown consumer key" {
            let text = fs::read_to_string(&config).expect("config");
            let text = text.replace(sim.client_id(), "3MVG9NotTheKeyOfThisOrg");
            fs::write(&config, text).expect("rewrite config");
        }
        let wrong = "not-the-consumer-secret";
        if case.wrong_secret {
            fs::write(dir.path().join("sim.secret"), wrong).expect("overwrite secret");
        }
        let (code, stdout, stderr) = auth_test(&config).await;
        assert_eq!(code, 1, "{}: {stdout}{stderr}", case.name);
        for expected in case.expect {
            assert!(
                stderr.contains(expected),
                "{}: {expected}: {stderr}",
                case.name
            );
        }
        assert!(
            !stderr.contains(wrong) && !stdout.contains(wrong),
            "{}",
            case.name
        );
        assert_names_a_section_of_the_guide(case.name, &stderr);
        sim.shutdown().await;
    }
}

/// Writes a config for an org at `url` (a scripted server) and returns its path.
fn mock_config(dir: &TempDir, url: &url::Url) -> PathBuf {
    let secret = dir.path().join("mock.secret");
    fs::write(&secret, "mock-secret\n").expect("secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod");
    let config = dir.path().join("pauseplay.toml");
    fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[orgs.sim]\nurl = \"{url}\"\nclient_id = \"k\"\n\
             client_secret_file = \"{}\"\n",
            dir.path().join("state").display(),
            secret.display()
        ),
    )
    .expect("config");
    config
}

/// An org that refuses `UserPermissionAccess` and `/limits`: the permissions are reported
/// unreadable (and the preflight fails), the usage comes from the last `Sforce-Limit-Info`.
#[tokio::test]
async fn unreadable_permissions_fail_the_preflight_and_usage_falls_back_to_the_header() {
    let mock = Mock::start(|request, _| {
        let query = request.query.clone().unwrap_or_default();
        let usage = ("sforce-limit-info", "api-usage=40/15000");
        match request.path.as_str() {
            "/services/oauth2/token" => token_reply(request, "00DXX!mock-token"),
            "/services/data" | "/services/data/" => Reply::json(
                200,
                json!([{ "label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0" }]),
            ),
            "/services/data/v66.0/limits" => Reply::json(
                403,
                json!([{ "message": "insufficient access rights", "errorCode": "INSUFFICIENT_ACCESS" }]),
            )
            .header(usage.0, usage.1),
            "/services/data/v66.0/query" if query.contains("UserPermissionAccess") => Reply::json(
                400,
                json!([{ "message": "sObject type 'UserPermissionAccess' is not supported.", "errorCode": "INVALID_TYPE" }]),
            )
            .header(usage.0, usage.1),
            "/services/data/v66.0/query" if query.contains("Organization") => Reply::json(
                200,
                json!({ "totalSize": 1, "done": true, "records": [{
                    "attributes": { "type": "Organization" },
                    "Id": "00DXX0000001abcEAA", "Name": "Scripted", "IsSandbox": false,
                    "OrganizationType": "Enterprise Edition", "NamespacePrefix": null
                }]}),
            )
            .header(usage.0, usage.1),
            // The Run As user may not read User: the report shows `?` and goes on.
            "/services/data/v66.0/query" => Reply::json(
                403,
                json!([{ "message": "insufficient access rights", "errorCode": "INSUFFICIENT_ACCESS" }]),
            )
            .header(usage.0, usage.1),
            _ => Reply::json(404, json!([{ "message": "not found", "errorCode": "NOT_FOUND" }])),
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = mock_config(&dir, &mock.url);
    let (code, stdout, stderr) = auth_test(&config).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("run-as user   ? (?)"), "{stdout}");
    assert!(
        stdout.contains("14960 left of 15000 today (40 used) (from Sforce-Limit-Info"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Run As user's permissions: could not be read"),
        "{stdout}"
    );
    assert!(stdout.contains("INVALID_TYPE"), "{stdout}");
    assert!(
        stderr.contains("permissions could not be read from UserPermissionAccess"),
        "{stderr}"
    );
    assert!(!stdout.contains("mock-secret") && !stderr.contains("mock-secret"));
}

/// A reader that goes away before the report is printed (`auth-test | head -0`) leaves the
/// exit code to the preflight, where printing would otherwise panic with exit 101.
#[tokio::test]
async fn a_closed_stdout_leaves_the_exit_code_alone() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");
    let status = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pauseplay"))
            .args(["--config", config.to_str().expect("utf-8")])
            .args(["auth-test", "--org", "sim"])
            .env_remove("PAUSEPLAY_CONFIG")
            .env("PAUSEPLAY_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn pauseplay");
        // Closed before the preflight has talked to the org, so its print finds no reader.
        drop(child.stdout.take());
        child.wait().expect("wait")
    })
    .await
    .expect("joined");
    assert_eq!(status.code(), Some(0), "{status:?}");
    sim.shutdown().await;
}

/// A refusal whose cause pauseplay does not know is reported as Salesforce gave it, with the
/// org and its URL, and no guide section it cannot vouch for.
#[tokio::test]
async fn an_unknown_token_refusal_is_shown_as_is_without_a_guide_section() {
    let mock = Mock::start(|_, _| {
        Reply::json(
            400,
            json!({ "error": "invalid_grant", "error_description": "authentication failure" }),
        )
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = mock_config(&dir, &mock.url);
    let (code, stdout, stderr) = auth_test(&config).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("invalid_grant: authentication failure"),
        "{stderr}"
    );
    assert!(stderr.contains("auth-test of org `sim`"), "{stderr}");
    assert!(!stderr.contains("section \""), "{stderr}");
    assert_eq!(mock.count("/services/oauth2/token"), 1, "not retried");
    assert!(stdout.is_empty(), "{stdout}");
}
