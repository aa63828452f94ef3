//! The org's true state: its identity, objects and automations.
//!
//! Built from an (expanded) [`Scenario`]; changed only by the Tooling PATCH handlers and by
//! admin actions. `Clone` is what makes `allOrNone` composite rollback a one-liner.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ids::{IdAllocator, matches, prefix, short};
use super::scenario::{
    FlowSpec, FlowStatus, ObjectSpec, STANDARD_OBJECTS, Scenario, TriggerSpec, TriggerStatus,
    ValidationRuleSpec, WorkflowRuleSpec,
};
use super::writes::Writes;

/// Fixed timestamps: the sim has no wall clock in its data, so snapshots stay comparable.
pub const CREATED_DATE: &str = "2026-09-01T09:30:00.000+0000";
pub const LAST_MODIFIED_DATE: &str = "2026-10-15T14:05:00.000+0000";

#[derive(Debug, Clone)]
pub struct Org {
    pub info: OrgInfo,
    /// Standard objects first, then custom objects and platform events, in scenario order.
    pub objects: Vec<SObjectInfo>,
    pub flows: Vec<Flow>,
    pub validation_rules: Vec<ValidationRule>,
    pub workflow_rules: Vec<WorkflowRule>,
    pub triggers: Vec<ApexTrigger>,
    /// The client's writes per component (not part of the snapshot).
    pub writes: Writes,
    ids: IdAllocator,
    /// Each flow's, rule's and trigger's list and position in it, by 15-character id, so the
    /// PATCH of one component in an org of ten thousand does not scan them all. A stale entry
    /// is caught on lookup and answered by a scan.
    positions: HashMap<String, (List, usize)>,
}

/// The component lists [`Org::positions`] indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Flows,
    ValidationRules,
    WorkflowRules,
    Triggers,
}

#[derive(Debug, Clone)]
pub struct OrgInfo {
    pub id: String,
    pub name: String,
    pub is_sandbox: bool,
    pub organization_type: String,
    pub namespace: Option<String>,
    pub instance_name: String,
    pub trial_expiration_date: Option<String>,
    pub user: UserInfo,
}

/// The app's Run As user.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: String,
    /// The user permissions granted (API names without `Permissions`).
    pub permissions: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct SObjectInfo {
    pub api_name: String,
    pub label: String,
    /// `DurableId` / `EntityDefinitionId` / `TableEnumOrId`: the API name for standard
    /// objects, a `01I` id for custom objects and platform events.
    pub durable_id: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub process_type: String,
    pub trigger_type: Option<String>,
    pub record_trigger_type: Option<String>,
    pub object: Option<String>,
    pub namespace: Option<String>,
    pub manageable_state: String,
    pub api_version: f64,
    pub versions: Vec<FlowVersion>,
}

#[derive(Debug, Clone)]
pub struct FlowVersion {
    pub id: String,
    pub number: u32,
    pub status: FlowStatus,
}

#[derive(Debug, Clone)]
pub struct ValidationRule {
    pub id: String,
    pub object: String,
    pub name: String,
    pub namespace: Option<String>,
    pub manageable_state: String,
    pub metadata: ValidationRuleMetadata,
}

/// The Metadata API `ValidationRule` type as the Tooling API carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRuleMetadata {
    pub active: bool,
    pub description: Option<String>,
    pub error_condition_formula: String,
    pub error_display_field: Option<String>,
    pub error_message: String,
    pub should_evaluate_on_client: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct WorkflowRule {
    pub id: String,
    pub object: String,
    pub name: String,
    pub namespace: Option<String>,
    pub metadata: WorkflowRuleMetadata,
}

