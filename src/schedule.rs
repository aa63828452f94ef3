//! Maintenance windows as UTC instants: the occurrences of a [`WindowConfig`] in a range, the
//! ones in force at an instant, the next few, and notes on starts that DST moves.
//!
//! # How a cron window becomes instants
//!
//! croner finds the wall-clock times the expression matches, with no time zone at all (it is
//! given `jiff::civil::DateTime`s). Each wall-clock start is then placed in the window's zone
//! here, by one rule for every expression:
//!
//! - a wall-clock time that exists once is that instant;
//! - a time inside a spring-forward **gap** moves to the **first valid instant after the gap**
//!   (Europe/Berlin 2026-03-29 02:30 starts at 03:00 CEST, 01:00Z), as Vixie cron runs such a
//!   job "immediately". jiff's `Compatible` disambiguation would say 03:30; skipping the day, as
//!   Nomad does, would leave automations running during maintenance;
//! - a time inside a fall-back **fold** fires **once**, at the **first** of its two instants;
//! - starts that land on the same instant (several gap times, or a gap time and the first time
//!   after the gap) are one occurrence.
//!
//! Every occurrence then lasts the window's duration in **elapsed** time: a 2 h window that
//! opens at 00:30 on a transition day closes 2 real hours later, whatever the wall clock says.
//!
//! croner applies the same gap and fold rule itself, but only to "fixed-time" expressions:
//! for wildcard or step expressions (`*/20 * * * *`) it skips times in a gap and fires twice in
//! a fold. Placing the starts here keeps one policy for all expressions (DESIGN.md, promise 8).
//!
//! Everything here is a pure function of the window and the instants given; the time zone
//! rules are the system tzdb's as loaded when the configuration was.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::config::{CronSchedule, WindowConfig, WindowWhen};

/// One opening of a window, in UTC: open from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Occurrence {
    /// The window's name.
    pub window: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Occurrences whose start is in [from, to), ascending.
pub fn occurrences(window: &WindowConfig, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
    starts(window, from)
        .take_while(|start| *start < to)
        .map(|start| occurrence(window, start))
        .collect()
}

/// Occurrences in force at `now`: start <= now < end, ascending. Several when a long duration
/// overlaps the next start.
pub fn active_at(window: &WindowConfig, now: Timestamp) -> Vec<Occurrence> {
    // Any occurrence still open began less than one window length ago.
    let earliest = shift(now, -window.when.length());
    occurrences(window, earliest, shift(now, SignedDuration::from_nanos(1)))
        .into_iter()
        .filter(|occurrence| occurrence.start <= now && now < occurrence.end)
        .collect()
}

/// The next `n` occurrences starting strictly after `after`, ascending.
pub fn next(window: &WindowConfig, after: Timestamp, n: usize) -> Vec<Occurrence> {
    starts(window, shift(after, SignedDuration::from_nanos(1)))
        .take(n)
        .map(|start| occurrence(window, start))
        .collect()
}

/// Notes for people about starts in [from, to) that a DST change moves: one per transition,
/// saying which wall-clock starts fall in a gap (and where they are moved to) or in a fold (and
/// the one instant they fire at). Empty for one-off windows and zones without DST.
pub fn dst_notes(window: &WindowConfig, from: Timestamp, to: Timestamp) -> Vec<String> {
    let WindowWhen::Cron {
        schedule,
        timezone,
        zone_name,
        ..
    } = &window.when
    else {
        return Vec::new();
    };
    // Only starts near a transition can be shifted by it, so look there rather than at every
    // start of the range (a `* * * * *` window has half a million starts in a year).
    let near = SignedDuration::from_hours(48);
    let mut groups: Vec<Shifted> = Vec::new();
    let mut covered = from;
    let shifted = timezone
        .following(from)
        .take_while(|transition| transition.timestamp() < to)
        .flat_map(|transition| {
            let around = transition.timestamp();
            // From where the previous transition's span ended, so no start is seen twice.
            let lo = shift(around, -near).max(covered);
            let hi = shift(around, near).min(to);
            covered = hi.max(covered);
            placed_starts(schedule, timezone, lo)
                .take_while(move |start| start.at < hi)
                .filter(move |start| start.at >= lo)
        });
    for start in shifted {
        let Some(transition) = start.transition else {
            continue;
        };
        match groups.last_mut() {
            Some(group) if group.transition == transition => group.walls.push(start.wall),
            _ => groups.push(Shifted {
                transition,
                walls: vec![start.wall],
                first_at: start.at,
            }),
        }
    }
    groups
        .iter()
        .map(|group| group.note(timezone, zone_name))
        .collect()
}

fn occurrence(window: &WindowConfig, start: Timestamp) -> Occurrence {
    Occurrence {
        window: window.name.clone(),
        start,
        end: shift(start, window.when.length()),
    }
}

/// The start instants of `window` at or after `from`, ascending, each once.
fn starts<'w>(
    window: &'w WindowConfig,
    from: Timestamp,
) -> Box<dyn Iterator<Item = Timestamp> + 'w> {
    match &window.when {
        WindowWhen::Once { start, .. } => Box::new((*start >= from).then_some(*start).into_iter()),
        WindowWhen::Cron {
            schedule, timezone, ..
        } => {
            let mut last = None;
            Box::new(
                placed_starts(schedule, timezone, from)
                    .map(|start| start.at)
                    // Placing is monotonic, so equal instants are adjacent.
                    .filter(move |at| last.replace(*at) != Some(*at))
                    .filter(move |at| *at >= from),
            )
        }
    }
}

