//! What a notification is about: the kinds of event and the event itself, in internal types
//! (the two wire formats are in `payload.rs`).

use std::fmt;
use std::str::FromStr;

/// The kinds of event a target can receive. The snake_case names are the ones used in the
/// configuration (`[[notify]] events = [...]`) and in the generic webhook's `event` field.
///
/// ```
/// use pauseplay::notify::EventKind;
///
/// assert_eq!("restore_overdue".parse::<EventKind>(), Ok(EventKind::RestoreOverdue));
/// assert_eq!(EventKind::ApiUsageHigh.as_str(), "api_usage_high");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A pause finished: every component it was to pause is paused.
    PauseCompleted,
    /// A restore finished: every component is back in its prior state.
    RestoreCompleted,
    /// A pause or restore finished with some components failed.
    PartialFailure,
    /// A component was changed by someone else while paused, so it was left alone.
    Conflict,
    /// A window was found already open with less than `min_remaining` of it left (the daemon
    /// was down), so it was recorded as missed and not paused.
    MissedWindow,
    /// Components are still paused after their holds ended.
    RestoreOverdue,
    /// The org's daily API usage passed `api_usage_alert_percent`.
    ApiUsageHigh,
    /// A pause was refused before it touched anything.
    PauseRefused,
}

impl EventKind {
    /// Every kind, in the order documentation lists them.
    pub const ALL: [EventKind; 8] = [
        EventKind::PauseCompleted,
        EventKind::RestoreCompleted,
        EventKind::PartialFailure,
        EventKind::Conflict,
        EventKind::MissedWindow,
        EventKind::RestoreOverdue,
        EventKind::ApiUsageHigh,
        EventKind::PauseRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PauseCompleted => "pause_completed",
            EventKind::RestoreCompleted => "restore_completed",
            EventKind::PartialFailure => "partial_failure",
            EventKind::Conflict => "conflict",
            EventKind::MissedWindow => "missed_window",
            EventKind::RestoreOverdue => "restore_overdue",
            EventKind::ApiUsageHigh => "api_usage_high",
            EventKind::PauseRefused => "pause_refused",
        }
    }

    /// A short title for people, e.g. the first line of a chat message.
    pub fn title(self) -> &'static str {
        match self {
            EventKind::PauseCompleted => "Pause completed",
            EventKind::RestoreCompleted => "Restore completed",
            EventKind::PartialFailure => "Partial failure",
            EventKind::Conflict => "Conflict",
            EventKind::MissedWindow => "Missed window",
            EventKind::RestoreOverdue => "Restore overdue",
            EventKind::ApiUsageHigh => "API usage high",
            EventKind::PauseRefused => "Pause refused",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an event name that is not one of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event `{0}`; expected one of {known}", known = known_names())]
pub struct UnknownEventKind(pub String);

fn known_names() -> String {
    EventKind::ALL.map(EventKind::as_str).join(", ")
}

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

/// Something that happened, for the people watching the targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub org: Option<String>,
    pub at: jiff::Timestamp,
    /// One line for people: what happened and what to do next.
    pub summary: String,
    /// Lines naming components or reasons; payloads show at most 20 and then "… and N more".
    pub details: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        }
        let error = "restore_late".parse::<EventKind>().expect_err("unknown");
        let message = error.to_string();
        assert!(
            message.starts_with("unknown event `restore_late`"),
            "{message}"
        );
        for kind in EventKind::ALL {
            assert!(message.contains(kind.as_str()), "{message}");
        }
    }
}
