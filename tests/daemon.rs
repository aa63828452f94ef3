//! The daemon as an operator runs it: the real `pauseplay` binary as a daemon process, driven
//! by the real CLI over the control socket, against the simulated org. Exact restore of a
//! 400-component org, drift reported through `status`, `history` and the exit code, and
//! `kill -9` of the daemon in the middle of a pause and of a restore, and while a trigger
//! deploy of either runs.

mod common;

use std::time::{Duration, Instant};

use pauseplay::sim::{AdminAction, ComponentKind, Scenario, SimHandle};
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

/// Polls the sim until at least `count` PATCHes were applied since its counters were reset.
async fn wait_patches(sim: &SimHandle, count: u64) {
    let started = Instant::now();
    while sim.counters().get("sobject_patch").copied().unwrap_or(0) < count {
        assert!(
            started.elapsed() < DEADLINE,
            "only {:?} patches",
            sim.counters()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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
async fn kill_9_in_the_middle_of_a_pause_or_a_restore_ends_exact() {
    // Crash points: after this many PATCHes have reached the org (a composite carries 25).
    for (phase, after) in [
        ("pause", 1),
        ("pause", 60),
        ("pause", 180),
        ("restore", 1),
        ("restore", 120),
    ] {
        let setup = Setup::new(four_hundred(15)).await;
        let before = org_state(&setup.sim);
        let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon-1.log")).await;

        if phase == "restore" {
            let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--for", "1h"]).await;
            assert_eq!(code, 0, "{stderr}");
        }
        setup.sim.reset_counters();
        let config = setup.config.clone();
        let request = tokio::spawn(async move {
            match phase {
                "pause" => cli(&config, &["pause", "now", "--for", "1h"]).await,
                _ => cli(&config, &["resume"]).await,
            }
        });
        wait_patches(&setup.sim, after).await;
        daemon.kill9();
        let (code, _, _) = request.await.expect("the CLI finished");
        assert_ne!(code, 0, "{phase} at {after}: the CLI saw the daemon die");

        // Restart: the daemon finishes what the journal says was under way.
        let daemon = DaemonProcess::start(&setup.config, &setup.log("daemon-2.log")).await;
        if phase == "pause" {
            let expected = expected_paused(&setup).await;
            wait_settled(&setup.config, expected).await;
            let (code, _, stderr) = cli(&setup.config, &["resume"]).await;
            assert_eq!(code, 0, "{phase} at {after}: {stderr}");
        } else {
            wait_settled(&setup.config, 0).await;
        }
        assert_eq!(
            org_state(&setup.sim),
            before,
            "{phase} killed after {after} patches: the org ends exactly as it was"
        );
        drop(daemon);
        setup.sim.shutdown().await;
    }
}

/// How many components a complete pause of the crash org pauses, measured on a fresh org.
async fn expected_paused(_setup: &Setup) -> u64 {
    let reference = Setup::new(four_hundred(0)).await;
    let _daemon = DaemonProcess::start(&reference.config, &reference.log("daemon.log")).await;
    let (code, _, stderr) = cli(&reference.config, &["pause", "now"]).await;
    assert_eq!(code, 0, "{stderr}");
    let paused = status(&reference.config).await["orgs"][0]["paused"]
        .as_u64()
        .expect("paused");
    reference.sim.shutdown().await;
    paused
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
async fn token_expiry_every_25_requests_and_10_percent_faults_still_end_exact() {
    let mut scenario = four_hundred(0);
    scenario.faults.seed = 11;
    scenario.faults.token_requests = 25;
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
    // One token per 25 requests: the daemon re-minted each time one expired.
    let requests = counters.get("api_requests").copied().unwrap_or(0);
    assert!(requests > 50, "{counters:?}");
    assert!(
        counters.get("token").copied().unwrap_or(0) > requests / 25,
        "{counters:?}"
    );
    assert!(
        counters.get("faults_injected").copied().unwrap_or(0) > 3,
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

/// The simulated org's deploys, oldest first.
fn deploys(sim: &SimHandle) -> Vec<Value> {
    sim.snapshot()["deploys"]
        .as_array()
        .cloned()
        .expect("the snapshot lists deploys")
}

/// Each trigger's name and status, as the org has them.
fn trigger_statuses(sim: &SimHandle) -> Vec<(String, String)> {
    sim.snapshot()["triggers"]
        .as_array()
        .expect("the snapshot lists triggers")
        .iter()
        .map(|trigger| {
            (
                trigger["name"].as_str().unwrap_or_default().to_owned(),
                trigger["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Polls the sim until deploy number `index` (0-based) exists and is `InProgress`: polled at
/// least twice (once `Pending`, once into `InProgress`), so its id is journaled (the engine
/// records it before the first poll), and not done. Returns its id.
async fn wait_deploy_in_progress(sim: &SimHandle, index: usize) -> String {
    let started = Instant::now();
    loop {
        let all = deploys(sim);
        if let Some(deploy) = all.get(index) {
            assert_eq!(
                deploy["done"], false,
                "deploy {index} finished before it was seen in progress: {all:?}"
            );
            if deploy["status"] == "InProgress" {
                return deploy["id"].as_str().expect("deploy id").to_owned();
            }
        }
        assert!(
            started.elapsed() < DEADLINE,
            "deploy {index} never was in progress: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn kill_9_between_a_trigger_deploy_start_and_its_completion_polls_the_stored_deploy() {
    // Polls, not time, move a simulated deploy: one `Pending`, then `InProgress` for two, done
    // on the fourth. The daemon waits 1 s, 2 s, 4 s between polls, so a deploy is
    // `InProgress` from about 1 s to 7 s after it starts: the window the kill lands in.
    let mut scenario = mixed_scenario();
    scenario.deploy.pending_polls = 1;
    scenario.deploy.in_progress_polls = 2;
    let setup = Setup::new(scenario).await;
    let before = org_state(&setup.sim);
    let triggers = ["AccountTrigger", "ContactTrigger", "InvoiceTrigger"];
    for name in triggers {
        assert!(
            trigger_statuses(&setup.sim).contains(&(name.to_owned(), "Active".to_owned())),
            "{name} starts active"
        );
    }

    // What a full pause pauses, from the plan (read-only): 19 in the mixed org, 3 triggers.
    let (code, plan, stderr) = cli(&setup.config, &["plan", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&plan).expect("plan --json");
    let summary = &plan["orgs"][0]["summary"];
    let expected = summary["pause"].as_u64().expect("pause count");
    assert_eq!(expected, 19, "{summary}");
    assert_eq!(summary["by_kind"]["trigger"]["pause"], 3, "{summary}");
    assert_eq!(org_state(&setup.sim), before, "planning changes nothing");

    // The pause: killed while its trigger deploy runs.
    let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon-1.log")).await;
    let config = setup.config.clone();
    let request = tokio::spawn(async move { cli(&config, &["pause", "now", "--for", "1h"]).await });
    let pause_deploy = wait_deploy_in_progress(&setup.sim, 0).await;
    daemon.kill9();
    let (code, stdout, _) = request.await.expect("the CLI finished");
    assert_ne!(code, 0, "the CLI saw the daemon die: {stdout}");
    assert_eq!(deploys(&setup.sim).len(), 1);

    let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon-2.log")).await;
    wait_settled(&setup.config, expected).await;
    let runs = deploys(&setup.sim);
    assert_eq!(
        runs.len(),
        1,
        "the stored deploy was polled, not repeated: {runs:?}"
    );
    assert_eq!(runs[0]["id"], pause_deploy.as_str());
    assert_eq!(runs[0]["status"], "Succeeded", "{runs:?}");
    let members = runs[0]["members"].to_string();
    for name in triggers {
        assert!(members.contains(name), "{name} in {members}");
        assert!(
            trigger_statuses(&setup.sim).contains(&(name.to_owned(), "Inactive".to_owned())),
            "{name} is paused"
        );
    }
    let paused = status(&setup.config).await;
    let counts = &paused["orgs"][0];
    assert_eq!(
        (counts["failed"].as_u64(), counts["conflict"].as_u64()),
        (Some(0), Some(0)),
        "{paused}"
    );
    assert_eq!(
        paused["holds"].as_array().map(Vec::len),
        Some(1),
        "{paused}"
    );

    // The restore: killed while its trigger deploy runs.
    let config = setup.config.clone();
    let request = tokio::spawn(async move { cli(&config, &["resume"]).await });
    let restore_deploy = wait_deploy_in_progress(&setup.sim, 1).await;
    daemon.kill9();
    let (code, stdout, _) = request.await.expect("the CLI finished");
    assert_ne!(code, 0, "the CLI saw the daemon die: {stdout}");
    assert_ne!(restore_deploy, pause_deploy);

    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon-3.log")).await;
    wait_settled(&setup.config, 0).await;
    let runs = deploys(&setup.sim);
    assert_eq!(
        runs.len(),
        2,
        "the stored deploy was polled, not repeated: {runs:?}"
    );
    assert_eq!(runs[1]["id"], restore_deploy.as_str());
    assert_eq!(runs[1]["status"], "Succeeded", "{runs:?}");
    assert_eq!(
        org_state(&setup.sim),
        before,
        "exact restore, trigger bodies included"
    );
    let status = status(&setup.config).await;
    let counts = &status["orgs"][0];
    assert_eq!(
        (
            counts["paused"].as_u64(),
            counts["failed"].as_u64(),
            counts["conflict"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{status}"
    );
    assert_eq!(
        status["holds"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );
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
