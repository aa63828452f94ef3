//! Switching components off and back on: the batched reads and writes of a pause and a
//! restore for flows, Process Builders, validation rules and workflow rules.
//!
//! Every write *sets* a value (never toggles one), so repeating it after a crash or a retry is
//! harmless. Flows and Process Builders are switched through `FlowDefinition.Metadata.
//! activeVersionNumber` (0 deactivates; restore sets the exact number saved before). Rules are
//! switched by writing back the full `Metadata` just read with only `active` changed, so an
//! edit made to the rule meanwhile survives the write.
//!
//! Apex triggers are read here (one Tooling query per 200 ids, which also gives the body a
//! deploy needs) but not written: switching one takes a Metadata API deploy of its source with
//! the new status (`OrgClient::deploy_triggers`), which the engine drives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Kind;
use super::flow::VersionRef;
use super::read::read_records;
use super::scope::namespaced;
use crate::salesforce::{CompositeRequest, OrgClient, SfError, TriggerSource};

/// Ids per `IN (...)` list in the flow state query, well below SOQL's length limit.
const IDS_PER_QUERY: usize = 200;

/// The activation state pauseplay records before a pause and sets during one. Serialised into
/// the journal (`{"type":"flow","active_version":3}`, `{"type":"rule","active":true}`), so its
/// JSON form is a stored format: change it only with a migration. Triggers are
/// `{"type":"trigger","active":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activation {
    /// A flow or Process Builder: the active version number, `None` when no version is active.
    Flow { active_version: Option<u32> },
    /// A validation or workflow rule.
    Rule { active: bool },
    /// An Apex trigger: `Status` `Active` or `Inactive` (a `Deleted` trigger reads as gone).
    Trigger { active: bool },
}

impl Activation {
    /// The state a pause sets for `kind`.
    pub fn paused(kind: Kind) -> Option<Activation> {
        match kind {
            Kind::Flow | Kind::ProcessBuilder => Some(Activation::Flow {
                active_version: None,
            }),
            Kind::ValidationRule | Kind::WorkflowRule => Some(Activation::Rule { active: false }),
            Kind::Trigger => Some(Activation::Trigger { active: false }),
        }
    }
}

/// What a read found for one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub activation: Activation,
    /// The rule's full `Metadata` as read, to write back with only `active` changed.
    metadata: Option<Value>,
    /// The trigger's source as read, to deploy with only its status changed.
    trigger: Option<TriggerSource>,
}

impl Current {
    /// A trigger's source as read (its body byte for byte): what a deploy switching it sends,
    /// so an edit made to the trigger meanwhile survives. `None` for other kinds.
    pub fn trigger_source(&self) -> Option<&TriggerSource> {
        self.trigger.as_ref()
    }
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
        Kind::Trigger => read_triggers(client, ids).await,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TriggerStateRow {
    id: String,
    name: String,
    body: String,
    /// A JSON number (`66.0`); the deploy wants it as text.
    api_version: f64,
    status: String,
    namespace_prefix: Option<String>,
}

/// One Tooling query per 200 triggers: status and source of each. A `Deleted` trigger is
/// left out, as if gone: there is nothing to pause or restore in it.
async fn read_triggers(
    client: &OrgClient,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, SfError> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let query = format!(
            "SELECT Id, Name, Body, ApiVersion, Status, NamespacePrefix FROM ApexTrigger \
             WHERE Id IN ({})",
            id_list(chunk)
        );
        let rows: Vec<TriggerStateRow> = client.tooling_query(&query).await?;
        for row in rows {
            let active = match row.status.as_str() {
                "Active" => true,
                "Inactive" => false,
                "Deleted" => continue,
                other => {
                    return Err(SfError::Decode {
                        org: client.org().to_owned(),
                        path: "/tooling/query (ApexTrigger)".to_owned(),
                        expected: "Status Active, Inactive or Deleted".to_owned(),
                        detail: format!("trigger {} has Status `{other}`", row.id),
                    });
                }
            };
            found.insert(
                row.id,
                Current {
                    activation: Activation::Trigger { active },
                    metadata: None,
                    trigger: Some(TriggerSource {
                        name: namespaced(row.namespace_prefix.as_deref(), &row.name),
                        body: row.body,
                        // One decimal, as Salesforce writes versions: 66 -> "66.0".
                        api_version: format!("{:.1}", row.api_version),
                    }),
                },
            );
        }
    }
    Ok(by_requested_id(ids, found))
}

/// An SOQL `IN` list of ids. Ids are letters and digits; anything else is dropped rather than
/// put into SOQL.
fn id_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| {
            format!(
                "'{}'",
                id.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Salesforce may answer with 18-character ids for 15-character ones asked for; keys the
/// result by the ids asked for.
fn by_requested_id(ids: &[String], found: BTreeMap<String, Current>) -> BTreeMap<String, Current> {
    ids.iter()
        .filter_map(|id| {
            found
                .iter()
                .find(|(found_id, _)| same_id(found_id, id))
                .map(|(_, current)| (id.clone(), current.clone()))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowStateRow {
    id: String,
    active_version: Option<VersionRef>,
}

/// One Tooling query per 200 flows: `FlowDefinition` rows with their active version number.
async fn read_flows(
    client: &OrgClient,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, SfError> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let list = id_list(chunk);
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
                    trigger: None,
                },
            );
        }
    }
    Ok(by_requested_id(ids, found))
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
        trigger: None,
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
        (Activation::Trigger { .. }, _) => Err(unsupported(client, Kind::Trigger)),
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
        assert_eq!(
            serde_json::to_value(Activation::Trigger { active: true }).ok(),
            Some(json!({"type": "trigger", "active": true}))
        );
        let trigger: Activation =
            serde_json::from_value(json!({"type": "trigger", "active": false})).expect("parses");
        assert_eq!(trigger, Activation::Trigger { active: false });
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
        assert_eq!(
            Activation::paused(Kind::Trigger),
            Some(Activation::Trigger { active: false })
        );
    }
}
