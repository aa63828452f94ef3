//! API-limit awareness (issue 8): a pause is refused, with nothing written, when the org has
//! fewer daily API calls left than the pause and its restore need; `plan` shows the estimate;
//! and the estimate is never below what the simulated org counts for the same work.

mod common;

use jiff::Timestamp;
use pauseplay::automation::{Scope, discover};
use pauseplay::budget::Estimate;
use pauseplay::config::Config;
use pauseplay::daemon::service::{Release, Service};
use pauseplay::engine::{EngineError, REFUSAL_RETRY};
use pauseplay::sim::{AdminAction, Scenario, SimHandle};
use pauseplay::store::{Actor, Store};
use serde_json::Value;
use tempfile::TempDir;

use common::{
    at, fast_service, mixed_scenario, quiet, run_cli, sim_client, start_sim, t0, write_config_with,
};

/// Every component of the mixed org a pause switches.
const PAUSED: u64 = 19;

/// The daily allowance the tests give the org.
const DAILY: u64 = 10_000;

fn operator() -> Actor {
    Actor {
        uid: Some(1000),
        name: "oncall".to_owned(),
    }
}

struct Daemon {
    sim: SimHandle,
    service: Service,
    store: Store,
    config: std::path::PathBuf,
    _dir: TempDir,
}

impl Daemon {
    /// The mixed org with `remaining` of [`DAILY`] calls left, and `windows` in the config.
    async fn start(remaining: u64, windows: &str) -> Daemon {
        let mut scenario: Scenario = mixed_scenario();
        scenario.limits.daily_api_requests = DAILY;
        scenario.limits.used = DAILY - remaining;
        let sim = start_sim(scenario).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config_with(dir.path(), &sim, "", &format!("\n{windows}"));
        let loaded = Config::load(&config).expect("config");
        let store = Store::open(&loaded.daemon.state_dir).await.expect("store");
        let service = fast_service(loaded, &store);
        Daemon {
            sim,
            service,
            store,
            config,
            _dir: dir,
        }
    }

    fn api_requests(&self) -> u64 {
        self.sim
            .counters()
            .get("api_requests")
            .copied()
            .unwrap_or_default()
    }

    fn allow(&self, remaining: u64) {
        self.sim
            .admin(AdminAction::SetApiUsage {
                used: DAILY - remaining,
                max: DAILY,
            })
            .expect("set the API usage");
    }

    fn state(&self) -> Value {
        let mut snapshot = self.sim.snapshot();
        if let Some(map) = snapshot.as_object_mut() {
            map.remove("deploys");
        }
        snapshot
    }

    async fn paused(&self, now: Timestamp) -> u64 {
        let status = self.service.status(now).await.expect("status");
        status.orgs["sim"].counts.paused
    }

    async fn status_error(&self, now: Timestamp) -> Option<String> {
        let status = self.service.status(now).await.expect("status");
        status.orgs["sim"].error.clone()
    }

    async fn actions(&self) -> Vec<String> {
        self.service
            .history(None, 100)
            .await
            .expect("history")
            .into_iter()
            .map(|entry| entry.action)
            .collect()
    }
}

