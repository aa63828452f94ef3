//! The control socket's handler: maps wire requests onto [`Service`] and internal results onto
//! wire views. This is the only place the daemon converts between the two.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::service::{OrgReport, ProgressFn, Release, Service, ServiceError};
use super::status::{DeployInFlight, OrgState};
use crate::control::protocol::{
    self, ComponentIssue, DeployView, Event, HistoryView, HoldView, OrgOutcome, OrgStatusView,
    Request, ResultBody, StatusView, WindowView,
};
use crate::control::{ControlError, EventSink, Handler, HandlerFuture, Peer};
use crate::engine::{Issue, Phase, Progress};
use crate::error_chain;
use crate::store::{Actor, HistoryEntry, Hold, HoldId, HoldSource, Step, StoreError};

/// How many history entries `history` returns when the client does not say, and at most.
const HISTORY_DEFAULT: u32 = 50;
const HISTORY_MAX: u32 = 1000;

/// The daemon's [`Handler`].
#[derive(Debug)]
pub struct DaemonHandler {
    service: Arc<Service>,
}

impl DaemonHandler {
    pub fn new(service: Arc<Service>) -> DaemonHandler {
        DaemonHandler { service }
    }

    async fn dispatch(
        &self,
        peer: Peer,
        request: Request,
        events: EventSink,
    ) -> Result<ResultBody, ControlError> {
        let actor = Actor {
            uid: Some(peer.uid),
            name: peer.user_name,
        };
        let now = Timestamp::now();
        let service = &self.service;
        match request {
            Request::PauseNow {
                orgs,
                duration_secs,
                reason,
            } => {
                let report = service
                    .pause_now(
                        &actor,
                        &orgs,
                        duration_secs.map(Duration::from_secs),
                        reason,
                        now,
                        progress_to(events),
                    )
                    .await
                    .map_err(control_error)?;
                Ok(ResultBody::Pause {
                    holds: report.holds.iter().map(hold_view).collect(),
                    orgs: report.orgs.iter().map(org_outcome).collect(),
                })
            }
            Request::PauseAt {
                orgs,
                start,
                duration_secs,
                reason,
            } => {
                let report = service
                    .pause_at(
                        &actor,
                        &orgs,
                        start,
                        Duration::from_secs(duration_secs),
                        reason,
                        now,
                        progress_to(events),
                    )
                    .await
                    .map_err(control_error)?;
                Ok(ResultBody::PauseAt {
                    start,
                    holds: report.holds.iter().map(hold_view).collect(),
                    orgs: report.orgs.iter().map(org_outcome).collect(),
                })
            }
            Request::Resume { orgs, hold, window } => {
                let report = service
                    .resume(
                        &actor,
                        &orgs,
                        Release::from_request(hold.map(HoldId), window),
                        now,
                        progress_to(events),
                    )
                    .await
                    .map_err(control_error)?;
                Ok(ResultBody::Resume {
                    released: report.released.iter().map(hold_view).collect(),
                    orgs: report.orgs.iter().map(org_outcome).collect(),
                })
            }
            Request::Status {} => {
                let status = service.status(now).await.map_err(control_error)?;
                let orgs = status
                    .orgs
                    .iter()
                    .map(|(org, state)| org_status_view(org, state))
                    .collect();
                Ok(ResultBody::Status(StatusView {
                    holds: status.holds.iter().map(hold_view).collect(),
                    upcoming: status.upcoming.iter().map(hold_view).collect(),
                    windows: status
                        .windows
                        .iter()
                        .map(|(occurrence, orgs)| WindowView {
                            name: occurrence.window.clone(),
                            orgs: orgs.clone(),
                            start: occurrence.start,
                            end: occurrence.end,
                        })
                        .collect(),
                    missed: status.missed.iter().map(hold_view).collect(),
                    orgs,
                }))
            }
            Request::History { org, limit } => {
                let limit = limit.unwrap_or(HISTORY_DEFAULT).clamp(1, HISTORY_MAX);
                let entries = service
                    .history(org.as_deref(), limit)
                    .await
                    .map_err(control_error)?;
                Ok(ResultBody::History {
                    entries: entries.iter().map(history_view).collect(),
                })
            }
            Request::Ping {} => Ok(ResultBody::Pong {
                daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
                protocol: protocol::PROTOCOL_VERSION,
            }),
        }
    }
}

impl Handler for DaemonHandler {
    fn handle(&self, peer: Peer, request: Request, events: EventSink) -> HandlerFuture<'_> {
        Box::pin(self.dispatch(peer, request, events))
    }
}

