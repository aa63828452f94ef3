//! Scheduled windows through the daemon's passes, with the clock injected: each pass is
//! `Service::reconcile(now)` at a chosen instant, against the simulated org. A window opens
//! (less the lead time) and closes; overlapping windows and a manual hold; `resume --window`;
//! a window found open with and without `min_remaining` left; a forward clock jump.

mod common;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use pauseplay::config::Config;
use pauseplay::daemon::service::{Release, Service};
use pauseplay::engine::Progress;
use pauseplay::sim::SimHandle;
use pauseplay::store::{Actor, HoldSource, Store};
use serde_json::Value;
use tempfile::TempDir;

use common::{at, fast_service, mixed_scenario, start_sim, write_config_with};

/// Every component of the mixed org a pause switches.
const PAUSED: u64 = 19;

struct Daemon {
    sim: SimHandle,
    service: Service,
    store: Store,
    _dir: TempDir,
}

impl Daemon {
    /// A service over the mixed org with `windows` (TOML `[[windows]]` tables), lead time 2 min
    /// and `min_remaining` 5 min.
    async fn start(windows: &str) -> Daemon {
        let sim = start_sim(mixed_scenario()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_config_with(
            dir.path(),
            &sim,
            "lead_time = \"2m\"\nmin_remaining = \"5m\"",
            &format!("\n{windows}"),
        );
        let config = Config::load(&config).expect("config");
        let store = Store::open(&config.daemon.state_dir).await.expect("store");
        let service = fast_service(config, &store);
        Daemon {
            sim,
            service,
            store,
            _dir: dir,
        }
    }

    /// One pass at `now`; returns the org's paused count afterwards.
    async fn pass(&self, now: Timestamp) -> u64 {
        let reports = self
            .service
            .reconcile(now, Arc::new(|_: Progress| {}))
            .await;
        for report in &reports {
            let outcome = report.result.as_ref().expect("the pass converged");
            assert!(outcome.is_clean(), "{outcome:?}");
        }
        self.paused(now).await
    }

    async fn paused(&self, now: Timestamp) -> u64 {
        let status = self.service.status(now).await.expect("status");
        status.orgs["sim"].counts.paused
    }

    /// The windows whose holds are in force at `now`, by name.
    async fn holding(&self, now: Timestamp) -> Vec<String> {
        self.store
            .active_holds(now)
            .await
            .expect("holds")
            .into_iter()
            .map(|hold| match hold.source {
                HoldSource::Window { name, .. } => name,
                other => other.as_str().to_owned(),
            })
            .collect()
    }

    fn state(&self) -> Value {
        let mut snapshot = self.sim.snapshot();
        if let Some(map) = snapshot.as_object_mut() {
            map.remove("deploys");
        }
        snapshot
    }
}

fn once(name: &str, from: i64, to: i64) -> String {
    format!(
        "[[windows]]\nname = \"{name}\"\norgs = [\"sim\"]\nstart = \"{}\"\nend = \"{}\"\n",
        at(from),
        at(to)
    )
}

#[tokio::test]
async fn a_window_is_paused_its_lead_time_before_it_opens_and_restored_when_it_closes() {
    let daemon = Daemon::start(&once("load", 10, 70)).await;
    let before = daemon.state();

    assert_eq!(daemon.pass(at(0)).await, 0, "not yet");
    let status = daemon.service.status(at(0)).await.expect("status");
    let next: Vec<(&str, Timestamp, Timestamp)> = status
        .windows
        .iter()
        .map(|(occurrence, _)| (occurrence.window.as_str(), occurrence.start, occurrence.end))
        .collect();
    assert_eq!(
        next,
        [("load", at(10), at(70))],
        "status shows the next window"
    );
    assert_eq!(daemon.pass(at(7)).await, 0, "more than the lead time ahead");
    assert_eq!(daemon.pass(at(8)).await, PAUSED, "2 min before it opens");
    assert_eq!(daemon.holding(at(8)).await, ["load"]);
    assert_eq!(daemon.pass(at(40)).await, PAUSED);
    assert_eq!(daemon.holding(at(40)).await, ["load"], "held once");
    assert_eq!(daemon.pass(at(70)).await, 0, "closed: restored");
    assert_eq!(daemon.state(), before, "exact restore");
    assert_eq!(
        daemon.pass(at(80)).await,
        0,
        "a past window is not replayed"
    );
    daemon.sim.shutdown().await;
}

#[tokio::test]
async fn overlapping_windows_and_a_manual_hold_restore_only_when_the_last_one_ends() {
    let windows = format!("{}\n{}", once("first", 10, 70), once("second", 40, 100));
    let daemon = Daemon::start(&windows).await;
    let before = daemon.state();

    assert_eq!(daemon.pass(at(10)).await, PAUSED);
    assert_eq!(daemon.pass(at(40)).await, PAUSED);
    assert_eq!(daemon.holding(at(40)).await, ["first", "second"]);
    daemon
        .service
        .pause_now(
            &Actor::daemon(),
            &[],
            Some(Duration::from_secs(60 * 60)),
            Some("on-call".to_owned()),
            at(60),
            Arc::new(|_: Progress| {}),
        )
        .await
        .expect("manual pause");
    assert_eq!(
        daemon.pass(at(70)).await,
        PAUSED,
        "second and manual remain"
    );
    assert_eq!(
        daemon.pass(at(100)).await,
        PAUSED,
        "the manual hold remains"
    );
    assert_eq!(daemon.holding(at(100)).await, ["manual"]);
    assert_eq!(daemon.pass(at(120)).await, 0, "the last hold expired");
    assert_eq!(daemon.state(), before, "exact restore");
    daemon.sim.shutdown().await;
}

#[tokio::test]
async fn resume_window_ends_this_occurrence_and_the_next_one_still_pauses() {
    let daemon = Daemon::start(
        "[[windows]]\nname = \"nightly\"\norgs = [\"sim\"]\ncron = \"0 1 * * *\"\n\
         duration = \"1h\"\n",
    )
    .await;
    let before = daemon.state();
    assert_eq!(daemon.pass(at(60)).await, PAUSED, "01:00 UTC");

    let report = daemon
        .service
        .resume(
            &Actor::daemon(),
            &[],
            Release::Window("nightly".to_owned()),
            at(70),
            Arc::new(|_: Progress| {}),
        )
        .await
        .expect("resume --window");
    assert_eq!(report.released.len(), 1);
    assert_eq!(daemon.paused(at(70)).await, 0);
    assert_eq!(daemon.state(), before, "restored early, exactly");
    assert_eq!(daemon.pass(at(71)).await, 0, "the override holds");
    assert_eq!(daemon.pass(at(110)).await, 0);

    let error = daemon
        .service
        .resume(
            &Actor::daemon(),
            &[],
            Release::Window("nightly".to_owned()),
            at(111),
            Arc::new(|_: Progress| {}),
        )
        .await
        .expect_err("nothing in force");
    assert!(error.to_string().contains("`nightly`"), "{error}");

    let next_day = 24 * 60 + 60;
    assert_eq!(daemon.pass(at(next_day)).await, PAUSED, "the next night");
    assert_eq!(daemon.pass(at(next_day + 60)).await, 0);
    assert_eq!(daemon.state(), before);
    daemon.sim.shutdown().await;
}

#[tokio::test]
async fn a_window_found_open_is_paused_only_if_min_remaining_is_left() {
    // 10 minutes left of a one-hour window: paused at once.
    let daemon = Daemon::start(&once("late", 0, 60)).await;
    assert_eq!(daemon.pass(at(50)).await, PAUSED);
    assert_eq!(daemon.pass(at(60)).await, 0);
    daemon.sim.shutdown().await;

    // 3 minutes left: recorded as missed, never paused, not even on the next pass.
    let daemon = Daemon::start(&once("late", 0, 60)).await;
    let before = daemon.state();
    assert_eq!(daemon.pass(at(57)).await, 0);
    assert_eq!(
        daemon.pass(at(58)).await,
        0,
        "a missed window is not replayed"
    );
    assert_eq!(daemon.state(), before, "nothing touched");
    let missed = daemon
        .store
        .missed_occurrences(at(0))
        .await
        .expect("missed");
    assert_eq!(missed.len(), 1, "{missed:?}");
    let status = daemon.service.status(at(58)).await.expect("status");
    assert_eq!(status.missed.len(), 1, "status shows the missed window");
    let history = daemon.service.history(None, 10).await.expect("history");
    assert!(
        history.iter().any(|entry| entry.action == "window_missed"),
        "{history:?}"
    );
    daemon.sim.shutdown().await;
}

#[tokio::test]
async fn after_a_forward_clock_jump_what_ended_is_restored_and_what_opened_is_held() {
    let windows = format!("{}\n{}", once("early", 60, 120), once("later", 300, 360));
    let daemon = Daemon::start(&windows).await;
    let before = daemon.state();
    assert_eq!(daemon.pass(at(90)).await, PAUSED);
    assert_eq!(daemon.holding(at(90)).await, ["early"]);

    // The clock jumps three hours ahead: the next pass sees `early` over and `later` open.
    assert_eq!(daemon.pass(at(330)).await, PAUSED);
    assert_eq!(daemon.holding(at(330)).await, ["later"]);
    let history = daemon.service.history(None, 50).await.expect("history");
    assert!(
        history.iter().any(|entry| entry.action == "hold_expired"),
        "the first window's hold expired: {history:?}"
    );
    assert_eq!(daemon.pass(at(360)).await, 0);
    assert_eq!(daemon.state(), before, "exact restore");
    daemon.sim.shutdown().await;
}
