//! The crash matrix: `kill -9` of the real daemon at chosen steps of a pause and of a
//! restore of a 510-component org (all five kinds, triggers included), as a sandbox and as a
//! production org, each followed by a restart that finishes the work.
//!
//! Crash points are deterministic: the simulated org freezes at the N-th request of a class
//! after the command is sent (`pauseplay::sim::freeze`), either after processing it
//! (`applied`: the write lands, the daemon never learns) or before (`not_applied`), and the
//! test kills the daemon once the org is frozen. The point is chosen from the request log of
//! an uncrashed run of the same org, at every journal step boundary, and named by its class
//! and occurrence (the daemon's concurrent reads arrive in varying order): the first and the last request, discovery,
//! the read the write-ahead waits for, every write (flows, Process Builders and rules share
//! composite calls, so kinds meet inside them) and the request after the last, the trigger
//! deploy's start and each of its polls.
//!
//! A production org differs from a sandbox only in its trigger deploys (they run tests), so
//! the production matrix crashes at the trigger steps, the first and last request and each
//! write (applied only); the sandbox matrix at every boundary, in both modes.
//!
//! A case crashes a pause at one point and the restore that follows at another (each
//! restarted and finished before the next step), so every point costs half a case. After
//! the pause the org must equal the uncrashed run's paused org with every pausable
//! component written once; at the end (a) the org equals the initial one exactly, (b) every
//! pausable component was written exactly once to pause and once to restore, nothing else
//! was written and no write was needless (the sim's write tally), and (c) the CLI whose
//! daemon was killed did not report success.
//!
//! `PAUSEPLAY_CRASH_MATRIX_ALL=1` crashes at every request of both phases in both modes
//! (146 points in 86 cases per org type) instead of the chosen boundaries. That is too long
//! for CI: 6 min 40 s on two cores shared with other work, against about 2 min for the
//! boundaries.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pauseplay::sim::{FreezeAt, FreezeMode, Scenario, SeenRequest, WriteCount};
use serde_json::Value;
use tokio::sync::Semaphore;

use common::daemon::{DEADLINE, DaemonProcess, Setup, cli, org_state, status};

/// Set to crash at every request of both phases in both modes.
const ALL_POINTS_VAR: &str = "PAUSEPLAY_CRASH_MATRIX_ALL";

/// How many cases run at once, across both tests of this binary: each is a daemon process and
/// a simulated org, about half the time waiting on each other and on the 1 s between deploy
/// polls, so five keep two cores busy.
static CASE_SLOTS: Semaphore = Semaphore::const_new(5);

/// A 510-component org: every kind, triggers included, on standard and custom objects.
/// Deploys answer `InProgress` on their first poll and complete on the second (1 s later in
/// the real binary), so a deploy has a poll inside it to crash at and costs 1 s.
fn org(is_sandbox: bool) -> Scenario {
    Scenario::from_toml_str(&format!(
        "[org]\nname = \"Crash Matrix Org\"\nis_sandbox = {is_sandbox}\n\n\
         [deploy]\npending_polls = 0\nin_progress_polls = 1\n\n\
         [generate]\nseed = 6\nflows = 160\nprocess_builders = 60\nvalidation_rules = 150\n\
         workflow_rules = 100\ntriggers = 40\ncustom_objects = 5\n"
    ))
    .expect("scenario")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Pause,
    Restore,
}

/// What an uncrashed pause and restore of the org do.
#[derive(Debug)]
struct Baseline {
    initial: Value,
    paused_state: Value,
    /// The requests of the pause and of the restore, in order.
    pause: Vec<SeenRequest>,
    restore: Vec<SeenRequest>,
    /// Components a pause switches (each written once to pause, once to restore).
    pausable: BTreeSet<String>,
    paused: u64,
}

impl Baseline {
    fn log(&self, phase: Phase) -> &[SeenRequest] {
        match phase {
            Phase::Pause => &self.pause,
            Phase::Restore => &self.restore,
        }
    }
}

async fn baseline(is_sandbox: bool) -> Baseline {
    let setup = Setup::new(org(is_sandbox)).await;
    let initial = org_state(&setup.sim);
    let _daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;
    let start = setup.sim.requests_seen();
    let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--for", "1h"]).await;
    assert_eq!(code, 0, "{stderr}");
    let paused_at = setup.sim.requests_seen();
    let paused_state = org_state(&setup.sim);
    let paused = status(&setup.config).await["orgs"][0]["paused"]
        .as_u64()
        .expect("paused count");
    let (code, _, stderr) = cli(&setup.config, &["resume"]).await;
    assert_eq!(code, 0, "{stderr}");
    let end = setup.sim.requests_seen();
    assert_eq!(org_state(&setup.sim), initial, "the uncrashed run is exact");
    let writes = setup.sim.writes();
    let pausable: BTreeSet<String> = writes.keys().cloned().collect();
    assert_eq!(pausable.len() as u64, paused);
    assert_writes(&writes, &pausable, 2, "the uncrashed run");
    let log = setup.sim.request_log();
    let slice = |from: u64, to: u64| -> Vec<SeenRequest> {
        log.iter()
            .filter(|r| r.seq > from && r.seq <= to)
            .cloned()
            .collect()
    };
    let baseline = Baseline {
        initial,
        paused_state,
        pause: slice(start, paused_at),
        restore: slice(paused_at, end),
        pausable,
        paused,
    };
    setup.sim.shutdown().await;
    baseline
}

