//! Switching components off and back on: the batched reads and writes of a pause and a
//! restore for flows, Process Builders, validation rules and workflow rules.
//!
//! Every write *sets* a value (never toggles one), so repeating it after a crash or a retry is
//! harmless. Flows and Process Builders are switched through `FlowDefinition.Metadata.
//! activeVersionNumber` (0 deactivates; restore sets the exact number saved before). Rules are
//! switched by writing back the full `Metadata` just read with only `active` changed, so an
//! edit made to the rule meanwhile survives the write.
//!
//! Apex triggers are read here (one Tooling query per 400 ids, which also gives the body a
//! deploy needs) but not written: switching one takes a Metadata API deploy of its source with
//! the new status (`OrgClient::deploy_triggers`), which the engine drives.
//!
//! A pause does not read again what its discovery has just read ([`Current`] values built by
//! discovery: flows' version numbers, workflow rules' `Metadata`, triggers' sources); only
//! validation rules' `Metadata` is read here for it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Kind;
use super::flow::VersionRef;
use super::read::read_records;
use super::scope::namespaced;
use crate::salesforce::{CompositeRequest, OrgClient, SfError, TriggerSource};

/// Ids per `IN (...)` list in a state query. The query travels in the URL, which Salesforce
/// refuses past 16,384 bytes (414, reference §7); 400 ids of 18 characters encode to about
/// 11.3 KB, leaving room for the rest of the query and the headers (a test pins it).
const IDS_PER_QUERY: usize = 400;

/// Rows per query page on Salesforce by default (reference §3, `…-2000` locators).
const QUERY_PAGE: usize = 2_000;

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

    /// A flow or Process Builder with `active_version` active (`None`: none is).
    pub(crate) fn flow(active_version: Option<u32>) -> Current {
        Current {
            activation: Activation::Flow { active_version },
            metadata: None,
            trigger: None,
        }
    }

    /// A rule from its Tooling record (`Metadata` with a boolean `active`), keeping the
    /// `Metadata` to write back.
    pub(crate) fn rule(record: &Value) -> Option<Current> {
        let metadata = record.get("Metadata")?;
        let active = metadata.get("active")?.as_bool()?;
        Some(Current {
            activation: Activation::Rule { active },
            metadata: Some(metadata.clone()),
            trigger: None,
        })
    }

    /// A trigger from an `ApexTrigger` row with its source. `Ok(None)` for a `Deleted` one,
    /// which has nothing to pause or restore; an unknown `Status` is an error naming it.
    pub(crate) fn trigger(
        row: TriggerRow,
        org: &str,
    ) -> Result<Option<(String, Current)>, SfError> {
        let active = match row.status.as_str() {
            "Active" => true,
            "Inactive" => false,
            "Deleted" => return Ok(None),
            other => {
                return Err(SfError::Decode {
                    org: org.to_owned(),
                    path: "/tooling/query (ApexTrigger)".to_owned(),
                    expected: "Status Active, Inactive or Deleted".to_owned(),
                    detail: format!("trigger {} has Status `{other}`", row.id),
                });
            }
        };
        let current = Current {
            activation: Activation::Trigger { active },
            metadata: None,
            trigger: Some(TriggerSource {
                name: namespaced(row.namespace_prefix.as_deref(), &row.name),
                body: row.body,
                // One decimal, as Salesforce writes versions: 66 -> "66.0".
                api_version: format!("{:.1}", row.api_version),
            }),
        };
        Ok(Some((row.id, current)))
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
    read_current_sized(client, kind, ids, None).await
}

/// [`read_current`], told how many `FlowDefinition` rows the org has (`flow_rows`, from a
/// discovery): flows are then read by one paged query of the whole table when that takes
/// fewer calls than `IN` lists of their ids.
pub async fn read_current_sized(
    client: &OrgClient,
    kind: Kind,
    ids: &[String],
    flow_rows: Option<usize>,
) -> Result<BTreeMap<String, Current>, SfError> {
    match kind {
        Kind::Flow | Kind::ProcessBuilder => read_flows(client, ids, flow_rows).await,
        Kind::ValidationRule | Kind::WorkflowRule => {
            let sobject = sobject(kind).ok_or_else(|| unsupported(client, kind))?;
            Ok(read_rules(client, sobject, ids).await?.0)
        }
        Kind::Trigger => read_triggers(client, ids).await,
    }
}

/// Reads the `Metadata` of the rules `ids` of `sobject` (`ValidationRule` or `WorkflowRule`):
/// their state by id, and the ids the org no longer has.
pub(crate) async fn read_rules(
    client: &OrgClient,
    sobject: &str,
    ids: &[String],
) -> Result<(BTreeMap<String, Current>, Vec<String>), SfError> {
    let records = read_records(client, sobject, ids, &["Id", "Metadata"]).await?;
    let read = records
        .found
        .into_iter()
        .map(|(id, record)| {
            let current = Current::rule(&record).ok_or_else(|| SfError::Decode {
                org: client.org().to_owned(),
                path: format!("/tooling/sobjects/{sobject}/{id}"),
                expected: "Metadata with a boolean active".to_owned(),
                detail: "the record's Metadata has no active flag".to_owned(),
            })?;
            Ok((id, current))
        })
        .collect::<Result<_, SfError>>()?;
    Ok((read, records.gone))
}

/// The `ApexTrigger` fields a trigger's switch needs: its status and its source. Discovery
/// selects them too when it discovers for a pause, so the pause need not read them again.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TriggerRow {
    pub(crate) id: String,
    pub(crate) name: String,
    body: String,
    /// A JSON number (`66.0`); the deploy wants it as text.
    api_version: f64,
    pub(crate) status: String,
    pub(crate) namespace_prefix: Option<String>,
}

