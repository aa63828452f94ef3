//! `pauseplay check-config`: load and validate the configuration, touching nothing else.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;

use super::{CommandError, load_config};
use crate::config::Config;
use crate::notify::EventKind;
use crate::schedule;

/// Validates the configuration and returns a summary for people: the orgs, the windows with
/// their next start, the notification targets (never their URLs), and every warning. Warnings
/// do not make the configuration invalid.
pub fn check_config(path: &Path) -> Result<String, CommandError> {
    let config = load_config(path)?;
    Ok(summary(&config, Timestamp::now()))
}

fn summary(config: &Config, now: Timestamp) -> String {
    let mut out = format!(
        "{} is valid: {} org(s), {} window(s), {} notification target(s)",
        config.path.display(),
        config.orgs.len(),
        config.windows.len(),
        config.notify.len()
    );
    for org in config.orgs.values() {
        let _ = write!(
            out,
            "\n  {} ({}, API {})",
            org.name, org.url, org.api_version
        );
    }
    for window in &config.windows {
        let next = match schedule::next(window, now, 1).first() {
            Some(occurrence) => format!("next {}", occurrence.start),
            None => "no start ahead".to_owned(),
        };
        let _ = write!(
            out,
            "\n  window {}: {}, orgs {}; {next}",
            window.name,
            window.when,
            window.orgs.join(", ")
        );
    }
    for target in &config.notify {
        let events = if target.events.len() == EventKind::ALL.len() {
            "all events".to_owned()
        } else {
            let names: Vec<&str> = target.events.iter().map(|kind| kind.as_str()).collect();
            format!("events {}", names.join(", "))
        };
        // The URL is a secret; its source is what an operator needs to find it.
        let _ = write!(
            out,
            "\n  notify {} ({}): {events}; URL from {}",
            target.name, target.kind, target.url_source
        );
    }
    if !config.warnings.is_empty() {
        let _ = write!(out, "\n{} warning(s):", config.warnings.len());
        for warning in &config.warnings {
            let _ = write!(out, "\n  - {warning}");
        }
    }
    out
}
