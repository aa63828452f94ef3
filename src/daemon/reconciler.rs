//! The reconcile loop: when the daemon brings its orgs to what the holds call for, and what it
//! tells systemd meanwhile.
//!
//! A pass runs at start (finishing what a crash interrupted; `READY=1` follows it), then again
//! at the next edge (a hold's start or expiry, a window's opening less the lead time), after a
//! command changed the holds, and on a tick of at most [`TICK`] whatever else happens. Every
//! wait is capped by the tick because tokio's timers run on the monotonic clock, which stops during a
//! suspend: a wall-clock edge is never more than one tick late. A pass compares how far the
//! wall clock and the monotonic clock moved since the previous one; a difference over
//! [`CLOCK_JUMP`] is logged (the pass itself is level-triggered, so nothing else is needed).
//!
//! `WATCHDOG=1` is sent from this loop, between passes and while a pass makes its way, so a
//! wedged loop is noticed by systemd; a pass running longer than [`PASS_STUCK`] stops the
//! pings on purpose.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::service::{ProgressFn, Service};
use super::{SHUTDOWN_GRACE, notify};
use crate::engine::Progress;

/// The longest wait between passes. DESIGN promises at most 30 s.
pub const TICK: Duration = Duration::from_secs(30);

/// How far the wall clock may move apart from the monotonic clock between two passes before
/// it is reported as a clock jump (NTP slews are far below this).
pub const CLOCK_JUMP: Duration = Duration::from_secs(10);

/// A pass taking longer than this is taken as stuck: the watchdog pings stop and systemd
/// restarts the daemon, whose journal resumes the work. Trigger deploys are waited for at most
/// a minute per pass, so a healthy pass stays far below it.
pub const PASS_STUCK: Duration = Duration::from_secs(15 * 60);

/// Runs passes until `shutdown` is cancelled.
pub async fn run(service: Arc<Service>, shutdown: CancellationToken) {
    let watchdog = sd_notify::watchdog_enabled();
    let ping_every = watchdog.map_or(TICK, |limit| (limit / 2).min(TICK));
    let progress: ProgressFn = Arc::new(|progress: Progress| {
        let line = format!(
            "{}: {} {}/{}",
            progress.org,
            progress.phase.as_str(),
            progress.done,
            progress.total
        );
        notify(&[sd_notify::NotifyState::Status(&line)]);
    });
    let mut ready = false;
    let mut last: Option<(Timestamp, Instant)> = None;
    loop {
        let now = Timestamp::now();
        let monotonic = Instant::now();
        if let Some((wall, mono)) = last
            && let Some(jump) = clock_jump(wall, mono, now, monotonic)
        {
            warn!(jump = %jump, "the wall clock jumped; reconciling against the new time");
        }
        last = Some((now, monotonic));

        let pass = service.reconcile(now, Arc::clone(&progress));
        tokio::pin!(pass);
        let mut ping = tokio::time::interval(ping_every);
        loop {
            tokio::select! {
                _ = &mut pass => break,
                _ = ping.tick() => {
                    if monotonic.elapsed() < PASS_STUCK {
                        // Before READY=1 the start itself is what takes long.
                        let state = if ready {
                            sd_notify::NotifyState::Watchdog
                        } else {
                            sd_notify::NotifyState::ExtendTimeoutUsec(
                                u32::try_from((ping_every * 3).as_micros()).unwrap_or(u32::MAX),
                            )
                        };
                        notify(&[state]);
                    }
                }
                () = shutdown.cancelled() => {
                    if tokio::time::timeout(SHUTDOWN_GRACE, &mut pass).await.is_err() {
                        warn!("a reconcile was cut short by shutdown; the next start finishes it");
                    }
                    return;
                }
            }
        }
        let summary = service.summary(Timestamp::now()).await;
        if ready {
            notify(&[
                sd_notify::NotifyState::Watchdog,
                sd_notify::NotifyState::Status(&summary),
            ]);
        } else {
            // The journal is recovered: what a crash left half-done has been finished (or is
            // being retried under backoff) and the state is what `status` reports.
            ready = true;
            info!(status = %summary, "ready");
            notify(&[
                sd_notify::NotifyState::Ready,
                sd_notify::NotifyState::Status(&summary),
            ]);
        }

        loop {
            let wait = until_next_pass(&service).await.min(ping_every);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => break,
                // The command converged its orgs itself; a pass now would race it (and take
                // the work its reply reports). Only the next edge may have moved.
                () = service.changed() => notify(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    }
}

/// How far the wall clock moved apart from the monotonic clock between two readings, when
/// that is more than [`CLOCK_JUMP`] either way.
pub fn clock_jump(
    wall_before: Timestamp,
    mono_before: Instant,
    wall_now: Timestamp,
    mono_now: Instant,
) -> Option<SignedDuration> {
    let wall = wall_before.duration_until(wall_now);
    let mono = SignedDuration::try_from(mono_now.saturating_duration_since(mono_before)).ok()?;
    let apart = wall.checked_sub(mono)?;
    (apart.unsigned_abs() > CLOCK_JUMP).then_some(apart)
}

/// The wait before the next pass: [`TICK`], or less when a hold starts or expires or a window
/// opens sooner.
async fn until_next_pass(service: &Service) -> Duration {
    let now = Timestamp::now();
    match service.next_edge(now).await {
        Ok(Some(edge)) => {
            let until = now
                .duration_until(edge)
                .try_into()
                .unwrap_or(Duration::ZERO);
            // A moment past the edge, so the pass sees it as passed.
            until.saturating_add(Duration::from_millis(50)).min(TICK)
        }
        Ok(None) => TICK,
        Err(error) => {
            warn!(error = %error, "could not work out the next edge (a hold's start or expiry, a window's opening)");
            TICK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_jump_is_the_wall_clock_moving_apart_from_the_monotonic_one() {
        let mono = Instant::now();
        let later = mono + Duration::from_secs(30);
        let wall = Timestamp::from_second(1_795_000_000).expect("valid");
        let plus = |secs: i64| {
            wall.checked_add(SignedDuration::from_secs(secs))
                .expect("in range")
        };
        // 30 s on both clocks, or a few seconds of NTP slew: no jump.
        assert_eq!(clock_jump(wall, mono, plus(30), later), None);
        assert_eq!(clock_jump(wall, mono, plus(35), later), None);
        // A suspend of an hour (the monotonic clock stopped) or a clock set forward.
        assert_eq!(
            clock_jump(wall, mono, plus(3_630), later),
            Some(SignedDuration::from_secs(3_600))
        );
        // A clock set back by five minutes.
        assert_eq!(
            clock_jump(wall, mono, plus(-270), later),
            Some(SignedDuration::from_secs(-300))
        );
    }
}