fn control_error(error: ServiceError) -> ControlError {
    match &error {
        ServiceError::UnknownOrg { .. }
        | ServiceError::NoSuchHold(_)
        | ServiceError::NoWindowInForce { .. } => ControlError::not_found(error.to_string()),
        ServiceError::TooLong { .. }
        | ServiceError::ZeroDuration
        | ServiceError::StartInPast { .. } => ControlError::bad_request(error.to_string()),
        // A value from the request the store cannot keep (a window ending past the last
        // instant it can hold) is the request's fault, not a bug; nothing was written.
        ServiceError::Store(StoreError::InvalidValue { .. }) => {
            ControlError::bad_request(error.to_string())
        }
        ServiceError::Store(_) => ControlError::internal(error_chain(&error)),
    }
}

fn progress_to(events: EventSink) -> ProgressFn {
    Arc::new(move |progress: Progress| {
        events.send(Event::Progress {
            org: progress.org,
            phase: match progress.phase {
                Phase::Discovering => protocol::Phase::Discovering,
                Phase::Pausing => protocol::Phase::Pausing,
                Phase::Restoring => protocol::Phase::Restoring,
            },
            done: progress.done,
            total: progress.total,
        });
    })
}

fn hold_view(hold: &Hold) -> HoldView {
    let (source, window) = match &hold.source {
        HoldSource::Manual => (protocol::HoldSource::Manual, None),
        HoldSource::Window { name, .. } => (protocol::HoldSource::Window, Some(name.clone())),
        HoldSource::AdHoc { name } => (protocol::HoldSource::Adhoc, Some(name.clone())),
    };
    HoldView {
        id: hold.id.0,
        org: hold.org.clone(),
        source,
        window,
        owner_uid: hold.owner.uid,
        owner_name: hold.owner.name.clone(),
        reason: hold.reason.clone(),
        created_at: hold.created_at,
        starts_at: hold.starts_at,
        expires_at: hold.expires_at,
    }
}

fn issue_view(issue: &Issue) -> ComponentIssue {
    ComponentIssue {
        kind: issue.kind.as_str().to_owned(),
        api_name: issue.api_name.clone(),
        id: issue.id.clone(),
        message: issue.message.clone(),
    }
}

fn org_outcome(report: &OrgReport) -> OrgOutcome {
    match &report.result {
        Ok(outcome) => OrgOutcome {
            org: report.org.clone(),
            paused: outcome.paused,
            restored: outcome.restored,
            unchanged: outcome.unchanged,
            skipped: outcome.skipped,
            failed: outcome.failed.iter().map(issue_view).collect(),
            conflicts: outcome.conflicts.iter().map(issue_view).collect(),
            error: None,
        },
        Err(error) => OrgOutcome {
            org: report.org.clone(),
            paused: 0,
            restored: 0,
            unchanged: 0,
            skipped: 0,
            failed: Vec::new(),
            conflicts: Vec::new(),
            error: Some(error_chain(error)),
        },
    }
}

fn org_status_view(org: &str, state: &OrgState) -> OrgStatusView {
    let counts = state.counts;
    OrgStatusView {
        org: org.to_owned(),
        paused: counts.paused,
        pausing: counts.pausing,
        restoring: counts.restoring,
        failed: counts.failed,
        conflict: counts.conflict,
        deploys: state.deploys.iter().map(deploy_view).collect(),
        failures: state.failures.iter().map(issue_view).collect(),
        conflicts: state.conflicts.iter().map(issue_view).collect(),
        error: state.error.clone(),
    }
}

fn deploy_view(deploy: &DeployInFlight) -> DeployView {
    let watch = deploy.watch.as_ref();
    DeployView {
        id: deploy.id.clone(),
        phase: if deploy.step == Step::Restoring {
            protocol::Phase::Restoring
        } else {
            protocol::Phase::Pausing
        },
        triggers: deploy.triggers.clone(),
        started_at: deploy.since,
        status: watch.and_then(|watch| watch.status.clone()),
        state_detail: watch.and_then(|watch| watch.state_detail.clone()),
        test_level: watch.and_then(|watch| watch.test_level.clone()),
        tests_run: watch.and_then(|watch| watch.status.as_ref().map(|_| watch.tests_run)),
    }
}

fn history_view(entry: &HistoryEntry) -> HistoryView {
    HistoryView {
        id: entry.id,
        at: entry.at,
        org: entry.org.clone(),
        actor_uid: entry.actor.uid,
        actor_name: entry.actor.name.clone(),
        action: entry.action.clone(),
        hold_id: entry.hold_id.map(|id| id.0),
        detail: entry.detail.clone(),
    }
}
