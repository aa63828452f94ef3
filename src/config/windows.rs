//! The `[[windows]]` list: raw tables to [`WindowConfig`]s, every problem collected with its
//! key (`windows[0].cron`, counting from 0 in file order), and the warnings about windows that
//! load but may not do what their author expects.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use config::Value;
use jiff::{Timestamp, ToSpan};

use super::raw::{
    Collector, RawWindow, WINDOW_KEYS, join_key, list_entry, suggest, table_list, unique_name,
};
use super::validate::non_empty;
use super::window::{
    self, CronSchedule, InvalidWindow, MAX_WINDOW_LENGTH, WindowConfig, WindowWhen,
};
use super::{OrgConfig, duration};
use crate::automation::Kind;
use crate::schedule;

/// The zone of a cron window that does not name one.
const DEFAULT_ZONE: &str = "UTC";

/// Every window, or `None` with each problem recorded. `org_names` are the `[orgs.NAME]`
/// tables as written (also those with problems of their own, so that a window naming a broken
/// org is not blamed for it).
pub(super) fn build(
    c: &mut Collector<'_>,
    value: Option<Value>,
    org_names: &BTreeSet<String>,
) -> Option<Vec<WindowConfig>> {
    table_list(c, "windows", value, "windows", |c, index, value, names| {
        one(c, index, value, org_names, names)
    })
}

/// Warnings about loaded windows: starts in a DST gap or fold within a year of `now`, one-off
/// windows already over, and narrowings that leave an org nothing to pause.
pub(super) fn warn(
    c: &mut Collector<'_>,
    windows: &[WindowConfig],
    orgs: &BTreeMap<String, OrgConfig>,
    now: Timestamp,
) {
    // A year in the calendar sense, so that both of this year's DST changes are always in it.
    let year_ahead = now
        .to_zoned(jiff::tz::TimeZone::UTC)
        .checked_add(12.months())
        .map(|later| later.timestamp())
        .unwrap_or(Timestamp::MAX);
    for (index, window) in windows.iter().enumerate() {
        let key = |field: &str| join_key(&format!("windows[{index}]"), field);
        match &window.when {
            WindowWhen::Cron { .. } => {
                for note in schedule::dst_notes(window, now, year_ahead) {
                    c.warning(&key("cron"), note);
                }
            }
            WindowWhen::Once { end, .. } if *end <= now => c.warning(
                &key("end"),
                format!(
                    "this one-off window ended at {end} and will never pause anything; remove it"
                ),
            ),
            WindowWhen::Once { .. } => {}
        }
        for org in window.orgs.iter().filter_map(|name| orgs.get(name)) {
            if let Some(kinds) = &window.kinds
                && kinds.is_disjoint(&org.kinds)
            {
                let pauses: Vec<&str> = org.kinds.iter().map(|kind| kind.as_str()).collect();
                c.warning(
                    &key("kinds"),
                    format!(
                        "org `{}` pauses none of these kinds (only {}), so this window pauses \
                         nothing there",
                        org.name,
                        pauses.join(", ")
                    ),
                );
            }
            if let (Some(objects), Some(in_scope)) = (&window.objects, &org.objects)
                && !objects
                    .iter()
                    .any(|object| in_scope.iter().any(|o| o.eq_ignore_ascii_case(object)))
            {
                let listed: Vec<&str> = in_scope.iter().map(String::as_str).collect();
                c.warning(
                    &key("objects"),
                    format!(
                        "org `{}` pauses none of these objects (only {}), so this window pauses \
                         nothing there",
                        org.name,
                        listed.join(", ")
                    ),
                );
            }
        }
    }
}

