//! The cases of issue 7, each returning its figures (printed by the bench, checked against
//! the floor by the smoke test).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::net::UnixDatagram;

use super::measure::{self, Memory};
use super::{Bench, Figures, Profile, floors, parallel};

/// Case (a): one sandbox org, pause then restore through the service; then the naive approach
/// on the same org. The org must end exactly as it started.
pub async fn one_org(profile: &Profile, with_naive: bool) -> anyhow::Result<Vec<Figures>> {
    let bench = Bench::start(profile, std::slice::from_ref(&profile.one_org)).await?;
    let discovery = bench.discover(0).await?;
    let (pause_floor, restore_floor) = floors(&discovery);
    let before = bench.snapshots();
    let service = bench.service().await?;
    let (pause, paused) = bench.pause(&service, &[0]).await?;
    let (restore, restored) = bench.restore(&service, &[0]).await?;
    anyhow::ensure!(
        bench.snapshots() == before,
        "the restore left the org changed"
    );
    let (naive_pause, naive_restore) = if with_naive {
        let (p, r) = bench.naive(0, &discovery).await?;
        anyhow::ensure!(
            bench.snapshots() == before,
            "the naive restore left the org changed"
        );
        (Some(p), Some(r))
    } else {
        (None, None)
    };
    let figures = vec![
        Figures {
            case: "(a) one org: pause".to_owned(),
            run: pause,
            floor: pause_floor,
            floor_wall: bench.floor_wall(&pause_floor),
            naive: naive_pause,
            switched: paused,
        },
        Figures {
            case: "(a) one org: restore".to_owned(),
            run: restore,
            floor: restore_floor,
            floor_wall: bench.floor_wall(&restore_floor),
            naive: naive_restore,
            switched: restored,
        },
    ];
    bench.shutdown().await;
    Ok(figures)
}

/// Case (b): one of the orgs alone, then all of them at once (pause and restore each).
pub async fn parallel_orgs(profile: &Profile) -> anyhow::Result<Vec<Figures>> {
    let specs = vec![profile.each_org.clone(); profile.orgs];
    let bench = Bench::start(profile, &specs).await?;
    let mut pause_floors = Vec::new();
    let mut restore_floors = Vec::new();
    for index in 0..profile.orgs {
        let (pause, restore) = floors(&bench.discover(index).await?);
        pause_floors.push(pause);
        restore_floors.push(restore);
    }
    let before = bench.snapshots();
    let service = bench.service().await?;
    let all: Vec<usize> = (0..profile.orgs).collect();
    let mut figures = Vec::new();
    for (label, orgs) in [("one of them", vec![0]), ("all at once", all)] {
        let (pause, paused) = bench.pause(&service, &orgs).await?;
        let (restore, restored) = bench.restore(&service, &orgs).await?;
        anyhow::ensure!(
            bench.snapshots() == before,
            "the restore left an org changed"
        );
        let pick = |floors: &[pauseplay::floor::Floor]| {
            parallel(&orgs.iter().map(|&i| floors[i]).collect::<Vec<_>>())
        };
        let (pause_floor, restore_floor) = (pick(&pause_floors), pick(&restore_floors));
        figures.push(Figures {
            case: format!("(b) {} org(s), {label}: pause", orgs.len()),
            run: pause,
            floor: pause_floor,
            floor_wall: bench.floor_wall(&pause_floor),
            naive: None,
            switched: paused,
        });
        figures.push(Figures {
            case: format!("(b) {} org(s), {label}: restore", orgs.len()),
            run: restore,
            floor: restore_floor,
            floor_wall: bench.floor_wall(&restore_floor),
            naive: None,
            switched: restored,
        });
    }
    bench.shutdown().await;
    Ok(figures)
}

/// What case (c) adds to the figures: the time in the journal and in planning, and the
/// bench process's memory (sims and client together: an upper bound for the daemon).
#[derive(Debug, Clone)]
pub struct Overhead {
    pub operation: &'static str,
    pub wall: Duration,
    pub spans: BTreeMap<&'static str, Duration>,
}

