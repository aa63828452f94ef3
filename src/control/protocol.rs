//! The control socket's wire types: the only place they are defined.
//!
//! Every line on the socket is one JSON object carrying the protocol version `v`
//! ([`PROTOCOL_VERSION`]). A client sends one [`RequestLine`]; the daemon answers with zero or
//! more event lines, then exactly one result or error line ([`ReplyLine`], read back as a
//! [`Reply`]). A connection may carry several requests one after another.
//!
//! The rules that keep old and new binaries talking are in `docs/control-protocol.md`. In
//! short: the daemon is strict about what it accepts (unknown request fields are errors, so a
//! typo never turns into "all orgs"), the client is lenient about what it reads (unknown reply
//! fields are ignored, and unknown event types, error codes and hold sources deserialize to an
//! `Other` variant).
//!
//! These types are built by hand from the daemon's internal types at the boundary; internal
//! types never derive `Serialize`, so changing them cannot silently change the protocol.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. Bumped only for changes an older peer would
/// misread (a removed or renamed field, a changed meaning); additions do not bump it.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest request line the daemon accepts, newline excluded. Requests are tiny; the
/// bound keeps a misbehaving client from making the daemon buffer without limit.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The longest reply line the daemon writes and the client reads. Larger than the request
/// limit because a `history` reply carries per-component detail; `history --limit` keeps it
/// far below this.
pub const MAX_REPLY_LINE_BYTES: usize = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// One request line: `{"v":1,"request":{"type":"status"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLine {
    pub v: u32,
    pub request: Request,
}

impl RequestLine {
    /// A request line of this build's protocol version.
    pub fn new(request: Request) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            request,
        }
    }
}

/// What a client asks of the daemon.
///
/// `orgs` is required where it appears, even though an empty list means "every org": a
/// client that forgets the field gets `bad_request` instead of acting on every org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// `pauseplay pause now`: a manual hold on `orgs` (empty: all orgs).
    PauseNow {
        orgs: Vec<String>,
        /// How long the hold lasts; `None` takes the configured default.
        duration_secs: Option<u64>,
        reason: Option<String>,
    },
    /// `pauseplay pause at`: an ad hoc window on `orgs` (empty: all orgs) from `start` for
    /// `duration_secs`. The daemon puts a hold on each org that comes into force its
    /// `lead_time` before `start` and expires at `start + duration_secs`.
    PauseAt {
        orgs: Vec<String>,
        /// When the window opens (RFC 3339; the CLI sends UTC). At most a few seconds in the
        /// past.
        start: Timestamp,
        /// How long the window lasts, from `start`. Required: an ad hoc window has no default
        /// length.
        duration_secs: u64,
        reason: Option<String>,
    },
    /// `pauseplay resume`: releases the manual holds on `orgs` (empty: all orgs), only the
    /// hold `hold` (one not yet in force is cancelled), or the occurrence of the window
    /// `window` in force on `orgs`.
    Resume {
        orgs: Vec<String>,
        hold: Option<i64>,
        /// Absent from older clients; an older daemon refuses it as an unknown field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<String>,
    },
    /// `pauseplay status`. (An empty struct variant, not a unit variant: serde ignores
    /// unknown fields next to the tag of a unit variant even with `deny_unknown_fields`.)
    Status {},
    /// `pauseplay history`: the audit trail, newest first.
    History {
        org: Option<String>,
        limit: Option<u32>,
    },
    /// Is the daemon up, and which version does it run?
    Ping {},
}

impl Request {
    /// The request's `type` on the wire, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::PauseNow { .. } => "pause_now",
            Request::PauseAt { .. } => "pause_at",
            Request::Resume { .. } => "resume",
            Request::Status {} => "status",
            Request::History { .. } => "history",
            Request::Ping {} => "ping",
        }
    }

    /// Whether the request changes anything (these are logged with the peer at info).
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Request::PauseNow { .. } | Request::PauseAt { .. } | Request::Resume { .. }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// One reply line. Exactly one of `event`, `result` and `error` is present; build it with
/// [`ReplyLine::new`] and read it with [`ReplyLine::into_reply`].
///
/// Unknown fields are ignored on purpose (no `deny_unknown_fields`): a newer daemon may add
/// fields that an older client does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyLine {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<ResultBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

