//! Switching components off and back on: the batched reads and writes of a pause and a
//! restore for flows, Process Builders, validation rules and workflow rules.
//!
//! Every write *sets* a value (never toggles one), so repeating it after a crash or a retry is
//! harmless. Flows and Process Builders are switched through `FlowDefinition.Metadata.
//! activeVersionNumber` (0 deactivates; restore sets the exact number saved before). Rules are
//! switched by writing back the full `Metadata` just read with only `active` changed, so an
//! edit made to the rule meanwhile survives the write.
//!
//! Apex triggers are not switched here: they need a Metadata API deploy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Kind;
use super::read::read_records;
use crate::salesforce::{CompositeRequest, OrgClient, SfError};

/// Ids per `IN (...)` list in the flow state query, well below SOQL's length limit.
const IDS_PER_QUERY: usize = 200;

/// The activation state pauseplay records before a pause and sets during one. Serialised into
/// the journal (`{"type":"flow","active_version":3}`, `{"type":"rule","active":true}`), so its
/// JSON form is a stored format: change it only with a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activation {
    /// A flow or Process Builder: the active version number, `None` when no version is active.
    Flow { active_version: Option<u32> },
    /// A validation or workflow rule.
    Rule { active: bool },
}

impl Activation {
    /// The state a pause sets for `kind`.
    pub fn paused(kind: Kind) -> Option<Activation> {
        match kind {
            Kind::Flow | Kind::ProcessBuilder => Some(Activation::Flow {
                active_version: None,
            }),
            Kind::ValidationRule | Kind::WorkflowRule => Some(Activation::Rule { active: false }),
            Kind::Trigger => None,
        }
    }
}

/// What a read found for one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub activation: Activation,
    /// The rule's full `Metadata` as read, to write back with only `active` changed.
    metadata: Option<Value>,
}

/// The Tooling sObject that holds the activation of `kind`.
fn sobject(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Flow | Kind::ProcessBuilder => Some("FlowDefinition"),
        Kind::ValidationRule => Some("ValidationRule"),
        Kind::WorkflowRule => Some("WorkflowRule"),
        Kind::Trigger => None,
    }
}

/// The error for a kind this module does not switch.
fn unsupported(client: &OrgClient, kind: Kind) -> SfError {
    SfError::Config {
        org: client.org().to_owned(),
        message: format!("{kind} components are not switched through the Tooling API"),
    }
}

