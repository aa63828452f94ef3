//! `pauseplay status` as an on-call engineer reads it while triggers are being switched: the
//! deploy under way with what its last poll saw, and, once a production deploy has failed, the
//! failing test by name. The daemon runs in-process on a private socket; the real CLI asks.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pauseplay::config::Config;
use pauseplay::sim::{AdminAction, Scenario, SimHandle};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use common::{mixed_scenario, repo_path, run_cli, start_sim, write_config};

/// How long the daemon may take to come up or a deploy to finish before a test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

/// A daemon on the simulated org, in this process.
struct Running {
    sim: SimHandle,
    _dir: TempDir,
    config: PathBuf,
    shutdown: CancellationToken,
    daemon: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(scenario: Scenario) -> Running {
        let sim = start_sim(scenario).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), &sim, "");
        let loaded = Config::load(&config).expect("config");
        let shutdown = CancellationToken::new();
        let daemon = tokio::spawn(pauseplay::daemon::run(loaded, shutdown.clone()));
        let running = Running {
            sim,
            _dir: dir,
            config,
            shutdown,
            daemon,
        };
        running.poll_status(|_| true).await;
        running
    }

    async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        cli(&self.config, args).await
    }

    /// Polls `status --json` until `until` holds for it, and returns it.
    async fn poll_status(&self, until: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (code, stdout, _) = self.cli(&["status", "--json"]).await;
            if code == 0 {
                let status: Value = serde_json::from_str(&stdout).expect("status --json is JSON");
                if until(&status) {
                    return status;
                }
            }
            assert!(
                started.elapsed() < DEADLINE,
                "status never got there: {stdout}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.daemon
            .await
            .expect("the daemon task")
            .expect("the daemon stops cleanly");
        self.sim.shutdown().await;
    }
}

async fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--config".to_owned(), config.display().to_string()];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    run_cli(all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_a_trigger_deploy_in_progress_with_what_its_last_poll_saw() {
    // A deploy that stays `InProgress` past the engine's back-to-back polls, into its waits
    // (100 ms doubling: about 3 s in all), long enough for `status` to be asked meanwhile.
    let mut scenario = mixed_scenario();
    scenario.deploy.in_progress_polls = 10;
    let running = Running::start(scenario).await;
    let config = running.config.clone();
    let pause = tokio::spawn(async move { cli(&config, &["pause", "now", "--for", "10m"]).await });

    let status = running
        .poll_status(|status| status["orgs"][0]["deploys"][0]["status"] == "InProgress")
        .await;
    let org = &status["orgs"][0];
    let deploy = &org["deploys"][0];
    assert_eq!(deploy["phase"], "pausing", "{deploy}");
    assert_eq!(
        deploy["triggers"],
        serde_json::json!(["AccountTrigger", "ContactTrigger", "InvoiceTrigger"]),
        "{deploy}"
    );
    assert_eq!(deploy["test_level"], "NoTestRun", "a sandbox: {deploy}");
    assert!(
        deploy["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("0Af")),
        "{deploy}"
    );
    assert_eq!(org["pausing"], 3, "the triggers are in flight: {org}");
    let in_sim = running.sim.snapshot()["deploys"].clone();
    assert_eq!(
        in_sim[0]["id"], deploy["id"],
        "the org's own deploy: {in_sim}"
    );
    assert_eq!(in_sim[0]["done"], false, "{in_sim}");

    let (code, text, stderr) = running.cli(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("deploy 0Af"))
        .unwrap_or_else(|| panic!("no deploy line in:\n{text}"));
    for part in [
        "pausing 3 triggers (AccountTrigger, ContactTrigger, InvoiceTrigger)",
        "InProgress",
        "NoTestRun",
    ] {
        assert!(line.contains(part), "`{part}` missing from: {line}");
    }

    let (code, _, stderr) = pause.await.expect("the pause command");
    assert_eq!(code, 0, "{stderr}");
    let status = running
        .poll_status(|status| status["orgs"][0]["pausing"] == 0)
        .await;
    let org = &status["orgs"][0];
    assert_eq!(org["deploys"], serde_json::json!([]), "settled: {org}");
    assert_eq!(org["paused"], 19, "{org}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_the_failing_test_of_a_production_deploy_and_the_pause_says_partial() {
    let production = Scenario::load(&repo_path("config/sim/production.toml")).expect("scenario");
    let running = Running::start(production).await;
    running
        .sim
        .admin(AdminAction::SetDeployBehaviour {
            failing_tests: vec!["AccountTriggerTest.testInsert".to_owned()],
            coverage_shortfall: true,
        })
        .expect("make a test fail");

    let (code, text, stderr) = running.cli(&["pause", "now", "--for", "10m"]).await;
    assert_eq!(code, 1, "not every component is paused: {text}{stderr}");
    assert!(text.contains("partial: 6 paused, 1 not"), "{text}");
    assert!(text.contains("AccountTriggerTest.testInsert"), "{text}");

    let (code, text, stderr) = running.cli(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("org `sim`: 6 paused, 0 pausing, 0 restoring, 1 failed, 0 conflict"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|line| line.contains("failed   trigger AccountTrigger"))
        .unwrap_or_else(|| panic!("no failure line in:\n{text}"));
    assert!(line.contains("AccountTriggerTest.testInsert"), "{line}");
    assert!(line.to_lowercase().contains("coverage"), "{line}");
    assert!(
        !text
            .lines()
            .any(|line| line.trim_start().starts_with("deploy ")),
        "nothing under way: {text}"
    );

    let status = running.poll_status(|_| true).await;
    let failures = &status["orgs"][0]["failures"];
    assert_eq!(failures.as_array().map(Vec::len), Some(1), "{failures}");
    assert_eq!(failures[0]["kind"], "trigger");
    assert_eq!(failures[0]["api_name"], "AccountTrigger");
    running.stop().await;
}