/// What one reply line carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Progress while the request runs; more lines follow.
    Event(Event),
    /// The request succeeded; the last line of the exchange.
    Result(ResultBody),
    /// The request failed or was refused; the last line of the exchange.
    Error(ErrorBody),
}

impl ReplyLine {
    /// A reply line of this build's protocol version.
    pub fn new(reply: Reply) -> Self {
        let mut line = Self {
            v: PROTOCOL_VERSION,
            event: None,
            result: None,
            error: None,
        };
        match reply {
            Reply::Event(event) => line.event = Some(event),
            Reply::Result(result) => line.result = Some(result),
            Reply::Error(error) => line.error = Some(error),
        }
        line
    }

    /// The reply this line carries, or why it carries none or several.
    pub fn into_reply(self) -> Result<Reply, String> {
        match (self.event, self.result, self.error) {
            (Some(event), None, None) => Ok(Reply::Event(event)),
            (None, Some(result), None) => Ok(Reply::Result(result)),
            (None, None, Some(error)) => Ok(Reply::Error(error)),
            (None, None, None) => Err("a reply line has none of event, result, error".into()),
            _ => Err("a reply line has more than one of event, result, error".into()),
        }
    }
}

/// Progress the daemon streams while a request runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// `done` of `total` components of `org` are through `phase`.
    Progress {
        org: String,
        phase: Phase,
        done: u64,
        total: u64,
    },
    /// Something the operator should read now (a skipped org, a retry, a conflict found).
    Notice {
        org: Option<String>,
        message: String,
    },
    /// An event type this build does not know, sent by a newer daemon. Clients skip it; the
    /// daemon never sends it.
    #[serde(other)]
    Other,
}

/// The stage a [`Event::Progress`] reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Discovering,
    Pausing,
    Restoring,
    /// A phase this build does not know, sent by a newer daemon.
    #[serde(other)]
    Other,
}

/// The successful answer to a request; its `type` mirrors the request's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResultBody {
    /// Answer to [`Request::PauseNow`]: the holds created and what happened in each org.
    Pause {
        holds: Vec<HoldView>,
        orgs: Vec<OrgOutcome>,
    },
    /// Answer to [`Request::PauseAt`]: the window's nominal `start`, the holds created (their
    /// `starts_at` is when the daemon starts pausing) and, when the holds are already in force
    /// (the window opens within the lead time), what happened in each org; `orgs` is empty
    /// otherwise.
    PauseAt {
        start: Timestamp,
        holds: Vec<HoldView>,
        orgs: Vec<OrgOutcome>,
    },
    /// Answer to [`Request::Resume`]: the holds released and what happened in each org.
    Resume {
        released: Vec<HoldView>,
        orgs: Vec<OrgOutcome>,
    },
    /// Answer to [`Request::Status`].
    Status(StatusView),
    /// Answer to [`Request::History`], newest first.
    History { entries: Vec<HistoryView> },
    /// Answer to [`Request::Ping`].
    Pong {
        /// The daemon's `CARGO_PKG_VERSION`.
        daemon_version: String,
        /// The daemon's [`PROTOCOL_VERSION`].
        protocol: u32,
    },
}

impl ResultBody {
    /// The result's `type` on the wire, for logs and for "unexpected result" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ResultBody::Pause { .. } => "pause",
            ResultBody::PauseAt { .. } => "pause_at",
            ResultBody::Resume { .. } => "resume",
            ResultBody::Status(_) => "status",
            ResultBody::History { .. } => "history",
            ResultBody::Pong { .. } => "pong",
        }
    }
}