/// What a pause of the mixed org and its restore cost, counted by the simulated org, against
/// the estimate `plan` gives before either.
#[tokio::test]
async fn the_estimate_is_never_below_what_the_org_counts() {
    let daemon = Daemon::start(DAILY, "").await;
    let planner = sim_client("sim", &daemon.sim);
    let scope = Scope::from_org(&daemon.service.config().orgs["sim"]);
    let discovery = discover(&planner, &scope).await.expect("discovery");
    let plan_discovery = planner.api_calls();
    let estimate = Estimate::for_kinds(
        discovery
            .components
            .iter()
            .filter(|c| c.will_pause())
            .map(|c| c.kind),
        // The mixed org is a sandbox: its deploys run no tests.
        false,
    );
    assert_eq!(estimate.components, PAUSED);

    let before = daemon.state();
    let calls = daemon.api_requests();
    let report = daemon
        .service
        .pause_now(&operator(), &[], None, None, t0(), quiet())
        .await
        .expect("pause");
    let outcome = report.orgs[0].result.as_ref().expect("paused");
    assert_eq!(outcome.paused, PAUSED);
    let pause = daemon.api_requests() - calls;
    let calls = daemon.api_requests();
    let report = daemon
        .service
        .resume(&operator(), &[], Release::Manual, at(1), quiet())
        .await
        .expect("resume");
    let outcome = report.orgs[0].result.as_ref().expect("restored");
    assert_eq!(outcome.restored, PAUSED);
    let restore = daemon.api_requests() - calls;
    assert_eq!(daemon.state(), before, "exact restore");

    // The pause's own discovery costs what the plan's did; the estimate is for the rest.
    let after_discovery = pause - plan_discovery;
    eprintln!(
        "pause {pause} (discovery {plan_discovery}), restore {restore}; estimate {estimate:?}"
    );
    assert!(
        after_discovery <= estimate.pause,
        "the pause took {after_discovery} calls after its discovery, estimated {}",
        estimate.pause
    );
    assert!(
        restore <= estimate.restore,
        "the restore took {restore} calls, estimated {}",
        estimate.restore
    );
    // The allowance for deploy polls is most of the gap: the simulated org finishes a deploy
    // in four polls, a real one is allowed fifteen.
    let slack = pauseplay::budget::DEPLOY_POLLS + 5;
    assert!(
        estimate.pause - after_discovery <= slack && estimate.restore - restore <= slack,
        "the estimate {estimate:?} is far above what was counted ({after_discovery}, {restore})"
    );
    daemon.sim.shutdown().await;
}

/// `pause now` on an org with too few calls for the pause and its restore: refused with the
/// figures, nothing written, the hold released (a refused command must not pause later by
/// surprise), and the next `pause now`, once the org has the calls, goes ahead.
#[tokio::test]
async fn a_pause_now_the_org_cannot_afford_is_refused_and_writes_nothing() {
    let daemon = Daemon::start(40, "").await;
    let before = daemon.state();
    let report = daemon
        .service
        .pause_now(
            &operator(),
            &[],
            None,
            Some("load".to_owned()),
            t0(),
            quiet(),
        )
        .await
        .expect("the request is carried out");
    let refused = match &report.orgs[0].result {
        Err(EngineError::PauseRefused(refused)) => refused.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused.components, PAUSED);
    assert!(refused.remaining < refused.pause + refused.restore);
    assert!(refused.remaining > 0 && refused.max == DAILY);
    let message = report.orgs[0]
        .result
        .as_ref()
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("pause refused, nothing was changed")
            && message.contains(&format!("{} of its {DAILY}", refused.remaining)),
        "{message}"
    );
    assert_eq!(daemon.state(), before, "nothing was written");
    assert!(
        daemon.sim.writes().is_empty(),
        "no write reached the org: {:?}",
        daemon.sim.writes()
    );
    assert!(
        daemon
            .store
            .active_holds(t0())
            .await
            .expect("holds")
            .is_empty(),
        "the refused command's hold was released"
    );
    let history = daemon.service.history(None, 10).await.expect("history");
    let pause = history
        .iter()
        .find(|entry| entry.action == "pause")
        .expect("the pause is in the history");
    assert!(
        pause.detail["outcome"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("pause refused")),
        "{:?}",
        pause.detail
    );

    daemon.allow(DAILY);
    let report = daemon
        .service
        .pause_now(&operator(), &[], None, None, at(1), quiet())
        .await
        .expect("pause");
    assert_eq!(
        report.orgs[0].result.as_ref().expect("paused").paused,
        PAUSED
    );
    daemon.sim.shutdown().await;
}

