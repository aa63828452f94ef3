//! The small typed values of the configuration: log format, trigger test level, exclude patterns.

use std::fmt;
use std::str::FromStr;

use crate::automation::{Kind, UnknownKind};

/// How the daemon writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// Human-readable lines (the journal adds timestamps).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a log format other than `text` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format `{0}`; expected \"text\" or \"json\"")]
pub struct InvalidLogFormat(pub String);

impl FromStr for LogFormat {
    type Err = InvalidLogFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(InvalidLogFormat(other.to_owned())),
        }
    }
}

/// The Apex test level of the Metadata API deploys that deactivate and reactivate triggers in a
/// production org. `NoTestRun` is deliberately absent: production refuses it, and sandboxes use
/// it automatically whatever is configured here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TriggerTestLevel {
    #[default]
    RunLocalTests,
    RunSpecifiedTests,
    RunAllTestsInOrg,
}

impl TriggerTestLevel {
    /// The name the Metadata API uses (`testLevel`).
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerTestLevel::RunLocalTests => "RunLocalTests",
            TriggerTestLevel::RunSpecifiedTests => "RunSpecifiedTests",
            TriggerTestLevel::RunAllTestsInOrg => "RunAllTestsInOrg",
        }
    }
}

impl fmt::Display for TriggerTestLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a trigger test level that pauseplay does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTriggerTestLevel {
    #[error(
        "NoTestRun is refused: production deploys never skip tests (sandboxes use NoTestRun automatically); use RunLocalTests or RunSpecifiedTests"
    )]
    NoTestRun,
    #[error(
        "unknown test level `{0}`; expected RunLocalTests, RunSpecifiedTests or RunAllTestsInOrg"
    )]
    Unknown(String),
}

impl FromStr for TriggerTestLevel {
    type Err = InvalidTriggerTestLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "RunLocalTests" => Ok(TriggerTestLevel::RunLocalTests),
            "RunSpecifiedTests" => Ok(TriggerTestLevel::RunSpecifiedTests),
            "RunAllTestsInOrg" => Ok(TriggerTestLevel::RunAllTestsInOrg),
            "NoTestRun" => Err(InvalidTriggerTestLevel::NoTestRun),
            other => Err(InvalidTriggerTestLevel::Unknown(other.to_owned())),
        }
    }
}

/// A `kind:glob` pattern naming components that are never paused, e.g. `flow:Critical_*` or
/// `validation_rule:Account.Keep_*`. The glob is matched against the component's API name,
/// ignoring case, because Salesforce API names are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludePattern {
    text: String,
    kind: Kind,
    glob: glob::Pattern,
}

impl ExcludePattern {
    const MATCH_OPTIONS: glob::MatchOptions = glob::MatchOptions {
        case_sensitive: false,
        // API names contain no path separators or leading dots worth treating specially.
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };

    /// The kind of automation this pattern applies to.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether a component of `kind` named `api_name` is excluded by this pattern.
    pub fn matches(&self, kind: Kind, api_name: &str) -> bool {
        kind == self.kind && self.glob.matches_with(api_name, Self::MATCH_OPTIONS)
    }
}

impl fmt::Display for ExcludePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The error for an exclude entry that is not `kind:glob`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidExcludePattern {
    #[error("`{0}` is not of the form kind:glob, like \"flow:Critical_*\"")]
    NotKindGlob(String),
    #[error("{0}")]
    Kind(UnknownKind),
    #[error("`{text}` has an invalid glob near position {pos}: {msg}")]
    Glob {
        text: String,
        pos: usize,
        msg: &'static str,
    },
}

impl FromStr for ExcludePattern {
    type Err = InvalidExcludePattern;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, glob) = s
            .split_once(':')
            .filter(|(_, glob)| !glob.is_empty())
            .ok_or_else(|| InvalidExcludePattern::NotKindGlob(s.to_owned()))?;
        let kind = kind.parse::<Kind>().map_err(InvalidExcludePattern::Kind)?;
        let glob = glob::Pattern::new(glob).map_err(|err| InvalidExcludePattern::Glob {
            text: s.to_owned(),
            pos: err.pos,
            msg: err.msg,
        })?;
        Ok(ExcludePattern {
            text: s.to_owned(),
            kind,
            glob,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_patterns_match_kind_and_glob_ignoring_case() {
        let pattern: ExcludePattern = "validation_rule:Account.Keep_*".parse().expect("valid");
        assert_eq!(pattern.kind(), Kind::ValidationRule);
        assert_eq!(pattern.to_string(), "validation_rule:Account.Keep_*");
        assert!(pattern.matches(Kind::ValidationRule, "Account.Keep_Name"));
        assert!(pattern.matches(Kind::ValidationRule, "ACCOUNT.keep_name"));
        assert!(!pattern.matches(Kind::ValidationRule, "Contact.Keep_Name"));
        assert!(!pattern.matches(Kind::Flow, "Account.Keep_Name"));
    }

    #[test]
    fn malformed_exclude_patterns_are_refused() {
        assert!(matches!(
            "Critical_*".parse::<ExcludePattern>(),
            Err(InvalidExcludePattern::NotKindGlob(_))
        ));
        assert!(matches!(
            "flow:".parse::<ExcludePattern>(),
            Err(InvalidExcludePattern::NotKindGlob(_))
        ));
        assert!(matches!(
            "flows:X".parse::<ExcludePattern>(),
            Err(InvalidExcludePattern::Kind(_))
        ));
        assert!(matches!(
            "flow:[".parse::<ExcludePattern>(),
            Err(InvalidExcludePattern::Glob { .. })
        ));
    }

    #[test]
    fn test_levels_refuse_no_test_run() {
        assert_eq!(
            "RunSpecifiedTests".parse(),
            Ok(TriggerTestLevel::RunSpecifiedTests)
        );
        assert_eq!(
            "NoTestRun".parse::<TriggerTestLevel>(),
            Err(InvalidTriggerTestLevel::NoTestRun)
        );
        assert!("runlocaltests".parse::<TriggerTestLevel>().is_err());
    }
}
