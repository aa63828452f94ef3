//! Windows as UTC occurrences: exact instants across both DST changes of 2026 in Europe/Berlin
//! and America/New_York, day-of-month OR day-of-week, leap days, one-off windows, overlapping
//! occurrences, and the boundaries of every query.
//!
//! 2026 transitions: Europe/Berlin springs forward at 2026-03-29T01:00Z (02:00 CET -> 03:00
//! CEST) and falls back at 2026-10-25T01:00Z (03:00 CEST -> 02:00 CET); America/New_York springs
//! forward at 2026-03-08T07:00Z (02:00 EST -> 03:00 EDT) and falls back at 2026-11-01T06:00Z
//! (02:00 EDT -> 01:00 EST).

use std::time::Duration;

use jiff::Timestamp;
use pauseplay::config::{WindowConfig, WindowWhen};
use pauseplay::schedule::{Occurrence, active_at, dst_notes, next, occurrences};

fn at(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|err| panic!("{text} is not an instant: {err}"))
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn hours(n: u64) -> Duration {
    minutes(n * 60)
}

fn window(when: WindowWhen) -> WindowConfig {
    WindowConfig {
        name: "w".to_owned(),
        orgs: vec!["prod".to_owned()],
        when,
        kinds: None,
        objects: None,
    }
}

fn cron(expression: &str, duration: Duration, zone: &str) -> WindowConfig {
    window(WindowWhen::cron(expression, duration, zone).expect("a valid cron window"))
}

fn once(start: &str, end: &str) -> WindowConfig {
    window(WindowWhen::once(at(start), at(end)).expect("a valid one-off window"))
}

/// Starts as RFC 3339 UTC strings, for readable assertions.
fn starts(found: &[Occurrence]) -> Vec<String> {
    found.iter().map(|o| o.start.to_string()).collect()
}

/// (start, end) pairs as strings.
fn spans(found: &[Occurrence]) -> Vec<(String, String)> {
    found
        .iter()
        .map(|o| (o.start.to_string(), o.end.to_string()))
        .collect()
}

fn between(window: &WindowConfig, from: &str, to: &str) -> Vec<String> {
    starts(&occurrences(window, at(from), at(to)))
}

// --- Europe/Berlin -------------------------------------------------------------------------

#[test]
fn berlin_a_start_in_the_spring_gap_moves_to_the_first_instant_after_it() {
    let w = cron("30 2 * * *", hours(1), "Europe/Berlin");
    let found = occurrences(&w, at("2026-03-28T00:00Z"), at("2026-03-31T00:00Z"));
    assert_eq!(
        spans(&found),
        [
            // 02:30 CET
            ("2026-03-28T01:30:00Z".into(), "2026-03-28T02:30:00Z".into()),
            // 02:30 does not exist: 03:00 CEST, not jiff's Compatible 03:30 (01:30Z)
            ("2026-03-29T01:00:00Z".into(), "2026-03-29T02:00:00Z".into()),
            // 02:30 CEST
            ("2026-03-30T00:30:00Z".into(), "2026-03-30T01:30:00Z".into()),
        ]
    );
}

#[test]
fn berlin_starts_outside_the_spring_gap_keep_their_wall_clock_time() {
    let before = cron("30 1 * * *", hours(1), "Europe/Berlin");
    assert_eq!(
        between(&before, "2026-03-28T00:00Z", "2026-03-30T12:00Z"),
        [
            "2026-03-28T00:30:00Z", // 01:30 CET
            "2026-03-29T00:30:00Z", // 01:30 CET, the last before the change
            "2026-03-29T23:30:00Z", // 01:30 CEST on the 30th
        ]
    );
    let after = cron("30 3 * * *", hours(1), "Europe/Berlin");
    assert_eq!(
        between(&after, "2026-03-29T00:00Z", "2026-03-30T00:00Z"),
        ["2026-03-29T01:30:00Z"] // 03:30 CEST
    );
}

