//! The TIME of `pauseplay pause at TIME`: when an ad hoc window opens.
//!
//! Two spellings are accepted, and nothing else:
//!
//! - **RFC 3339 with an offset**: `2026-12-01T22:00:00+01:00`, `2026-12-01T21:00:00Z` (a space
//!   may stand for the `T`). The offset says which instant is meant.
//! - **A local date and time without an offset**: `2026-12-01T22:00` or `2026-12-01 22:00:30`,
//!   taken in this machine's time zone (`TZ`, else `/etc/localtime`). A local time that does
//!   not exist (skipped by a spring-forward change) or happens twice (a fall-back change) is
//!   refused with the offsets to choose from, never guessed.
//!
//! Anything else (a time without a date, a date without a time, `tomorrow 22:00`, a zone name
//! without an offset) is refused with a message naming both forms. The CLI sends the instant to
//! the daemon in UTC, so the daemon's own time zone never matters.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

/// Parses TIME as described in the module documentation, reading a local time in `tz`. The
/// error is a message for people.
pub(crate) fn parse_start(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    if let Ok(at) = trimmed.parse::<Timestamp>() {
        return Ok(at);
    }
    if !is_local_date_time(trimmed) {
        return Err(expected_format(text, tz));
    }
    let civil: DateTime = trimmed
        .replacen([' ', 't'], "T", 1)
        .parse()
        .map_err(|_| expected_format(text, tz))?;
    let zone = zone_name(tz);
    match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset
            .to_timestamp(civil)
            .map_err(|_| expected_format(text, tz)),
        AmbiguousOffset::Gap { before, after } => Err(format!(
            "`{text}` does not exist in {zone}: the clocks jump from {} to {} around then; give \
             the time with an offset, e.g. {civil}{}",
            offset_text(before),
            offset_text(after),
            offset_text(before)
        )),
        AmbiguousOffset::Fold { before, after } => Err(format!(
            "`{text}` happens twice in {zone} (the clocks go back from {} to {}); say which with \
             an offset: {civil}{} (the first) or {civil}{} (the second)",
            offset_text(before),
            offset_text(after),
            offset_text(before),
            offset_text(after)
        )),
    }
}

/// The message for a TIME in neither accepted form.
fn expected_format(text: &str, tz: &TimeZone) -> String {
    format!(
        "`{text}` is not a start time; write it as RFC 3339 with an offset, e.g. \
         2026-12-01T22:00:00+01:00 or 2026-12-01T21:00:00Z, or as a local date and time \
         without an offset, e.g. 2026-12-01T22:00 or \"2026-12-01 22:00\", which is taken in \
         this machine's time zone ({})",
        zone_name(tz)
    )
}

/// An offset as RFC 3339 writes it, `+01:00` (jiff's `Display` shortens it to `+01`).
fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name().map_or_else(
        || "the system time zone".to_owned(),
        |name| format!("`{name}`"),
    )
}

/// `YYYY-MM-DD` then `T`, `t` or a space, then `HH:MM`, optionally `:SS` and a fraction: the
/// only local spelling accepted. Checked before jiff parses it because jiff's civil parser is
/// lenient in ways that would hide a mistake (a date alone is midnight, an offset or a zone
/// annotation is ignored).
fn is_local_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let at = |index: usize, allowed: &[u8]| bytes.get(index).is_some_and(|b| allowed.contains(b));
    let date_and_minutes = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"Tt ")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16);
    if !date_and_minutes {
        return false;
    }
    match &bytes[16..] {
        [] => true,
        [b':', rest @ ..] => match rest {
            [s1, s2] => s1.is_ascii_digit() && s2.is_ascii_digit(),
            [s1, s2, b'.' | b',', fraction @ ..] => {
                s1.is_ascii_digit()
                    && s2.is_ascii_digit()
                    && !fraction.is_empty()
                    && fraction.len() <= 9
                    && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    /// Central European time by its POSIX rule, so the tests need no time zone database.
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn rfc_3339_with_an_offset_is_that_instant_in_any_zone() {
        for tz in [berlin(), TimeZone::UTC] {
            assert_eq!(
                parse_start("2026-12-01T22:00:00+01:00", &tz),
                Ok(ts("2026-12-01T21:00:00Z"))
            );
            assert_eq!(
                parse_start("2026-12-01T21:00:00Z", &tz),
                Ok(ts("2026-12-01T21:00:00Z"))
            );
            assert_eq!(
                parse_start(" 2026-12-01 22:00+01:00 ", &tz),
                Ok(ts("2026-12-01T21:00:00Z"))
            );
        }
    }

    #[test]
    fn a_local_date_and_time_is_taken_in_the_given_zone() {
        assert_eq!(
            parse_start("2026-12-01T22:00", &berlin()),
            Ok(ts("2026-12-01T21:00:00Z"))
        );
        assert_eq!(
            parse_start("2026-07-01 22:00:30", &berlin()),
            Ok(ts("2026-07-01T20:00:30Z")),
            "summer time"
        );
        assert_eq!(
            parse_start("2026-12-01t22:00:00.5", &TimeZone::UTC),
            Ok(ts("2026-12-01T22:00:00.5Z"))
        );
    }

    #[test]
    fn a_local_time_skipped_or_repeated_by_a_dst_change_is_refused_with_the_offsets() {
        // 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 happens twice.
        let gap = parse_start("2026-03-29T02:30", &berlin()).unwrap_err();
        assert!(gap.contains("does not exist"), "{gap}");
        assert!(gap.contains("2026-03-29T02:30:00+01:00"), "{gap}");
        let fold = parse_start("2026-10-25T02:30", &berlin()).unwrap_err();
        assert!(fold.contains("happens twice"), "{fold}");
        assert!(fold.contains("2026-10-25T02:30:00+02:00"), "{fold}");
        assert!(fold.contains("2026-10-25T02:30:00+01:00"), "{fold}");
        // The offsets it suggests are read back as the instants they name.
        assert_eq!(
            parse_start("2026-10-25T02:30:00+01:00", &berlin()),
            Ok(ts("2026-10-25T01:30:00Z"))
        );
        assert_eq!(
            offset_text(Offset::from_seconds(-(3 * 3600 + 1800)).unwrap()),
            "-03:30"
        );
    }

    #[test]
    fn anything_else_is_refused_naming_both_forms() {
        for bad in [
            "22:00",
            "2026-12-01",
            "tomorrow 22:00",
            "12/01/2026 22:00",
            "2026-12-01T22",
            "2026-12-01T22:00[Europe/Berlin]",
            "2026-12-01T22:00:00 CET",
            "2026-12-01T22:00:00+0100x",
            "2026-13-01T22:00",
            "2026-12-01T25:00",
            "",
        ] {
            let error = parse_start(bad, &berlin()).unwrap_err();
            assert!(error.contains("RFC 3339 with an offset"), "{bad}: {error}");
            assert!(
                error.contains("2026-12-01T22:00:00+01:00"),
                "{bad}: {error}"
            );
            assert!(error.contains("local date and time"), "{bad}: {error}");
        }
    }
}