/// `windows[index]`.
fn one(
    c: &mut Collector<'_>,
    index: usize,
    value: Value,
    org_names: &BTreeSet<String>,
    names: &mut HashMap<String, usize>,
) -> Option<WindowConfig> {
    let (raw, prefix): (RawWindow, String) = list_entry(
        c,
        ("windows", index),
        value,
        WINDOW_KEYS,
        "write each window as a [[windows]] section with name, orgs and a schedule",
    )?;
    let key = |field: &str| join_key(&prefix, field);

    let name = match raw.name {
        Some(value) => name(c, &key("name"), value, index, names),
        None => {
            c.problem(
                &key("name"),
                "missing; give the window a unique name, like \"nightly-load\"",
            );
            None
        }
    };
    let orgs = match raw.orgs {
        Some(value) => window_orgs(c, &key("orgs"), value, org_names),
        None => {
            c.problem(
                &key("orgs"),
                "missing; list the orgs this window pauses, like [\"prod\"]",
            );
            None
        }
    };
    let when = when(
        c,
        &prefix,
        Schedule {
            cron: raw.cron,
            duration: raw.duration,
            timezone: raw.timezone,
            start: raw.start,
            end: raw.end,
        },
    );
    let kinds = match raw.kinds {
        Some(value) => c
            .parsed_list::<Kind>(&key("kinds"), value)
            .and_then(|kinds| {
                non_empty(
                    c,
                    &key("kinds"),
                    kinds,
                    "remove the key to pause the kinds each org pauses, or list at least one",
                )
            })
            .map(|kinds| Some(BTreeSet::from_iter(kinds))),
        None => Some(None),
    };
    let objects = match raw.objects {
        Some(value) => c
            .string_list(&key("objects"), value)
            .and_then(|objects| {
                non_empty(
                    c,
                    &key("objects"),
                    objects,
                    "remove the key to pause the objects each org pauses, or list at least one",
                )
            })
            .map(Some),
        None => Some(None),
    };

    Some(WindowConfig {
        name: name?,
        orgs: orgs?,
        when: when?,
        kinds: kinds?,
        objects: objects?,
    })
}

/// A window's name: it keys overrides (`resume --window`) and history, so it must be unique.
fn name(
    c: &mut Collector<'_>,
    key: &str,
    value: Value,
    index: usize,
    names: &mut HashMap<String, usize>,
) -> Option<String> {
    let name = c.nonempty_string(key, value)?;
    if name.chars().any(char::is_control) {
        c.problem(
            key,
            "must not contain control characters such as tabs or newlines",
        );
        return None;
    }
    unique_name(
        c,
        key,
        ("windows", index),
        name,
        names,
        "window names must be unique because `resume --window` and the history refer to \
         windows by name",
    )
}

/// The orgs a window pauses: at least one, each configured, none twice.
fn window_orgs(
    c: &mut Collector<'_>,
    key: &str,
    value: Value,
    org_names: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let orgs = c.string_list(key, value)?;
    let orgs = non_empty(c, key, orgs, "list at least one org, like [\"prod\"]")?;
    let known: Vec<&str> = org_names.iter().map(String::as_str).collect();
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for org in &orgs {
        if !org_names.contains(org) {
            let hint = match suggest(org, &known) {
                Some(close) => format!("did you mean `{close}`?"),
                None if known.is_empty() => "no orgs are configured".to_owned(),
                None => format!("configured orgs: {}", known.join(", ")),
            };
            c.problem(key, format!("unknown org `{org}`; {hint}"));
            ok = false;
        } else if !seen.insert(org.as_str()) {
            c.problem(key, format!("org `{org}` is listed twice; list it once"));
            ok = false;
        }
    }
    ok.then_some(orgs)
}

/// The schedule keys of one window, either form.
struct Schedule {
    cron: Option<Value>,
    duration: Option<Value>,
    timezone: Option<Value>,
    start: Option<Value>,
    end: Option<Value>,
}