#[test]
fn berlin_a_start_in_the_autumn_fold_fires_once_at_the_first_pass() {
    let w = cron("30 2 * * *", hours(1), "Europe/Berlin");
    assert_eq!(
        between(&w, "2026-10-24T00:00Z", "2026-10-27T00:00Z"),
        [
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST, the first pass; never also 01:30Z (CET)
            "2026-10-26T01:30:00Z", // 02:30 CET
        ]
    );
    let outside = cron("30 3 * * *", hours(1), "Europe/Berlin");
    assert_eq!(
        between(&outside, "2026-10-24T00:00Z", "2026-10-26T00:00Z"),
        [
            "2026-10-24T01:30:00Z", // 03:30 CEST
            "2026-10-25T02:30:00Z", // 03:30 CET
        ]
    );
}

#[test]
fn berlin_a_duration_is_elapsed_time_across_both_changes() {
    let w = cron("30 0 * * *", hours(2), "Europe/Berlin");
    let spring = occurrences(&w, at("2026-03-28T12:00Z"), at("2026-03-29T12:00Z"));
    // 00:30 CET to 03:30 CEST: three hours on the wall clock, two real ones.
    assert_eq!(
        spans(&spring),
        [("2026-03-28T23:30:00Z".into(), "2026-03-29T01:30:00Z".into())]
    );
    let autumn = occurrences(&w, at("2026-10-24T12:00Z"), at("2026-10-25T12:00Z"));
    // 00:30 CEST to the first 02:30 (CEST): two real hours, ending before the fold's second pass.
    assert_eq!(
        spans(&autumn),
        [("2026-10-24T22:30:00Z".into(), "2026-10-25T00:30:00Z".into())]
    );
}

// --- America/New_York ------------------------------------------------------------------------

#[test]
fn new_york_a_start_in_the_spring_gap_moves_to_the_first_instant_after_it() {
    let w = cron("30 2 * * *", minutes(45), "America/New_York");
    let found = occurrences(&w, at("2026-03-07T00:00Z"), at("2026-03-10T00:00Z"));
    assert_eq!(
        spans(&found),
        [
            ("2026-03-07T07:30:00Z".into(), "2026-03-07T08:15:00Z".into()), // 02:30 EST
            ("2026-03-08T07:00:00Z".into(), "2026-03-08T07:45:00Z".into()), // 03:00 EDT
            ("2026-03-09T06:30:00Z".into(), "2026-03-09T07:15:00Z".into()), // 02:30 EDT
        ]
    );
    let outside = cron("30 1 * * *", minutes(45), "America/New_York");
    assert_eq!(
        between(&outside, "2026-03-08T00:00Z", "2026-03-10T00:00Z"),
        [
            "2026-03-08T06:30:00Z", // 01:30 EST
            "2026-03-09T05:30:00Z", // 01:30 EDT
        ]
    );
}

#[test]
fn new_york_a_start_in_the_autumn_fold_fires_once_at_the_first_pass() {
    let w = cron("30 1 * * *", hours(1), "America/New_York");
    assert_eq!(
        between(&w, "2026-10-31T00:00Z", "2026-11-03T00:00Z"),
        [
            "2026-10-31T05:30:00Z", // 01:30 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT, the first pass; never also 06:30Z (EST)
            "2026-11-02T06:30:00Z", // 01:30 EST
        ]
    );
    let outside = cron("30 2 * * *", hours(1), "America/New_York");
    assert_eq!(
        between(&outside, "2026-10-31T00:00Z", "2026-11-02T00:00Z"),
        [
            "2026-10-31T06:30:00Z", // 02:30 EDT
            "2026-11-01T07:30:00Z", // 02:30 EST
        ]
    );
    // Elapsed time: 3 h from 00:30 EDT ends at 02:30 EST, which the wall clock calls 2 h.
    let long = cron("30 0 * * *", hours(3), "America/New_York");
    let found = occurrences(&long, at("2026-11-01T00:00Z"), at("2026-11-02T00:00Z"));
    assert_eq!(
        spans(&found),
        [("2026-11-01T04:30:00Z".into(), "2026-11-01T07:30:00Z".into())]
    );
}

