//! The benchmark's cases (issue 7), shared by `benches/pauseplay.rs`, which runs them at full
//! size and prints the figures, and `tests/bench_smoke.rs`, which runs them small and checks
//! only that they run and never spend fewer calls than the floor.
//!
//! Every case starts simulated orgs in-process on loopback with a fixed latency per request
//! and a server cost per composite item (`faults.latency`, `faults.subrequest_cost`), and
//! drives the daemon's own `Service` (journal, planning and engines included). Calls are the
//! org's `api_requests` counter (what it charges); tokens its `token` counter.

#![allow(dead_code, reason = "the smoke test uses a subset")]

pub mod cases;
pub mod measure;
pub mod naive;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jiff::Timestamp;
use pauseplay::automation::{Discovery, Scope, discover};
use pauseplay::config::Config;
use pauseplay::daemon::service::{OrgReport, Release, Service};
use pauseplay::engine::{Outcome, Progress};
use pauseplay::floor::{Floor, Work};
use pauseplay::salesforce::{ApiVersion, ClientSettings, OrgClient, PollPolicy, RetryPolicy};
use pauseplay::sim::{GenerateSpec, Scenario, SimHandle, SimServer};
use pauseplay::store::{Actor, Store};
use secrecy::SecretString;
use tempfile::TempDir;

use measure::SpanTimes;

/// The simulated org's query page size (Salesforce's).
pub const PAGE_SIZE: u64 = 2_000;

/// Polls a simulated deploy takes (`[deploy]` defaults: 1 pending, 2 in progress, then done).
pub const DEPLOY_POLLS: u64 = 4;

/// Sizes and timings of one run.
#[derive(Debug, Clone)]
pub struct Profile {
    pub latency: Duration,
    pub per_item: Duration,
    /// Case (a): one sandbox org.
    pub one_org: GenerateSpec,
    /// Case (b): each of the parallel orgs.
    pub each_org: GenerateSpec,
    pub orgs: usize,
    /// Case (c): the large org.
    pub large_org: GenerateSpec,
    /// How long the idle daemon's CPU is watched.
    pub idle_for: Duration,
    /// Deploy polling; `None` is the daemon's own (1 s, doubling). The smoke test polls at
    /// once so that it adds little to `cargo test`.
    pub polls: Option<PollPolicy>,
}

fn spec(
    flows: usize,
    validation_rules: usize,
    workflow_rules: usize,
    triggers: usize,
) -> GenerateSpec {
    GenerateSpec {
        seed: 7,
        flows,
        process_builders: 0,
        validation_rules,
        workflow_rules,
        triggers,
        custom_objects: 5,
    }
}

impl Profile {
    /// The sizes issue 7 names, 50 ms per request and 2 ms per composite item.
    pub fn full() -> Profile {
        Profile {
            latency: Duration::from_millis(50),
            per_item: Duration::from_millis(2),
            one_org: spec(1_000, 300, 100, 20),
            each_org: spec(200, 60, 30, 10),
            orgs: 10,
            large_org: spec(6_000, 2_000, 1_500, 500),
            idle_for: Duration::from_secs(60),
            polls: None,
        }
    }

    /// Small and fast: for the smoke test and `cargo bench -- --quick`.
    pub fn quick() -> Profile {
        Profile {
            latency: Duration::from_millis(1),
            per_item: Duration::ZERO,
            one_org: spec(40, 12, 8, 3),
            each_org: spec(12, 4, 3, 2),
            orgs: 3,
            large_org: spec(120, 40, 30, 10),
            idle_for: Duration::ZERO,
            polls: Some(PollPolicy::doubling(
                Duration::from_millis(1),
                Duration::from_millis(1),
            )),
        }
    }
}

/// The figures of one operation.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub calls: u64,
    pub tokens: u64,
    pub wall: Duration,
    /// Requests by class (`docs/sim-scenarios.md`, crash points), summed over the orgs: where
    /// the calls above the floor go.
    pub classes: BTreeMap<&'static str, u64>,
    /// Each request's arrival from the operation's start, with its org and class, in order:
    /// where the wall time above the floor goes (`--timeline`).
    pub timeline: Vec<(Duration, usize, &'static str)>,
}