/// How far before `from`'s wall-clock time the search for starts begins. A wall-clock time
/// earlier than `from`'s can still be placed at or after `from` when a gap moves it forward; no
/// tzdb transition has skipped more than a day (Samoa, 2011).
const LOOKBACK: SignedDuration = SignedDuration::from_hours(48);

/// Every wall-clock match of `schedule` placed in `tz`, ascending by instant (equal instants
/// possible), starting a little before `from` (see [`LOOKBACK`]); the caller filters.
fn placed_starts<'a>(
    schedule: &'a CronSchedule,
    tz: &'a TimeZone,
    from: Timestamp,
) -> impl Iterator<Item = Placed> + 'a {
    let begin = tz.to_datetime(from);
    let begin = begin.checked_sub(LOOKBACK).unwrap_or(DateTime::MIN);
    let mut cursor = Some((begin, true));
    std::iter::from_fn(move || {
        loop {
            let (after, inclusive) = cursor?;
            let wall = schedule.next_civil(after, inclusive);
            cursor = wall.map(|wall| (wall, false));
            // A start that cannot be placed (only at the very ends of the calendar) is skipped.
            if let Some(placed) = place(tz, wall?) {
                return Some(placed);
            }
        }
    })
}

/// A wall-clock start and the instant it opens at.
#[derive(Debug, Clone, Copy)]
struct Placed {
    wall: DateTime,
    at: Timestamp,
    /// Set when a DST change moved the start.
    transition: Option<Transition>,
}

/// The DST change that moved a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    kind: TransitionKind,
    /// The instant of the change: the first instant after a gap, the start of a fold's second
    /// pass.
    at: Timestamp,
    /// The UTC offsets before and after the change.
    before: Offset,
    after: Offset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransitionKind {
    Gap,
    Fold,
}

/// The instant a wall-clock start opens at in `tz`, by the module's gap and fold rule.
fn place(tz: &TimeZone, wall: DateTime) -> Option<Placed> {
    let ambiguous = tz.to_ambiguous_timestamp(wall);
    let (kind, before, after) = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            let at = offset.to_timestamp(wall).ok()?;
            return Some(Placed {
                wall,
                at,
                transition: None,
            });
        }
        AmbiguousOffset::Gap { before, after } => (TransitionKind::Gap, before, after),
        AmbiguousOffset::Fold { before, after } => (TransitionKind::Fold, before, after),
    };
    // `earlier` is before the change in both cases: in a gap it reads the wall clock with the
    // offset after the change (02:30 at +02:00 is 00:30Z, before the 01:00Z change), in a fold
    // it is the first pass.
    let earlier = ambiguous.earlier().ok()?;
    let change = tz.following(earlier).next()?.timestamp();
    let at = match kind {
        TransitionKind::Gap => change,
        TransitionKind::Fold => earlier,
    };
    Some(Placed {
        wall,
        at,
        transition: Some(Transition {
            kind,
            at: change,
            before,
            after,
        }),
    })
}

/// The starts one DST change moved, for [`dst_notes`].
struct Shifted {
    transition: Transition,
    walls: Vec<DateTime>,
    /// Where the first of them opens.
    first_at: Timestamp,
}

/// At most this many wall-clock times are listed in one note.
const LISTED: usize = 6;

impl Shifted {
    fn note(&self, tz: &TimeZone, zone_name: &str) -> String {
        let Transition {
            kind,
            at: change,
            before,
            after,
        } = self.transition;
        let day = self.walls[0].date();
        let times = list_times(&self.walls);
        let several = self.walls.len() > 1;
        let clock = |offset: Offset| offset.to_datetime(change).strftime("%H:%M").to_string();
        let local = |at: Timestamp| at.to_zoned(tz.clone()).strftime("%H:%M %Z").to_string();
        match (kind, several) {
            (TransitionKind::Gap, false) => format!(
                "{day}: {times} {zone_name} does not exist (clocks spring forward from {} to {}); \
                 moved to {} ({change})",
                clock(before),
                clock(after),
                local(change),
            ),
            (TransitionKind::Gap, true) => format!(
                "{day}: {times} {zone_name} do not exist (clocks spring forward from {} to {}); \
                 moved to {} ({change}), where they start once",
                clock(before),
                clock(after),
                local(change),
            ),
            (TransitionKind::Fold, false) => format!(
                "{day}: {times} {zone_name} happens twice (clocks fall back from {} to {}); \
                 fires once, at {} ({}), the first pass",
                clock(before),
                clock(after),
                local(self.first_at),
                self.first_at,
            ),
            (TransitionKind::Fold, true) => format!(
                "{day}: {times} {zone_name} happen twice (clocks fall back from {} to {}); each \
                 fires once, at its first pass: {} is {}",
                clock(before),
                clock(after),
                local(self.first_at),
                self.first_at,
            ),
        }
    }
}

/// `02:30`, `02:00 and 02:30`, `02:00, 02:10, ... and 7 more`.
fn list_times(walls: &[DateTime]) -> String {
    let times: Vec<String> = walls
        .iter()
        .map(|wall| wall.strftime("%H:%M").to_string())
        .collect();
    match times.as_slice() {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] if times.len() <= LISTED => format!("{} and {last}", rest.join(", ")),
        _ => format!(
            "{} and {} more",
            times[..LISTED].join(", "),
            times.len() - LISTED
        ),
    }
}

/// `at + by`, clamped to the representable range instead of failing at its very ends.
fn shift(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}
