//! The commands that talk to the daemon over its control socket: `pause now`, `pause at`,
//! `resume`, `status` and `history`. They print for people (with a progress bar on a terminal,
//! plain lines otherwise) or, with `--json`, the daemon's answer as stable versioned JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use super::CommandError;
use crate::control::protocol::{
    ComponentIssue, DeployView, Event, HistoryView, HoldView, OrgOutcome, Phase, Request,
    ResultBody, StatusView,
};
use crate::control::{ClientError, ControlClient};

/// Bumped when a field of the `--json` output of `status` or `history` is removed or changes
/// meaning.
pub const REMOTE_JSON_VERSION: u32 = 1;

/// Where to find the daemon: `--socket` when given, otherwise the configuration's socket.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: PathBuf,
    pub socket: Option<PathBuf>,
}

impl Target {
    fn socket(&self) -> Result<PathBuf, CommandError> {
        match &self.socket {
            Some(socket) => Ok(socket.clone()),
            None => Ok(crate::config::socket_path(&self.config)?),
        }
    }
}

/// `pauseplay pause now`.
pub async fn pause_now(
    target: &Target,
    orgs: Vec<String>,
    duration: Option<&str>,
    reason: Option<String>,
) -> Result<String, CommandError> {
    let duration_secs = duration
        .map(|text| {
            crate::config::duration::parse_positive(text)
                .map(|duration| duration.as_secs().max(1))
                .map_err(|error| CommandError::Usage(format!("--for {text}: {error}")))
        })
        .transpose()?;
    let request = Request::PauseNow {
        orgs,
        duration_secs,
        reason,
    };
    match send(target, request).await? {
        ResultBody::Pause { holds, orgs } => report_outcomes(&pause_text(&holds, &orgs), &orgs),
        other => Err(unexpected(&other)),
    }
}

/// `pauseplay pause at TIME --for DUR`: an ad hoc window. TIME is RFC 3339 with an offset or a
/// local date and time in this machine's time zone (see [`super::start_time`]); the daemon
/// refuses a TIME in the past and a DUR above `manual_pause_max`.
pub async fn pause_at(
    target: &Target,
    time: &str,
    orgs: Vec<String>,
    duration: &str,
    reason: Option<String>,
) -> Result<String, CommandError> {
    let tz = local_zone();
    let start = super::start_time::parse_start(time, &tz).map_err(CommandError::Usage)?;
    let duration_secs = crate::config::duration::parse_positive(duration)
        .map(|duration| duration.as_secs().max(1))
        .map_err(|error| CommandError::Usage(format!("--for {duration}: {error}")))?;
    let request = Request::PauseAt {
        orgs,
        start,
        duration_secs,
        reason,
    };
    match send(target, request).await? {
        ResultBody::PauseAt { start, holds, orgs } => {
            report_outcomes(&pause_at_text(start, &holds, &orgs, &tz), &orgs)
        }
        other => Err(unexpected(&other)),
    }
}

/// This machine's time zone, or UTC when it cannot be told (jiff then warns in the log).
fn local_zone() -> TimeZone {
    TimeZone::system()
}

/// `2026-12-01T21:00:00Z (22:00:00 CET)`: UTC as everywhere in pauseplay's output, and the
/// local time when this machine is not on UTC.
fn with_local(at: Timestamp, tz: &TimeZone) -> String {
    let zoned = at.to_zoned(tz.clone());
    if zoned.offset().seconds() == 0 {
        at.to_string()
    } else {
        format!("{at} ({})", zoned.strftime("%Y-%m-%d %H:%M:%S %Z"))
    }
}

pub(crate) fn pause_at_text(
    start: Timestamp,
    holds: &[HoldView],
    orgs: &[OrgOutcome],
    tz: &TimeZone,
) -> String {
    let mut out = String::new();
    if let Some(first) = holds.first() {
        let _ = writeln!(
            out,
            "ad hoc window `{}` from {} until {}",
            first.window.as_deref().unwrap_or("?"),
            with_local(start, tz),
            with_local(first.expires_at, tz)
        );
    }
    for hold in holds {
        let reason = hold.reason.as_deref().unwrap_or("no reason given");
        let in_force = orgs.iter().any(|org| org.org == hold.org);
        if in_force {
            let _ = writeln!(
                out,
                "hold #{} on org `{}`: in force now, until {} ({reason})",
                hold.id, hold.org, hold.expires_at
            );
        } else {
            let _ = writeln!(
                out,
                "hold #{} on org `{}`: pausing starts at {}, restored at {} ({reason}); \
                 `pauseplay resume --hold {}` cancels it",
                hold.id,
                hold.org,
                with_local(hold.starts_at.unwrap_or(start), tz),
                hold.expires_at,
                hold.id
            );
        }
    }
    push_outcomes(&mut out, orgs);
    out
}