/// Reads the current activation of every component in `ids` (all of `kind`). A component
/// missing from the result no longer exists.
pub async fn read_current(
    client: &OrgClient,
    kind: Kind,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, SfError> {
    match kind {
        Kind::Flow | Kind::ProcessBuilder => read_flows(client, ids).await,
        Kind::ValidationRule | Kind::WorkflowRule => {
            let sobject = sobject(kind).ok_or_else(|| unsupported(client, kind))?;
            let records = read_records(client, sobject, ids, &["Id", "Metadata"]).await?;
            records
                .found
                .into_iter()
                .map(|(id, record)| {
                    let current = rule_current(&record).ok_or_else(|| SfError::Decode {
                        org: client.org().to_owned(),
                        path: format!("/tooling/sobjects/{sobject}/{id}"),
                        expected: "Metadata with a boolean active".to_owned(),
                        detail: "the record's Metadata has no active flag".to_owned(),
                    })?;
                    Ok((id, current))
                })
                .collect()
        }
        Kind::Trigger => Err(unsupported(client, kind)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowStateRow {
    id: String,
    active_version: Option<FlowVersion>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowVersion {
    #[serde(default, deserialize_with = "super::de::version_number")]
    version_number: Option<u32>,
}

/// One Tooling query per 200 flows: `FlowDefinition` rows with their active version number.
async fn read_flows(
    client: &OrgClient,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, SfError> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let list = chunk
            .iter()
            // Ids are letters and digits; anything else is dropped rather than put into SOQL.
            .map(|id| {
                format!(
                    "'{}'",
                    id.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let query = format!(
            "SELECT Id, ActiveVersion.VersionNumber FROM FlowDefinition WHERE Id IN ({list})"
        );
        let rows: Vec<FlowStateRow> = client.tooling_query(&query).await?;
        for row in rows {
            let active_version = row.active_version.and_then(|v| v.version_number);
            found.insert(
                row.id,
                Current {
                    activation: Activation::Flow { active_version },
                    metadata: None,
                },
            );
        }
    }
    // Salesforce may answer with 18-character ids for 15-character ones asked for; key the
    // result by the ids asked for.
    Ok(ids
        .iter()
        .filter_map(|id| {
            found
                .iter()
                .find(|(found_id, _)| same_id(found_id, id))
                .map(|(_, current)| (id.clone(), current.clone()))
        })
        .collect())
}

/// Salesforce ids compare on their first 15 characters (the 18-character form adds a
/// case-safe checksum).
fn same_id(a: &str, b: &str) -> bool {
    a.get(..15)
        .is_some_and(|prefix| b.get(..15) == Some(prefix))
}

fn rule_current(record: &Value) -> Option<Current> {
    let metadata = record.get("Metadata")?;
    let active = metadata.get("active")?.as_bool()?;
    Some(Current {
        activation: Activation::Rule { active },
        metadata: Some(metadata.clone()),
    })
}

/// One component to switch: its id, the state to set, and (rules) the `Metadata` just read.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub id: &'a str,
    pub to: Activation,
    pub current: &'a Current,
}

/// Sets the activation of every target (all of `kind`) with composite PATCHes of 25, sent one
/// after another. Returns each target's outcome by id; an `Err` of the whole call means no
/// per-item outcome is known (the caller re-reads before trying again).
pub async fn write(
    client: &OrgClient,
    kind: Kind,
    targets: &[Target<'_>],
) -> Result<BTreeMap<String, Result<(), SfError>>, SfError> {
    let sobject = sobject(kind).ok_or_else(|| unsupported(client, kind))?;
    let requests = targets
        .iter()
        .map(|target| {
            Ok(CompositeRequest::patch(
                sobject,
                target.id,
                patch_body(client, target)?,
            ))
        })
        .collect::<Result<Vec<_>, SfError>>()?;
    if requests.is_empty() {
        return Ok(BTreeMap::new());
    }
    let responses = client.tooling_composite(requests).await?;
    Ok(targets
        .iter()
        .zip(responses)
        .map(|(target, response)| {
            // Only a 2xx item counts as written; a failed item without a readable error is
            // still a failure, never a success.
            let outcome = if response.is_success() {
                Ok(())
            } else {
                Err(response
                    .error(client.org())
                    .unwrap_or_else(|| SfError::Http {
                        org: client.org().to_owned(),
                        status: response.status,
                        path: response.path.clone(),
                        body: response.body.to_string().chars().take(200).collect(),
                    }))
            };
            (target.id.to_owned(), outcome)
        })
        .collect())
}

fn patch_body(client: &OrgClient, target: &Target<'_>) -> Result<Value, SfError> {
    match (target.to, &target.current.metadata) {
        (Activation::Flow { active_version }, _) => Ok(json!({
            "Metadata": { "activeVersionNumber": active_version.unwrap_or(0) }
        })),
        (Activation::Rule { active }, Some(Value::Object(metadata))) => {
            // Written back as read, with only `active` changed: anything an admin edited
            // meanwhile is what was read, so it survives.
            let mut metadata = metadata.clone();
            metadata.insert("active".to_owned(), Value::Bool(active));
            Ok(json!({ "Metadata": metadata }))
        }
        (Activation::Rule { .. }, _) => Err(SfError::Config {
            org: client.org().to_owned(),
            message: format!(
                "rule {} cannot be switched without its Metadata; read it first",
                target.id
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_form_of_activations_is_stable() {
        let flow = Activation::Flow {
            active_version: Some(3),
        };
        assert_eq!(
            serde_json::to_value(flow).ok(),
            Some(json!({"type": "flow", "active_version": 3}))
        );
        let rule: Activation =
            serde_json::from_value(json!({"type": "rule", "active": true})).expect("parses");
        assert_eq!(rule, Activation::Rule { active: true });
    }

    #[test]
    fn ids_compare_on_their_first_fifteen_characters() {
        assert!(same_id("300XX0000000001AAA", "300XX0000000001"));
        assert!(same_id("300XX0000000001", "300XX0000000001AAB"));
        assert!(!same_id("300XX0000000001AAA", "300XX0000000002AAA"));
        assert!(!same_id("short", "short"));
    }

    #[test]
    fn pause_targets_per_kind() {
        assert_eq!(
            Activation::paused(Kind::Flow),
            Some(Activation::Flow {
                active_version: None
            })
        );
        assert_eq!(
            Activation::paused(Kind::WorkflowRule),
            Some(Activation::Rule { active: false })
        );
        assert_eq!(Activation::paused(Kind::Trigger), None);
    }
}
