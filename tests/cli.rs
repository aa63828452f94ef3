//! The `pauseplay` binary as a user runs it: exit codes, what it prints, and that it never
//! prints a secret.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use std::path::{Path, PathBuf};

use common::{mixed_scenario, run_cli, run_cli_with_env, start_sim, write_config};
use jiff::{SignedDuration, Timestamp};
use pauseplay::sim::{AuthMode, SimHandle};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

/// The mixed simulated org and a config file with one org `sim` pointing at it. The `TempDir`
/// is held so the config and secret files live as long as the fixture.
struct SimCli {
    sim: SimHandle,
    config: PathBuf,
    dir: TempDir,
}

impl SimCli {
    async fn start() -> SimCli {
        SimCli::start_with("").await
    }

    /// Like [`SimCli::start`], with `org_extra` added to the org's table in the config.
    async fn start_with(org_extra: &str) -> SimCli {
        let sim = start_sim(mixed_scenario()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config(dir.path(), &sim, org_extra);
        SimCli { sim, config, dir }
    }

    /// Runs `pauseplay --config <the fixture's config> <rest>`.
    async fn run(&self, rest: &[&str]) -> (i32, String, String) {
        self.run_with_env(rest, &[]).await
    }

    /// [`SimCli::run`] with extra environment variables.
    async fn run_with_env(&self, rest: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let mut all = args(&["--config", self.config.to_str().expect("utf-8 path")]);
        all.extend(args(rest));
        run_cli_with_env(all, env).await
    }

    /// Runs the daemon on the fixture's config in this process, and waits until it answers.
    async fn start_daemon(&self) -> InProcessDaemon {
        let config = pauseplay::config::Config::load(&self.config).expect("config");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(pauseplay::daemon::run(config, shutdown.clone()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (code, _, stderr) = self.run(&["status"]).await;
            if code == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon never answered: {stderr}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        InProcessDaemon { shutdown, task }
    }
}

struct InProcessDaemon {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl InProcessDaemon {
    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the daemon task")
            .expect("the daemon stops cleanly");
    }
}

#[tokio::test]
async fn check_config_names_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prod_config(
        dir.path(),
        0o644,
        "http://acme.my.salesforce.com",
        "unknown_key = true\n",
    );

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
    let cli = SimCli::start().await;
    let (code, stdout, stderr) = cli.run(&["check-config"]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("is valid: 1 org"), "{stdout}");
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn plan_json_lists_the_mixed_org_and_never_writes() {
    let cli = SimCli::start().await;
    let sim = &cli.sim;
    let before = sim.snapshot();

    let (code, stdout, stderr) = cli.run(&["plan", "--org", "sim", "--json"]).await;

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
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn plan_follows_the_orgs_scope_settings_in_the_config() {
    let cli = SimCli::start_with(
        "kinds = [\"flow\", \"validation_rule\"]\nobjects = [\"Account\"]\n\
         exclude = [\"flow:Account_After_*\"]\n",
    )
    .await;
    let (code, stdout, stderr) = cli.run(&["plan", "--json"]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan --json is JSON");
    let org = &plan["orgs"][0];
    let components = org["components"].as_array().expect("components");
    assert!(
        components
            .iter()
            .all(|c| c["kind"] == "flow" || c["kind"] == "validation_rule"),
        "only the configured kinds are listed"
    );
    let paused: Vec<&str> = components
        .iter()
        .filter(|c| c["action"] == "pause")
        .filter_map(|c| c["api_name"].as_str())
        .collect();
    // Account's flows and validation rules, less the excluded flow.
    assert_eq!(
        paused,
        [
            "Account_Before_Save_Defaults",
            "Nightly_Account_Cleanup",
            "Account.Keep_Billing_Country",
            "Account.Require_Phone",
        ]
    );
    assert_eq!(org["summary"]["skip_reasons"]["excluded"], 1);
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn plan_shows_the_orgs_that_worked_when_another_fails() {
    let mut refusing = mixed_scenario();
    refusing.org.auth = AuthMode::WrongDomain;
    let broken = start_sim(refusing).await;
    let extra = format!(
        "\n[orgs.broken]\nurl = \"{}\"\nclient_id = \"{}\"\nclient_secret_env = \"BROKEN_SECRET\"\n",
        broken.base_url(),
        broken.client_id()
    );
    let cli = SimCli::start_with("").await;
    let mut config = fs::read_to_string(&cli.config).expect("read config");
    config.push_str(&extra);
    fs::write(&cli.config, config).expect("write config");

    let mut all = args(&["--config", cli.config.to_str().expect("utf-8 path"), "plan"]);
    all.push("--json".to_owned());
    let (code, stdout, stderr) = run_cli_with_env(all, &[("BROKEN_SECRET", "s3cret")]).await;

    assert_eq!(code, 1, "stderr: {stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("the good org's plan");
    let orgs = plan["orgs"].as_array().expect("orgs");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["org"], "sim");
    assert!(stderr.contains("planning org `broken`"), "{stderr}");
    assert!(stderr.contains("My Domain"), "{stderr}");
    broken.shutdown().await;
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn plan_of_an_unknown_org_is_a_usage_error() {
    let cli = SimCli::start().await;
    let (code, _, stderr) = cli.run(&["plan", "--org", "nope"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no org named `nope`"), "{stderr}");
    assert!(stderr.contains("configured orgs: sim"), "{stderr}");
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn auth_test_reports_the_org_and_the_run_as_user() {
    let cli = SimCli::start().await;
    let sim = &cli.sim;
    let (code, stdout, stderr) = cli.run(&["auth-test", "--org", "sim"]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let org_id = sim.snapshot()["org"]["id"]
        .as_str()
        .expect("org id in the snapshot")
        .to_owned();
    assert!(stdout.contains(&org_id), "{stdout}");
    assert!(stdout.contains("sandbox"), "{stdout}");
    assert!(stdout.contains("run-as user"), "{stdout}");
    assert!(stdout.contains("left of 100000 today"), "{stdout}");
    assert!(!stdout.contains(sim.client_secret()));
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn auth_test_with_a_wrong_secret_says_what_to_check_without_the_secret() {
    let cli = SimCli::start().await;
    let wrong = "definitely-not-the-secret";
    fs::write(cli.dir.path().join("sim.secret"), wrong).expect("overwrite secret");
    let (code, stdout, stderr) = cli.run(&["auth-test", "--org", "sim"]).await;
    assert_eq!(code, 1, "stdout: {stdout}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(stderr.contains("secret"), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn demo_runs_end_to_end_and_exits_0() {
    let (code, stdout, stderr) = run_cli(args(&["demo"])).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("to pause"), "{stdout}");
    assert!(stdout.contains("exactly as it was"), "{stdout}");
    assert!(
        stdout.contains("The window closed and the org is exactly as it was before it opened."),
        "the demo's window paused and restored the org with no command: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_at_refuses_a_bad_time_a_past_time_and_a_long_window_and_stores_an_upcoming_one() {
    let cli = SimCli::start().await;
    let before = cli.sim.snapshot();

    // Refused by the CLI before it asks the daemon: a TIME in neither form, no or a zero --for.
    for bad in ["22:00", "2026-12-01", "tomorrow"] {
        let (code, stdout, stderr) = cli.run(&["pause", "at", bad, "--for", "1h"]).await;
        assert_eq!(code, 2, "{bad}: {stdout}{stderr}");
        assert!(stderr.contains("is not a start time"), "{stderr}");
        assert!(stderr.contains("RFC 3339 with an offset"), "{stderr}");
        assert!(stderr.contains("2026-12-01T22:00:00+01:00"), "{stderr}");
        assert!(stderr.contains("local date and time"), "{stderr}");
    }
    let (code, _, stderr) = cli.run(&["pause", "at", "2030-01-01T00:00:00Z"]).await;
    assert_eq!(code, 2, "--for is required: {stderr}");
    assert!(stderr.contains("--for"), "{stderr}");
    let (code, _, stderr) = cli
        .run(&["pause", "at", "2030-01-01T00:00:00Z", "--for", "0s"])
        .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("must be longer than zero"), "{stderr}");

    let daemon = cli.start_daemon().await;
    // Refused by the daemon: a start in the past, a window longer than manual_pause_max.
    let (code, stdout, stderr) = cli
        .run(&["pause", "at", "2020-01-01T00:00:00+01:00", "--for", "1h"])
        .await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("the start 2019-12-31T23:00:00Z is in the past"),
        "{stderr}"
    );
    assert!(stderr.contains("pauseplay pause now"), "{stderr}");
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    let (code, stdout, stderr) = cli
        .run(&["pause", "at", &in_an_hour.to_string(), "--for", "13h"])
        .await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("at most 12h"), "{stderr}");
    assert!(stderr.contains("manual_pause_max"), "{stderr}");

    // A local time (here in UTC) an hour ahead: stored, listed as upcoming, cancelled.
    let local = in_an_hour.strftime("%Y-%m-%d %H:%M").to_string();
    let (code, stdout, stderr) = cli
        .run_with_env(
            &[
                "pause", "at", &local, "--for", "30m", "--org", "sim", "--reason", "CHG-42",
            ],
            &[("TZ", "UTC")],
        )
        .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let opens: Timestamp = format!("{}:00Z", local.replace(' ', "T"))
        .parse()
        .expect("the minute asked for");
    let name = format!("at-{}", opens.strftime("%Y-%m-%dT%H:%MZ"));
    assert!(
        stdout.contains(&format!(
            "ad hoc window `{name}` from {opens} until {}",
            opens + SignedDuration::from_mins(30)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "hold #1 on org `sim`: pausing starts at {}",
            opens - SignedDuration::from_mins(2)
        )),
        "the default lead time: {stdout}"
    );
    assert!(stdout.contains("(CHG-42)"), "{stdout}");
    assert!(stdout.contains("pauseplay resume --hold 1"), "{stdout}");

    let (code, stdout, _) = cli.run(&["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("no holds in force"), "{stdout}");
    assert!(
        stdout.contains(&format!("upcoming: #1 ad hoc org `sim` (`{name}`) from ")),
        "{stdout}"
    );
    let (code, stdout, _) = cli.run(&["status", "--json"]).await;
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status --json");
    assert_eq!(status["holds"], serde_json::json!([]));
    assert_eq!(status["upcoming"][0]["id"], 1);
    assert_eq!(status["upcoming"][0]["source"], "adhoc");
    assert_eq!(
        status["upcoming"][0]["starts_at"],
        (opens - SignedDuration::from_mins(2)).to_string()
    );

    let (code, stdout, stderr) = cli.run(&["resume", "--hold", "1"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("cancelled upcoming hold #1 on org `sim`"),
        "{stdout}"
    );
    let (_, stdout, _) = cli.run(&["status"]).await;
    assert!(!stdout.contains("upcoming"), "{stdout}");
    let (_, stdout, _) = cli.run(&["history", "--org", "sim"]).await;
    assert!(stdout.contains("pause_at hold #1"), "{stdout}");
    assert!(
        stdout.contains(&format!("ad hoc window `{name}` from {opens}")),
        "{stdout}"
    );

    daemon.stop().await;
    assert_eq!(cli.sim.snapshot(), before, "nothing was paused");
    cli.sim.shutdown().await;
}

#[tokio::test]
async fn check_config_lists_windows_and_prints_dst_warnings_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prod_config(
        dir.path(),
        0o600,
        "https://acme.my.salesforce.com",
        "\n[[windows]]\nname = \"nightly\"\norgs = [\"prod\"]\n\
             cron = \"30 2 * * *\"\nduration = \"1h\"\ntimezone = \"Europe/Berlin\"\n",
    );

    let (code, stdout, stderr) = run_cli(args(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "check-config",
    ]))
    .await;

    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("is valid: 1 org(s), 1 window(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "window nightly: cron \"30 2 * * *\" in Europe/Berlin for 1h, orgs prod; next "
        ),
        "{stdout}"
    );
    // Every twelve months hold one spring-forward and one fall-back change in Berlin.
    assert!(stdout.contains("2 warning(s):"), "{stdout}");
    assert!(stdout.contains("windows[0].cron"), "{stdout}");
    assert!(stdout.contains("does not exist"), "{stdout}");
    assert!(stdout.contains("happens twice"), "{stdout}");
}

#[tokio::test]
async fn windows_lists_the_next_occurrences_in_the_windows_zone_and_in_utc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = prod_config(
        dir.path(),
        0o600,
        "https://acme.my.salesforce.com",
        "\n[[windows]]\nname = \"nightly\"\norgs = [\"prod\"]\n\
             cron = \"30 1 * * *\"\nduration = \"2h\"\ntimezone = \"America/New_York\"\n\
             kinds = [\"flow\"]\n\n[[windows]]\nname = \"migration\"\norgs = [\"prod\"]\n\
             start = \"2099-12-01T22:00:00+01:00\"\nend = \"2099-12-02T04:00:00+01:00\"\n",
    );
    let path = config.display().to_string();

    let (code, stdout, stderr) =
        run_cli(args(&["--config", &path, "windows", "--next", "3"])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(
            "nightly (cron `30 1 * * *` in America/New_York, 2h; pauses orgs prod; kinds flow)"
        ),
        "{stdout}"
    );
    let nightly: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("nightly"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    assert_eq!(nightly.len(), 3, "{stdout}");
    for line in &nightly {
        // 01:30 in New York is 05:30 or 06:30 UTC, depending on DST.
        assert!(line.contains(" 01:30 E"), "{line}");
        assert!(line.contains(" 03:30 E"), "{line}");
        assert!(
            line.contains(" 05:30 -> ") || line.contains(" 06:30 -> "),
            "{line}"
        );
        // The first occurrence is marked when the test runs while it is open (06:30 to 08:30
        // or 05:30 to 07:30 UTC every day).
        assert!(
            line.ends_with(" UTC") || line.ends_with(" UTC  open now"),
            "{line}"
        );
    }
    assert!(
        stdout.contains("2099-12-01 21:00 -> 2099-12-02 03:00 UTC"),
        "{stdout}"
    );

    let (code, stdout, stderr) = run_cli(args(&[
        "--config", &path, "windows", "--next", "1", "--json",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["windows"][0]["timezone"], "America/New_York");
    assert_eq!(
        json["windows"][1]["occurrences"][0]["start"],
        "2099-12-01T21:00:00Z"
    );
    assert_eq!(
        json["windows"][1]["occurrences"][0]["end"],
        "2099-12-02T03:00:00Z"
    );
}

/// A config with one org `prod` at `url`, its secret in a file of mode `secret_mode`, and
/// `rest` after the org's keys (more keys, or `[[windows]]` tables). Returns its path.
fn prod_config(dir: &Path, secret_mode: u32, url: &str, rest: &str) -> PathBuf {
    let secret = dir.join("prod.secret");
    fs::write(&secret, "top-secret-value\n").expect("write secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(secret_mode)).expect("chmod");
    let config = dir.join("pauseplay.toml");
    fs::write(
        &config,
        format!(
            "[orgs.prod]\nurl = \"{url}\"\nclient_id = \"3MVG9\"\n\
             client_secret_file = \"{}\"\n{rest}",
            secret.display()
        ),
    )
    .expect("write config");
    config
}