/// One hold: a reason for components of an org to stay paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    pub id: i64,
    pub org: String,
    pub source: HoldSource,
    /// The window's name for `window` holds; the ad hoc window's generated name (e.g.
    /// `at-2026-12-01T21:00Z`) for `adhoc` holds.
    pub window: Option<String>,
    /// The uid that asked for a manual or ad hoc hold.
    pub owner_uid: Option<u32>,
    /// The user name of `owner_uid`, or the window's name, or `pauseplay`.
    pub owner_name: String,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: Timestamp,
    /// RFC 3339, UTC: when the hold comes into force. Absent for holds in force from their
    /// creation (and from daemons older than `pause at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    /// RFC 3339, UTC. Every hold expires.
    pub expires_at: Timestamp,
}

/// Where a hold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldSource {
    /// `pauseplay pause now`.
    Manual,
    /// A `[[windows]]` occurrence.
    Window,
    /// `pauseplay pause at`.
    Adhoc,
    /// A source this build does not know, sent by a newer daemon.
    #[serde(other)]
    Other,
}

/// What a pause or restore did in one org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgOutcome {
    pub org: String,
    pub paused: u64,
    pub restored: u64,
    /// Components already in the wanted state (still held by another hold, or never active).
    pub unchanged: u64,
    /// Components skipped by scope rules (managed, excluded, not pausable).
    pub skipped: u64,
    /// Components the daemon could not change; they are retried.
    pub failed: Vec<ComponentIssue>,
    /// Components someone else changed during the hold; left alone.
    pub conflicts: Vec<ComponentIssue>,
    /// Why work on the org stopped (discovery failed, no API calls left today, ...); what is
    /// not done is finished by the daemon's later reconciles. Absent when the org converged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One component that failed or conflicted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentIssue {
    /// `flow`, `process_builder`, `trigger`, `validation_rule` or `workflow_rule`.
    pub kind: String,
    pub api_name: String,
    /// The Salesforce record id.
    pub id: String,
    pub message: String,
}

/// The answer to `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// The holds in force.
    pub holds: Vec<HoldView>,
    /// Holds not in force yet (ad hoc windows stored by `pause at`), soonest first. Empty
    /// when read from a daemon older than `pause at`.
    #[serde(default)]
    pub upcoming: Vec<HoldView>,
    /// Each configured window's occurrence open now, or else its next one, soonest first.
    #[serde(default)]
    pub windows: Vec<WindowView>,
    /// Window occurrences the daemon found open with less than `min_remaining` left in the
    /// last 24 hours: recorded, not paused.
    #[serde(default)]
    pub missed: Vec<HoldView>,
    pub orgs: Vec<OrgStatusView>,
}

/// One occurrence of a scheduled window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowView {
    pub name: String,
    pub orgs: Vec<String>,
    /// RFC 3339, UTC.
    pub start: Timestamp,
    /// RFC 3339, UTC.
    pub end: Timestamp,
}

