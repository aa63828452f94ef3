//! `pauseplay auth-test`: the preflight of one org. It mints a token, then says who pauseplay
//! is there, whether the org serves the configured API version, how many API calls are left
//! today, and, from the Run As user's effective permissions, whether each configured kind of
//! automation can be paused and restored. It succeeds only when all of that holds, so a
//! passing `auth-test` means the first pause will not fail for want of a setting.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Deserialize;

use super::{CommandError, client_for, load_config, select_orgs};
use crate::automation::access::{self, Granted, Need, Permission};
use crate::automation::{Kind, OrgInfo, read_org_info};
use crate::config::OrgConfig;
use crate::salesforce::{Identity, OrgClient, SfError, VersionInfo};

/// The setup guide, named in every piece of advice.
const GUIDE: &str = "docs/connect-an-org.md";

/// The guide's section on the integration user's permission set.
const PERMISSION_SET: &str = "1. Create the integration user and its permission set";

/// Editions Salesforce documents the Metadata API for; pausing writes metadata.
const METADATA_API_EDITIONS: [&str; 4] = [
    "Enterprise Edition",
    "Unlimited Edition",
    "Performance Edition",
    "Developer Edition",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserRow {
    username: Option<String>,
    name: Option<String>,
}

/// Everything the preflight read from the org.
struct Preflight {
    identity: Identity,
    reached: Reached,
}

/// How far the preflight got once it had a token.
enum Reached {
    /// The org does not serve the configured API version (these are the ones it serves), so
    /// nothing was read through it: every such call would fail.
    VersionNotServed(Vec<VersionInfo>),
    Org(Box<OrgChecks>),
}

struct OrgChecks {
    info: OrgInfo,
    user: Option<UserRow>,
    usage: String,
    /// The Run As user's permissions, or why they could not be read.
    granted: Result<Granted, SfError>,
}

/// Runs the preflight of `org_name` and reports it; fails (exit 1) unless every configured
/// kind can be paused and restored.
pub async fn auth_test(config_path: &Path, org_name: &str) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let org = select_orgs(&config, &[org_name.to_owned()])?[0];
    let client = client_for(org)?;
    let preflight = read(org, &client).await?;
    let (report, problems) = render(org, &preflight);
    if problems.is_empty() {
        return Ok(report);
    }
    Err(CommandError::Incomplete {
        output: report,
        error: anyhow!(
            "org `{}` is not ready for pauseplay: {}; then run `pauseplay auth-test --org {}` \
             again",
            org.name,
            problems.join("; "),
            org.name
        ),
    })
}

async fn read(org: &OrgConfig, client: &OrgClient) -> Result<Preflight, CommandError> {
    let context = || format!("auth-test of org `{}` ({})", org.name, org.url);
    let identity = client.identity().await.map_err(|error| {
        // A refusal with a known cause gets its advice (in the error's message) and the
        // guide's section, with no chain to read through.
        CommandError::Failed(match error.token_refusal() {
            Some(refusal) => anyhow!(
                "{error}\n  setting it up: {GUIDE}, section \"{}\"",
                refusal.guide_section()
            ),
            None => anyhow::Error::from(error).context(context()),
        })
    })?;
    let versions = client
        .versions()
        .await
        .map_err(anyhow::Error::from)
        .with_context(context)?;
    let wanted = org.api_version.to_string();
    if !versions.iter().any(|v| v.version == wanted) {
        return Ok(Preflight {
            identity,
            reached: Reached::VersionNotServed(versions),
        });
    }
    let (info, user, granted) = tokio::join!(
        read_org_info(client),
        run_as_user(client, &identity.user_id),
        access::read_permissions(client),
    );
    let info = info.map_err(anyhow::Error::from).with_context(context)?;
    // The user's name is only for the report; a user the Run As user may not read is no reason
    // to stop.
    let user = user.ok();
    let usage = api_usage(client).await;
    Ok(Preflight {
        identity,
        reached: Reached::Org(Box::new(OrgChecks {
            info,
            user,
            usage,
            granted,
        })),
    })
}