/// One operation measured against its floor, with the naive approach when it was run.
#[derive(Debug, Clone)]
pub struct Figures {
    pub case: String,
    pub run: Run,
    pub floor: Floor,
    pub floor_wall: Duration,
    pub naive: Option<Run>,
    /// Components switched.
    pub switched: u64,
}

impl Figures {
    pub fn line(&self) -> String {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        let mut line = format!(
            "{:<34} switched {:>5} | calls {:>5} (floor {:>4}, {:>5.2}x) tokens {} | wall {:>8.2}s (floor {:>6.2}s, {:>5.2}x)",
            self.case,
            self.switched,
            self.run.calls,
            self.floor.calls,
            ratio(self.run.calls as f64, self.floor.calls as f64),
            self.run.tokens,
            self.run.wall.as_secs_f64(),
            self.floor_wall.as_secs_f64(),
            ratio(self.run.wall.as_secs_f64(), self.floor_wall.as_secs_f64()),
        );
        if let Some(naive) = &self.naive {
            let _ = write!(
                line,
                " | naive calls {:>5} ({:.1}x ours) wall {:>7.2}s ({:.1}x ours)",
                naive.calls,
                ratio(naive.calls as f64, self.run.calls as f64),
                naive.wall.as_secs_f64(),
                ratio(naive.wall.as_secs_f64(), self.run.wall.as_secs_f64()),
            );
        }
        line
    }

