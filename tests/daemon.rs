//! The daemon as an operator runs it: the real `pauseplay` binary as a daemon process, driven
//! by the real CLI over the control socket, against the simulated org. Exact restore of a
//! 400-component org, drift reported through `status`, `history` and the exit code, and a
//! daemon killed inside a window and started after it. `kill -9` at every journal step of a
//! pause and of a restore, trigger deploys included, is `tests/crash_matrix.rs`.

mod common;

use std::time::{Duration, Instant};

use pauseplay::sim::{AdminAction, ComponentKind, Scenario};
use serde_json::Value;

use common::daemon::{DEADLINE, DaemonProcess, Setup, cli, org_state, status, wait_settled};
use common::{mixed_scenario, start_sim, write_config_with};

/// 400 components of the four kinds the engine switches (no triggers).
fn four_hundred(latency_ms: u64) -> Scenario {
    Scenario::from_toml_str(&format!(
        "[org]\nname = \"Crash Org\"\n\n[faults]\nlatency = \"{latency_ms}ms\"\n\n\
         [generate]\nseed = 42\nflows = 160\nprocess_builders = 40\nvalidation_rules = 140\n\
         workflow_rules = 60\ntriggers = 0\ncustom_objects = 5\n"
    ))
    .expect("scenario")
}

