//! What discovery found: one [`Component`] per automation, with the state it was seen in and
//! the decision pauseplay takes for it.

use std::fmt;

use super::Kind;

/// One automation in an org, as discovery saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub kind: Kind,
    /// The Salesforce id pauseplay writes to: `FlowDefinition` (`300…`) for flows and Process
    /// Builders, `ValidationRule` (`03d…`), `WorkflowRule` (`01Q…`), `ApexTrigger` (`01q…`).
    pub id: String,
    /// The name `exclude` patterns match: the flow's `DeveloperName`, `Object.Rule` for
    /// validation and workflow rules, the trigger's name.
    pub api_name: String,
    /// The object the automation runs on, when Salesforce says (or it could be read).
    pub object: Option<String>,
    pub namespace: Option<String>,
    pub state: ObservedState,
    pub decision: Decision,
}

impl Component {
    pub fn will_pause(&self) -> bool {
        matches!(self.decision, Decision::Pause)
    }

    pub fn skip_reason(&self) -> Option<&SkipReason> {
        match &self.decision {
            Decision::Pause => None,
            Decision::Skip(reason) => Some(reason),
        }
    }
}

/// The activation state discovery observed.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservedState {
    /// Flows and Process Builders: the version numbers, never "latest" in place of "active".
    Flow {
        active_version: Option<u32>,
        latest_version: Option<u32>,
    },
    /// Validation and workflow rules. `None` when the state was not read, which happens for
    /// workflow rules skipped before their `Metadata` (the only place their flag lives) was
    /// fetched.
    Rule {
        active: Option<bool>,
    },
    Trigger {
        status: String,
    },
}

impl ObservedState {
    /// Whether the component is currently active, if known.
    pub fn is_active(&self) -> Option<bool> {
        match self {
            ObservedState::Flow { active_version, .. } => Some(active_version.is_some()),
            ObservedState::Rule { active } => *active,
            ObservedState::Trigger { status } => Some(status == "Active"),
        }
    }
}

impl fmt::Display for ObservedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObservedState::Flow {
                active_version: Some(active),
                latest_version: Some(latest),
            } if latest > active => write!(f, "active v{active} (newer v{latest} not active)"),
            ObservedState::Flow {
                active_version: Some(active),
                ..
            } => write!(f, "active v{active}"),
            ObservedState::Flow {
                active_version: None,
                latest_version: Some(latest),
            } => write!(f, "no active version (latest v{latest})"),
            ObservedState::Flow { .. } => f.write_str("no active version"),
            ObservedState::Rule { active: Some(true) } => f.write_str("active"),
            ObservedState::Rule {
                active: Some(false),
            } => f.write_str("inactive"),
            ObservedState::Rule { active: None } => f.write_str("not read"),
            ObservedState::Trigger { status } => f.write_str(status),
        }
    }
}

/// What pauseplay does with a component.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pause,
    Skip(SkipReason),
}

/// Why a component is left alone. Skipped components are never touched, at pause or restore.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// Screen flows run only when a person starts them; there is nothing to pause.
    ScreenFlow,
    /// Autolaunched flows without a trigger are subflows or invoked from Apex and REST; their
    /// callers run the latest version regardless, so deactivating them would not stop them.
    AutolaunchedWithoutTrigger,
    /// A flow of a process type pauseplay does not pause (e.g. an orchestration).
    UnsupportedFlowType(String),
    /// Installed from a managed package and `include_managed` is off.
    ManagedPackage,
    /// Matched one of the org's `exclude` patterns (the pattern as written).
    Excluded(String),
    /// Its object is not in the org's `objects` list (or it has no object).
    ObjectNotInScope,
    /// Already inactive: there is nothing to pause, and restore will not touch it.
    AlreadyInactive,
}

impl SkipReason {
    /// Stable machine name, used in JSON output and summaries.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::ScreenFlow => "screen_flow",
            SkipReason::AutolaunchedWithoutTrigger => "autolaunched_without_trigger",
            SkipReason::UnsupportedFlowType(_) => "unsupported_flow_type",
            SkipReason::ManagedPackage => "managed_package",
            SkipReason::Excluded(_) => "excluded",
            SkipReason::ObjectNotInScope => "object_not_in_scope",
            SkipReason::AlreadyInactive => "already_inactive",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::ScreenFlow => f.write_str("screen flow (runs only when a user starts it)"),
            SkipReason::AutolaunchedWithoutTrigger => f.write_str(
                "autolaunched flow without a trigger (callers run it whatever its activation)",
            ),
            SkipReason::UnsupportedFlowType(process_type) => {
                write!(f, "flow type {process_type} is not paused")
            }
            SkipReason::ManagedPackage => {
                f.write_str("managed package (set include_managed = true to pause it)")
            }
            SkipReason::Excluded(pattern) => write!(f, "excluded by pattern {pattern}"),
            SkipReason::ObjectNotInScope => f.write_str("object not in the org's objects list"),
            SkipReason::AlreadyInactive => f.write_str("already inactive"),
        }
    }
}