/// `pauseplay resume`.
pub async fn resume(
    target: &Target,
    orgs: Vec<String>,
    hold: Option<i64>,
    window: Option<String>,
) -> Result<String, CommandError> {
    match send(target, Request::Resume { orgs, hold, window }).await? {
        ResultBody::Resume { released, orgs } => {
            report_outcomes(&resume_text(&released, &orgs), &orgs)
        }
        other => Err(unexpected(&other)),
    }
}

/// `pauseplay status`.
pub async fn status(target: &Target, as_json: bool) -> Result<String, CommandError> {
    match send(target, Request::Status {}).await? {
        ResultBody::Status(status) if as_json => Ok(versioned(json!({
            "holds": status.holds,
            "upcoming": status.upcoming,
            "windows": status.windows,
            "missed": status.missed,
            "orgs": status.orgs,
        }))),
        ResultBody::Status(status) => Ok(status_text(&status)),
        other => Err(unexpected(&other)),
    }
}

/// `pauseplay history`.
pub async fn history(
    target: &Target,
    org: Option<String>,
    limit: Option<u32>,
    as_json: bool,
) -> Result<String, CommandError> {
    match send(target, Request::History { org, limit }).await? {
        ResultBody::History { entries } if as_json => Ok(versioned(json!({ "entries": entries }))),
        ResultBody::History { entries } => Ok(history_text(&entries)),
        other => Err(unexpected(&other)),
    }
}

fn versioned(mut value: serde_json::Value) -> String {
    if let Some(object) = value.as_object_mut() {
        object.insert("version".to_owned(), json!(REMOTE_JSON_VERSION));
    }
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned())
}

/// Sends one request, showing the daemon's progress events on stderr while it runs.
async fn send(target: &Target, request: Request) -> Result<ResultBody, CommandError> {
    let socket = target.socket()?;
    let mut client = ControlClient::connect(&socket)
        .await
        .map_err(client_error)?;
    let mut progress = ProgressDisplay::new();
    let result = client.request(request, |event| progress.show(event)).await;
    progress.finish();
    result.map_err(client_error)
}

fn client_error(error: ClientError) -> CommandError {
    if error.is_unreachable() {
        return CommandError::Unreachable(error.to_string());
    }
    match error {
        ClientError::Daemon { code, message } => match code {
            crate::control::protocol::ErrorCode::NotFound
            | crate::control::protocol::ErrorCode::BadRequest => CommandError::Usage(message),
            _ => CommandError::Failed(anyhow::anyhow!("the daemon answered {code}: {message}")),
        },
        other => CommandError::Failed(anyhow::Error::new(other)),
    }
}

fn unexpected(result: &ResultBody) -> CommandError {
    CommandError::Failed(anyhow::anyhow!(
        "the daemon answered with a `{}` result to this request; is it a different version?",
        result.kind()
    ))
}

/// The text for people, and exit 1 when any org failed, stopped or has conflicts.
fn report_outcomes(text: &str, orgs: &[OrgOutcome]) -> Result<String, CommandError> {
    let clean = orgs
        .iter()
        .all(|org| org.failed.is_empty() && org.conflicts.is_empty() && org.error.is_none());
    if clean {
        Ok(text.to_owned())
    } else {
        Err(CommandError::Incomplete {
            output: text.to_owned(),
            error: anyhow::anyhow!(
                "not every component is where it should be; `pauseplay status` shows them, and \
                 the daemon keeps retrying failed restores"
            ),
        })
    }
}

pub(crate) fn pause_text(holds: &[HoldView], orgs: &[OrgOutcome]) -> String {
    let mut out = String::new();
    for hold in holds {
        let _ = writeln!(
            out,
            "hold #{} on org `{}` until {} ({})",
            hold.id,
            hold.org,
            hold.expires_at,
            hold.reason.as_deref().unwrap_or("no reason given")
        );
    }
    push_outcomes(&mut out, orgs);
    out
}

pub(crate) fn resume_text(released: &[HoldView], orgs: &[OrgOutcome]) -> String {
    let mut out = String::new();
    if released.is_empty() {
        out.push_str("no manual hold was in force\n");
    }
    let now = Timestamp::now();
    for hold in released {
        if hold.starts_at.is_some_and(|start| start > now) {
            let _ = writeln!(
                out,
                "cancelled upcoming hold #{} on org `{}`: it will not come into force",
                hold.id, hold.org
            );
        } else {
            let _ = writeln!(out, "released hold #{} on org `{}`", hold.id, hold.org);
        }
    }
    push_outcomes(&mut out, orgs);
    out
}

