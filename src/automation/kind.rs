//! The kinds of automation pauseplay knows how to pause.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of Salesforce automation. The snake_case names are the ones used in the
/// configuration (`kinds = [...]`, `exclude = ["flow:..."]`) and in every JSON output.
///
/// ```
/// use pauseplay::automation::Kind;
///
/// assert_eq!("validation_rule".parse::<Kind>(), Ok(Kind::ValidationRule));
/// assert_eq!(Kind::ProcessBuilder.to_string(), "process_builder");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Flow,
    ProcessBuilder,
    Trigger,
    ValidationRule,
    WorkflowRule,
}

impl Kind {
    /// Every kind, in the order reports list them.
    pub const ALL: [Kind; 5] = [
        Kind::Flow,
        Kind::ProcessBuilder,
        Kind::Trigger,
        Kind::ValidationRule,
        Kind::WorkflowRule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Flow => "flow",
            Kind::ProcessBuilder => "process_builder",
            Kind::Trigger => "trigger",
            Kind::ValidationRule => "validation_rule",
            Kind::WorkflowRule => "workflow_rule",
        }
    }

    /// Plural label for people, e.g. in table headings.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Flow => "Flows",
            Kind::ProcessBuilder => "Process Builders",
            Kind::Trigger => "Apex triggers",
            Kind::ValidationRule => "Validation rules",
            Kind::WorkflowRule => "Workflow rules",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a kind name that is not one of [`Kind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown automation kind `{0}`; expected one of flow, process_builder, trigger, validation_rule, workflow_rule"
)]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
        }
        assert_eq!(
            "flows".parse::<Kind>(),
            Err(UnknownKind("flows".to_owned()))
        );
    }
}
