//! The CLI's commands, as library functions that return an outcome; `main.rs` parses the
//! command line, calls one of these and maps the result to an exit code.

mod auth_test;
mod check_config;
mod daemon;
mod plan;
pub(crate) mod remote;
mod sim;
mod start_time;
pub(crate) mod windows;

pub use auth_test::auth_test;
pub use check_config::check_config;
pub use daemon::daemon;
pub use plan::plan;
pub use remote::{REMOTE_JSON_VERSION, Target, history, pause_at, pause_now, resume, status};
pub use sim::{DEFAULT_SIM_ADDR, sim};
pub use windows::{WINDOWS_JSON_VERSION, windows};

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ConfigErrors, OrgConfig};
use crate::salesforce::{ClientSettings, OrgClient, RetryPolicy};

/// How long one Salesforce request may take before it is abandoned (and retried if the
/// operation allows).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a command did not succeed, sorted by the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is invalid (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The command line named something that does not exist (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The operation ran and failed (exit 1).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
    /// The daemon could not be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// Part of the operation succeeded: `output` is what it produced, `error` what failed
    /// (exit 1).
    #[error("{error}")]
    Incomplete {
        output: String,
        error: anyhow::Error,
    },
}

impl CommandError {
    /// The process exit code DESIGN.md assigns to this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) | CommandError::Usage(_) => 2,
            CommandError::Failed(_) | CommandError::Incomplete { .. } => 1,
            CommandError::Unreachable(_) => 3,
        }
    }
}

pub(crate) fn load_config(path: &Path) -> Result<Config, CommandError> {
    Ok(Config::load(path)?)
}

/// The orgs a command works on: the ones named, or every configured org when none is.
pub(crate) fn select_orgs<'a>(
    config: &'a Config,
    names: &[String],
) -> Result<Vec<&'a OrgConfig>, CommandError> {
    if names.is_empty() {
        return Ok(config.orgs.values().collect());
    }
    names
        .iter()
        .map(|name| {
            config.orgs.get(name).ok_or_else(|| {
                let known = config.orgs.keys().cloned().collect::<Vec<_>>().join(", ");
                CommandError::Usage(format!(
                    "no org named `{name}` in {}; configured orgs: {known}",
                    config.path.display()
                ))
            })
        })
        .collect()
}

/// The client settings for a configured org.
pub fn client_settings(org: &OrgConfig) -> ClientSettings {
    ClientSettings {
        org: org.name.clone(),
        login_url: org.url.clone(),
        client_id: org.client_id.clone(),
        client_secret: org.client_secret.clone(),
        api_version: org.api_version,
        request_timeout: REQUEST_TIMEOUT,
        retry: RetryPolicy::default(),
    }
}

pub(crate) fn client_for(org: &OrgConfig) -> anyhow::Result<OrgClient> {
    Ok(OrgClient::new(client_settings(org))?)
}