fn push_outcomes(out: &mut String, orgs: &[OrgOutcome]) {
    for org in orgs {
        let _ = writeln!(
            out,
            "org `{}`: {} paused, {} restored, {} unchanged, {} skipped, {} failed, {} conflicts",
            org.org,
            org.paused,
            org.restored,
            org.unchanged,
            org.skipped,
            org.failed.len(),
            org.conflicts.len()
        );
        if let Some(error) = &org.error {
            let _ = writeln!(out, "  stopped: {error}");
        }
        if !org.failed.is_empty() && org.paused > 0 {
            let _ = writeln!(
                out,
                "  partial: {} paused, {} not; those are left as they were",
                org.paused,
                org.failed.len()
            );
        }
        push_issues(out, &org.failed, &org.conflicts);
    }
}

/// One line per failed and conflicting component.
fn push_issues(out: &mut String, failed: &[ComponentIssue], conflicts: &[ComponentIssue]) {
    for (label, issues) in [("failed  ", failed), ("conflict", conflicts)] {
        for issue in issues {
            let _ = writeln!(
                out,
                "  {label} {} {}: {}",
                issue.kind, issue.api_name, issue.message
            );
        }
    }
}

fn source_text(source: crate::control::protocol::HoldSource) -> &'static str {
    match source {
        crate::control::protocol::HoldSource::Manual => "manual",
        crate::control::protocol::HoldSource::Window => "window",
        crate::control::protocol::HoldSource::Adhoc => "ad hoc",
        crate::control::protocol::HoldSource::Other => "other",
    }
}

fn reason_suffix(hold: &HoldView) -> String {
    hold.reason
        .as_deref()
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default()
}

pub(crate) fn status_text(status: &StatusView) -> String {
    let mut out = String::new();
    if status.holds.is_empty() {
        out.push_str("no holds in force\n");
    } else {
        out.push_str("holds in force:\n");
        for hold in &status.holds {
            let _ = writeln!(
                out,
                "  #{} {} org `{}` by {} until {}{}",
                hold.id,
                source_text(hold.source),
                hold.org,
                hold.owner_name,
                hold.expires_at,
                reason_suffix(hold)
            );
        }
    }
    for hold in &status.upcoming {
        let _ = writeln!(
            out,
            "upcoming: #{} {} org `{}`{} from {} until {} by {}{}",
            hold.id,
            source_text(hold.source),
            hold.org,
            hold.window
                .as_deref()
                .map(|name| format!(" (`{name}`)"))
                .unwrap_or_default(),
            hold.starts_at.unwrap_or(hold.created_at),
            hold.expires_at,
            hold.owner_name,
            reason_suffix(hold)
        );
    }
    for window in &status.windows {
        let _ = writeln!(
            out,
            "window `{}` on {}: {} -> {} UTC",
            window.name,
            window.orgs.join(", "),
            window.start.strftime("%Y-%m-%d %H:%M"),
            window.end.strftime("%Y-%m-%d %H:%M"),
        );
    }
    for hold in &status.missed {
        let _ = writeln!(
            out,
            "missed: window `{}` on org `{}` ({}): found open too late, not paused",
            hold.window.as_deref().unwrap_or("?"),
            hold.org,
            hold.reason.as_deref().unwrap_or("")
        );
    }
    for org in &status.orgs {
        let _ = writeln!(
            out,
            "org `{}`: {} paused, {} pausing, {} restoring, {} failed, {} conflict",
            org.org, org.paused, org.pausing, org.restoring, org.failed, org.conflict
        );
        if let Some(error) = &org.error {
            let _ = writeln!(out, "  reconcile failing: {error}");
        }
        for deploy in &org.deploys {
            let _ = writeln!(out, "  {}", deploy_text(deploy));
        }
        push_issues(&mut out, &org.failures, &org.conflicts);
        let unlisted = (org.failed + org.conflict)
            .saturating_sub((org.failures.len() + org.conflicts.len()) as u64);
        if unlisted > 0 {
            let _ = writeln!(out, "  ... and {unlisted} more not listed");
        }
    }
    out
}