/// The Metadata API `WorkflowRule` type as the Tooling API carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRuleMetadata {
    pub active: bool,
    pub actions: Vec<Value>,
    pub boolean_filter: Option<String>,
    pub criteria_items: Vec<Value>,
    pub description: Option<String>,
    pub formula: Option<String>,
    pub trigger_type: String,
    pub workflow_time_triggers: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct ApexTrigger {
    pub id: String,
    pub name: String,
    pub object: String,
    pub status: TriggerStatus,
    pub body: String,
    pub api_version: f64,
    pub namespace: Option<String>,
    pub manageable_state: String,
}

/// `ns__Name` for namespaced components, else `Name`.
pub fn qualified(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}__{name}"),
        None => name.to_owned(),
    }
}

/// Manageable states in which a subscriber org may still change a packaged component.
const EDITABLE_STATES: &[&str] = &["unmanaged", "installedEditable", "deprecatedEditable"];

/// The manageable state that forbids changing a component, or `None` if it may be changed.
///
/// [INFERRED] The reference cannot say whether a Tooling PATCH works on installed managed
/// components (§3.4, Appendix C), so the sim takes the strict reading: a component of another
/// package than the org's own namespace is locked unless its state is one Jetstream treats as
/// editable (`unmanaged`, `installedEditable`, `deprecatedEditable`). That also locks
/// `beta`, `deprecated`, `released` and `deleted` components of other packages, not only
/// `installed` ones.
fn managed_lock<'a>(
    namespace: Option<&str>,
    state: &'a str,
    org_namespace: Option<&str>,
) -> Option<&'a str> {
    match namespace {
        None => None,
        Some(ns) if org_namespace == Some(ns) => None,
        Some(_) => (!EDITABLE_STATES.contains(&state)).then_some(state),
    }
}

fn default_state(namespace: Option<&String>, state: Option<&String>) -> String {
    match (state, namespace) {
        (Some(state), _) => state.clone(),
        (None, Some(_)) => "installed".to_owned(),
        (None, None) => "unmanaged".to_owned(),
    }
}

impl Flow {
    pub fn full_name(&self) -> String {
        qualified(self.namespace.as_deref(), &self.name)
    }

    pub fn active(&self) -> Option<&FlowVersion> {
        self.versions
            .iter()
            .find(|v| v.status == FlowStatus::Active)
    }

    /// The highest-numbered version, whatever its status.
    pub fn latest(&self) -> Option<&FlowVersion> {
        self.versions.iter().max_by_key(|v| v.number)
    }

    /// See [`managed_lock`].
    pub fn managed_lock(&self, org_namespace: Option<&str>) -> Option<&str> {
        managed_lock(
            self.namespace.as_deref(),
            &self.manageable_state,
            org_namespace,
        )
    }

