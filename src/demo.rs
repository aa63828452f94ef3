//! `pauseplay demo`: the whole job on this machine with no Salesforce account.
//!
//! It starts the built-in simulated org and the real daemon in-process (its own state
//! directory and control socket in a private temporary directory), shows the plan, then lets a
//! real maintenance window open a few seconds later and close a few seconds after that, with
//! no command issued, and checks the org is exactly as before. Then it acts as the operator
//! through the control socket: a manual pause, `status`, and a resume. It returns an error
//! unless every component ended exactly where it started, both times.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::automation::{Kind, Scope, discover};
use crate::commands::client_settings;
use crate::commands::remote::{pause_text, resume_text, status_text};
use crate::commands::windows::windows_text;
use crate::config::{
    Config, DaemonConfig, LogFormat, OrgConfig, SecretSource, TriggerTestLevel, WindowConfig,
    WindowWhen,
};
use crate::control::ControlClient;
use crate::control::protocol::{Event, OrgOutcome, Request, ResultBody, StatusView};
use crate::engine::production_test_level;
use crate::plan::{OrgPlan, PlanApi, render_text};
use crate::salesforce::{ApiVersion, OrgClient, PollPolicy};
use crate::sim::{Scenario, SimHandle, SimServer};

/// The name the demo org goes by.
const DEMO_ORG: &str = "demo";

/// How long the demo waits for its daemon to answer.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

/// The demo window opens this long after the demo starts, and stays open this long.
const WINDOW_OPENS_IN: SignedDuration = SignedDuration::from_secs(5);
const WINDOW_LASTS: SignedDuration = SignedDuration::from_secs(8);

/// How long the demo waits for the window's pause or restore before it gives up.
const WINDOW_DEADLINE: Duration = Duration::from_secs(60);

/// The demo's daemon polls trigger deploys this fast: the simulated org finishes one in three
/// polls, and a real org's default (1 s, doubling) would only make the demo slow.
const DEMO_POLLS: PollPolicy =
    PollPolicy::doubling(Duration::from_millis(100), Duration::from_millis(500));

/// Where the demo's daemon serves its metrics, when the port is free: the address the example
/// configuration uses, so `curl 127.0.0.1:9464/metrics` works while the demo runs.
const DEMO_METRICS: &str = "127.0.0.1:9464";

/// Runs the demo and returns what it shows, or why it failed.
pub async fn run() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("could not bind a loopback port for the simulated org")?;
    let sim = SimServer::start(Scenario::demo(), listener).await?;
    let work = WorkDir::create()?;
    let result = run_against(&sim, work.path()).await;
    sim.shutdown().await;
    drop(work);
    result
}