#[tokio::test]
async fn a_pause_and_resume_through_the_daemon_restore_400_components_exactly() {
    let setup = Setup::new(four_hundred(0)).await;
    let before = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;

    let (code, stdout, stderr) = cli(
        &setup.config,
        &[
            "pause", "now", "--org", "sim", "--for", "10m", "--reason", "INC-1",
        ],
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("hold #1 on org `sim`"), "{stdout}");
    assert!(stderr.contains("pausing"), "progress is shown: {stderr}");
    let paused = status(&setup.config).await["orgs"][0]["paused"]
        .as_u64()
        .expect("paused count");
    assert!(
        paused >= 250,
        "most of the 400 components are pausable: {paused}"
    );
    assert_ne!(org_state(&setup.sim), before);

    let (code, stdout, stderr) = cli(&setup.config, &["resume", "--org", "sim"]).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(&format!("{paused} restored")), "{stdout}");
    assert_eq!(org_state(&setup.sim), before, "exact restore");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn drift_during_a_pause_stands_and_is_reported_everywhere() {
    let setup = Setup::new(mixed_scenario()).await;
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--reason", "load"]).await;
    assert_eq!(code, 0, "{stderr}");

    setup
        .sim
        .admin(AdminAction::ActivateFlowVersion {
            flow: "Contact_After_Save".to_owned(),
            version: 3,
        })
        .expect("activate");
    setup
        .sim
        .admin(AdminAction::Delete {
            kind: ComponentKind::WorkflowRule,
            name: "Contact.Update_Mailing_Flag".to_owned(),
        })
        .expect("delete");
    setup
        .sim
        .admin(AdminAction::EditValidationRule {
            full_name: "Account.Require_Phone".to_owned(),
            formula: Some("ISBLANK(Phone) && ISBLANK(Fax)".to_owned()),
            message: None,
            description: None,
        })
        .expect("edit");

    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 1, "conflicts make the exit code 1: {stdout}");
    assert!(
        stdout.contains("conflict flow Contact_After_Save"),
        "{stdout}"
    );
    assert!(
        stdout.contains("conflict workflow_rule Contact.Update_Mailing_Flag"),
        "{stdout}"
    );
    assert!(stderr.contains("not every component"), "{stderr}");

    assert_eq!(status(&setup.config).await["orgs"][0]["conflict"], 2);
    let after = org_state(&setup.sim);
    let rule = after["validation_rules"]
        .as_array()
        .and_then(|rules| {
            rules
                .iter()
                .find(|r| r["full_name"] == "Account.Require_Phone")
        })
        .expect("the edited rule");
    assert_eq!(rule["active"], true, "the edited rule is active again");
    assert_eq!(
        rule["metadata"]["errorConditionFormula"],
        "ISBLANK(Phone) && ISBLANK(Fax)"
    );
    let (code, history, _) = cli(&setup.config, &["history", "--json"]).await;
    assert_eq!(code, 0);
    let history: Value = serde_json::from_str(&history).expect("history --json");
    let resume = &history["entries"][0];
    assert_eq!(resume["action"], "resume");
    assert_eq!(
        resume["detail"]["outcome"]["conflicts"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(history["entries"][1]["actor_name"], "root");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn overlapping_manual_holds_restore_only_after_the_second_is_released() {
    let setup = Setup::new(mixed_scenario()).await;
    let before = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    for reason in ["first", "second"] {
        let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--reason", reason]).await;
        assert_eq!(code, 0, "{stderr}");
    }
    let paused = org_state(&setup.sim);
    assert_eq!(
        status(&setup.config).await["holds"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let (code, stdout, _) = cli(&setup.config, &["resume", "--hold", "1"]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("0 restored"),
        "the second hold still covers everything: {stdout}"
    );
    assert_eq!(org_state(&setup.sim), paused);

    let (code, stdout, _) = cli(&setup.config, &["resume", "--hold", "2"]).await;
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(org_state(&setup.sim), before);
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn two_orgs_are_paused_and_restored_together() {
    let setup = Setup::new(mixed_scenario()).await;
    let second = start_sim(four_hundred(0)).await;
    let secret = setup.dir.path().join("second.secret");
    std::fs::write(&secret, second.client_secret()).expect("secret");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let mut config = std::fs::read_to_string(&setup.config).expect("config");
    config.push_str(&format!(
        "\n[orgs.second]\nurl = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\n",
        second.base_url(),
        second.client_id(),
        secret.display()
    ));
    std::fs::write(&setup.config, config).expect("config");
    let before = (org_state(&setup.sim), org_state(&second));
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;

    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("org `second`") && stdout.contains("org `sim`"),
        "{stdout}"
    );
    assert_ne!(org_state(&second), before.1);
    let (code, _, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((org_state(&setup.sim), org_state(&second)), before);
    second.shutdown().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn token_expiry_every_10_requests_and_10_percent_faults_still_end_exact() {
    let mut scenario = four_hundred(0);
    scenario.faults.seed = 11;
    scenario.faults.token_requests = 10;
    scenario.faults.transient_error_rate = 0.10;
    let setup = Setup::new(scenario).await;
    let before = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let (code, stdout, stderr) = cli(&setup.config, &["pause", "now"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(org_state(&setup.sim), before);
    let counters = setup.sim.counters();
    // One token per 10 requests: the daemon re-minted each time one expired.
    let requests = counters.get("api_requests").copied().unwrap_or(0);
    assert!(requests > 40, "{counters:?}");
    assert!(
        counters.get("token").copied().unwrap_or(0) > requests / 10,
        "{counters:?}"
    );
    // About one request in ten failed (the draws depend on the order concurrent reads
    // arrive in, so the exact count varies).
    assert!(
        counters.get("faults_injected").copied().unwrap_or(0) > 0,
        "{counters:?}"
    );
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_manual_hold_is_restored_without_any_command() {
    let setup = Setup::new(mixed_scenario()).await;
    let before = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--for", "2s"]).await;
    assert_eq!(code, 0, "{stderr}");
    // Nothing else is asked of the daemon: it restores when the hold runs out.
    let started = Instant::now();
    while org_state(&setup.sim) != before {
        assert!(
            started.elapsed() < DEADLINE,
            "not restored after the hold expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, history, _) = cli(&setup.config, &["history", "--json"]).await;
    let history: Value = serde_json::from_str(&history).expect("history --json");
    let actions: Vec<&str> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert!(actions.contains(&"hold_expired"), "{actions:?}");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn commands_without_a_daemon_say_so_and_exit_3() {
    let setup = Setup::new(mixed_scenario()).await;
    let (code, _, stderr) = cli(&setup.config, &["status"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot reach the daemon at"), "{stderr}");
    assert!(stderr.contains("systemctl status pauseplay"), "{stderr}");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly_and_removes_its_socket() {
    let setup = Setup::new(mixed_scenario()).await;
    let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let socket = setup.dir.path().join("pauseplay.sock");
    assert!(socket.exists());
    daemon.signal("TERM");
    assert_eq!(daemon.exit_code().await, Some(0), "a clean stop exits 0");
    assert!(!socket.exists(), "the socket is removed on shutdown");
    let log = std::fs::read_to_string(setup.log("daemon.log")).expect("log");
    assert!(log.contains("pauseplay daemon stopped"), "{log}");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn operators_need_only_the_socket_not_the_orgs_secrets() {
    let setup = Setup::new(mixed_scenario()).await;
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    // The operator's copy of the config: same socket, a secret they cannot read.
    let operator = setup.dir.path().join("operator.toml");
    std::fs::write(
        &operator,
        format!(
            "[daemon]\nsocket = \"{}\"\n\n[orgs.sim]\nurl = \"{}\"\nclient_id = \"x\"\n\
             client_secret_file = \"/nonexistent/secret\"\n",
            setup.dir.path().join("pauseplay.sock").display(),
            setup.sim.base_url()
        ),
    )
    .expect("operator config");
    let (code, stdout, stderr) = cli(&operator, &["status"]).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("org `sim`"), "{stdout}");
    setup.sim.shutdown().await;
}

/// Waits (polling the wall clock with a deadline) until `instant` has passed.
async fn wait_until(instant: jiff::Timestamp) {
    let started = Instant::now();
    while jiff::Timestamp::now() <= instant {
        assert!(started.elapsed() < DEADLINE, "{instant} never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_daemon_started_inside_a_window_pauses_and_one_started_after_it_ended_restores() {
    let sim = start_sim(four_hundred(0)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Opened a minute ago, closes in 20 s: more than min_remaining (5 s) is left.
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_mins(1);
    let end = (now + jiff::SignedDuration::from_secs(20))
        .round(jiff::Unit::Second)
        .expect("round");
    let config = write_config_with(
        dir.path(),
        &sim,
        "lead_time = \"1s\"\nmin_remaining = \"5s\"",
        &format!(
            "\n[[windows]]\nname = \"load\"\norgs = [\"sim\"]\nstart = \"{start}\"\n\
             end = \"{end}\"\n"
        ),
    );
    let before = org_state(&sim);
    let expected = {
        let (code, stdout, stderr) = cli(&config, &["plan", "--json"]).await;
        assert_eq!(code, 0, "{stderr}");
        let plan: Value = serde_json::from_str(&stdout).expect("plan JSON");
        plan["orgs"][0]["summary"]["pause"]
            .as_u64()
            .expect("pause count")
    };

    // Started inside the open window: it pauses with no command.
    let mut daemon = DaemonProcess::start(&config, &dir.path().join("daemon-1.log")).await;
    wait_settled(&config, expected).await;
    let held = status(&config).await;
    assert_eq!(held["holds"][0]["source"], "window", "{held}");
    assert_eq!(held["holds"][0]["window"], "load", "{held}");
    assert_ne!(org_state(&sim), before, "paused");

    // Stopped while the window is open; the window ends while it is down.
    daemon.kill9();
    wait_until(end).await;
    assert_ne!(
        org_state(&sim),
        before,
        "nothing restored while the daemon was down"
    );

    // Started after the end: it restores at start, with no command.
    let _daemon = DaemonProcess::start(&config, &dir.path().join("daemon-2.log")).await;
    wait_settled(&config, 0).await;
    assert_eq!(org_state(&sim), before, "exact restore at start");
    let after = status(&config).await;
    assert_eq!(after["holds"], serde_json::json!([]), "{after}");
    let (code, stdout, _) = cli(&config, &["history", "--org", "sim"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("window_held"), "{stdout}");
    assert!(stdout.contains("hold_expired"), "{stdout}");
    sim.shutdown().await;
}
