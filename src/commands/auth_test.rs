//! `pauseplay auth-test`: run the client-credentials flow against one org and show who
//! pauseplay is there and how much API it has left.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, anyhow};
use serde::Deserialize;

use super::{CommandError, client_for, load_config, select_orgs};
use crate::automation::read_org_info;
use crate::salesforce::{OrgClient, SfError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserRow {
    username: Option<String>,
    name: Option<String>,
}

/// Mints a token for `org_name` and reports the org and the Run As user.
pub async fn auth_test(config_path: &Path, org_name: &str) -> Result<String, CommandError> {
    let config = load_config(config_path)?;
    let org = select_orgs(&config, &[org_name.to_owned()])?[0];
    let client = client_for(org)?;
    let context = || format!("auth-test of org `{}` ({})", org.name, org.url);

    let identity = client
        .identity()
        .await
        .map_err(anyhow::Error::from)
        .with_context(context)?;
    let (info, user, versions) = tokio::try_join!(
        read_org_info(&client),
        run_as_user(&client, &identity.user_id),
        client.versions(),
    )
    .map_err(anyhow::Error::from)
    .with_context(context)?;
    let wanted = org.api_version.to_string();
    let served = versions.iter().any(|v| v.version == wanted);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "org `{}`: authenticated with the client-credentials flow",
        org.name
    );
    let _ = writeln!(out, "  My Domain     {}", org.url);
    let _ = writeln!(out, "  instance      {}", identity.instance_url);
    let _ = writeln!(out, "  org id        {}", info.id);
    let _ = writeln!(
        out,
        "  org           {} ({}), {}",
        info.name,
        info.organization_type
            .as_deref()
            .unwrap_or("unknown edition"),
        if info.is_sandbox {
            "sandbox"
        } else {
            "production"
        }
    );
    let _ = writeln!(
        out,
        "  run-as user   {} ({}), {}",
        user.username.as_deref().unwrap_or("?"),
        user.name.as_deref().unwrap_or("?"),
        identity.user_id
    );
    let _ = writeln!(
        out,
        "  API version   {} ({})",
        org.api_version,
        if served {
            "served by the org"
        } else {
            "NOT served by the org"
        }
    );
    let _ = writeln!(out, "  API usage     {}", api_usage(&client).await);
    if !served {
        let available = versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CommandError::Failed(anyhow!(
            "{out}org `{}` does not serve API version {}; set `api_version` in orgs.{} to one \
             of: {available}",
            org.name,
            org.api_version,
            org.name
        )));
    }
    Ok(out)
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

/// Daily API usage from `/limits`, or from the last `Sforce-Limit-Info` header when the Run As
/// user may not read `/limits` (it needs "View Setup and Configuration").
async fn api_usage(client: &OrgClient) -> String {
    match client.limits().await {
        Ok(limits) => {
            let daily = limits.daily_api_requests;
            format!(
                "{} of {} daily requests used ({} left)",
                daily.max.saturating_sub(daily.remaining),
                daily.max,
                daily.remaining
            )
        }
        Err(error) => match client.api_usage() {
            Some(usage) => format!(
                "{} of {} daily requests used (from Sforce-Limit-Info; /limits: {error})",
                usage.used, usage.max
            ),
            None => format!("unknown (/limits: {error})"),
        },
    }
}