// --- One rule for every expression -----------------------------------------------------------

#[test]
fn step_expressions_follow_the_same_gap_rule() {
    // croner alone skips 02:10, 02:30 and 02:50 (they are not "fixed-time"); here they move to
    // 03:00 CEST like any other start in the gap, once.
    let w = cron("10-50/20 * * * *", minutes(10), "Europe/Berlin");
    assert_eq!(
        between(&w, "2026-03-29T00:00Z", "2026-03-29T01:30Z"),
        [
            "2026-03-29T00:10:00Z", // 01:10 CET
            "2026-03-29T00:30:00Z",
            "2026-03-29T00:50:00Z",
            "2026-03-29T01:00:00Z", // 02:10, 02:30, 02:50 -> 03:00 CEST
            "2026-03-29T01:10:00Z", // 03:10 CEST
        ]
    );
    // A start moved by the gap and one that matches the first instant after it are one.
    let every_20 = cron("*/20 * * * *", minutes(10), "Europe/Berlin");
    assert_eq!(
        between(&every_20, "2026-03-29T00:30Z", "2026-03-29T01:30Z"),
        [
            "2026-03-29T00:40:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:20:00Z"
        ]
    );
}

#[test]
fn step_expressions_follow_the_same_fold_rule() {
    // croner alone also fires at 02:00 CET (01:00Z); here every wall-clock start fires once.
    let w = cron("0 * * * *", minutes(30), "Europe/Berlin");
    assert_eq!(
        between(&w, "2026-10-24T22:00Z", "2026-10-25T03:00Z"),
        [
            "2026-10-24T22:00:00Z", // 00:00 CEST
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST, the first pass
            "2026-10-25T02:00:00Z", // 03:00 CET
        ]
    );
}

// --- Days, months, leap days --------------------------------------------------------------

#[test]
fn day_of_month_and_day_of_week_are_ored() {
    // Every 13th and every Friday, at 01:00 UTC.
    let w = cron("0 1 13 * 5", hours(1), "UTC");
    assert_eq!(
        between(&w, "2026-01-01T00:00Z", "2026-02-01T00:00Z"),
        [
            "2026-01-02T01:00:00Z", // Friday
            "2026-01-09T01:00:00Z", // Friday
            "2026-01-13T01:00:00Z", // Tuesday the 13th
            "2026-01-16T01:00:00Z",
            "2026-01-23T01:00:00Z",
            "2026-01-30T01:00:00Z",
        ]
    );
    // Friday the 13th of February 2026 matches both and fires once.
    assert_eq!(
        between(&w, "2026-02-01T00:00Z", "2026-03-01T00:00Z"),
        [
            "2026-02-06T01:00:00Z",
            "2026-02-13T01:00:00Z",
            "2026-02-20T01:00:00Z",
            "2026-02-27T01:00:00Z",
        ]
    );
}

#[test]
fn a_leap_day_window_waits_for_the_next_leap_year() {
    let w = cron("0 2 29 2 *", hours(1), "UTC");
    assert_eq!(
        starts(&next(&w, at("2026-01-01T00:00Z"), 2)),
        ["2028-02-29T02:00:00Z", "2032-02-29T02:00:00Z"]
    );
    assert!(occurrences(&w, at("2026-01-01T00:00Z"), at("2028-01-01T00:00Z")).is_empty());
}

// --- One-off windows -----------------------------------------------------------------------