fn when(c: &mut Collector<'_>, prefix: &str, raw: Schedule) -> Option<WindowWhen> {
    let recurring = raw.cron.is_some();
    let one_off = raw.start.is_some() || raw.end.is_some();
    match (recurring, one_off) {
        (true, true) => {
            c.problem(
                prefix,
                "sets both cron (a recurring window) and start/end (a one-off window); keep one \
                 of the two forms",
            );
            None
        }
        (false, false) => {
            c.problem(
                prefix,
                "has no schedule; set cron and duration for a recurring window, or start and \
                 end for a one-off window",
            );
            None
        }
        (true, false) => recurring_when(c, prefix, raw),
        (false, true) => one_off_when(c, prefix, raw),
    }
}

/// `cron` + `duration` + optional `timezone`.
fn recurring_when(c: &mut Collector<'_>, prefix: &str, raw: Schedule) -> Option<WindowWhen> {
    let key = |field: &str| join_key(prefix, field);
    let (expression, schedule) = match raw.cron.and_then(|value| c.string(&key("cron"), value)) {
        Some(expression) => match CronSchedule::parse(&expression) {
            Ok(schedule) => (Some(expression), Some(schedule)),
            Err(err) => {
                c.problem(&key("cron"), err.to_string());
                (None, None)
            }
        },
        None => (None, None),
    };
    let duration = match raw.duration {
        Some(value) => c.string(&key("duration"), value).and_then(|text| {
            let parsed = duration::parse_positive(&text).map_err(|message| {
                c.problem(&key("duration"), message);
            });
            let parsed = parsed.ok()?;
            if parsed > MAX_WINDOW_LENGTH {
                c.problem(
                    &key("duration"),
                    format!(
                        "{} is longer than the limit of 7 days (168h); shorten it",
                        duration::display(parsed)
                    ),
                );
                return None;
            }
            Some(parsed)
        }),
        None => {
            c.problem(
                &key("duration"),
                "missing; a cron window needs a duration, like \"2h\" (how long each occurrence \
                 stays open)",
            );
            None
        }
    };
    let zone = match raw.timezone {
        Some(value) => c.nonempty_string(&key("timezone"), value).and_then(|name| {
            match window::time_zone(&name) {
                Ok(zone) => Some(zone),
                Err(err) => {
                    c.problem(&key("timezone"), err.to_string());
                    None
                }
            }
        }),
        None => window::time_zone(DEFAULT_ZONE).ok(),
    };
    let (timezone, zone_name) = zone?;
    Some(WindowWhen::Cron {
        expression: expression?,
        duration: duration?,
        timezone,
        zone_name,
        schedule: schedule?,
    })
}

/// `start` + `end`.
fn one_off_when(c: &mut Collector<'_>, prefix: &str, raw: Schedule) -> Option<WindowWhen> {
    let key = |field: &str| join_key(prefix, field);
    if raw.duration.is_some() {
        c.problem(
            &key("duration"),
            "duration belongs to cron windows; a one-off window ends at `end`, so remove it",
        );
    }
    if raw.timezone.is_some() {
        c.problem(
            &key("timezone"),
            "timezone belongs to cron windows; start and end carry their own offsets, so remove it",
        );
    }
    let mut instant = |field: &str, value: Option<Value>| match value {
        Some(value) => {
            let text = c.string(&key(field), value)?;
            window::instant(&text)
                .map_err(|err| c.problem(&key(field), err.to_string()))
                .ok()
        }
        None => {
            c.problem(
                &key(field),
                "missing; a one-off window needs both start and end, in RFC 3339 with an offset, \
                 like \"2026-12-01T22:00:00+01:00\"",
            );
            None
        }
    };
    let start = instant("start", raw.start);
    let end = instant("end", raw.end);
    let (start, end) = (start?, end?);
    if raw.duration.is_some() || raw.timezone.is_some() {
        return None;
    }
    match WindowWhen::once(start, end) {
        Ok(when) => Some(when),
        Err(err @ (InvalidWindow::EndNotAfterStart { .. } | InvalidWindow::TooLong(_))) => {
            c.problem(&key("end"), err.to_string());
            None
        }
        Err(err) => {
            c.problem(prefix, err.to_string());
            None
        }
    }
}