    /// Our run's requests one per line: arrival (ms from the first), the gap since the one
    /// before, org and class.
    pub fn timeline(&self) -> String {
        let mut previous = Duration::ZERO;
        self.run
            .timeline
            .iter()
            .map(|&(at, org, class)| {
                let gap = at - previous;
                previous = at;
                format!(
                    "    {:>8.1} ms  +{:>7.1}  org {org:<2} {class}",
                    at.as_secs_f64() * 1e3,
                    gap.as_secs_f64() * 1e3
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The requests of our run by class, e.g. `query 3, composite_write 41, ...`.
    pub fn classes(&self) -> String {
        self.run
            .classes
            .iter()
            .map(|(class, count)| format!("{class} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Simulated orgs, a config naming them (secrets in files) and a state directory.
pub struct Bench {
    pub profile: Profile,
    pub sims: Vec<SimHandle>,
    pub dir: TempDir,
    pub config: PathBuf,
    pub times: SpanTimes,
}

impl Bench {
    /// One org per spec, named `org0`, `org1`, ...
    pub async fn start(profile: &Profile, specs: &[GenerateSpec]) -> anyhow::Result<Bench> {
        let dir = tempfile::tempdir()?;
        let mut sims = Vec::new();
        for spec in specs {
            sims.push(start_sim(profile, spec).await?);
        }
        let config = write_config(dir.path(), &sims)?;
        Ok(Bench {
            profile: profile.clone(),
            sims,
            dir,
            config,
            times: SpanTimes::install(),
        })
    }

    pub fn org(index: usize) -> String {
        format!("org{index}")
    }

    /// The daemon's service over the config, on a fresh store.
    pub async fn service(&self) -> anyhow::Result<Service> {
        let config = Config::load(&self.config).map_err(|errors| anyhow::anyhow!("{errors}"))?;
        let store = Store::open(&self.dir.path().join("state")).await?;
        let polls = self.profile.polls;
        Service::with_engines(config, store, |engine| match polls {
            Some(polls) => engine.with_poll_policy(polls),
            None => engine,
        })
    }

    /// A client of org `index` with the daemon's settings.
    pub fn client(&self, index: usize) -> anyhow::Result<OrgClient> {
        let sim = &self.sims[index];
        Ok(OrgClient::new(ClientSettings {
            org: Bench::org(index),
            login_url: sim.base_url(),
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
            api_version: ApiVersion::new(66),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        })?)
    }

    /// Discovers org `index` with its own client (not counted in any case) and resets the
    /// org's counters.
    pub async fn discover(&self, index: usize) -> anyhow::Result<Discovery> {
        let config = Config::load(&self.config).map_err(|errors| anyhow::anyhow!("{errors}"))?;
        let org = config
            .orgs
            .get(&Bench::org(index))
            .context("org in config")?;
        let discovery = discover(&self.client(index)?, &Scope::from_org(org)).await?;
        self.sims[index].reset_counters();
        Ok(discovery)
    }

    /// Clears the counters of `orgs`; returns how many requests each had seen, to pick
    /// this operation's requests out of the request log later.
    fn reset(&self, orgs: &[usize]) -> Vec<u64> {
        orgs.iter()
            .map(|&index| {
                self.sims[index].reset_counters();
                self.sims[index].requests_seen()
            })
            .collect()
    }

    /// What `orgs` were charged since [`Bench::reset`] returned `marks`.
    fn charged(&self, orgs: &[usize], marks: &[u64], wall: Duration) -> Run {
        let mut run = Run {
            wall,
            ..Run::default()
        };
        for (&index, &mark) in orgs.iter().zip(marks) {
            let counters = self.sims[index].counters();
            let get = |name: &str| counters.get(name).copied().unwrap_or(0);
            run.calls += get("api_requests");
            run.tokens += get("token");
            for request in self.sims[index].request_log() {
                if request.seq > mark {
                    *run.classes.entry(request.class).or_default() += 1;
                    run.timeline.push((request.at, index, request.class));
                }
            }
        }
        run.timeline.sort();
        if let Some(&(first, ..)) = run.timeline.first() {
            for entry in &mut run.timeline {
                entry.0 -= first;
            }
        }
        run
    }

    /// Pauses `orgs` through the service (a manual pause), returning the figures and the
    /// components paused.
    pub async fn pause(&self, service: &Service, orgs: &[usize]) -> anyhow::Result<(Run, u64)> {
        let marks = self.reset(orgs);
        let names: Vec<String> = orgs.iter().map(|&i| Bench::org(i)).collect();
        let started = Instant::now();
        let report = service
            .pause_now(
                &actor(),
                &names,
                Some(Duration::from_secs(3_600)),
                Some("benchmark".to_owned()),
                Timestamp::now(),
                quiet(),
            )
            .await?;
        let wall = started.elapsed();
        let switched = switched(&report.orgs, |outcome| outcome.paused)?;
        Ok((self.charged(orgs, &marks, wall), switched))
    }

    /// Resumes `orgs` (releases the manual holds) through the service.
    pub async fn restore(&self, service: &Service, orgs: &[usize]) -> anyhow::Result<(Run, u64)> {
        let marks = self.reset(orgs);
        let names: Vec<String> = orgs.iter().map(|&i| Bench::org(i)).collect();
        let started = Instant::now();
        let report = service
            .resume(&actor(), &names, Release::Manual, Timestamp::now(), quiet())
            .await?;
        let wall = started.elapsed();
        let switched = switched(&report.orgs, |outcome| outcome.restored)?;
        Ok((self.charged(orgs, &marks, wall), switched))
    }

    /// The naive pause and restore of org `index` (a fresh client, so its token counts).
    pub async fn naive(&self, index: usize, discovery: &Discovery) -> anyhow::Result<(Run, Run)> {
        let client = self.client(index)?;
        let marks = self.reset(&[index]);
        let started = Instant::now();
        let saved = naive::pause(&client, &discovery.components).await?;
        let pause = self.charged(&[index], &marks, started.elapsed());
        let marks = self.reset(&[index]);
        let started = Instant::now();
        naive::restore(&client, &saved).await?;
        let restore = self.charged(&[index], &marks, started.elapsed());
        Ok((pause, restore))
    }

    pub fn floor_wall(&self, floor: &Floor) -> Duration {
        floor.wall(self.profile.latency, self.profile.per_item)
    }

    /// The sims' snapshots, to check a restore left each org exactly as it was.
    /// The list of accepted deploys is left out: a restore adds to it.
    pub fn snapshots(&self) -> Vec<serde_json::Value> {
        self.sims
            .iter()
            .map(|sim| {
                let mut snapshot = sim.snapshot();
                if let Some(state) = snapshot.as_object_mut() {
                    state.remove("deploys");
                }
                snapshot
            })
            .collect()
    }

    pub async fn shutdown(self) {
        for sim in self.sims {
            sim.shutdown().await;
        }
    }
}

/// The pause and restore floors of a discovered org.
pub fn floors(discovery: &Discovery) -> (Floor, Floor) {
    let pause = Work::pause(discovery, PAGE_SIZE, DEPLOY_POLLS);
    let flows = discovery
        .components
        .iter()
        .filter(|c| {
            c.will_pause()
                && matches!(
                    c.kind,
                    pauseplay::automation::Kind::Flow | pauseplay::automation::Kind::ProcessBuilder
                )
        })
        .count() as u64;
    let restore = Work::restore(&pause, flows, PAGE_SIZE);
    (pause.floor(), restore.floor())
}

/// A floor summed over orgs that run in parallel: calls add up, time is the longest.
pub fn parallel(floors: &[Floor]) -> Floor {
    floors.iter().fold(Floor::default(), |sum, floor| Floor {
        tokens: sum.tokens + floor.tokens,
        calls: sum.calls + floor.calls,
        round_trips: sum.round_trips.max(floor.round_trips),
        serial_items: sum.serial_items.max(floor.serial_items),
    })
}

fn actor() -> Actor {
    Actor {
        uid: None,
        name: "bench".to_owned(),
    }
}

fn quiet() -> Arc<dyn Fn(Progress) + Send + Sync> {
    Arc::new(|_: Progress| {})
}

async fn start_sim(profile: &Profile, spec: &GenerateSpec) -> anyhow::Result<SimHandle> {
    let text = format!(
        "[faults]\nlatency = \"{latency}ms\"\nsubrequest_cost = \"{item}us\"\n\n\
         [generate]\nseed = {seed}\nflows = {flows}\nprocess_builders = {pbs}\n\
         validation_rules = {vrs}\nworkflow_rules = {wrs}\ntriggers = {triggers}\n\
         custom_objects = {objects}\n",
        latency = profile.latency.as_millis(),
        item = profile.per_item.as_micros(),
        seed = spec.seed,
        flows = spec.flows,
        pbs = spec.process_builders,
        vrs = spec.validation_rules,
        wrs = spec.workflow_rules,
        triggers = spec.triggers,
        objects = spec.custom_objects,
    );
    let scenario = Scenario::from_toml_str(&text)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    SimServer::start(scenario, listener).await
}

/// A daemon config naming every sim (`org0`, ...), each secret in a mode-600 file.
fn write_config(dir: &Path, sims: &[SimHandle]) -> anyhow::Result<PathBuf> {
    let mut text = format!(
        "[daemon]\nstate_dir = \"{}\"\nsocket = \"{}\"\n",
        dir.join("state").display(),
        dir.join("pauseplay.sock").display()
    );
    for (index, sim) in sims.iter().enumerate() {
        let secret = dir.join(format!("org{index}.secret"));
        fs::write(&secret, format!("{}\n", sim.client_secret()))?;
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600))?;
        let _ = write!(
            text,
            "\n[orgs.{org}]\nurl = \"{url}\"\nclient_id = \"{id}\"\nclient_secret_file = \"{secret}\"\n",
            org = Bench::org(index),
            url = sim.base_url(),
            id = sim.client_id(),
            secret = secret.display(),
        );
    }
    let path = dir.join("pauseplay.toml");
    fs::write(&path, text).context("writing the config")?;
    Ok(path)
}

/// The components `count` says each org's converge switched, summed; an error or an unclean
/// outcome (a failure or a conflict) fails the run.
fn switched(orgs: &[OrgReport], count: fn(&Outcome) -> u64) -> anyhow::Result<u64> {
    let mut switched = 0;
    for org in orgs {
        let outcome = org.result.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(outcome.is_clean(), "{}: {outcome:?}", org.org);
        switched += count(outcome);
    }
    Ok(switched)
}
