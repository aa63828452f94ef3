//! The `Organization` record: whether the org is a sandbox and its own namespace.

use serde::Deserialize;

use crate::salesforce::{OrgClient, SfError};

/// What pauseplay needs to know about the org itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    pub id: String,
    pub name: String,
    pub is_sandbox: bool,
    pub organization_type: Option<String>,
    /// The org's own namespace (packaging orgs); its components are not "managed" to it.
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrganizationRow {
    id: String,
    name: Option<String>,
    is_sandbox: bool,
    organization_type: Option<String>,
    namespace_prefix: Option<String>,
}

const ORGANIZATION_QUERY: &str =
    "SELECT Id, Name, IsSandbox, OrganizationType, NamespacePrefix FROM Organization";

/// Reads the `Organization` record (standard `/query`).
pub async fn read_org_info(client: &OrgClient) -> Result<OrgInfo, SfError> {
    let row: OrganizationRow = client.query_one(ORGANIZATION_QUERY, "Organization").await?;
    Ok(OrgInfo {
        id: row.id,
        name: row.name.unwrap_or_default(),
        is_sandbox: row.is_sandbox,
        organization_type: row.organization_type,
        namespace: row.namespace_prefix.filter(|ns| !ns.is_empty()),
    })
}