impl Overhead {
    pub fn share(&self, span: &str) -> f64 {
        let spent = self.spans.get(span).copied().unwrap_or_default();
        spent.as_secs_f64() / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Case (c): the large org, pause and restore, with the time spent in `store` and `plan`
/// spans and the process's peak memory.
pub async fn large_org(profile: &Profile) -> anyhow::Result<(Vec<Figures>, Vec<Overhead>, Memory)> {
    let bench = Bench::start(profile, std::slice::from_ref(&profile.large_org)).await?;
    let discovery = bench.discover(0).await?;
    let (pause_floor, restore_floor) = floors(&discovery);
    let service = bench.service().await?;
    bench.times.take();
    let (pause, paused) = bench.pause(&service, &[0]).await?;
    let pause_spans = bench.times.take();
    let (restore, restored) = bench.restore(&service, &[0]).await?;
    let restore_spans = bench.times.take();
    let memory = measure::memory(None)?;
    let (pause_wall, restore_wall) = (pause.wall, restore.wall);
    let figures = vec![
        Figures {
            case: "(c) large org: pause".to_owned(),
            run: pause,
            floor: pause_floor,
            floor_wall: bench.floor_wall(&pause_floor),
            naive: None,
            switched: paused,
        },
        Figures {
            case: "(c) large org: restore".to_owned(),
            run: restore,
            floor: restore_floor,
            floor_wall: bench.floor_wall(&restore_floor),
            naive: None,
            switched: restored,
        },
    ];
    let overheads = vec![
        Overhead {
            operation: "pause",
            wall: pause_wall,
            spans: pause_spans,
        },
        Overhead {
            operation: "restore",
            wall: restore_wall,
            spans: restore_spans,
        },
    ];
    bench.shutdown().await;
    Ok((figures, overheads, memory))
}

/// The idle daemon (the real binary) with `profile.orgs` orgs configured.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    /// From spawning the process to its `READY=1` on `NOTIFY_SOCKET`.
    pub ready: Duration,
    pub memory: Memory,
    /// CPU time used while idle over `watched`.
    pub cpu: Duration,
    pub watched: Duration,
}

/// Starts `binary` as a daemon on orgs of `profile.each_org`, waits for `READY=1` (a test
/// notify socket), then watches its memory and CPU for `profile.idle_for`.
pub async fn idle_daemon(profile: &Profile, binary: &Path) -> anyhow::Result<Idle> {
    let specs = vec![profile.each_org.clone(); profile.orgs];
    let bench = Bench::start(profile, &specs).await?;
    let started = Instant::now();
    let (mut child, notify) = spawn_daemon(&bench, binary)?;
    let result = async {
        wait_ready(&notify).await?;
        let ready = started.elapsed();
        let pid = child.id();
        let cpu_before = measure::cpu_time(Some(pid))?;
        let watch = Instant::now();
        // The measuring window itself (zero in the smoke test), not a wait for an event.
        if !profile.idle_for.is_zero() {
            tokio::time::sleep(profile.idle_for).await;
        }
        let watched = watch.elapsed();
        let cpu = measure::cpu_time(Some(pid))?.saturating_sub(cpu_before);
        let memory = measure::memory(Some(pid))?;
        anyhow::Ok(Idle {
            ready,
            memory,
            cpu,
            watched,
        })
    }
    .await;
    // Ours to end: the child we spawned, by its handle.
    let _ = child.kill();
    let _ = child.wait();
    bench.shutdown().await;
    result
}

/// Starts the real daemon on the bench's config with `NOTIFY_SOCKET` pointing at a datagram
/// socket of ours (bound before the spawn), on which it will send `READY=1`.
fn spawn_daemon(
    bench: &Bench,
    binary: &Path,
) -> anyhow::Result<(std::process::Child, UnixDatagram)> {
    let notify_path = bench.dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path)?;
    let log = std::fs::File::create(bench.dir.path().join("daemon.log"))?;
    let child = Command::new(binary)
        .arg("--config")
        .arg(&bench.config)
        .arg("daemon")
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("PAUSEPLAY_CONFIG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting the daemon")?;
    Ok((child, notify))
}

/// The daemon's own memory through a pause and a restore of the large org (the real binary,
/// driven by the real CLI). Memory does not depend on the latency, so this runs at 1 ms per
/// request to stay short.
pub async fn large_daemon(profile: &Profile, binary: &Path) -> anyhow::Result<Memory> {
    let fast = Profile {
        latency: Duration::from_millis(1),
        per_item: Duration::ZERO,
        ..profile.clone()
    };
    let bench = Bench::start(&fast, std::slice::from_ref(&profile.large_org)).await?;
    let (mut child, notify) = spawn_daemon(&bench, binary)?;
    let result = async {
        wait_ready(&notify).await?;
        for args in [&["pause", "now", "--for", "1h"][..], &["resume"][..]] {
            cli(binary, &bench.config, args).await?;
        }
        measure::memory(Some(child.id()))
    }
    .await;
    // Ours to end: the child we spawned, by its handle.
    let _ = child.kill();
    let _ = child.wait();
    bench.shutdown().await;
    result
}

/// Waits for `READY=1` on a notify socket.
async fn wait_ready(notify: &UnixDatagram) -> anyhow::Result<()> {
    let mut buffer = [0_u8; 512];
    loop {
        let received = tokio::time::timeout(Duration::from_secs(30), notify.recv(&mut buffer))
            .await
            .context("no READY=1 within 30 s")??;
        let message = String::from_utf8_lossy(&buffer[..received]);
        if message.lines().any(|line| line == "READY=1") {
            return Ok(());
        }
    }
}

/// Runs the CLI (off the runtime: it blocks) and fails unless it exits 0.
async fn cli(binary: &Path, config: &Path, args: &[&str]) -> anyhow::Result<()> {
    let mut command = Command::new(binary);
    command.arg("--config").arg(config).args(args);
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    anyhow::ensure!(
        output.status.success(),
        "pauseplay {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