/// Every pausable component written `each` times, each write changing it; nothing else
/// written.
fn assert_writes(
    writes: &BTreeMap<String, WriteCount>,
    pausable: &BTreeSet<String>,
    each: u64,
    case: &str,
) {
    for id in pausable {
        assert_eq!(
            writes.get(id).copied().unwrap_or_default(),
            WriteCount {
                changed: each,
                needless: 0
            },
            "{case}: writes of component {id}"
        );
    }
    let strays: Vec<&String> = writes.keys().filter(|id| !pausable.contains(*id)).collect();
    assert!(
        strays.is_empty(),
        "{case}: written although a pause does not switch them: {strays:?}"
    );
}

/// A crash point: the `at`-th request of its phase (1-based), in `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    at: u64,
    mode: Mode,
}

/// [`FreezeMode`] with an order, so that points sort and deduplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    NotApplied,
    Applied,
}

impl Mode {
    fn freeze(self) -> FreezeMode {
        match self {
            Mode::NotApplied => FreezeMode::NotApplied,
            Mode::Applied => FreezeMode::Applied,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::NotApplied => "not_applied",
            Mode::Applied => "applied",
        }
    }
}

/// Where the reads of a phase end: the requests before its first write (a pause's discovery
/// and state reads, a restore's state reads).
fn reads_len(log: &[SeenRequest]) -> usize {
    log.iter()
        .position(|r| r.class == "composite_write" || r.class == "deploy_request")
        .unwrap_or(0)
}

/// Which steps a matrix crashes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Every request, in both modes.
    All,
    /// Every journal step boundary (see the module docs).
    Boundaries,
    /// The boundaries where a production org differs from a sandbox: the trigger steps (its
    /// deploys run tests), plus the first and last request and each write (applied).
    /// Flows and rules take the same path in both.
    Production,
}

/// The crash points of one phase, from its uncrashed request log (see the module docs).
fn points(log: &[SeenRequest], coverage: Coverage) -> BTreeSet<Point> {
    let at = |index: usize, mode: Mode| Point {
        at: index as u64 + 1,
        mode,
    };
    let both = |index: usize| [at(index, Mode::NotApplied), at(index, Mode::Applied)];
    let mut points = BTreeSet::new();
    if coverage == Coverage::All {
        points.extend((0..log.len()).flat_map(both));
        return points;
    }
    let every = coverage == Coverage::Boundaries;
    let class = |index: usize| log[index].class;
    let last = log.len() - 1;
    points.extend(both(0));
    points.extend(both(last));
    let discovery = reads_len(log);
    if every && discovery > 2 {
        points.insert(at(discovery / 2, Mode::Applied));
        points.insert(at(discovery - 1, Mode::Applied));
    }
    // A run of composite writes carries flows, Process Builders and rules together, the
    // kinds meeting inside a call: every write of it (sent and not confirmed; in the sandbox
    // also journaled and not sent), the read its write-ahead waits for, and the request after
    // it (the flows' read-back).
    let mut index = 0;
    while index <= last {
        if class(index) != "composite_write" {
            index += 1;
            continue;
        }
        let first = index;
        while index <= last && class(index) == "composite_write" {
            points.insert(at(index, Mode::Applied));
            if every {
                points.insert(at(index, Mode::NotApplied));
            }
            index += 1;
        }
        if !every {
            continue;
        }
        if first > 0 {
            points.insert(at(first - 1, Mode::Applied));
        }
        if index <= last {
            points.insert(at(index, Mode::NotApplied));
        }
    }
    // The trigger deploy: the read of the bodies, its start, each poll.
    for index in 0..=last {
        match class(index) {
            "deploy_request" => {
                points.insert(at(index - 1, Mode::Applied));
                points.extend(both(index));
            }
            "deploy_poll" => points.extend(both(index)),
            _ => {}
        }
    }
    points
}

/// One case: a crash in the pause, in the restore, or both.
#[derive(Debug, Clone, Copy)]
struct Case {
    pause: Option<Point>,
    restore: Option<Point>,
}

