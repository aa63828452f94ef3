//! `pauseplay check-config`: load and validate the configuration, touching nothing else.

use std::path::Path;

use super::{CommandError, load_config};

/// Validates the configuration and returns a one-paragraph summary for people.
pub fn check_config(path: &Path) -> Result<String, CommandError> {
    let config = load_config(path)?;
    let orgs = config
        .orgs
        .values()
        .map(|org| format!("  {} ({}, API {})", org.name, org.url, org.api_version))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(format!(
        "{} is valid: {} org(s)\n{orgs}",
        config.path.display(),
        config.orgs.len()
    ))
}