    /// The flow's entry in the snapshot.
    pub fn snapshot(&self) -> Value {
        json!({
            "name": self.full_name(),
            "id": self.id,
            "label": self.label,
            "process_type": self.process_type,
            "trigger_type": self.trigger_type,
            "record_trigger_type": self.record_trigger_type,
            "object": self.object,
            "namespace": self.namespace,
            "manageable_state": self.manageable_state,
            "active_version": self.active().map(|v| v.number),
            "latest_version": self.latest().map(|v| v.number),
            "versions": self.versions.iter().map(|v| json!({
                "number": v.number,
                "id": v.id,
                "status": v.status.as_str(),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn is_process_builder(&self) -> bool {
        super::scenario::PROCESS_BUILDER_TYPES.contains(&self.process_type.as_str())
    }

    /// Makes version `number` the active one (the previously active version becomes
    /// Obsolete), or deactivates the flow when `number` is `None` (the active version becomes
    /// Obsolete). The caller has checked that the version exists and can be activated.
    pub fn set_active_version(&mut self, number: Option<u32>) {
        for version in &mut self.versions {
            let target = Some(version.number) == number;
            if target {
                version.status = FlowStatus::Active;
            } else if version.status == FlowStatus::Active {
                version.status = FlowStatus::Obsolete;
            }
        }
    }
}

impl ValidationRule {
    /// `Object.Rule` (`Object.ns__Rule` for managed rules).
    pub fn full_name(&self) -> String {
        format!(
            "{}.{}",
            self.object,
            qualified(self.namespace.as_deref(), &self.name)
        )
    }

    /// See [`managed_lock`].
    pub fn managed_lock(&self, org_namespace: Option<&str>) -> Option<&str> {
        managed_lock(
            self.namespace.as_deref(),
            &self.manageable_state,
            org_namespace,
        )
    }

    /// The rule's entry in the snapshot.
    pub fn snapshot(&self) -> Value {
        json!({
            "full_name": self.full_name(),
            "id": self.id,
            "object": self.object,
            "active": self.metadata.active,
            "namespace": self.namespace,
            "manageable_state": self.manageable_state,
            "metadata": super::records::validation_rule_metadata(&self.metadata),
        })
    }
}

impl WorkflowRule {
    /// `Object.Rule Name`.
    pub fn full_name(&self) -> String {
        format!(
            "{}.{}",
            self.object,
            qualified(self.namespace.as_deref(), &self.name)
        )
    }

    /// Workflow rules carry no manageable state; one of another package counts as
    /// `installed` (see [`managed_lock`]).
    pub fn managed_lock(&self, org_namespace: Option<&str>) -> Option<&'static str> {
        managed_lock(self.namespace.as_deref(), "installed", org_namespace)
    }

    /// The rule's entry in the snapshot.
    pub fn snapshot(&self) -> Value {
        json!({
            "full_name": self.full_name(),
            "id": self.id,
            "object": self.object,
            "active": self.metadata.active,
            "namespace": self.namespace,
            "metadata": super::records::workflow_rule_metadata(&self.metadata),
        })
    }
}

impl ApexTrigger {
    pub fn full_name(&self) -> String {
        qualified(self.namespace.as_deref(), &self.name)
    }

    /// The trigger's entry in the snapshot.
    pub fn snapshot(&self) -> Value {
        json!({
            "name": self.full_name(),
            "id": self.id,
            "object": self.object,
            "status": self.status.as_str(),
            "body": self.body,
            "api_version": self.api_version,
            "namespace": self.namespace,
            "manageable_state": self.manageable_state,
        })
    }
}

impl Org {
    /// Builds the org from a scenario, generating ids in scenario order.
    pub fn from_scenario(scenario: &Scenario) -> Org {
        let scenario = scenario.expanded();
        let mut ids = IdAllocator::default();
        let spec = &scenario.org;
        let org_id = ids.next(prefix::ORGANIZATION);
        let user_id = ids.next(prefix::USER);
        let email = if spec.run_as_username.contains('@') {
            spec.run_as_username.clone()
        } else {
            format!("{}@example.com", spec.run_as_username)
        };
        let info = OrgInfo {
            id: org_id,
            name: spec.name.clone(),
            is_sandbox: spec.is_sandbox,
            organization_type: spec.organization_type.clone(),
            namespace: spec.namespace.clone(),
            instance_name: spec.instance_name.clone(),
            trial_expiration_date: spec.trial_expiration_date.clone(),
            user: UserInfo {
                id: user_id,
                username: spec.run_as_username.clone(),
                name: spec.run_as_name.clone(),
                email,
                permissions: spec.run_as_permissions.iter().cloned().collect(),
            },
        };
        let mut org = Org {
            info,
            objects: STANDARD_OBJECTS
                .iter()
                .map(|(name, label)| SObjectInfo {
                    api_name: (*name).to_owned(),
                    label: (*label).to_owned(),
                    durable_id: (*name).to_owned(),
                    namespace: None,
                })
                .collect(),
            flows: Vec::new(),
            validation_rules: Vec::new(),
            workflow_rules: Vec::new(),
            triggers: Vec::new(),
            writes: Writes::default(),
            ids,
            positions: HashMap::new(),
        };
        for object in &scenario.objects {
            org.add_object(object);
        }
        for flow in &scenario.flows {
            org.add_flow(flow);
        }
        for rule in &scenario.validation_rules {
            org.add_validation_rule(rule);
        }
        for rule in &scenario.workflow_rules {
            org.add_workflow_rule(rule);
        }
        for trigger in &scenario.triggers {
            org.add_trigger(trigger);
        }
        org.reindex();
        org
    }

    pub fn object(&self, api_name: &str) -> Option<&SObjectInfo> {
        self.objects.iter().find(|o| o.api_name == api_name)
    }

    /// The `EntityDefinitionId` / `TableEnumOrId` of an object.
    pub fn durable_id(&self, api_name: &str) -> String {
        self.object(api_name)
            .map_or_else(|| api_name.to_owned(), |o| o.durable_id.clone())
    }

    pub fn add_object(&mut self, spec: &ObjectSpec) {
        if self.object(&spec.api_name).is_some() {
            return;
        }
        let namespace = spec
            .api_name
            .split_once("__")
            .filter(|(_, rest)| rest.contains("__"))
            .map(|(ns, _)| ns.to_owned());
        let durable_id = self.ids.next(prefix::CUSTOM_OBJECT);
        self.objects.push(SObjectInfo {
            api_name: spec.api_name.clone(),
            label: spec.label.clone(),
            durable_id,
            namespace,
        });
    }

    pub fn add_flow(&mut self, spec: &FlowSpec) {
        let id = self.ids.next(prefix::FLOW_DEFINITION);
        let versions = spec
            .versions
            .iter()
            .zip(1u32..)
            .map(|(status, number)| FlowVersion {
                id: self.ids.next(prefix::FLOW),
                number,
                status: *status,
            })
            .collect();
        let record_trigger_type =
            spec.record_trigger_type
                .clone()
                .or_else(|| match spec.trigger_type.as_deref() {
                    Some("RecordBeforeDelete") => Some("Delete".to_owned()),
                    Some(t) if t.starts_with("Record") => Some("CreateAndUpdate".to_owned()),
                    _ => None,
                });
        self.flows.push(Flow {
            id,
            name: spec.name.clone(),
            label: spec
                .label
                .clone()
                .unwrap_or_else(|| spec.name.replace('_', " ")),
            description: spec.description.clone(),
            process_type: spec.process_type.clone(),
            trigger_type: spec.trigger_type.clone(),
            record_trigger_type,
            object: spec.object.clone(),
            namespace: spec.namespace.clone(),
            manageable_state: default_state(
                spec.namespace.as_ref(),
                spec.manageable_state.as_ref(),
            ),
            api_version: 66.0,
            versions,
        });
    }

    /// Adds version N+1 with `status` to a flow (an admin saving a new version).
    /// `None` if there is no such flow (or its version numbers are exhausted).
    pub fn add_flow_version(&mut self, flow_index: usize, status: FlowStatus) -> Option<u32> {
        let number = match self.flows.get(flow_index)?.latest() {
            Some(latest) => latest.number.checked_add(1)?,
            None => 1,
        };
        // Allocated only once the flow is known, so a refused action uses up no id.
        let id = self.ids.next(prefix::FLOW);
        let flow = self.flows.get_mut(flow_index)?;
        if status == FlowStatus::Active {
            flow.versions.push(FlowVersion {
                id,
                number,
                status: FlowStatus::Draft,
            });
            flow.set_active_version(Some(number));
        } else {
            flow.versions.push(FlowVersion { id, number, status });
        }
        Some(number)
    }

    pub fn add_validation_rule(&mut self, spec: &ValidationRuleSpec) {
        let id = self.ids.next(prefix::VALIDATION_RULE);
        self.validation_rules.push(ValidationRule {
            id,
            object: spec.object.clone(),
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            manageable_state: default_state(
                spec.namespace.as_ref(),
                spec.manageable_state.as_ref(),
            ),
            metadata: ValidationRuleMetadata {
                active: spec.active,
                description: spec.description.clone(),
                error_condition_formula: spec.formula.clone(),
                error_display_field: spec.error_display_field.clone(),
                error_message: spec.message.clone(),
                should_evaluate_on_client: None,
            },
        });
    }

    pub fn add_workflow_rule(&mut self, spec: &WorkflowRuleSpec) {
        let id = self.ids.next(prefix::WORKFLOW_RULE);
        let action_name: String = spec
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let criteria_items = if spec.formula.is_some() {
            Vec::new()
        } else {
            vec![json!({
                "field": format!("{}.CreatedById", spec.object),
                "operation": "notEqual",
                "value": null,
                "valueField": null,
            })]
        };
        self.workflow_rules.push(WorkflowRule {
            id,
            object: spec.object.clone(),
            name: spec.name.clone(),
            namespace: spec.namespace.clone(),
            metadata: WorkflowRuleMetadata {
                active: spec.active,
                actions: vec![
                    json!({ "name": format!("{action_name}_Update"), "type": "FieldUpdate" }),
                ],
                boolean_filter: None,
                criteria_items,
                description: spec.description.clone(),
                formula: spec.formula.clone(),
                trigger_type: spec.trigger_type.clone(),
                workflow_time_triggers: Vec::new(),
            },
        });
    }

    pub fn add_trigger(&mut self, spec: &TriggerSpec) {
        let id = self.ids.next(prefix::APEX_TRIGGER);
        let installed = spec.namespace.is_some()
            && spec
                .manageable_state
                .as_deref()
                .is_none_or(|s| s == "installed");
        let body = match (&spec.body, installed) {
            // Salesforce hides the source of installed managed Apex.
            (_, true) => "(hidden)".to_owned(),
            (Some(body), false) => body.clone(),
            (None, false) => format!(
                "trigger {} on {} (before insert, before update) {{\n    // Generated by the simulated org.\n    for ({} record : Trigger.new) {{\n    }}\n}}",
                spec.name, spec.object, spec.object
            ),
        };
        self.triggers.push(ApexTrigger {
            id,
            name: spec.name.clone(),
            object: spec.object.clone(),
            status: spec.status,
            body,
            api_version: spec.api_version,
            namespace: spec.namespace.clone(),
            manageable_state: default_state(
                spec.namespace.as_ref(),
                spec.manageable_state.as_ref(),
            ),
        });
    }

    /// The 18-character id and the snapshot entry of the flow, rule or trigger `id` (15 or
    /// 18 characters) names.
    pub fn component_state(&self, id: &str) -> Option<(String, Value)> {
        let entry = |own: &str, snapshot: Value| (own.to_owned(), snapshot);
        if let Some(f) = self.flow_position(id).map(|i| &self.flows[i]) {
            return Some(entry(&f.id, f.snapshot()));
        }
        if let Some(r) = self
            .validation_rule_position(id)
            .map(|i| &self.validation_rules[i])
        {
            return Some(entry(&r.id, r.snapshot()));
        }
        if let Some(r) = self
            .workflow_rule_position(id)
            .map(|i| &self.workflow_rules[i])
        {
            return Some(entry(&r.id, r.snapshot()));
        }
        self.trigger_position(id)
            .map(|i| &self.triggers[i])
            .map(|t| entry(&t.id, t.snapshot()))
    }

    /// Where the flow `id` (15 or 18 characters) names is in `flows`.
    pub fn flow_position(&self, id: &str) -> Option<usize> {
        self.position(List::Flows, &self.flows, id, |f| &f.id)
    }

    pub fn validation_rule_position(&self, id: &str) -> Option<usize> {
        self.position(List::ValidationRules, &self.validation_rules, id, |r| &r.id)
    }

    pub fn workflow_rule_position(&self, id: &str) -> Option<usize> {
        self.position(List::WorkflowRules, &self.workflow_rules, id, |r| &r.id)
    }

    pub fn trigger_position(&self, id: &str) -> Option<usize> {
        self.position(List::Triggers, &self.triggers, id, |t| &t.id)
    }

    /// The position of the record `id` names in `items` (the list `list`): from the index
    /// when its entry still points at that record; none when the index places the id in
    /// another list (ids never change kind); by a scan otherwise (a list changed without
    /// [`Org::reindex`]).
    fn position<T>(
        &self,
        list: List,
        items: &[T],
        id: &str,
        key: impl Fn(&T) -> &str,
    ) -> Option<usize> {
        let names = |index: usize| items.get(index).is_some_and(|item| matches(key(item), id));
        match self.positions.get(short(id)) {
            Some(&(other, _)) if other != list => None,
            Some(&(_, index)) if names(index) => Some(index),
            _ => items.iter().position(|item| matches(key(item), id)),
        }
    }

    /// Rebuilds the position index after components were added or removed.
    pub fn reindex(&mut self) {
        fn entries<'a, T>(
            list: List,
            items: &'a [T],
            key: impl Fn(&T) -> &str + 'a,
        ) -> impl Iterator<Item = (String, (List, usize))> + 'a {
            items
                .iter()
                .enumerate()
                .map(move |(index, item)| (short(key(item)).to_owned(), (list, index)))
        }
        self.positions = entries(List::Flows, &self.flows, |f| &f.id)
            .chain(entries(
                List::ValidationRules,
                &self.validation_rules,
                |r| &r.id,
            ))
            .chain(entries(List::WorkflowRules, &self.workflow_rules, |r| {
                &r.id
            }))
            .chain(entries(List::Triggers, &self.triggers, |t| &t.id))
            .collect();
    }

    /// Runs `write` and, if it succeeds, tallies it in [`Org::writes`] against the component
    /// `id` names: changed or needless, from its snapshot entry before and after.
    pub fn tallied<T, E>(
        &mut self,
        id: &str,
        write: impl FnOnce(&mut Org) -> Result<T, E>,
    ) -> Result<T, E> {
        let before = self.component_state(id);
        let result = write(self);
        if result.is_ok()
            && let Some((id, before)) = before
        {
            let after = self.component_state(&id).map(|(_, entry)| entry);
            self.writes.record(&id, after.as_ref() != Some(&before));
        }
        result
    }

    /// The true state as stable JSON; every list sorted by name.
    pub fn snapshot(&self) -> Value {
        let flows = sorted_by_name(&self.flows, Flow::full_name, Flow::snapshot);
        let validation_rules = sorted_by_name(
            &self.validation_rules,
            ValidationRule::full_name,
            ValidationRule::snapshot,
        );
        let workflow_rules = sorted_by_name(
            &self.workflow_rules,
            WorkflowRule::full_name,
            WorkflowRule::snapshot,
        );
        let triggers = sorted_by_name(
            &self.triggers,
            ApexTrigger::full_name,
            ApexTrigger::snapshot,
        );
        json!({
            "org": {
                "id": self.info.id,
                "name": self.info.name,
                "is_sandbox": self.info.is_sandbox,
                "organization_type": self.info.organization_type,
                "namespace": self.info.namespace,
                "instance_name": self.info.instance_name,
                "run_as_user_id": self.info.user.id,
                "run_as_username": self.info.user.username,
            },
            "objects": self.objects.iter().filter(|o| o.api_name.contains("__")).map(|o| json!({
                "api_name": o.api_name,
                "label": o.label,
                "durable_id": o.durable_id,
            })).collect::<Vec<_>>(),
            "flows": flows,
            "validation_rules": validation_rules,
            "workflow_rules": workflow_rules,
            "triggers": triggers,
        })
    }
}

/// The snapshot entries of `items`, sorted by `name` (stable for equal names).
fn sorted_by_name<T>(
    items: &[T],
    name: impl Fn(&T) -> String,
    entry: impl Fn(&T) -> Value,
) -> Vec<Value> {
    let mut named: Vec<(String, Value)> =
        items.iter().map(|item| (name(item), entry(item))).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, value)| value).collect()
}
