//! What the benchmark reads besides the org's counters: the time spent in the library's
//! `store` and `plan` spans (summed by a tracing layer, nothing logged per component), and a
//! process's memory and CPU from `/proc`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, filter};

/// The spans summed: the store's queries and transactions, and the engine's deciding.
const TIMED: [&str; 2] = ["store", "plan"];

/// Wall time spent inside each timed span name, outermost spans only.
#[derive(Debug, Clone, Default)]
pub struct SpanTimes {
    totals: Arc<Mutex<BTreeMap<&'static str, Duration>>>,
}

impl SpanTimes {
    /// The process's timer: installs the layer as the global subscriber on first use; every
    /// later call (each case starts its own bench) shares it.
    pub fn install() -> SpanTimes {
        static GLOBAL: OnceLock<SpanTimes> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let times = SpanTimes::default();
                let layer = SpanTimer {
                    totals: Arc::clone(&times.totals),
                }
                .with_filter(filter::filter_fn(|meta| {
                    meta.is_span() && TIMED.contains(&meta.name())
                }));
                // Fails only if another subscriber was set first; the times then stay empty,
                // which the smoke test would catch.
                let _ = tracing::subscriber::set_global_default(
                    tracing_subscriber::registry().with(layer),
                );
                times
            })
            .clone()
    }

    /// The totals so far, and clears them.
    pub fn take(&self) -> BTreeMap<&'static str, Duration> {
        std::mem::take(&mut *self.totals.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct SpanTimer {
    totals: Arc<Mutex<BTreeMap<&'static str, Duration>>>,
}

/// When a timed span was created, kept in the span's extensions.
struct Started(Instant);

impl<S> Layer<S> for SpanTimer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // A store call made inside another store call is already in the outer one's time.
        let nested = span
            .scope()
            .skip(1)
            .any(|outer| outer.name() == span.name());
        if !nested {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(started) = span.extensions().get::<Started>().map(|s| s.0) else {
            return;
        };
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        *totals.entry(span.name()).or_default() += started.elapsed();
    }
}

/// Memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident now (`VmRSS`), in KiB.
    pub rss_kib: u64,
    /// Peak resident (`VmHWM`), in KiB.
    pub peak_kib: u64,
}

/// `pid` `None` is this process.
pub fn memory(pid: Option<u32>) -> anyhow::Result<Memory> {
    let path = proc_path(pid, "status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .with_context(|| format!("{name} in {path}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
pub fn cpu_time(pid: Option<u32>) -> anyhow::Result<Duration> {
    let path = proc_path(pid, "stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no ')' in stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |index: usize| -> anyhow::Result<u64> {
        fields
            .get(index)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("field {} of {path}", index + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    // USER_HZ is 100 on every Linux the daemon targets (the kernel fixes it for /proc).
    Ok(Duration::from_millis(total * 10))
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}
