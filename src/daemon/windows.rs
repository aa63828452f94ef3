//! Scheduled windows turned into holds: which occurrences a pass must hold now and which it
//! records as missed. Pure: the service stores what this decides.
//!
//! An occurrence is held from `lead_time` before it opens until it ends (the hold expires at
//! the end, which restores). One found already open (the daemon was down, or the window was
//! just added) is held only if at least `min_remaining` of it is left; otherwise it is recorded
//! as missed. Each occurrence is decided once per org: its hold row, released or not, is the
//! record (a missed one, or one ended early by `resume --window`, is never held again), and
//! occurrences that ended before the pass are never looked at, so past windows are not
//! replayed.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::config::WindowConfig;
use crate::schedule::{self, Occurrence};

/// What a pass does with an occurrence that has no hold row yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hold it until its end.
    Hold(Occurrence),
    /// Found open with less than `min_remaining` left: record it as missed.
    Missed(Occurrence),
}

/// The occurrences of `window` a pass at `now` has to decide: those in force now and those
/// opening within `lead_time`, in start order.
pub fn due(
    window: &WindowConfig,
    now: Timestamp,
    lead_time: Duration,
    min_remaining: Duration,
) -> Vec<Decision> {
    let (_, horizon) = ahead(now, lead_time);
    let mut found = schedule::active_at(window, now);
    for upcoming in schedule::active_at(window, horizon) {
        if !found.iter().any(|seen| seen.start == upcoming.start) {
            found.push(upcoming);
        }
    }
    found.sort_by_key(|occurrence| occurrence.start);
    found
        .into_iter()
        .map(|occurrence| {
            let open = occurrence.start <= now;
            let left = now.duration_until(occurrence.end);
            let enough = SignedDuration::try_from(min_remaining)
                .map(|min| left >= min)
                .unwrap_or(false);
            if open && !enough {
                Decision::Missed(occurrence)
            } else {
                Decision::Hold(occurrence)
            }
        })
        .collect()
}

/// When the next pass has to run for `window`: its next opening less `lead_time`, if that is
/// after `now`.
pub fn next_edge(window: &WindowConfig, now: Timestamp, lead_time: Duration) -> Option<Timestamp> {
    let (lead, horizon) = ahead(now, lead_time);
    schedule::next(window, horizon, 1)
        .first()
        .and_then(|occurrence| occurrence.start.saturating_sub(lead).ok())
}

/// `lead_time` as a signed duration, and `now` that far ahead.
fn ahead(now: Timestamp, lead_time: Duration) -> (SignedDuration, Timestamp) {
    let lead = SignedDuration::try_from(lead_time).unwrap_or(SignedDuration::ZERO);
    (lead, now.saturating_add(lead).unwrap_or(now))
}