/// A window's pause the org cannot afford: refused and recorded, `status` says why, the hold
/// stays; the engine does not discover again on every tick, and once the org has the calls
/// the next check pauses it. The restore at the window's end is exact.
#[tokio::test]
async fn a_window_the_org_cannot_afford_waits_for_the_calls_then_pauses() {
    let window = format!(
        "[[windows]]\nname = \"load\"\norgs = [\"sim\"]\nstart = \"{}\"\nend = \"{}\"\n",
        at(2),
        at(120)
    );
    let daemon = Daemon::start(40, &window).await;
    let before = daemon.state();

    let reports = daemon.service.reconcile(at(0), quiet()).await;
    let outcome = reports[0].result.as_ref().expect("the pass converged");
    let refused = outcome.refused.as_ref().expect("the pause was refused");
    assert_eq!((outcome.paused, refused.components), (0, PAUSED));
    assert_eq!(daemon.paused(at(0)).await, 0);
    assert_eq!(daemon.state(), before, "nothing was written");
    let error = daemon.status_error(at(0)).await.expect("status says why");
    assert!(error.contains("pause refused"), "{error}");
    assert!(daemon.actions().await.contains(&"pause_refused".to_owned()));
    assert_eq!(
        daemon.store.active_holds(at(0)).await.expect("holds").len(),
        1,
        "the window's hold stays"
    );

    // Within the retry interval a pass makes no call at all, even with calls back.
    daemon.allow(DAILY);
    let calls = daemon.api_requests();
    let retry = i64::try_from(REFUSAL_RETRY.as_secs() / 60).expect("minutes");
    let reports = daemon.service.reconcile(at(retry - 1), quiet()).await;
    assert!(
        reports[0]
            .result
            .as_ref()
            .expect("converged")
            .refused
            .is_none()
    );
    assert_eq!(
        daemon.api_requests(),
        calls,
        "no discovery before the retry"
    );
    assert_eq!(daemon.paused(at(retry - 1)).await, 0);
    assert!(
        daemon.status_error(at(retry - 1)).await.is_some(),
        "status still says why nothing is paused"
    );

    // At the retry the org has the calls: paused, and status no longer names a refusal.
    let reports = daemon.service.reconcile(at(retry), quiet()).await;
    let outcome = reports[0].result.as_ref().expect("converged");
    assert_eq!((outcome.paused, outcome.refused.is_none()), (PAUSED, true));
    assert_eq!(daemon.status_error(at(retry)).await, None);

    let reports = daemon.service.reconcile(at(120), quiet()).await;
    assert_eq!(
        reports[0].result.as_ref().expect("converged").restored,
        PAUSED
    );
    assert_eq!(daemon.state(), before, "exact restore");
    daemon.sim.shutdown().await;
}

/// `plan` prints the estimate and whether the org can afford it, and `--json` carries it.
#[tokio::test]
async fn plan_shows_the_estimate_and_the_verdict() {
    for (remaining, verdict, affordable) in [
        (DAILY, "left: enough", true),
        (40, "NOT enough: the daemon would refuse this pause", false),
    ] {
        let daemon = Daemon::start(remaining, "").await;
        let config = daemon.config.display().to_string();
        let (code, stdout, stderr) =
            run_cli(vec!["plan".into(), "--config".into(), config.clone()]).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("API calls: this plan's discovery took")
                && stdout.contains("allowing 15 polls per trigger deploy")
                && stdout.contains(verdict),
            "{stdout}"
        );
        let (code, stdout, stderr) = run_cli(vec![
            "plan".into(),
            "--config".into(),
            config,
            "--json".into(),
        ])
        .await;
        assert_eq!(code, 0, "{stderr}");
        let json: Value = serde_json::from_str(&stdout).expect("plan json");
        let api = &json["orgs"][0]["api"];
        assert_eq!(api["affordable"], affordable, "{api}");
        assert_eq!(api["max"], DAILY);
        assert!(api["discovery_calls"].as_u64().is_some_and(|n| n > 0));
        assert!(
            api["pause_calls"].as_u64().unwrap_or_default()
                + api["restore_calls"].as_u64().unwrap_or_default()
                > 0
        );
        daemon.sim.shutdown().await;
    }
}