/// Pairs the pause points with the restore points, in order.
fn cases(pause: &BTreeSet<Point>, restore: &BTreeSet<Point>) -> Vec<Case> {
    let mut pause = pause.iter().copied();
    let mut restore = restore.iter().copied();
    let mut cases = Vec::new();
    loop {
        let case = Case {
            pause: pause.next(),
            restore: restore.next(),
        };
        if case.pause.is_none() && case.restore.is_none() {
            return cases;
        }
        cases.push(case);
    }
}

/// What one case measured.
#[derive(Debug, Default)]
struct Figures {
    writes: u64,
    needless: u64,
    lost: u64,
}

/// Components (by id) whose state differs between two snapshots.
fn differing(before: &Value, after: &Value) -> u64 {
    let entries = |snapshot: &Value| -> BTreeMap<String, Value> {
        ["flows", "validation_rules", "workflow_rules", "triggers"]
            .iter()
            .flat_map(|list| snapshot[*list].as_array().cloned().unwrap_or_default())
            .filter_map(|entry| Some((entry["id"].as_str()?.to_owned(), entry)))
            .collect()
    };
    let (before, after) = (entries(before), entries(after));
    let ids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    ids.into_iter()
        .filter(|id| before.get(*id) != after.get(*id))
        .count() as u64
}

