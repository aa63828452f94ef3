//! `[[windows]]`: maintenance windows as typed values, and the checks of their single values
//! (cron expression, time zone, instants, length) that do not need the rest of the
//! configuration.
//!
//! Turning a window into UTC occurrences is [`crate::schedule`]'s job; this module only makes
//! sure that every window it hands over can be expanded.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::automation::Kind;

/// The longest window accepted, recurring or one-off: 7 days. A pause of automation that long
/// is an outage rather than maintenance, and a longer value is far more likely a slip (`"2000h"`
/// for `"20h"`) than intent. It also bounds the look-back of
/// [`active_at`](crate::schedule::active_at).
pub const MAX_WINDOW_LENGTH: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// One `[[windows]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowConfig {
    /// Unique among windows, not blank.
    pub name: String,
    /// The orgs paused during the window: not empty, each a configured org, no repeats.
    pub orgs: Vec<String>,
    /// When the window is open.
    pub when: WindowWhen,
    /// Narrows each org's `kinds` for this window; `None` keeps the org's.
    pub kinds: Option<BTreeSet<Kind>>,
    /// Narrows each org's `objects` for this window; `None` keeps the org's.
    pub objects: Option<Vec<String>>,
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowWhen {
    /// A standard 5-field crontab in `timezone`, day-of-month and day-of-week ORed as in Vixie
    /// cron; each start opens the window for `duration` of elapsed time.
    Cron {
        /// The expression as written in the configuration.
        expression: String,
        /// Elapsed time: a 2 h window is 2 real hours even across a DST change.
        duration: Duration,
        timezone: TimeZone,
        /// The IANA name of `timezone`, e.g. `Europe/Berlin`.
        zone_name: String,
        /// `expression`, parsed.
        schedule: CronSchedule,
    },
    /// A one-off window, from RFC 3339 instants with their offsets.
    Once { start: Timestamp, end: Timestamp },
}

impl WindowWhen {
    /// A recurring window, checked as the configuration checks it. `zone_name` is an IANA name
    /// looked up in the system time zone database.
    pub fn cron(
        expression: &str,
        duration: Duration,
        zone_name: &str,
    ) -> Result<WindowWhen, InvalidWindow> {
        let schedule = CronSchedule::parse(expression)?;
        check_length(duration)?;
        let (timezone, zone_name) = time_zone(zone_name)?;
        Ok(WindowWhen::Cron {
            expression: expression.to_owned(),
            duration,
            timezone,
            zone_name,
            schedule,
        })
    }

    /// A one-off window from `start` (inclusive) to `end` (exclusive).
    pub fn once(start: Timestamp, end: Timestamp) -> Result<WindowWhen, InvalidWindow> {
        if end <= start {
            return Err(InvalidWindow::EndNotAfterStart { start, end });
        }
        let length = start.duration_until(end);
        let length = Duration::try_from(length).map_err(|_| InvalidWindow::TooLong(length))?;
        check_length(length)?;
        Ok(WindowWhen::Once { start, end })
    }

    /// How long each occurrence lasts, as elapsed time.
    pub fn length(&self) -> SignedDuration {
        match self {
            WindowWhen::Cron { duration, .. } => {
                // Validated to at most MAX_WINDOW_LENGTH, which always fits.
                SignedDuration::try_from(*duration).unwrap_or(SignedDuration::MAX)
            }
            WindowWhen::Once { start, end } => start.duration_until(*end),
        }
    }
}

impl fmt::Display for WindowWhen {
    /// `cron "0 1 * * 1-5" in Europe/Berlin for 2h` or `once from ... to ...`, for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowWhen::Cron {
                expression,
                duration,
                zone_name,
                ..
            } => write!(
                f,
                "cron \"{expression}\" in {zone_name} for {}",
                super::duration::display(*duration)
            ),
            WindowWhen::Once { start, end } => write!(f, "once from {start} to {end}"),
        }
    }
}

