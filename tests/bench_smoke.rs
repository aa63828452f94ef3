//! The benchmark (`benches/pauseplay.rs`) at its quick sizes: every case runs, restores its
//! orgs exactly, and never spends fewer API calls than the floor (a floor the engine beats is
//! a wrong floor or a wrong count). No timings are checked here.

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::Path;

use support::{Figures, Profile, cases};

fn check(figures: &[Figures]) {
    assert!(!figures.is_empty());
    for figure in figures {
        assert!(figure.switched > 0, "{}", figure.line());
        assert!(
            figure.run.calls >= figure.floor.calls,
            "below the floor: {}",
            figure.line()
        );
        // At most one token per org (a restore reuses the pause's and may mint none).
        assert!(
            figure.run.tokens <= figure.floor.tokens,
            "{}",
            figure.line()
        );
        if let Some(naive) = &figure.naive {
            assert!(naive.calls > figure.run.calls, "{}", figure.line());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_runs_at_quick_sizes_and_no_case_beats_its_floor() {
    let profile = Profile::quick();
    check(&cases::one_org(&profile, true).await.expect("case (a)"));
    let parallel = cases::parallel_orgs(&profile).await.expect("case (b)");
    check(&parallel);
    assert_eq!(parallel.len(), 4, "one org and all orgs, pause and restore");

    let (figures, overheads, memory) = cases::large_org(&profile).await.expect("case (c)");
    check(&figures);
    let pause = &overheads[0];
    assert!(
        pause
            .spans
            .get("store")
            .is_some_and(|spent| !spent.is_zero()),
        "the journal's spans were timed: {pause:?}"
    );
    assert!(pause.spans.contains_key("plan"), "{pause:?}");
    assert!(memory.peak_kib >= memory.rss_kib && memory.rss_kib > 0);

    let idle = cases::idle_daemon(&profile, Path::new(env!("CARGO_BIN_EXE_pauseplay")))
        .await
        .expect("idle daemon");
    assert!(idle.memory.rss_kib > 0, "{idle:?}");
}