/// Waits (with the deadline) until the org is `target` and `status` shows no step in flight
/// and `paused` components paused. The org is watched in-process and `status` asked only
/// once it looks done (or every second), because each `status` is a CLI process and this
/// binary runs a hundred cases on two cores.
async fn settled(setup: &Setup, target: &Value, paused: u64, case: &str) {
    let started = Instant::now();
    let mut asked = Instant::now();
    loop {
        let looks_done = org_state(&setup.sim) == *target;
        if looks_done || asked.elapsed() >= Duration::from_secs(1) {
            asked = Instant::now();
            let report = status(&setup.config).await;
            let org = &report["orgs"][0];
            if org["pausing"] == 0 && org["restoring"] == 0 && org["paused"] == paused {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{case}: did not settle: {report}\n{}",
                log_tails(setup)
            );
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{case}: did not settle\n{}",
            log_tails(setup)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last lines of every daemon log of a case, for a failure message: the temporary
/// directory is gone once the test fails.
fn log_tails(setup: &Setup) -> String {
    let mut logs: Vec<_> = std::fs::read_dir(setup.dir.path())
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    logs.retain(|path| path.extension().is_some_and(|ext| ext == "log"));
    logs.sort();
    logs.iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("--- {} (last 30 lines)\n{tail}", path.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sends the phase's command, kills the daemon at `point`, checks that the command did not
/// report success, thaws the org and starts a new daemon, which is returned.
async fn crash(
    setup: &Setup,
    base: &Baseline,
    phase: Phase,
    point: Point,
    mut daemon: DaemonProcess,
    case: &str,
) -> DaemonProcess {
    // The point's request named by class and occurrence: the daemon's concurrent requests
    // (discovery's queries, the state reads, the flows' read-back beside the trigger deploy)
    // arrive in varying order, so "the N-th request" is not the same request in every run.
    let log = base.log(phase);
    let index = point.at as usize - 1;
    let class = log[index].class;
    let occurrence = log[..=index].iter().filter(|r| r.class == class).count();
    setup
        .sim
        .freeze_at(FreezeAt {
            at: occurrence as u64,
            mode: point.mode.freeze(),
            class: Some(class.to_owned()),
        })
        .expect("arm the crash point");
    let config = setup.config.clone();
    let command = tokio::spawn(async move {
        match phase {
            Phase::Pause => cli(&config, &["pause", "now", "--for", "1h"]).await,
            Phase::Restore => cli(&config, &["resume"]).await,
        }
    });
    let started = Instant::now();
    while !setup.sim.frozen() {
        assert!(
            !command.is_finished(),
            "{case}: the {phase:?} ended before its crash point"
        );
        assert!(
            started.elapsed() < DEADLINE,
            "{case}: the {phase:?} never reached its crash point"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.kill9();
    drop(daemon);
    let (code, stdout, stderr) = command.await.expect("the CLI finished");
    assert_ne!(
        code, 0,
        "{case}: the CLI reported success although its daemon was killed:\n{stdout}\n{stderr}"
    );
    setup.sim.thaw();
    let log = match phase {
        Phase::Pause => "daemon-after-pause-crash.log",
        Phase::Restore => "daemon-after-restore-crash.log",
    };
    DaemonProcess::start(&setup.config, &setup.log(log)).await
}

fn describe(base: &Baseline, phase: Phase, point: Option<Point>) -> String {
    match point {
        Some(point) => format!(
            "{phase:?} request {} ({}) {}",
            point.at,
            base.log(phase)[point.at as usize - 1].class,
            point.mode.name()
        ),
        None => format!("{phase:?} uncrashed"),
    }
}

/// Runs one case (see the module docs) and checks it.
async fn crash_case(is_sandbox: bool, base: &Baseline, case: Case) -> Figures {
    let label = format!(
        "{}: {}, {}",
        if is_sandbox { "sandbox" } else { "production" },
        describe(base, Phase::Pause, case.pause),
        describe(base, Phase::Restore, case.restore),
    );
    let setup = Setup::new(org(is_sandbox)).await;
    let mut daemon = DaemonProcess::start(&setup.config, &setup.log("daemon.log")).await;

    match case.pause {
        Some(point) => {
            daemon = crash(&setup, base, Phase::Pause, point, daemon, &label).await;
            settled(&setup, &base.paused_state, base.paused, &label).await;
        }
        None => {
            let (code, _, stderr) = cli(&setup.config, &["pause", "now", "--for", "1h"]).await;
            assert_eq!(code, 0, "{label}: {stderr}");
        }
    }
    assert!(
        org_state(&setup.sim) == base.paused_state,
        "{label}: the org is not paused as an uncrashed pause leaves it"
    );
    assert_writes(&setup.sim.writes(), &base.pausable, 1, &label);

    match case.restore {
        Some(point) => {
            let restarted = crash(&setup, base, Phase::Restore, point, daemon, &label).await;
            settled(&setup, &base.initial, 0, &label).await;
            drop(restarted);
        }
        None => {
            let (code, stdout, stderr) = cli(&setup.config, &["resume"]).await;
            assert_eq!(code, 0, "{label}: {stdout}\n{stderr}");
            drop(daemon);
        }
    }
    let after = org_state(&setup.sim);
    let lost = differing(&base.initial, &after);
    assert_eq!(lost, 0, "{label}: components not as they started");
    assert!(
        after == base.initial,
        "{label}: the org does not end exactly as it started"
    );
    let writes = setup.sim.writes();
    assert_writes(&writes, &base.pausable, 2, &label);
    setup.sim.shutdown().await;
    Figures {
        writes: writes.values().map(|w| w.changed + w.needless).sum(),
        needless: writes.values().map(|w| w.needless).sum(),
        lost,
    }
}

async fn matrix(is_sandbox: bool) {
    let started = Instant::now();
    let kind = if is_sandbox { "sandbox" } else { "production" };
    let base = Arc::new(baseline(is_sandbox).await);
    let coverage = if std::env::var_os(ALL_POINTS_VAR).is_some() {
        Coverage::All
    } else if is_sandbox {
        Coverage::Boundaries
    } else {
        Coverage::Production
    };
    let pause = points(&base.pause, coverage);
    let restore = points(&base.restore, coverage);
    let least = if coverage == Coverage::Production {
        12
    } else {
        20
    };
    assert!(
        pause.len() >= least && restore.len() >= least,
        "{kind}: {} pause and {} restore points",
        pause.len(),
        restore.len()
    );
    let cases = cases(&pause, &restore);

    let mut running = tokio::task::JoinSet::new();
    for case in cases.iter().copied() {
        let base = Arc::clone(&base);
        running.spawn(async move {
            let _slot = CASE_SLOTS
                .acquire()
                .await
                .expect("the slots are never closed");
            crash_case(is_sandbox, &base, case).await
        });
    }
    let mut total = Figures::default();
    let mut failures = Vec::new();
    while let Some(done) = running.join_next().await {
        match done {
            Ok(figures) => {
                total.writes += figures.writes;
                total.needless += figures.needless;
                total.lost += figures.lost;
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{kind}: {} of {} cases failed: {failures:#?}",
        failures.len(),
        cases.len()
    );
    let applied = pause
        .iter()
        .chain(&restore)
        .filter(|p| p.mode == Mode::Applied)
        .count();
    let components: usize = ["flows", "validation_rules", "workflow_rules", "triggers"]
        .iter()
        .map(|list| base.initial[*list].as_array().map_or(0, Vec::len))
        .sum();
    println!(
        "crash matrix ({kind}): {} crash points in {} cases ({} in a pause of {} requests, {} in \
         a restore of {}; {applied} applied, {} not applied), {components} components ({} \
         pausable), {} writes counted, {} needless, {} components lost, {:.0?}",
        pause.len() + restore.len(),
        cases.len(),
        pause.len(),
        base.pause.len(),
        restore.len(),
        base.restore.len(),
        pause.len() + restore.len() - applied,
        base.paused,
        total.writes,
        total.needless,
        total.lost,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_journal_step_of_a_sandbox_pause_and_restore_ends_exact() {
    matrix(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_every_journal_step_of_a_production_pause_and_restore_ends_exact() {
    matrix(false).await;
}