/// The fields of [`TriggerRow`], for a query's field list.
pub(crate) const TRIGGER_FIELDS: &str = "Id, Name, Body, ApiVersion, Status, NamespacePrefix";

/// One Tooling query per [`IDS_PER_QUERY`] triggers: status and source of each. A `Deleted`
/// trigger is left out, as if gone: there is nothing to pause or restore in it.
async fn read_triggers(
    client: &OrgClient,
    ids: &[String],
) -> Result<BTreeMap<String, Current>, SfError> {
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let query = format!(
            "SELECT {TRIGGER_FIELDS} FROM ApexTrigger WHERE Id IN ({})",
            id_list(chunk)
        );
        let rows: Vec<TriggerRow> = client.tooling_query(&query).await?;
        for row in rows {
            found.extend(Current::trigger(row, client.org())?);
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
/// result by the ids asked for. Rows nobody asked for (a whole-table read) are dropped.
fn by_requested_id(ids: &[String], found: BTreeMap<String, Current>) -> BTreeMap<String, Current> {
    let by_prefix: HashMap<&str, &Current> = found
        .iter()
        .filter_map(|(id, current)| Some((id.get(..15)?, current)))
        .collect();
    ids.iter()
        .filter_map(|id| {
            let current = by_prefix.get(id.get(..15)?)?;
            Some((id.clone(), (*current).clone()))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FlowStateRow {
    id: String,
    active_version: Option<VersionRef>,
}

/// The state of flows, read either by `IN` lists of [`IDS_PER_QUERY`] ids or, when the caller
/// knows the org has few enough flows that its pages are fewer calls, by one query of the
/// whole table (paged).
async fn read_flows(
    client: &OrgClient,
    ids: &[String],
    table_rows: Option<usize>,
) -> Result<BTreeMap<String, Current>, SfError> {
    const QUERY: &str = "SELECT Id, ActiveVersion.VersionNumber FROM FlowDefinition";
    let queries: Vec<String> =
        if table_rows.is_some_and(|rows| whole_table_is_cheaper(ids.len(), rows)) {
            vec![QUERY.to_owned()]
        } else {
            ids.chunks(IDS_PER_QUERY)
                .map(|chunk| format!("{QUERY} WHERE Id IN ({})", id_list(chunk)))
                .collect()
        };
    let mut found = BTreeMap::new();
    for query in queries {
        let rows: Vec<FlowStateRow> = client.tooling_query(&query).await?;
        for row in rows {
            let active_version = row.active_version.and_then(|v| v.version_number);
            found.insert(row.id, Current::flow(active_version));
        }
    }
    Ok(by_requested_id(ids, found))
}

/// Whether reading a whole table of `rows` rows (pages of [`QUERY_PAGE`]) takes fewer calls
/// than reading `wanted` ids by `IN` lists.
fn whole_table_is_cheaper(wanted: usize, rows: usize) -> bool {
    rows.div_ceil(QUERY_PAGE).max(1) < wanted.div_ceil(IDS_PER_QUERY)
}

/// One component to switch: its kind and id, the state to set, and (rules) the `Metadata`
/// just read.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub kind: Kind,
    pub id: &'a str,
    pub to: Activation,
    pub current: &'a Current,
}

/// Sets the activation of every target (flows, Process Builders and rules, mixed as they come:
/// one composite call may carry several kinds) with composite PATCHes of 25, sent one after
/// another. Returns each target's outcome by id; an `Err` of the whole call means no per-item
/// outcome is known (the caller re-reads before trying again).
pub async fn write(
    client: &OrgClient,
    targets: &[Target<'_>],
) -> Result<BTreeMap<String, Result<(), SfError>>, SfError> {
    let requests = targets
        .iter()
        .map(|target| {
            let sobject = sobject(target.kind).ok_or_else(|| unsupported(client, target.kind))?;
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
        let found: BTreeMap<String, Current> = [
            ("300XX0000000001AAA", Some(1)),
            ("300XX0000000002AAA", None),
            ("300XX0000000009AAA", Some(9)),
            ("short", Some(4)),
        ]
        .into_iter()
        .map(|(id, version)| (id.to_owned(), Current::flow(version)))
        .collect();
        let asked: Vec<String> = [
            "300XX0000000001",
            "300XX0000000002AAB",
            "300XX0000000003AAA",
            "short",
        ]
        .map(str::to_owned)
        .into();
        let keyed = by_requested_id(&asked, found);
        let versions: Vec<(&str, Activation)> = keyed
            .iter()
            .map(|(id, c)| (id.as_str(), c.activation))
            .collect();
        assert_eq!(
            versions,
            [
                (
                    "300XX0000000001",
                    Activation::Flow {
                        active_version: Some(1)
                    }
                ),
                (
                    "300XX0000000002AAB",
                    Activation::Flow {
                        active_version: None
                    }
                ),
            ],
            "matched on 15 characters, keyed as asked; unasked and short ids dropped"
        );
    }

    #[test]
    fn the_whole_table_is_read_only_when_its_pages_are_fewer_calls() {
        // 1,000 ids: 3 IN lists; a table of 2,000 rows is 1 page, of 6,000 rows 3 pages.
        assert!(whole_table_is_cheaper(1_000, 2_000));
        assert!(!whole_table_is_cheaper(1_000, 6_000));
        assert!(
            !whole_table_is_cheaper(10, 1),
            "one IN list is never beaten"
        );
        assert!(whole_table_is_cheaper(4_400, 6_000));
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
