//! `cargo bench`: issue 7's benchmark. Starts simulated orgs on loopback (50 ms per request,
//! 2 ms per composite item), runs the daemon's `Service` on them and prints, per case, the
//! calls the org charged and the wall time against the floor (`pauseplay::floor`), with the
//! naive approach for case (a); then the idle daemon's figures. It prints and asserts nothing
//! about time: the figures go to `BENCHMARKS.md`.
//!
//! Arguments (after `--`): `--quick` (small sizes, 1 ms latency: a smoke run), `--no-naive`
//! (case (a) without the naive approach, which takes 3.5 minutes), `--timeline` (each
//! request's arrival in every operation measured), and case names
//! to run only those: `one`, `parallel`, `large`, `daemon-large`, `idle`.

mod support;

use std::path::Path;

use support::Profile;
use support::cases;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    let timeline = args.iter().any(|arg| arg == "--timeline");
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted = |case: &str| chosen.is_empty() || chosen.contains(&case);
    let profile = if quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "pauseplay benchmark ({}): {} ms per request, {} us per composite item",
        if quick { "quick" } else { "full" },
        profile.latency.as_millis(),
        profile.per_item.as_micros()
    );
    runtime.block_on(async {
        if wanted("one") {
            let naive = !args.iter().any(|arg| arg == "--no-naive");
            for figures in cases::one_org(&profile, naive).await? {
                println!("{}", figures.line());
                println!("    requests: {}", figures.classes());
                if timeline {
                    println!("{}", figures.timeline());
                }
            }
        }
        if wanted("parallel") {
            for figures in cases::parallel_orgs(&profile).await? {
                println!("{}", figures.line());
                println!("    requests: {}", figures.classes());
                if timeline {
                    println!("{}", figures.timeline());
                }
            }
        }
        if wanted("large") {
            let (figures, overheads, memory) = cases::large_org(&profile).await?;
            for figures in figures {
                println!("{}", figures.line());
                println!("    requests: {}", figures.classes());
                if timeline {
                    println!("{}", figures.timeline());
                }
            }
            for overhead in overheads {
                println!(
                    "(c) large org {:<8} journal (store spans) {:>7.3}s = {:>5.2}% | planning (plan spans) {:>7.3}s = {:>5.2}% of {:.2}s",
                    overhead.operation,
                    overhead.spans.get("store").copied().unwrap_or_default().as_secs_f64(),
                    overhead.share("store") * 100.0,
                    overhead.spans.get("plan").copied().unwrap_or_default().as_secs_f64(),
                    overhead.share("plan") * 100.0,
                    overhead.wall.as_secs_f64(),
                );
            }
            println!(
                "(c) bench process (sim + engine) peak RSS {:.1} MiB, RSS now {:.1} MiB",
                memory.peak_kib as f64 / 1024.0,
                memory.rss_kib as f64 / 1024.0
            );
        }
        if wanted("daemon-large") {
            let memory =
                cases::large_daemon(&profile, Path::new(env!("CARGO_BIN_EXE_pauseplay"))).await?;
            println!(
                "(c) daemon process through pause + resume of the large org: peak RSS {:.1} MiB, RSS after {:.1} MiB",
                memory.peak_kib as f64 / 1024.0,
                memory.rss_kib as f64 / 1024.0
            );
        }
        if wanted("idle") {
            let idle =
                cases::idle_daemon(&profile, Path::new(env!("CARGO_BIN_EXE_pauseplay"))).await?;
            println!(
                "idle daemon, {} orgs: ready in {:.0} ms | RSS {:.1} MiB (peak {:.1} MiB) | CPU {:.2} s over {:.1} s = {:.3}%",
                profile.orgs,
                idle.ready.as_secs_f64() * 1000.0,
                idle.memory.rss_kib as f64 / 1024.0,
                idle.memory.peak_kib as f64 / 1024.0,
                idle.cpu.as_secs_f64(),
                idle.watched.as_secs_f64(),
                100.0 * idle.cpu.as_secs_f64() / idle.watched.as_secs_f64().max(f64::MIN_POSITIVE),
            );
        }
        anyhow::Ok(())
    })
}