/// The report, and the problems that make the org not ready (empty when it is).
fn render(org: &OrgConfig, preflight: &Preflight) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let mut out = String::new();
    let identity = &preflight.identity;
    let _ = writeln!(
        out,
        "org `{}`: authenticated with the client-credentials flow",
        org.name
    );
    let _ = writeln!(out, "  My Domain     {}", org.url);
    let _ = writeln!(out, "  instance      {}", identity.instance_url);
    let _ = writeln!(out, "  org id        {}", identity.org_id);
    let wanted = org.api_version.to_string();
    let checks = match &preflight.reached {
        Reached::Org(checks) => &**checks,
        Reached::VersionNotServed(versions) => {
            let available: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
            let _ = writeln!(
                out,
                "  API version   {wanted}: NOT served by the org (it serves {})",
                available.join(", ")
            );
            problems.push(format!(
                "the org does not serve API version {wanted}, so nothing else could be \
                 checked; set `api_version` in orgs.{} to one it serves (the newest is {})",
                org.name,
                available.last().copied().unwrap_or("none")
            ));
            return (out, problems);
        }
    };
    let OrgChecks {
        info,
        user,
        usage,
        granted,
    } = checks;
    let edition = info.organization_type.as_deref();
    let _ = writeln!(
        out,
        "  org           {} ({}), {}",
        info.name,
        edition.unwrap_or("unknown edition"),
        if info.is_sandbox {
            "sandbox"
        } else {
            "production"
        }
    );
    let (username, name) = user.as_ref().map_or(("?", "?"), |user| {
        (
            user.username.as_deref().unwrap_or("?"),
            user.name.as_deref().unwrap_or("?"),
        )
    });
    let _ = writeln!(
        out,
        "  run-as user   {username} ({name}), {}",
        identity.user_id
    );
    let _ = writeln!(out, "  API version   {wanted} (served by the org)");
    let _ = writeln!(out, "  API calls     {usage}");
    if let Some(edition) = edition
        && !METADATA_API_EDITIONS.contains(&edition)
    {
        let _ = writeln!(
            out,
            "  note: Salesforce documents the Metadata API, which pausing writes through, for \
             {}; this org is {edition}, so its writes may be refused",
            METADATA_API_EDITIONS.join(", ")
        );
    }

    let _ = writeln!(out);
    match granted {
        Ok(granted) => {
            render_permissions(&mut out, granted);
            let _ = writeln!(out);
            render_kinds(&mut out, org, info, granted, &mut problems);
        }
        Err(error) => {
            let _ = writeln!(
                out,
                "Run As user's permissions: could not be read ({error})"
            );
            problems.push(format!(
                "the Run As user's permissions could not be read from UserPermissionAccess, so \
                 whether it may pause anything is unknown; check that its permission set has \
                 API Enabled and View Setup and Configuration ({GUIDE}, section \"{PERMISSION_SET}\")"
            ));
        }
    }
    (out, problems)
}

fn render_permissions(out: &mut String, granted: &Granted) {
    let _ = writeln!(out, "Run As user's permissions (UserPermissionAccess)");
    for permission in Permission::ALL {
        let has = granted.has(permission);
        let note = match permission {
            Permission::ApiUserOnly if !has => {
                "  (recommended: an integration user that cannot log in to the UI)"
            }
            Permission::ModifyAllData if has => {
                "  (more than pauseplay needs: it opens every record; Modify Metadata Through \
                 Metadata API Functions is enough)"
            }
            Permission::ModifyAllData => "  (not needed)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {}  {}{note}",
            if has { "yes" } else { "no " },
            permission.label()
        );
    }
}

fn render_kinds(
    out: &mut String,
    org: &OrgConfig,
    info: &OrgInfo,
    granted: &Granted,
    problems: &mut Vec<String>,
) {
    let _ = writeln!(out, "Can pauseplay pause and restore each kind?");
    let mut unusable = Vec::new();
    for kind in Kind::ALL {
        let label = format!("{:<16}", kind.as_str());
        if !org.kinds.contains(&kind) {
            let _ = writeln!(
                out,
                "  {label}  not configured (`kinds` in orgs.{})",
                org.name
            );
            continue;
        }
        let missing = granted.missing(kind);
        if missing.is_empty() {
            let how = if kind == Kind::Trigger && !info.is_sandbox {
                format!(
                    ", by Metadata API deploys that run Apex tests ({}) in production",
                    org.trigger_test_level
                )
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {label}  yes{how}");
            continue;
        }
        let _ = writeln!(
            out,
            "  {label}  NO: the Run As user lacks {}",
            list(&missing)
        );
        for need in &missing {
            let _ = writeln!(out, "  {:<16}    {}: {}", "", need.describe(), need.why);
        }
        unusable.push(format!("{} ({})", kind.as_str(), list(&missing)));
    }
    if !unusable.is_empty() {
        problems.push(format!(
            "the Run As user may not pause {}; add the missing permissions to its permission \
             set ({GUIDE}, section \"{PERMISSION_SET}\") or leave those kinds out of `kinds` in \
             orgs.{}",
            unusable.join(", "),
            org.name
        ));
    }
}

/// `Author Apex and Manage Flow`.
fn list(needs: &[Need]) -> String {
    let names: Vec<String> = needs.iter().map(Need::describe).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

async fn run_as_user(client: &OrgClient, user_id: &str) -> Result<UserRow, SfError> {
    // The id comes from the token response; keep anything but an id out of the SOQL.
    let user_id: String = user_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let rows: Vec<UserRow> = client
        .query(&format!(
            "SELECT Id, Username, Name FROM User WHERE Id = '{user_id}'"
        ))
        .await?;
    Ok(rows.into_iter().next().unwrap_or(UserRow {
        username: None,
        name: None,
    }))
}

/// Today's API calls from `/limits`, or from the last `Sforce-Limit-Info` header when the Run
/// As user may not read `/limits` (it needs View Setup and Configuration).
async fn api_usage(client: &OrgClient) -> String {
    let (usage, source) = match client.limits().await {
        Ok(limits) => (limits.daily_usage(), String::new()),
        Err(error) => match client.api_usage() {
            Some(usage) => (
                usage,
                format!(" (from Sforce-Limit-Info; /limits: {error})"),
            ),
            None => return format!("unknown (/limits: {error})"),
        },
    };
    format!(
        "{} left of {} today ({} used){source}",
        usage.remaining(),
        usage.max,
        usage.used
    )
}