/// A private temporary directory for the demo's state and socket, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> anyhow::Result<WorkDir> {
        let path = std::env::temp_dir().join(format!("pauseplay-demo-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(WorkDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn demo_config(
    sim: &SimHandle,
    dir: &Path,
    window: WindowConfig,
    metrics_listen: Option<SocketAddr>,
) -> Config {
    let org = OrgConfig {
        name: DEMO_ORG.to_owned(),
        url: sim.base_url(),
        client_id: sim.client_id().to_owned(),
        client_secret: SecretString::from(sim.client_secret().to_owned()),
        secret_source: SecretSource::BuiltIn,
        api_version: ApiVersion::DEFAULT,
        kinds: Kind::ALL.into_iter().collect::<BTreeSet<_>>(),
        objects: None,
        exclude: Vec::new(),
        include_managed: false,
        trigger_test_level: TriggerTestLevel::default(),
        trigger_tests: Vec::new(),
    };
    Config {
        path: PathBuf::from("(built-in demo configuration)"),
        daemon: DaemonConfig {
            state_dir: dir.join("state"),
            socket: dir.join("control.sock"),
            socket_group: None,
            // Seconds, not the default minutes: the demo's window is seconds away.
            lead_time: Duration::from_secs(1),
            min_remaining: Duration::from_secs(2),
            manual_pause_default: DaemonConfig::DEFAULT_MANUAL_PAUSE,
            manual_pause_max: DaemonConfig::DEFAULT_MANUAL_PAUSE_MAX,
            log_format: LogFormat::Text,
            metrics_listen,
            api_usage_alert_percent: DaemonConfig::DEFAULT_API_USAGE_ALERT_PERCENT,
        },
        orgs: BTreeMap::from([(DEMO_ORG.to_owned(), org)]),
        windows: vec![window],
        notify: Vec::new(),
        warnings: Vec::new(),
    }
}

async fn run_against(sim: &SimHandle, dir: &Path) -> anyhow::Result<String> {
    let before = org_state(sim);
    let opens = Timestamp::now()
        .checked_add(WINDOW_OPENS_IN)
        .context("the clock is out of range")?
        .round(jiff::Unit::Second)?;
    let closes = opens.checked_add(WINDOW_LASTS)?;
    let window = WindowConfig {
        name: "demo-window".to_owned(),
        orgs: vec![DEMO_ORG.to_owned()],
        when: WindowWhen::once(opens, closes)?,
        kinds: None,
        objects: None,
    };
    let metrics = free_metrics_address();
    let config = demo_config(sim, dir, window, metrics);
    let mut out = String::new();
    let _ = writeln!(out, "pauseplay demo: simulated org at {}", sim.base_url());
    match metrics {
        Some(addr) => {
            let _ = writeln!(
                out,
                "Metrics: http://{addr}/metrics (curl it while the demo runs)\n"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Metrics: not served, {DEMO_METRICS} is in use by another process\n"
            );
        }
    }

    // 1. The plan, read-only.
    let org_config = &config.orgs[DEMO_ORG];
    let planner = OrgClient::new(client_settings(org_config))?;
    let discovery = discover(&planner, &Scope::from_org(org_config)).await?;
    let production_tests = production_test_level(
        org_config.trigger_test_level,
        org_config.trigger_tests.clone(),
    );
    let plan = OrgPlan {
        org: DEMO_ORG,
        api_version: org_config.api_version,
        discovery: &discovery,
        production_tests: &production_tests,
        api: Some(PlanApi {
            discovery_calls: planner.api_calls(),
            usage: planner.api_usage(),
        }),
    };
    out.push_str(&render_text(&plan));
    ensure!(plan.pause_count() > 0, "the demo org has nothing to pause");
    ensure!(
        org_state(sim) == before,
        "planning changed the simulated org"
    );

    let _ = writeln!(out, "\n$ pauseplay windows");
    out.push_str(&windows_text(&config, 1, Timestamp::now()));

    // 2. The daemon, as systemd would run it, on a private socket.
    let socket = config.daemon.socket.clone();
    let paused = plan.pause_count() as u64;
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(crate::daemon::run_with_engines(
        config,
        shutdown.clone(),
        |engine| engine.with_poll_policy(DEMO_POLLS),
    ));
    let operated = async {
        let mut client = connect(&socket).await?;
        watch_window(&mut client, paused, opens, closes, metrics, &mut out).await?;
        ensure!(
            org_state(sim) == before,
            "the simulated org does not match its state before the window"
        );
        let _ = writeln!(
            out,
            "\nThe window closed and the org is exactly as it was before it opened."
        );
        operate(&mut client, &mut out).await
    }
    .await;
    shutdown.cancel();
    let stopped = daemon
        .await
        .context("the demo daemon stopped unexpectedly")?;
    operated?;
    stopped?;

    // 3. The check.
    ensure!(
        org_state(sim) == before,
        "the simulated org does not match its state before the pause"
    );
    let _ = writeln!(
        out,
        "\nThe simulated org is exactly as it was before the pause (flows with their versions, \
         rules with their definitions, triggers with their bodies)."
    );
    Ok(out)
}

/// The simulated org's components, without the log of the deploys it ran: switching triggers
/// adds deploys, and the org is compared, not its history.
fn org_state(sim: &SimHandle) -> serde_json::Value {
    let mut snapshot = sim.snapshot();
    if let Some(map) = snapshot.as_object_mut() {
        map.remove("deploys");
    }
    snapshot
}

/// Waits, with no command issued, for the window to pause the org and then restore it, showing
/// `status` at each point.
async fn watch_window(
    client: &mut ControlClient,
    paused: u64,
    opens: Timestamp,
    closes: Timestamp,
    metrics: Option<SocketAddr>,
    out: &mut String,
) -> anyhow::Result<()> {
    let _ = writeln!(
        out,
        "\n(no command: the daemon pauses the org by itself before the window opens at {opens})"
    );
    let status = wait_for(client, |status| org_paused(status) == Some(paused)).await?;
    let _ = writeln!(out, "\n$ pauseplay status");
    out.push_str(&status_text(&status));
    if let Some(addr) = metrics {
        out.push_str(&scrape_held(addr, paused).await?);
    }
    let _ = writeln!(
        out,
        "\n(no command: the daemon restores the org when the window closes at {closes})"
    );
    let status = wait_for(client, |status| {
        org_paused(status) == Some(0) && status.holds.is_empty()
    })
    .await?;
    let _ = writeln!(out, "\n$ pauseplay status");
    out.push_str(&status_text(&status));
    Ok(())
}

/// `DEMO_METRICS` when nothing listens there yet (the daemon binds it a moment later).
fn free_metrics_address() -> Option<SocketAddr> {
    let addr: SocketAddr = DEMO_METRICS.parse().ok()?;
    std::net::TcpListener::bind(addr).ok().map(|_| addr)
}

/// Scrapes the daemon's metrics as Prometheus would and shows the lines an operator looks at
/// while a window holds the org: the held components, the holds and the API usage. Checks the
/// held components add up to `paused`.
async fn scrape_held(addr: SocketAddr, paused: u64) -> anyhow::Result<String> {
    let url = format!("http://{addr}/metrics");
    let body = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("scraping {url}"))?
        .text()
        .await
        .with_context(|| format!("reading {url}"))?;
    let shown: Vec<&str> = body
        .lines()
        .filter(|line| {
            let held = line.starts_with("pauseplay_components{")
                && line.contains("state=\"paused\"")
                && !line.ends_with(" 0");
            held || line.starts_with("pauseplay_holds_active{source=\"window\"}")
                || line.starts_with("pauseplay_api_")
        })
        .collect();
    let held: u64 = shown
        .iter()
        .filter(|line| line.starts_with("pauseplay_components{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    ensure!(
        held == paused,
        "the metrics show {held} held components, status {paused}"
    );
    let mut out = format!("\n$ curl -s {url} | grep -E 'state=\"paused\"|holds_active|api_'\n");
    for line in shown {
        let _ = writeln!(out, "{line}");
    }
    Ok(out)
}

fn org_paused(status: &StatusView) -> Option<u64> {
    status
        .orgs
        .iter()
        .find(|org| org.org == DEMO_ORG)
        .filter(|org| org.pausing == 0 && org.restoring == 0)
        .map(|org| org.paused)
}

/// Asks for `status` until `done` holds for it, with a deadline.
async fn wait_for(
    client: &mut ControlClient,
    done: impl Fn(&StatusView) -> bool,
) -> anyhow::Result<StatusView> {
    let started = Instant::now();
    loop {
        if let ResultBody::Status(status) = client.request(Request::Status {}, |_| {}).await?
            && done(&status)
        {
            return Ok(status);
        }
        ensure!(
            started.elapsed() < WINDOW_DEADLINE,
            "the demo window did not pause and restore the org within {} s",
            WINDOW_DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pause, status and resume through the control socket, as an operator would.
async fn operate(client: &mut ControlClient, out: &mut String) -> anyhow::Result<()> {
    let _ = writeln!(
        out,
        "\n$ pauseplay pause now --org demo --for 10m --reason demo"
    );
    let pause = client
        .request(
            Request::PauseNow {
                orgs: vec![DEMO_ORG.to_owned()],
                duration_secs: Some(600),
                reason: Some("demo".to_owned()),
            },
            |event| progress_line(out, &event),
        )
        .await?;
    let ResultBody::Pause { holds, orgs } = pause else {
        bail!("the daemon answered the pause with `{}`", pause.kind());
    };
    out.push_str(&pause_text(&holds, &orgs));
    ensure_clean(&orgs)?;

    let _ = writeln!(out, "\n$ pauseplay status");
    if let ResultBody::Status(status) = client.request(Request::Status {}, |_| {}).await? {
        out.push_str(&status_text(&status));
    }

    let _ = writeln!(out, "\n$ pauseplay resume --org demo");
    let resume = client
        .request(
            Request::Resume {
                orgs: vec![DEMO_ORG.to_owned()],
                hold: None,
                window: None,
            },
            |event| progress_line(out, &event),
        )
        .await?;
    let ResultBody::Resume { released, orgs } = resume else {
        bail!("the daemon answered the resume with `{}`", resume.kind());
    };
    out.push_str(&resume_text(&released, &orgs));
    ensure_clean(&orgs)
}

/// Connects to the daemon, waiting (with a deadline) for it to open its socket.
async fn connect(socket: &Path) -> anyhow::Result<ControlClient> {
    let started = Instant::now();
    loop {
        match ControlClient::connect(socket).await {
            Ok(client) => return Ok(client),
            Err(error) if error.is_unreachable() && started.elapsed() < STARTUP_DEADLINE => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

fn progress_line(out: &mut String, event: &Event) {
    if let Event::Progress {
        org,
        phase,
        done,
        total,
    } = event
        && *total > 0
    {
        let _ = writeln!(out, "  org `{org}`: {phase:?} {done}/{total}");
    }
}

/// The demo passes only if every org converged with no failure and no conflict.
fn ensure_clean(orgs: &[OrgOutcome]) -> anyhow::Result<()> {
    for org in orgs {
        if let Some(error) = &org.error {
            bail!("org `{}` stopped: {error}", org.org);
        }
        ensure!(
            org.failed.is_empty() && org.conflicts.is_empty(),
            "org `{}` has failures or conflicts: {:?} {:?}",
            org.org,
            org.failed,
            org.conflicts
        );
    }
    Ok(())
}