/// One org: component counts by state, the trigger deploys under way, and the components that
/// failed or conflicted with the reason. The lists added after protocol 1's first release
/// default to empty, so a client reads an older daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgStatusView {
    pub org: String,
    pub paused: u64,
    pub pausing: u64,
    pub restoring: u64,
    pub failed: u64,
    pub conflict: u64,
    /// Trigger deploys started and not yet settled.
    #[serde(default)]
    pub deploys: Vec<DeployView>,
    /// The `failed` components with their last error, at most 200 (`failed` is the total).
    #[serde(default)]
    pub failures: Vec<ComponentIssue>,
    /// The `conflict` components with what changed, at most 200 (`conflict` is the total).
    #[serde(default)]
    pub conflicts: Vec<ComponentIssue>,
    /// Why the org's reconciles keep failing (no API calls left, a refused secret, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A Metadata API deploy carrying triggers, started and not yet settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployView {
    /// The Salesforce deploy request id (`0Af...`).
    pub id: String,
    /// `pausing` or `restoring`.
    pub phase: Phase,
    /// API names of the triggers it carries.
    pub triggers: Vec<String>,
    /// RFC 3339, UTC: when it was started.
    pub started_at: Timestamp,
    /// What the daemon's last poll saw (`Pending`, `InProgress`, ...); absent when the daemon
    /// is not polling it at this moment (right after a restart, until the next reconcile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Salesforce's `stateDetail`, e.g. the test running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_detail: Option<String>,
    /// The test level it runs, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_level: Option<String>,
    /// Tests completed so far, when polled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests_run: Option<u64>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: Timestamp,
    pub org: Option<String>,
    /// The peer uid for socket commands; `None` for the daemon's own actions.
    pub actor_uid: Option<u32>,
    pub actor_name: String,
    pub action: String,
    pub hold_id: Option<i64>,
    /// Action-specific detail (per-component outcomes, the window, ...).
    pub detail: serde_json::Value,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A refused or failed request: `{"code":"not_found","message":"no org named \"prd\""}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// For people: what went wrong and what to do next.
    pub message: String,
}

/// Why a request got an error reply. Clients branch on the code, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, an unknown request type, a missing or unknown field, invalid UTF-8.
    BadRequest,
    /// The line's `v` is not a version this daemon speaks.
    UnsupportedVersion,
    /// The peer may not use this socket.
    Forbidden,
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
    /// The request names an org or hold that does not exist.
    NotFound,
    /// The operation ran and failed.
    Failed,
    /// A bug or an unexpected condition in the daemon.
    Internal,
    /// A code this build does not know, sent by a newer daemon.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooLong => "too_long",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Failed => "failed",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing a request line
// ---------------------------------------------------------------------------------------------

/// Only the version of a line, read before the rest so that a request of a newer version
/// gets `unsupported_version` rather than a confusing `bad_request` about its new fields.
#[derive(Deserialize)]
struct VersionProbe {
    v: Option<u64>,
}

/// Parses one request line as the daemon does: the version first, then the request, strictly.
pub fn parse_request_line(line: &str) -> Result<Request, ErrorBody> {
    let bad_request = |message: String| ErrorBody {
        code: ErrorCode::BadRequest,
        message,
    };
    let probe: VersionProbe = serde_json::from_str(line)
        .map_err(|e| bad_request(format!("the request line is not a JSON object: {e}")))?;
    match probe.v {
        None => {
            return Err(bad_request(
                "the request line has no protocol version `v`".into(),
            ));
        }
        Some(v) if v != u64::from(PROTOCOL_VERSION) => {
            return Err(ErrorBody {
                code: ErrorCode::UnsupportedVersion,
                message: format!(
                    "this daemon speaks control protocol version {PROTOCOL_VERSION}, the request \
                     used version {v}; use a pauseplay CLI of the daemon's version"
                ),
            });
        }
        Some(_) => {}
    }
    let line: RequestLine =
        serde_json::from_str(line).map_err(|e| bad_request(format!("invalid request: {e}")))?;
    Ok(line.request)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn request_lines_have_the_documented_shape() {
        let line = RequestLine::new(Request::PauseNow {
            orgs: vec!["prod".into()],
            duration_secs: Some(1800),
            reason: Some("INC-4711".into()),
        });
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({"v":1,"request":{"type":"pause_now","orgs":["prod"],
                   "duration_secs":1800,"reason":"INC-4711"}})
        );
        assert_eq!(
            serde_json::to_value(RequestLine::new(Request::Status {})).unwrap(),
            json!({"v":1,"request":{"type":"status"}})
        );
    }

    #[test]
    fn every_request_round_trips() {
        let requests = [
            Request::PauseNow {
                orgs: vec![],
                duration_secs: None,
                reason: None,
            },
            Request::PauseAt {
                orgs: vec!["prod".into()],
                start: ts("2026-12-01T21:00:00Z"),
                duration_secs: 6 * 3600,
                reason: Some("q4 migration".into()),
            },
            Request::Resume {
                orgs: vec!["a".into(), "b".into()],
                hold: Some(7),
                window: None,
            },
            Request::Resume {
                orgs: vec![],
                hold: None,
                window: Some("nightly-load".into()),
            },
            Request::Status {},
            Request::History {
                org: Some("prod".into()),
                limit: Some(20),
            },
            Request::Ping {},
        ];
        for request in requests {
            let text = serde_json::to_string(&RequestLine::new(request.clone())).unwrap();
            assert_eq!(parse_request_line(&text), Ok(request));
        }
    }

    #[test]
    fn optional_request_fields_may_be_omitted_but_orgs_may_not() {
        assert_eq!(
            parse_request_line(r#"{"v":1,"request":{"type":"pause_now","orgs":[]}}"#),
            Ok(Request::PauseNow {
                orgs: vec![],
                duration_secs: None,
                reason: None
            })
        );
        let error = parse_request_line(r#"{"v":1,"request":{"type":"pause_now"}}"#).unwrap_err();
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(error.message.contains("orgs"), "{}", error.message);
    }

    #[test]
    fn unknown_request_fields_and_types_are_bad_requests() {
        for line in [
            r#"{"v":1,"request":{"type":"pause_now","orgs":[],"duraton_secs":5}}"#,
            r#"{"v":1,"request":{"type":"status","verbose":true}}"#,
            r#"{"v":1,"request":{"type":"ping"},"extra":1}"#,
            r#"{"v":1,"request":{"type":"reboot"}}"#,
            r#"{"v":1}"#,
            r#"{"request":{"type":"ping"}}"#,
            r#"{"v":"1","request":{"type":"ping"}}"#,
            r#"[1,2]"#,
            r#"not json"#,
            r#"{"v":1,"request":{"type":"ping"}} trailing"#,
        ] {
            let error = parse_request_line(line).unwrap_err();
            assert_eq!(
                error.code,
                ErrorCode::BadRequest,
                "{line}: {}",
                error.message
            );
        }
    }

    #[test]
    fn a_misspelt_field_is_named_in_the_error() {
        let error = parse_request_line(
            r#"{"v":1,"request":{"type":"pause_now","orgs":["prod"],"duraton_secs":1800}}"#,
        )
        .unwrap_err();
        println!("{}", error.message);
        assert!(
            error.message.contains("unknown field `duraton_secs`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn another_version_is_unsupported_even_with_unknown_fields() {
        let error = parse_request_line(r#"{"v":2,"request":{"type":"pause_later","when":"soon"}}"#)
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::UnsupportedVersion);
        assert!(error.message.contains("version 1"), "{}", error.message);
    }

    fn hold() -> HoldView {
        HoldView {
            id: 3,
            org: "prod".into(),
            source: HoldSource::Manual,
            window: None,
            owner_uid: Some(1000),
            owner_name: "alice".into(),
            reason: Some("INC-4711".into()),
            created_at: ts("2026-05-01T01:00:00Z"),
            starts_at: None,
            expires_at: ts("2026-05-01T01:30:00Z"),
        }
    }

    #[test]
    fn reply_lines_have_the_documented_shape() {
        let event = ReplyLine::new(Reply::Event(Event::Progress {
            org: "prod".into(),
            phase: Phase::Pausing,
            done: 3,
            total: 10,
        }));
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"v":1,"event":{"type":"progress","org":"prod","phase":"pausing","done":3,"total":10}})
        );
        let result = ReplyLine::new(Reply::Result(ResultBody::Status(StatusView {
            holds: vec![hold()],
            upcoming: vec![],
            windows: vec![WindowView {
                name: "nightly-load".into(),
                orgs: vec!["prod".into()],
                start: "2026-05-02T00:00:00Z".parse().unwrap(),
                end: "2026-05-02T02:00:00Z".parse().unwrap(),
            }],
            missed: vec![],
            orgs: vec![],
        })));
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"v":1,"result":{"type":"status","holds":[{
                "id":3,"org":"prod","source":"manual","window":null,"owner_uid":1000,
                "owner_name":"alice","reason":"INC-4711",
                "created_at":"2026-05-01T01:00:00Z","expires_at":"2026-05-01T01:30:00Z"}],
                "upcoming":[],
                "windows":[{"name":"nightly-load","orgs":["prod"],
                    "start":"2026-05-02T00:00:00Z","end":"2026-05-02T02:00:00Z"}],
                "missed":[],"orgs":[]}})
        );
        let error = ReplyLine::new(Reply::Error(ErrorBody {
            code: ErrorCode::NotFound,
            message: "no org named prd".into(),
        }));
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"v":1,"error":{"code":"not_found","message":"no org named prd"}})
        );
    }

    fn ad_hoc_hold() -> HoldView {
        HoldView {
            id: 7,
            source: HoldSource::Adhoc,
            window: Some("at-2026-12-01T21:00Z".into()),
            reason: Some("q4 migration".into()),
            created_at: ts("2026-11-30T09:00:00Z"),
            starts_at: Some(ts("2026-12-01T20:58:00Z")),
            expires_at: ts("2026-12-02T03:00:00Z"),
            ..hold()
        }
    }

    #[test]
    fn pause_at_has_the_documented_shape() {
        let line = RequestLine::new(Request::PauseAt {
            orgs: vec!["prod".into()],
            start: ts("2026-12-01T21:00:00Z"),
            duration_secs: 6 * 3600,
            reason: Some("q4 migration".into()),
        });
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({"v":1,"request":{"type":"pause_at","orgs":["prod"],
                   "start":"2026-12-01T21:00:00Z","duration_secs":21600,
                   "reason":"q4 migration"}})
        );
        // Any RFC 3339 offset is read; `reason` may be left out, `start` and the duration not.
        assert_eq!(
            parse_request_line(
                r#"{"v":1,"request":{"type":"pause_at","orgs":[],
                    "start":"2026-12-01T22:00:00+01:00","duration_secs":60}}"#
            ),
            Ok(Request::PauseAt {
                orgs: vec![],
                start: ts("2026-12-01T21:00:00Z"),
                duration_secs: 60,
                reason: None,
            })
        );
        for line in [
            r#"{"v":1,"request":{"type":"pause_at","orgs":[],"duration_secs":60}}"#,
            r#"{"v":1,"request":{"type":"pause_at","orgs":[],"start":"2026-12-01T21:00:00Z"}}"#,
            r#"{"v":1,"request":{"type":"pause_at","orgs":[],"start":"2026-12-01T21:00:00",
                "duration_secs":60}}"#,
        ] {
            let error = parse_request_line(line).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadRequest, "{line}");
        }

        let result = ReplyLine::new(Reply::Result(ResultBody::PauseAt {
            start: ts("2026-12-01T21:00:00Z"),
            holds: vec![ad_hoc_hold()],
            orgs: vec![],
        }));
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"v":1,"result":{"type":"pause_at","start":"2026-12-01T21:00:00Z",
                "holds":[{"id":7,"org":"prod","source":"adhoc","window":"at-2026-12-01T21:00Z",
                    "owner_uid":1000,"owner_name":"alice","reason":"q4 migration",
                    "created_at":"2026-11-30T09:00:00Z","starts_at":"2026-12-01T20:58:00Z",
                    "expires_at":"2026-12-02T03:00:00Z"}],
                "orgs":[]}})
        );
    }

    #[test]
    fn a_status_lists_upcoming_holds_and_reads_without_them() {
        let status = StatusView {
            holds: vec![hold()],
            upcoming: vec![ad_hoc_hold()],
            windows: vec![],
            missed: vec![],
            orgs: vec![],
        };
        let value = serde_json::to_value(&status).unwrap();
        assert_eq!(value["upcoming"][0]["starts_at"], "2026-12-01T20:58:00Z");
        assert!(
            value["holds"][0].get("starts_at").is_none(),
            "absent when the hold is in force from its creation"
        );
        let older: StatusView = serde_json::from_value(json!({"holds":[{
            "id":3,"org":"prod","source":"manual","window":null,"owner_uid":1000,
            "owner_name":"alice","reason":"INC-4711",
            "created_at":"2026-05-01T01:00:00Z","expires_at":"2026-05-01T01:30:00Z"}],
            "orgs":[]}))
        .unwrap();
        assert_eq!(older.holds, vec![hold()]);
        assert!(older.upcoming.is_empty());
        assert!(older.windows.is_empty() && older.missed.is_empty());
    }

    #[test]
    fn an_org_status_has_the_documented_shape_and_reads_without_the_later_lists() {
        let org = OrgStatusView {
            org: "prod".into(),
            paused: 6,
            pausing: 3,
            restoring: 0,
            failed: 1,
            conflict: 0,
            deploys: vec![DeployView {
                id: "0Af000000000001".into(),
                phase: Phase::Pausing,
                triggers: vec!["AccountTrigger".into()],
                started_at: "2026-05-01T01:00:00Z".parse().unwrap(),
                status: Some("InProgress".into()),
                state_detail: None,
                test_level: Some("RunLocalTests".into()),
                tests_run: Some(4),
            }],
            failures: vec![ComponentIssue {
                kind: "trigger".into(),
                api_name: "ContactTrigger".into(),
                id: "01q000000000002".into(),
                message: "deploy 0Af000000000000 Failed".into(),
            }],
            conflicts: vec![],
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&org).unwrap(),
            json!({"org":"prod","paused":6,"pausing":3,"restoring":0,"failed":1,"conflict":0,
                "deploys":[{"id":"0Af000000000001","phase":"pausing","triggers":["AccountTrigger"],
                    "started_at":"2026-05-01T01:00:00Z","status":"InProgress",
                    "test_level":"RunLocalTests","tests_run":4}],
                "failures":[{"kind":"trigger","api_name":"ContactTrigger",
                    "id":"01q000000000002","message":"deploy 0Af000000000000 Failed"}],
                "conflicts":[]})
        );
        let older: OrgStatusView = serde_json::from_value(json!({"org":"prod","paused":6,
            "pausing":0,"restoring":0,"failed":0,"conflict":0}))
        .unwrap();
        assert!(older.deploys.is_empty() && older.failures.is_empty() && older.error.is_none());
    }

    #[test]
    fn clients_ignore_what_a_newer_daemon_adds() {
        let line: ReplyLine = serde_json::from_str(
            r#"{"v":1,"trace":"x","result":{"type":"pong","daemon_version":"9.0.0",
                "protocol":1,"uptime_secs":5}}"#,
        )
        .unwrap();
        assert_eq!(
            line.into_reply(),
            Ok(Reply::Result(ResultBody::Pong {
                daemon_version: "9.0.0".into(),
                protocol: 1
            }))
        );
        let line: ReplyLine =
            serde_json::from_str(r#"{"v":1,"event":{"type":"eta","secs":5}}"#).unwrap();
        assert_eq!(line.into_reply(), Ok(Reply::Event(Event::Other)));
        let line: ReplyLine = serde_json::from_str(
            r#"{"v":1,"event":{"type":"progress","org":"a","phase":"verifying","done":1,"total":2}}"#,
        )
        .unwrap();
        assert!(matches!(
            line.into_reply(),
            Ok(Reply::Event(Event::Progress {
                phase: Phase::Other,
                ..
            }))
        ));
        let line: ReplyLine =
            serde_json::from_str(r#"{"v":1,"error":{"code":"busy","message":"m"}}"#).unwrap();
        assert_eq!(
            line.into_reply(),
            Ok(Reply::Error(ErrorBody {
                code: ErrorCode::Other,
                message: "m".into()
            }))
        );
        let mut value = serde_json::to_value(hold()).unwrap();
        value["source"] = json!("maintenance_contract");
        let hold: HoldView = serde_json::from_value(value).unwrap();
        assert_eq!(hold.source, HoldSource::Other);
    }

    #[test]
    fn a_reply_line_carries_exactly_one_reply() {
        let none: ReplyLine = serde_json::from_str(r#"{"v":1}"#).unwrap();
        assert!(none.into_reply().is_err());
        let two: ReplyLine = serde_json::from_str(
            r#"{"v":1,"result":{"type":"pong","daemon_version":"1","protocol":1},
                "error":{"code":"internal","message":"m"}}"#,
        )
        .unwrap();
        assert!(two.into_reply().is_err());
    }

    #[test]
    fn error_codes_display_as_on_the_wire() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::UnsupportedVersion,
            ErrorCode::Forbidden,
            ErrorCode::TooLong,
            ErrorCode::NotFound,
            ErrorCode::Failed,
            ErrorCode::Internal,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                json!(code.to_string()),
                "{code:?}"
            );
        }
    }
}