/// `deploy 0Af... pausing 3 triggers (A, B, C) since T: InProgress, RunLocalTests, 4 tests run`
fn deploy_text(deploy: &DeployView) -> String {
    let phase = match deploy.phase {
        Phase::Restoring => "restoring",
        _ => "pausing",
    };
    let count = deploy.triggers.len();
    let mut progress: Vec<String> = Vec::new();
    match &deploy.status {
        Some(status) => progress.push(status.clone()),
        None => progress.push("not being polled yet; the next reconcile polls it".to_owned()),
    }
    progress.extend(deploy.test_level.clone());
    progress.extend(deploy.tests_run.map(|run| format!("{run} tests run")));
    progress.extend(deploy.state_detail.clone());
    format!(
        "deploy {} {phase} {count} trigger{} ({}) since {}: {}",
        deploy.id,
        if count == 1 { "" } else { "s" },
        deploy.triggers.join(", "),
        deploy.started_at,
        progress.join(", ")
    )
}

fn history_text(entries: &[HistoryView]) -> String {
    let mut out = String::new();
    for entry in entries {
        let hold = entry
            .hold_id
            .map(|id| format!(" hold #{id}"))
            .unwrap_or_default();
        let who = match entry.actor_uid {
            Some(uid) => format!("{} (uid {uid})", entry.actor_name),
            None => entry.actor_name.clone(),
        };
        let _ = writeln!(
            out,
            "{} {} {}{} by {}: {}",
            entry.at,
            entry.org.as_deref().unwrap_or("-"),
            entry.action,
            hold,
            who,
            summary(&entry.detail)
        );
    }
    if entries.is_empty() {
        out.push_str("no history yet\n");
    }
    out
}

/// A one-line summary of a history entry: its outcome, and for `pause_at` the window.
fn summary(detail: &serde_json::Value) -> String {
    let outcome = outcome_summary(&detail["outcome"]);
    if let (Some(start), Some(expires)) = (detail["start"].as_str(), detail["expires_at"].as_str())
    {
        let window = format!(
            "ad hoc window `{}` from {start} until {expires}, pausing from {}",
            detail["name"].as_str().unwrap_or("?"),
            detail["starts_pausing_at"].as_str().unwrap_or(start)
        );
        return match outcome {
            Some(outcome) => format!("{window}; {outcome}"),
            None => window,
        };
    }
    outcome.unwrap_or_else(|| detail.to_string())
}

/// What a converge did, from the `outcome` of a history entry; `None` when there is none.
fn outcome_summary(outcome: &serde_json::Value) -> Option<String> {
    if let Some(error) = outcome["error"].as_str() {
        return Some(format!("stopped: {error}"));
    }
    let count = |key: &str| outcome[key].as_u64().unwrap_or(0);
    let issues = |key: &str| outcome[key].as_array().map_or(0, Vec::len);
    outcome.is_object().then(|| {
        format!(
            "{} paused, {} restored, {} failed, {} conflicts",
            count("paused"),
            count("restored"),
            issues("failed"),
            issues("conflicts")
        )
    })
}

/// Progress events on stderr: a bar per org and phase on a terminal, a line per event
/// otherwise (logs and pipes get no escape codes).
struct ProgressDisplay {
    terminal: bool,
    bars: BTreeMap<(String, String), ProgressBar>,
}

impl ProgressDisplay {
    fn new() -> ProgressDisplay {
        ProgressDisplay {
            terminal: std::io::stderr().is_terminal(),
            bars: BTreeMap::new(),
        }
    }

    fn show(&mut self, event: Event) {
        match event {
            Event::Progress {
                org,
                phase,
                done,
                total,
            } => {
                let phase = format!("{phase:?}").to_lowercase();
                if !self.terminal {
                    if total > 0 {
                        eprintln!("org `{org}`: {phase} {done}/{total}");
                    } else {
                        eprintln!("org `{org}`: {phase}");
                    }
                    return;
                }
                let bar = self
                    .bars
                    .entry((org.clone(), phase.clone()))
                    .or_insert_with(|| {
                        // A phase with no count (discovery) spins; the others fill a bar.
                        let (bar, template) = if total == 0 {
                            (ProgressBar::new_spinner(), "{prefix} {spinner}")
                        } else {
                            (ProgressBar::new(total), "{prefix} [{bar:30}] {pos}/{len}")
                        };
                        if let Ok(style) = ProgressStyle::with_template(template) {
                            bar.set_style(style.progress_chars("=> "));
                        }
                        bar.set_prefix(format!("org `{org}` {phase}"));
                        bar.enable_steady_tick(Duration::from_millis(200));
                        bar
                    });
                if total == 0 {
                    return;
                }
                bar.set_length(total);
                bar.set_position(done);
            }
            Event::Notice { org, message } => match org {
                Some(org) => eprintln!("org `{org}`: {message}"),
                None => eprintln!("{message}"),
            },
            Event::Other => {}
        }
    }

    fn finish(&mut self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