/// A single value of a window that cannot be used. Messages say what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWindow {
    #[error(transparent)]
    Cron(#[from] InvalidCron),
    #[error(
        "unknown time zone `{name}`{}; use an IANA name such as Europe/Berlin, \
         America/New_York or UTC (names come from the system time zone database)",
        .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownTimeZone {
        name: String,
        suggestion: Option<String>,
    },
    #[error(
        "`{text}` is not an RFC 3339 time with an offset; write it like 2026-12-01T22:00:00+01:00 (or 2026-12-01T21:00:00Z for UTC)"
    )]
    NotAnInstant { text: String },
    #[error(
        "end ({end}) is not after start ({start}); a one-off window needs an end later than its start"
    )]
    EndNotAfterStart { start: Timestamp, end: Timestamp },
    #[error(
        "the window lasts {}, longer than the limit of 7 days (168h); split it or shorten it",
        format_length(*.0)
    )]
    TooLong(SignedDuration),
}

fn format_length(length: SignedDuration) -> String {
    format!("{length:#}")
}

fn check_length(length: Duration) -> Result<(), InvalidWindow> {
    if length > MAX_WINDOW_LENGTH {
        // Validated lengths come from jiff durations, so this conversion cannot fail in
        // practice; saturate rather than panic if it ever does.
        let signed = SignedDuration::try_from(length).unwrap_or(SignedDuration::MAX);
        return Err(InvalidWindow::TooLong(signed));
    }
    Ok(())
}

/// Looks up an IANA zone; the name kept is the database's own spelling.
pub(crate) fn time_zone(name: &str) -> Result<(TimeZone, String), InvalidWindow> {
    let name = name.trim();
    match TimeZone::get(name) {
        Ok(tz) => {
            let canonical = tz.iana_name().unwrap_or(name).to_owned();
            Ok((tz, canonical))
        }
        Err(_) => Err(InvalidWindow::UnknownTimeZone {
            name: name.to_owned(),
            suggestion: suggest_zone(name),
        }),
    }
}

/// The zone name closest to a misspelt one (`Europe/Berln`), if one is a couple of edits away.
fn suggest_zone(name: &str) -> Option<String> {
    let available: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    let lowered: Vec<String> = available.iter().map(|n| n.to_lowercase()).collect();
    let candidates: Vec<&str> = lowered.iter().map(String::as_str).collect();
    let close = super::raw::suggest(name, &candidates)?;
    let index = candidates.iter().position(|c| *c == close)?;
    available.get(index).cloned()
}

/// Parses an RFC 3339 instant with its offset (`Z` or `+01:00`).
pub(crate) fn instant(text: &str) -> Result<Timestamp, InvalidWindow> {
    text.trim()
        .parse::<Timestamp>()
        .map_err(|_| InvalidWindow::NotAnInstant {
            text: text.to_owned(),
        })
}

/// A parsed 5-field cron expression. Only standard crontab syntax is accepted: numbers,
/// month and weekday names, `*`, ranges, lists and steps. croner's extensions (`L`, `W`, `#`,
/// `?`, the `+` that turns the day OR into an AND, seconds and years, `@` nicknames) are
/// refused so that an expression means the same here as in any crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    /// Boxed: a parsed pattern is a few hundred bytes, and windows are moved around.
    cron: Box<Cron>,
}

impl CronSchedule {
    /// Parses and checks `expression`; see the type's documentation for what is accepted.
    pub fn parse(expression: &str) -> Result<CronSchedule, InvalidCron> {
        let invalid = |problem| InvalidCron {
            expression: expression.to_owned(),
            problem,
        };
        if let Some(nickname) = expression.split_whitespace().find(|f| f.starts_with('@')) {
            return Err(invalid(CronProblem::Nickname(nickname.to_owned())));
        }
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let fields: [&str; 5] = fields
            .as_slice()
            .try_into()
            .map_err(|_| invalid(CronProblem::FieldCount(fields.len())))?;
        for (field, text) in CronField::ALL.into_iter().zip(fields) {
            field.check_syntax(text).map_err(invalid)?;
        }
        let cron = parser()
            .parse(expression)
            .map_err(|err| invalid(locate(fields, &err)))?;
        // A date that never exists (`0 0 30 2 *`) parses but never fires. croner gives up on
        // such a search after a bounded number of steps; any real pattern, even the 29th of
        // February, matches within eight years of any date.
        let probe = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
        if cron.find_next_occurrence(&probe, true).is_err() {
            return Err(invalid(CronProblem::NeverMatches));
        }
        Ok(CronSchedule {
            cron: Box::new(cron),
        })
    }

