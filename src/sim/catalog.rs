//! What each query endpoint can see: the SOQL [`Catalog`]s over the org.
//!
//! The standard `/query` endpoint sees `Organization`, `User`, `UserPermissionAccess`,
//! `FlowDefinitionView` (and `EntityDefinition`, which Salesforce serves on both APIs and
//! which is the target of `FlowDefinitionView.TriggerObjectOrEvent`). The Tooling endpoint sees the Tooling objects.
//! A type missing from a catalog is refused by the SOQL engine with `INVALID_TYPE`, which is
//! how `FlowDefinitionView` on Tooling fails as it does in Salesforce.

use serde_json::{Map, Value};

use super::model::Org;
use super::records::{self, Row};
use super::schema;
use super::soql::{Catalog, ObjectSchema};

/// Which query endpoint a catalog serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Standard,
    Tooling,
}

impl Api {
    fn schemas(self) -> &'static [&'static ObjectSchema] {
        match self {
            Api::Standard => schema::STANDARD,
            Api::Tooling => schema::TOOLING,
        }
    }
}

/// A read-only view of the org for one query endpoint.
#[derive(Debug)]
pub struct OrgCatalog<'a> {
    org: &'a Org,
    api: Api,
}

impl<'a> OrgCatalog<'a> {
    pub fn new(org: &'a Org, api: Api) -> Self {
        OrgCatalog { org, api }
    }
}

impl Catalog for OrgCatalog<'_> {
    fn schema(&self, object: &str) -> Option<&ObjectSchema> {
        schema::find(self.api.schemas(), object)
    }

    fn rows(&self, object: &str) -> Vec<Map<String, Value>> {
        let Some(schema) = self.schema(object) else {
            return Vec::new();
        };
        rows_of(self.org, schema.name)
    }
}

/// Every row of `object` (canonical name), whichever endpoint asks.
pub fn rows_of(org: &Org, object: &str) -> Vec<Row> {
    match object {
        "Organization" => vec![records::organization_row(org)],
        "User" => vec![records::user_row(org)],
        "UserPermissionAccess" => vec![records::user_permission_access_row(org)],
        "EntityDefinition" => org
            .objects
            .iter()
            .map(records::entity_definition_row)
            .collect(),
        "FlowDefinitionView" => org
            .flows
            .iter()
            .map(|flow| records::flow_definition_view_row(org, flow))
            .collect(),
        "FlowDefinition" => org
            .flows
            .iter()
            .map(|flow| records::flow_definition_row(org, flow, 0))
            .collect(),
        "Flow" => org
            .flows
            .iter()
            .flat_map(|flow| {
                flow.versions
                    .iter()
                    .map(move |version| records::flow_row(org, flow, version, 0))
            })
            .collect(),
        "ValidationRule" => org
            .validation_rules
            .iter()
            .map(|rule| records::validation_rule_row(org, rule))
            .collect(),
        "WorkflowRule" => org
            .workflow_rules
            .iter()
            .map(|rule| records::workflow_rule_row(org, rule))
            .collect(),
        "ApexTrigger" => org
            .triggers
            .iter()
            .map(|trigger| records::apex_trigger_row(org, trigger))
            .collect(),
        _ => Vec::new(),
    }
}

/// The row of one Tooling record by type and id (15 or 18 characters), for the sobjects
/// endpoint.
pub fn tooling_record(org: &Org, object: &str, id: &str) -> Option<Row> {
    use super::ids::matches;
    match object {
        "FlowDefinition" => org
            .flow_position(id)
            .map(|i| records::flow_definition_row(org, &org.flows[i], 0)),
        "Flow" => org.flows.iter().find_map(|f| {
            f.versions
                .iter()
                .find(|v| matches(&v.id, id))
                .map(|v| records::flow_row(org, f, v, 0))
        }),
        "ValidationRule" => org
            .validation_rule_position(id)
            .map(|i| records::validation_rule_row(org, &org.validation_rules[i])),
        "WorkflowRule" => org
            .workflow_rule_position(id)
            .map(|i| records::workflow_rule_row(org, &org.workflow_rules[i])),
        "ApexTrigger" => org
            .trigger_position(id)
            .map(|i| records::apex_trigger_row(org, &org.triggers[i])),
        _ => None,
    }
}
