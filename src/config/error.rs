//! The problems found while loading a configuration, collected rather than returned one by one.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that is wrong with a configuration, so that one run of `check-config` shows the
/// whole list instead of one problem per edit-and-retry cycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.path, .problems))]
pub struct ConfigErrors {
    /// The configuration file that was loaded.
    pub path: PathBuf,
    /// At least one problem, ordered by key.
    pub problems: Vec<ConfigProblem>,
}

/// One thing that is wrong, tied to the key it concerns and to where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The dotted key path, e.g. `orgs.prod.client_secret_file`; empty for the file as a whole.
    pub key: String,
    /// Where the offending value came from (or, for a missing key, where it belongs).
    pub source: ProblemSource,
    /// What is wrong and what to do next. Never contains a secret.
    pub message: String,
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemSource {
    /// The configuration file.
    File(PathBuf),
    /// An environment variable such as `PAUSEPLAY__ORGS__PROD__URL`.
    EnvVar(String),
}

impl fmt::Display for ProblemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemSource::File(path) => write!(f, "in {}", path.display()),
            ProblemSource::EnvVar(name) => write!(f, "from environment variable {name}"),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            match &self.source {
                ProblemSource::File(path) => write!(f, "{}", path.display())?,
                ProblemSource::EnvVar(name) => f.write_str(name)?,
            }
        } else {
            write!(f, "{} ({})", self.key, self.source)?;
        }
        // Messages are single lines by convention; indent any continuation so the list stays
        // readable.
        let mut lines = self.message.lines();
        write!(f, ": {}", lines.next().unwrap_or_default())?;
        for line in lines {
            write!(f, "\n      {line}")?;
        }
        Ok(())
    }
}

fn render(path: &Path, problems: &[ConfigProblem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut out = format!("configuration file {} has {count} {noun}:", path.display());
    for problem in problems {
        out.push_str("\n  - ");
        out.push_str(&problem.to_string());
    }
    out
}

impl ConfigErrors {
    /// A single problem with the file as a whole (unreadable, not TOML).
    pub(super) fn whole_file(path: &Path, message: String) -> Self {
        ConfigErrors {
            path: path.to_owned(),
            problems: vec![ConfigProblem {
                key: String::new(),
                source: ProblemSource::File(path.to_owned()),
                message,
            }],
        }
    }
}