    /// The first wall-clock time after `after` (or at it, if `inclusive`) that the expression
    /// matches, with no time zone involved; `None` past the end of the supported calendar.
    pub(crate) fn next_civil(&self, after: DateTime, inclusive: bool) -> Option<DateTime> {
        // Errors mean the search ran off the calendar (year 9999) or gave up: no more starts.
        self.cron.find_next_occurrence(&after, inclusive).ok()
    }
}

/// Standard five fields, POSIX OR of day-of-month and day-of-week (croner's default, spelt out
/// here so that a change of default upstream cannot silently turn it into an AND).
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .alternative_weekdays(false)
        .sloppy_ranges(false)
        .build()
}

/// croner does not say which field it refused; parse each field alone (the others `*`) to
/// find the first that fails, so the message can name it.
fn locate(fields: [&str; 5], err: &croner::errors::CronError) -> CronProblem {
    for (index, field) in CronField::ALL.into_iter().enumerate() {
        let mut alone = ["*"; 5];
        alone[index] = fields[index];
        if let Err(field_err) = parser().parse(&alone.join(" ")) {
            return CronProblem::Field {
                field,
                value: fields[index].to_owned(),
                reason: cron_reason(&field_err),
            };
        }
    }
    CronProblem::Other(cron_reason(err))
}

