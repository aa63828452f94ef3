//! `pauseplay windows`: the next occurrences of every configured window, in the window's own
//! time zone and in UTC, with what each pauses. Reads the configuration only.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::{CommandError, load_config};
use crate::config::{Config, WindowConfig, WindowWhen};
use crate::schedule::{self, Occurrence};

/// Version of the `windows --json` document (docs/json.md).
pub const WINDOWS_JSON_VERSION: u32 = 1;

/// Lists the next `next` occurrences of each window after `now`, the one open now included.
pub fn windows(
    config_path: &Path,
    next: usize,
    json: bool,
    now: Timestamp,
) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    if json {
        return Ok(render_json(&listed(&config, next, now)));
    }
    Ok(windows_text(&config, next, now))
}

/// The text `pauseplay windows` prints for `config`.
pub(crate) fn windows_text(config: &Config, next: usize, now: Timestamp) -> String {
    let listed = listed(config, next, now);
    if listed.is_empty() {
        return format!(
            "no windows in {}; add `[[windows]]` tables (see config/pauseplay.example.toml)\n",
            config.path.display()
        );
    }
    render_text(&listed, now)
}

fn listed(config: &Config, next: usize, now: Timestamp) -> Vec<(&WindowConfig, Vec<Occurrence>)> {
    config
        .windows
        .iter()
        .map(|window| (window, upcoming(window, now, next)))
        .collect()
}

/// The occurrence open at `now` (if any) and the next ones, `n` in all.
fn upcoming(window: &WindowConfig, now: Timestamp, n: usize) -> Vec<Occurrence> {
    let mut found = schedule::active_at(window, now);
    found.extend(schedule::next(window, now, n));
    found.truncate(n);
    found
}

/// The zone a window's times are shown in: its own for cron windows, the machine's for
/// one-off windows (their offsets are not kept).
fn zone_of(window: &WindowConfig) -> (TimeZone, String) {
    match &window.when {
        WindowWhen::Cron {
            timezone,
            zone_name,
            ..
        } => (timezone.clone(), zone_name.clone()),
        WindowWhen::Once { .. } => {
            let zone = TimeZone::system();
            let name = zone.iana_name().unwrap_or("local").to_owned();
            (zone, name)
        }
    }
}

fn what(window: &WindowConfig) -> String {
    let mut parts = vec![format!("orgs {}", window.orgs.join(", "))];
    if let Some(kinds) = &window.kinds {
        let kinds: Vec<String> = kinds.iter().map(ToString::to_string).collect();
        parts.push(format!("kinds {}", kinds.join(", ")));
    }
    if let Some(objects) = &window.objects {
        parts.push(format!("objects {}", objects.join(", ")));
    }
    parts.join("; ")
}

fn schedule_text(window: &WindowConfig) -> String {
    match &window.when {
        WindowWhen::Cron {
            expression,
            duration,
            zone_name,
            ..
        } => format!(
            "cron `{expression}` in {zone_name}, {}",
            crate::config::duration::display(*duration)
        ),
        WindowWhen::Once { .. } => "one-off".to_owned(),
    }
}

fn render_text(listed: &[(&WindowConfig, Vec<Occurrence>)], now: Timestamp) -> String {
    let mut out = String::new();
    for (window, occurrences) in listed {
        let (zone, _) = zone_of(window);
        let _ = writeln!(
            out,
            "{} ({}; pauses {})",
            window.name,
            schedule_text(window),
            what(window)
        );
        if occurrences.is_empty() {
            out.push_str("  no further occurrences\n");
        }
        for occurrence in occurrences {
            let start = occurrence.start.to_zoned(zone.clone());
            let end = occurrence.end.to_zoned(zone.clone());
            let open = if occurrence.start <= now {
                "  open now"
            } else {
                ""
            };
            // Minutes, as crontabs have them; seconds only when a one-off window has some.
            let precise = start.second() != 0 || end.second() != 0;
            let (zoned, utc) = if precise {
                ("%a %Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S")
            } else {
                ("%a %Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M")
            };
            let _ = writeln!(
                out,
                "  {} -> {}   {} -> {} UTC{open}",
                start.strftime(zoned),
                end.strftime(zoned),
                occurrence.start.strftime(utc),
                occurrence.end.strftime(utc),
            );
        }
    }
    out
}

fn render_json(listed: &[(&WindowConfig, Vec<Occurrence>)]) -> String {
    let windows: Vec<serde_json::Value> = listed
        .iter()
        .map(|(window, occurrences)| {
            let (zone, zone_name) = zone_of(window);
            json!({
                "name": window.name,
                "orgs": window.orgs,
                "kinds": window.kinds,
                "objects": window.objects,
                "timezone": zone_name,
                "occurrences": occurrences
                    .iter()
                    .map(|occurrence| json!({
                        "start": occurrence.start.to_string(),
                        "end": occurrence.end.to_string(),
                        "start_local": occurrence.start.to_zoned(zone.clone()).to_string(),
                        "end_local": occurrence.end.to_zoned(zone.clone()).to_string(),
                    }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "version": WINDOWS_JSON_VERSION,
        "windows": windows,
    }))
    .unwrap_or_else(|_| "{}".to_owned())
}
