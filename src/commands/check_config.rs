//! `pauseplay check-config`: load and validate the configuration, touching nothing else.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;

use super::{CommandError, load_config};
use crate::config::Config;
use crate::notify::EventKind;
use crate::schedule;

/// Validates the configuration and returns a summary for people: the orgs, the windows with
/// their next start, the notification targets (never their URLs), and every warning. Warnings
/// do not make the configuration invalid.
pub fn check_config(path: &Path) -> Result<String, CommandError> {
    let config = load_config(path)?;
    Ok(summary(&config, Timestamp::now()))
}

fn summary(config: &Config, now: Timestamp) -> String {
    let mut out = format!(
        "{} is valid: {} org(s), {} window(s), {} notification target(s)",
        config.path.display(),
        config.orgs.len(),
        config.windows.len(),
        config.notify.len()
    );
    for org in config.orgs.values() {
        let _ = write!(
            out,
            "\n  {} ({}, API {})",
            org.name, org.url, org.api_version
        );
    }
    for window in &config.windows {
        let next = match schedule::next(window, now, 1).first() {
            Some(occurrence) => format!("next {}", occurrence.start),
            None => "no start ahead".to_owned(),
        };
        let _ = write!(
            out,
            "\n  window {}: {}, orgs {}; {next}",
            window.name,
            window.when,
            window.orgs.join(", ")
        );
    }
    for target in &config.notify {
        let events = if target.events.len() == EventKind::ALL.len() {
            "all events".to_owned()
        } else {
            let names: Vec<&str> = target.events.iter().map(|kind| kind.as_str()).collect();
            format!("events {}", names.join(", "))
        };
        // The URL is a secret; its source is what an operator needs to find it.
        let _ = write!(
            out,
            "\n  notify {} ({}): {events}; URL from {}",
            target.name, target.kind, target.url_source
        );
    }
    if !config.warnings.is_empty() {
        let _ = write!(out, "\n{} warning(s):", config.warnings.len());
        for warning in &config.warnings {
            let _ = write!(out, "\n  - {warning}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_summary_lists_notification_targets_without_their_urls() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("prod.secret");
        std::fs::write(&secret, "s3cret").expect("write secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let path = dir.path().join("pauseplay.toml");
        let text = format!(
            r#"
# The inline form of [[notify]] tables loads the same.
notify = [
    {{ name = "ops_slack", kind = "slack", url_env = "HOOK", events = ["restore_overdue", "partial_failure"] }},
    {{ name = "audit", kind = "webhook", url_env = "HOOK" }},
]

[orgs.prod]
url = "https://acme.my.salesforce.com"
client_id = "3MVG9-prod"
client_secret_file = "{}"
"#,
            secret.display()
        );
        std::fs::write(&path, text).expect("write config");
        let env = HashMap::from([(
            "HOOK".to_owned(),
            "https://hooks.slack.com/services/T0/B0/token-never-shown".to_owned(),
        )]);
        let config = Config::load_with_env(&path, &env).expect("valid");

        let out = summary(&config, Timestamp::now());
        assert!(
            out.contains("is valid: 1 org(s), 0 window(s), 2 notification target(s)"),
            "{out}"
        );
        assert!(
            out.contains(
                "\n  notify ops_slack (slack): events partial_failure, restore_overdue; URL from \
                 environment variable HOOK"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "\n  notify audit (webhook): all events; URL from environment variable HOOK"
            ),
            "{out}"
        );
        assert!(!out.contains("token-never-shown"), "{out}");
    }
}