/// croner's message without its type prefix, in the lower case of a clause.
fn cron_reason(err: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    let text = match err {
        E::InvalidPattern(msg) | E::IllegalCharacters(msg) | E::ComponentError(msg) => msg.clone(),
        other => other.to_string(),
    };
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A cron expression that cannot be used, with the expression for context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expression}` {problem}")]
pub struct InvalidCron {
    pub expression: String,
    pub problem: CronProblem,
}

/// What is wrong with a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronProblem {
    #[error(
        "has {0} field(s); write the 5 standard fields: minute hour day-of-month month \
         day-of-week, like \"0 1 * * 1-5\" (01:00 on weekdays)"
    )]
    FieldCount(usize),
    #[error("uses the nickname {0}; write the 5 fields instead (@daily is \"0 0 * * *\")")]
    Nickname(String),
    #[error(
        "uses `{symbol}` in the {field} field, a croner extension that standard cron does not \
         have; write the schedule with numbers, names, *, ranges (1-5), lists (1,15) and \
         steps (*/15)"
    )]
    Extension { field: CronField, symbol: String },
    #[error("has an invalid {field} field `{value}`: {reason}; the {field} takes {}", .field.allowed())]
    Field {
        field: CronField,
        value: String,
        reason: String,
    },
    #[error("is not a valid cron expression: {0}")]
    Other(String),
    #[error(
        "never matches a real date (like the 30th of February); check the day-of-month and \
         month fields"
    )]
    NeverMatches,
}

/// The five fields of a crontab line, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronField {
    pub const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    fn allowed(self) -> &'static str {
        match self {
            CronField::Minute => "0-59",
            CronField::Hour => "0-23",
            CronField::DayOfMonth => "1-31",
            CronField::Month => "1-12 or JAN-DEC",
            CronField::DayOfWeek => "0-7 or SUN-SAT (0 and 7 are Sunday)",
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            CronField::Month => &MONTH_NAMES,
            CronField::DayOfWeek => &WEEKDAY_NAMES,
            _ => &[],
        }
    }

    /// Refuses what standard crontab does not have before croner sees it: croner accepts its
    /// extensions everywhere, and replaces month and weekday names in every field (so `MON` in
    /// the month field would quietly mean January). Values and ranges are croner's to check.
    fn check_syntax(self, text: &str) -> Result<(), CronProblem> {
        let upper = text.to_uppercase();
        let extension = |symbol: &str| CronProblem::Extension {
            field: self,
            symbol: symbol.to_owned(),
        };
        if let Some(symbol) = upper.chars().find(|c| matches!(c, '#' | '?' | '+')) {
            return Err(extension(&symbol.to_string()));
        }
        for word in upper
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
        {
            if self.names().contains(&word) {
                continue;
            }
            if word.chars().all(|c| c == 'L' || c == 'W') {
                return Err(extension(word));
            }
            return Err(CronProblem::Field {
                field: self,
                value: text.to_owned(),
                reason: format!("`{word}` is not a number or a name this field knows"),
            });
        }
        match upper
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/')))
        {
            Some(other) => Err(CronProblem::Field {
                field: self,
                value: text.to_owned(),
                reason: format!("`{other}` is not allowed"),
            }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(expression: &str) -> CronProblem {
        match CronSchedule::parse(expression) {
            Ok(_) => panic!("`{expression}` should be refused"),
            Err(err) => err.problem,
        }
    }

    #[test]
    fn standard_expressions_parse() {
        for ok in [
            "0 1 * * 1-5",
            "*/15 * * * *",
            "0 1 13 * 5",
            "0 2 29 2 *",
            "30 2 1,15 jan-mar sun",
            "0 22 * * SAT,SUN",
            "0 0 * * 7",
            "5-55/10 1-3 * * *",
        ] {
            assert!(CronSchedule::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_field_count_is_five() {
        assert_eq!(problem("0 1 * *"), CronProblem::FieldCount(4));
        assert_eq!(problem("0 0 1 * * *"), CronProblem::FieldCount(6));
        assert_eq!(problem(""), CronProblem::FieldCount(0));
        assert!(matches!(problem("@daily"), CronProblem::Nickname(_)));
    }

    #[test]
    fn bad_values_name_their_field() {
        let CronProblem::Field { field, value, .. } = problem("0 25 * * *") else {
            panic!("a field problem expected");
        };
        assert_eq!((field, value.as_str()), (CronField::Hour, "25"));
        let CronProblem::Field { field, .. } = problem("0 1 * 13 *") else {
            panic!("a field problem expected");
        };
        assert_eq!(field, CronField::Month);
        let CronProblem::Field { field, .. } = problem("0 1 0 * *") else {
            panic!("a field problem expected");
        };
        assert_eq!(field, CronField::DayOfMonth);
        let CronProblem::Field { field, .. } = problem("*/0 1 * * *") else {
            panic!("a field problem expected");
        };
        assert_eq!(field, CronField::Minute);
        // A weekday name in the month field would be read by croner as a month number.
        let CronProblem::Field { field, .. } = problem("0 1 * MON *") else {
            panic!("a field problem expected");
        };
        assert_eq!(field, CronField::Month);
        let message = InvalidCron {
            expression: "0 25 * * *".to_owned(),
            problem: problem("0 25 * * *"),
        }
        .to_string();
        assert!(message.contains("hour field `25`"), "{message}");
        assert!(message.contains("0-23"), "{message}");
    }

    #[test]
    fn croner_extensions_are_refused() {
        for (expression, symbol) in [
            ("0 1 L * *", "L"),
            ("0 1 15W * *", "W"),
            ("0 1 * * 5#2", "#"),
            ("0 1 ? * 5", "?"),
            ("0 1 1 * +MON", "+"),
        ] {
            match problem(expression) {
                CronProblem::Extension { symbol: found, .. } => {
                    assert_eq!(found, symbol, "{expression}")
                }
                other => panic!("{expression}: {other:?}"),
            }
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(problem("0 0 30 2 *"), CronProblem::NeverMatches);
        assert_eq!(problem("0 0 31 4,6 *"), CronProblem::NeverMatches);
    }

    #[test]
    fn windows_longer_than_a_week_or_backwards_are_refused() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert!(WindowWhen::cron("0 1 * * *", hours(168), "UTC").is_ok());
        assert!(matches!(
            WindowWhen::cron("0 1 * * *", hours(169), "UTC"),
            Err(InvalidWindow::TooLong(_))
        ));
        let start: Timestamp = "2026-12-01T21:00:00Z".parse().expect("instant");
        assert!(matches!(
            WindowWhen::once(start, start),
            Err(InvalidWindow::EndNotAfterStart { .. })
        ));
    }

    #[test]
    fn zones_are_looked_up_and_misspellings_suggested() {
        let (_, name) = time_zone("Europe/Berlin").expect("zone");
        assert_eq!(name, "Europe/Berlin");
        let err = time_zone("Europe/Berln").expect_err("unknown");
        assert_eq!(
            err,
            InvalidWindow::UnknownTimeZone {
                name: "Europe/Berln".to_owned(),
                suggestion: Some("Europe/Berlin".to_owned()),
            }
        );
    }
}
