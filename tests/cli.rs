//! The `pauseplay` binary as a user runs it: exit codes, what it prints, and that it never
//! prints a secret.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use common::{mixed_scenario, run_cli, start_sim, write_config};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

#[tokio::test]
async fn check_config_names_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("prod.secret");
    fs::write(&secret, "top-secret-value\n").expect("write secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).expect("chmod");
    let config = dir.path().join("pauseplay.toml");
    fs::write(
        &config,
        format!(
            "[orgs.prod]\nurl = \"http://acme.my.salesforce.com\"\nclient_id = \"3MVG9\"\n\
             client_secret_file = \"{}\"\nunknown_key = true\n",
            secret.display()
        ),
    )
    .expect("write config");

    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "check-config",
    ]))
    .await;

    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    let config_path = config.display().to_string();
    assert!(stderr.contains(&config_path), "{stderr}");
    assert!(stderr.contains("orgs.prod.unknown_key"), "{stderr}");
    assert!(stderr.contains("orgs.prod.client_secret_file"), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(stderr.contains("orgs.prod.url"), "{stderr}");
    assert!(!stderr.contains("top-secret-value"), "{stderr}");
}

#[tokio::test]
async fn check_config_accepts_a_valid_config() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");
    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "check-config",
    ]))
    .await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("is valid: 1 org"), "{stdout}");
    sim.shutdown().await;
}

#[tokio::test]
async fn plan_json_lists_the_mixed_org_and_never_writes() {
    let sim = start_sim(mixed_scenario()).await;
    let before = sim.snapshot();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");

    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "plan",
        "--org",
        "sim",
        "--json",
    ]))
    .await;

    assert_eq!(code, 0, "stderr: {stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan --json is JSON");
    assert_eq!(plan["version"], 1);
    let org = &plan["orgs"][0];
    assert_eq!(org["org"], "sim");
    let pause = org["summary"]["pause"].as_u64().expect("pause count");
    let components = org["components"].as_array().expect("components");
    assert_eq!(
        components.iter().filter(|c| c["action"] == "pause").count() as u64,
        pause
    );
    assert!(pause > 0);
    assert_eq!(sim.snapshot(), before, "plan must not change the org");
    assert!(!stdout.contains(sim.client_secret()));
    assert!(!stderr.contains(sim.client_secret()));
    sim.shutdown().await;
}

#[tokio::test]
async fn plan_of_an_unknown_org_is_a_usage_error() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");
    let (code, _, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "plan",
        "--org",
        "nope",
    ]))
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no org named `nope`"), "{stderr}");
    assert!(stderr.contains("configured orgs: sim"), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn auth_test_reports_the_org_and_the_run_as_user() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");
    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "auth-test",
        "--org",
        "sim",
    ]))
    .await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let org_id = sim.snapshot()["org"]["id"]
        .as_str()
        .expect("org id in the snapshot")
        .to_owned();
    assert!(stdout.contains(&org_id), "{stdout}");
    assert!(stdout.contains("sandbox"), "{stdout}");
    assert!(stdout.contains("run-as user"), "{stdout}");
    assert!(stdout.contains("daily requests used"), "{stdout}");
    assert!(!stdout.contains(sim.client_secret()));
    sim.shutdown().await;
}

#[tokio::test]
async fn auth_test_with_a_wrong_secret_says_what_to_check_without_the_secret() {
    let sim = start_sim(mixed_scenario()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &sim, "");
    let wrong = "definitely-not-the-secret";
    fs::write(dir.path().join("sim.secret"), wrong).expect("overwrite secret");
    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "auth-test",
        "--org",
        "sim",
    ]))
    .await;
    assert_eq!(code, 1, "stdout: {stdout}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(stderr.contains("secret"), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn demo_runs_end_to_end_and_exits_0() {
    let (code, stdout, stderr) = run_cli(args(&["demo"])).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("to pause"), "{stdout}");
    assert!(stdout.contains("exactly as it was"), "{stdout}");
}