#[test]
fn a_one_off_window_is_active_from_its_start_inclusive_to_its_end_exclusive() {
    let w = once("2026-12-01T22:00:00+01:00", "2026-12-02T04:00:00+01:00");
    let expected = Occurrence {
        window: "w".to_owned(),
        start: at("2026-12-01T21:00:00Z"),
        end: at("2026-12-02T03:00:00Z"),
    };
    assert!(active_at(&w, at("2026-12-01T20:59:59.999999999Z")).is_empty());
    assert_eq!(
        active_at(&w, at("2026-12-01T21:00:00Z")),
        vec![expected.clone()]
    );
    assert_eq!(
        active_at(&w, at("2026-12-02T02:59:59.999999999Z")),
        vec![expected.clone()]
    );
    assert!(active_at(&w, at("2026-12-02T03:00:00Z")).is_empty());

    // Its start is inside [from, to) or not.
    let start = at("2026-12-01T21:00:00Z");
    assert_eq!(
        occurrences(&w, start, at("2026-12-01T21:00:00.000000001Z")),
        vec![expected.clone()]
    );
    assert!(occurrences(&w, at("2026-11-01T00:00Z"), start).is_empty());
    // next() wants a start strictly after `after`.
    assert_eq!(
        next(&w, at("2026-12-01T20:59:59Z"), 5),
        vec![expected.clone()]
    );
    assert!(next(&w, start, 5).is_empty());
    // One-off windows have no DST notes: their instants carry their offsets.
    assert!(dst_notes(&w, at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z")).is_empty());
}

// --- Overlaps and boundaries ----------------------------------------------------------------

#[test]
fn a_duration_longer_than_the_interval_gives_overlapping_occurrences() {
    let daily = cron("0 0 * * *", hours(36), "UTC");
    assert_eq!(
        spans(&active_at(&daily, at("2026-06-02T06:00Z"))),
        [
            ("2026-06-01T00:00:00Z".into(), "2026-06-02T12:00:00Z".into()),
            ("2026-06-02T00:00:00Z".into(), "2026-06-03T12:00:00Z".into()),
        ]
    );
    let hourly = cron("0 * * * *", minutes(90), "UTC");
    assert_eq!(
        starts(&active_at(&hourly, at("2026-06-02T10:15Z"))),
        ["2026-06-02T09:00:00Z", "2026-06-02T10:00:00Z"]
    );
    // 09:00's occurrence ends at 10:30, exclusive.
    assert_eq!(
        starts(&active_at(&hourly, at("2026-06-02T10:30Z"))),
        ["2026-06-02T10:00:00Z"]
    );
}

#[test]
fn active_at_sees_a_start_moved_by_the_gap() {
    let w = cron("30 2 * * *", hours(1), "Europe/Berlin");
    assert!(active_at(&w, at("2026-03-29T00:59:59Z")).is_empty());
    assert_eq!(
        starts(&active_at(&w, at("2026-03-29T01:00Z"))),
        ["2026-03-29T01:00:00Z"]
    );
    assert_eq!(
        starts(&active_at(&w, at("2026-03-29T01:59:59Z"))),
        ["2026-03-29T01:00:00Z"]
    );
    assert!(active_at(&w, at("2026-03-29T02:00Z")).is_empty());
    // In the fold's second pass (02:30 CET) the window opened at the first is already over.
    assert!(active_at(&w, at("2026-10-25T01:30Z")).is_empty());
}

#[test]
fn occurrences_take_from_inclusive_and_to_exclusive() {
    let w = cron("0 1 * * *", hours(1), "UTC");
    assert_eq!(
        between(&w, "2026-05-01T01:00Z", "2026-05-03T01:00Z"),
        ["2026-05-01T01:00:00Z", "2026-05-02T01:00:00Z"]
    );
    assert!(occurrences(&w, at("2026-05-01T01:00Z"), at("2026-05-01T01:00Z")).is_empty());
    assert!(occurrences(&w, at("2026-05-02T00:00Z"), at("2026-05-01T00:00Z")).is_empty());
}

#[test]
fn occurrences_find_starts_whose_wall_clock_time_is_before_from() {
    let w = cron("30 2 * * *", hours(1), "Europe/Berlin");
    // From the first instant after the gap: the moved 02:30 is there, although its wall-clock
    // time is earlier than from's (03:00).
    assert_eq!(
        between(&w, "2026-03-29T01:00Z", "2026-03-30T00:00Z"),
        ["2026-03-29T01:00:00Z"]
    );
    // From the fold's second pass: the 02:30 of that day already fired in the first pass.
    assert_eq!(
        between(&w, "2026-10-25T01:00Z", "2026-10-27T00:00Z"),
        ["2026-10-26T01:30:00Z"]
    );
}

#[test]
fn next_returns_n_starts_strictly_after() {
    let w = cron("0 1 * * *", hours(1), "UTC");
    assert_eq!(
        starts(&next(&w, at("2026-05-01T01:00Z"), 2)),
        ["2026-05-02T01:00:00Z", "2026-05-03T01:00:00Z"]
    );
    assert_eq!(
        starts(&next(&w, at("2026-05-01T00:59:59.999999999Z"), 1)),
        ["2026-05-01T01:00:00Z"]
    );
    assert!(next(&w, at("2026-05-01T00:00Z"), 0).is_empty());
    // Across the spring gap in Berlin, with the moved start and ends as elapsed time.
    let berlin = cron("30 2 * * *", hours(1), "Europe/Berlin");
    let found = next(&berlin, at("2026-03-28T12:00Z"), 2);
    assert_eq!(
        spans(&found),
        [
            ("2026-03-29T01:00:00Z".into(), "2026-03-29T02:00:00Z".into()),
            ("2026-03-30T00:30:00Z".into(), "2026-03-30T01:30:00Z".into()),
        ]
    );
    assert!(found.iter().all(|o| o.window == "w"));
}

// --- DST notes -----------------------------------------------------------------------------

#[test]
fn dst_notes_name_the_gap_and_the_fold() {
    let year = (at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z"));
    let berlin = cron("30 2 * * *", hours(1), "Europe/Berlin");
    assert_eq!(
        dst_notes(&berlin, year.0, year.1),
        [
            "2026-03-29: 02:30 Europe/Berlin does not exist (clocks spring forward from 02:00 to \
             03:00); moved to 03:00 CEST (2026-03-29T01:00:00Z)",
            "2026-10-25: 02:30 Europe/Berlin happens twice (clocks fall back from 03:00 to \
             02:00); fires once, at 02:30 CEST (2026-10-25T00:30:00Z), the first pass",
        ]
    );
    // New York's fold is 01:00-02:00: a 01:30 start has a note only in November.
    let new_york = cron("30 1 * * *", hours(1), "America/New_York");
    assert_eq!(
        dst_notes(&new_york, year.0, year.1),
        [
            "2026-11-01: 01:30 America/New_York happens twice (clocks fall back from 02:00 to \
             01:00); fires once, at 01:30 EDT (2026-11-01T05:30:00Z), the first pass"
        ]
    );
    // Starts outside the changed hours, and zones without DST, have none.
    for quiet in [
        cron("0 1 * * 1-5", hours(2), "Europe/Berlin"),
        cron("30 2 * * *", hours(1), "UTC"),
        cron("30 2 * * *", hours(1), "Asia/Tokyo"),
    ] {
        assert!(dst_notes(&quiet, year.0, year.1).is_empty(), "{quiet:?}");
    }
    // Only transitions whose moved starts fall in [from, to).
    assert_eq!(
        dst_notes(&berlin, at("2026-03-29T01:00:01Z"), year.1).len(),
        1
    );
}

#[test]
fn dst_notes_group_the_starts_of_one_change() {
    let w = cron("*/20 * * * *", minutes(10), "Europe/Berlin");
    let notes = dst_notes(&w, at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z"));
    assert_eq!(
        notes,
        [
            "2026-03-29: 02:00, 02:20 and 02:40 Europe/Berlin do not exist (clocks spring \
             forward from 02:00 to 03:00); moved to 03:00 CEST (2026-03-29T01:00:00Z), where \
             they start once",
            "2026-10-25: 02:00, 02:20 and 02:40 Europe/Berlin happen twice (clocks fall back \
             from 03:00 to 02:00); each fires once, at its first pass: 02:00 CEST is \
             2026-10-25T00:00:00Z",
        ]
    );
}
