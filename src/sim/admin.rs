//! Acting as a human admin in the org: what a test does to simulate someone changing things
//! during a maintenance window (activating another flow version, editing or deleting a
//! rule), and knobs for the org's accounting (API usage, tokens).
//!
//! Admin actions apply instantly and never conflict with API writes: they stand for changes
//! made in Setup, outside the API under test. The one exception is on purpose:
//! `set_admin_operation` stands for a Setup operation that takes a while, and API writes made
//! during it are refused as Salesforce refuses them.

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::model::Org;
use super::scenario::{
    FlowSpec, FlowStatus, ObjectSpec, Scenario, TriggerSpec, TriggerStatus, ValidationRuleSpec,
    WorkflowRuleSpec,
};
use super::state::SimState;

/// Which kind of rule `set_rule_active` changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    ValidationRule,
    WorkflowRule,
}

/// Which kind of component `delete` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Flow,
    ValidationRule,
    WorkflowRule,
    Trigger,
}

/// A component to add: the same table as a scenario entry, tagged with `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Component {
    Flow(FlowSpec),
    ValidationRule(ValidationRuleSpec),
    WorkflowRule(WorkflowRuleSpec),
    Trigger(TriggerSpec),
    Object(ObjectSpec),
}

/// One admin action. Names are full names: flows and triggers `Name` (`ns__Name` when
/// namespaced), rules `Object.Name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdminAction {
    /// Activate version `version` of `flow` (the active one becomes Obsolete).
    ActivateFlowVersion {
        flow: String,
        version: u32,
    },
    /// Deactivate `flow` (its active version becomes Obsolete).
    DeactivateFlow {
        flow: String,
    },
    /// Save a new version of `flow` with `status` (e.g. a Draft); its number is latest + 1.
    AddFlowVersion {
        flow: String,
        status: FlowStatus,
    },
    SetRuleActive {
        kind: RuleKind,
        full_name: String,
        active: bool,
    },
    /// Edit a validation rule's definition; absent fields stay as they are.
    EditValidationRule {
        full_name: String,
        #[serde(default)]
        formula: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
    Delete {
        kind: ComponentKind,
        name: String,
    },
    Add {
        component: Component,
    },
    SetTriggerStatus {
        name: String,
        status: TriggerStatus,
    },
    SetApiUsage {
        used: u64,
        max: u64,
    },
    RevokeTokens,
    /// Someone starts (`true`) or finishes (`false`) an admin operation in Setup, such as a
    /// deploy or a save that takes a while: until it finishes, every API write is refused
    /// with `UNKNOWN_EXCEPTION` "admin operation already in progress" (reference §7.1).
    SetAdminOperation {
        in_progress: bool,
    },
    /// Change how later deploy completions run tests (`[deploy]` `failing_tests` and
    /// `coverage_shortfall`); deploys already completed keep their result.
    SetDeployBehaviour {
        #[serde(default)]
        failing_tests: Vec<String>,
        #[serde(default)]
        coverage_shortfall: bool,
    },
}

fn flow_index(org: &Org, name: &str) -> anyhow::Result<usize> {
    org.flows
        .iter()
        .position(|f| f.full_name() == name)
        .ok_or_else(|| anyhow!("no flow named `{name}`"))
}

fn validation_rule_index(org: &Org, full_name: &str) -> anyhow::Result<usize> {
    org.validation_rules
        .iter()
        .position(|r| r.full_name() == full_name)
        .ok_or_else(|| anyhow!("no validation rule named `{full_name}` (use Object.Rule_Name)"))
}

fn workflow_rule_index(org: &Org, full_name: &str) -> anyhow::Result<usize> {
    org.workflow_rules
        .iter()
        .position(|r| r.full_name() == full_name)
        .ok_or_else(|| anyhow!("no workflow rule named `{full_name}` (use Object.Rule Name)"))
}

fn trigger_index(org: &Org, name: &str) -> anyhow::Result<usize> {
    org.triggers
        .iter()
        .position(|t| t.full_name() == name)
        .ok_or_else(|| anyhow!("no trigger named `{name}`"))
}

pub fn apply(state: &mut SimState, action: AdminAction) -> anyhow::Result<()> {
    let org = &mut state.org;
    match action {
        AdminAction::ActivateFlowVersion { flow, version } => {
            let index = flow_index(org, &flow)?;
            let target = &org.flows[index];
            match target.versions.iter().find(|v| v.number == version) {
                None => bail!("flow `{flow}` has no version {version}"),
                Some(v) if v.status == FlowStatus::InvalidDraft => {
                    bail!("version {version} of flow `{flow}` is an invalid draft")
                }
                Some(_) => org.flows[index].set_active_version(Some(version)),
            }
        }
        AdminAction::DeactivateFlow { flow } => {
            let index = flow_index(org, &flow)?;
            org.flows[index].set_active_version(None);
        }
        AdminAction::AddFlowVersion { flow, status } => {
            let index = flow_index(org, &flow)?;
            org.add_flow_version(index, status)
                .ok_or_else(|| anyhow!("no flow named `{flow}`"))?;
        }
        AdminAction::SetRuleActive {
            kind: RuleKind::ValidationRule,
            full_name,
            active,
        } => {
            let index = validation_rule_index(org, &full_name)?;
            org.validation_rules[index].metadata.active = active;
        }
        AdminAction::SetRuleActive {
            kind: RuleKind::WorkflowRule,
            full_name,
            active,
        } => {
            let index = workflow_rule_index(org, &full_name)?;
            org.workflow_rules[index].metadata.active = active;
        }
        AdminAction::EditValidationRule {
            full_name,
            formula,
            message,
            description,
        } => {
            let index = validation_rule_index(org, &full_name)?;
            let metadata = &mut org.validation_rules[index].metadata;
            if let Some(formula) = formula {
                if formula.trim().is_empty() {
                    bail!("the formula of `{full_name}` must not be empty");
                }
                metadata.error_condition_formula = formula;
            }
            if let Some(message) = message {
                if message.trim().is_empty() {
                    bail!("the message of `{full_name}` must not be empty");
                }
                metadata.error_message = message;
            }
            if let Some(description) = description {
                metadata.description = Some(description).filter(|d| !d.is_empty());
            }
        }
        AdminAction::Delete { kind, name } => {
            match kind {
                ComponentKind::Flow => {
                    let index = flow_index(org, &name)?;
                    org.flows.remove(index);
                }
                ComponentKind::ValidationRule => {
                    let index = validation_rule_index(org, &name)?;
                    org.validation_rules.remove(index);
                }
                ComponentKind::WorkflowRule => {
                    let index = workflow_rule_index(org, &name)?;
                    org.workflow_rules.remove(index);
                }
                ComponentKind::Trigger => {
                    let index = trigger_index(org, &name)?;
                    org.triggers.remove(index);
                }
            }
            org.reindex();
        }
        AdminAction::Add { component } => {
            add(org, component)?;
            org.reindex();
        }
        AdminAction::SetTriggerStatus { name, status } => {
            let index = trigger_index(org, &name)?;
            org.triggers[index].status = status;
        }
        AdminAction::SetApiUsage { used, max } => {
            if max == 0 {
                bail!("set_api_usage: max must be at least 1");
            }
            state.api_used = used;
            state.api_max = max;
        }
        AdminAction::RevokeTokens => state.revoke_tokens(),
        AdminAction::SetAdminOperation { in_progress } => state.admin_operation = in_progress,
        AdminAction::SetDeployBehaviour {
            failing_tests,
            coverage_shortfall,
        } => {
            let mut behaviour = state.deploys.behaviour.clone();
            behaviour.failing_tests = failing_tests;
            behaviour.coverage_shortfall = coverage_shortfall;
            crate::sim::scenario::validate_deploy(&behaviour)?;
            state.deploys.behaviour = behaviour;
        }
    }
    Ok(())
}

/// Adds a component after checking it like a scenario entry, against the org's objects.
fn add(org: &mut Org, component: Component) -> anyhow::Result<()> {
    let mut check = Scenario {
        objects: org
            .objects
            .iter()
            .filter(|o| o.api_name.contains("__"))
            .map(|o| ObjectSpec {
                api_name: o.api_name.clone(),
                label: o.label.clone(),
            })
            .collect(),
        ..Scenario::default()
    };
    match &component {
        Component::Flow(spec) => check.flows.push(spec.clone()),
        Component::ValidationRule(spec) => check.validation_rules.push(spec.clone()),
        Component::WorkflowRule(spec) => check.workflow_rules.push(spec.clone()),
        Component::Trigger(spec) => check.triggers.push(spec.clone()),
        Component::Object(spec) => check.objects.push(spec.clone()),
    }
    check.validate().context("add: invalid component")?;
    let exists = |found: bool, what: &str, name: &str| {
        if found {
            Err(anyhow!("add: {what} `{name}` already exists"))
        } else {
            Ok(())
        }
    };
    match component {
        Component::Flow(spec) => {
            let name = super::model::qualified(spec.namespace.as_deref(), &spec.name);
            exists(
                org.flows.iter().any(|f| f.full_name() == name),
                "flow",
                &name,
            )?;
            org.add_flow(&spec);
        }
        Component::ValidationRule(spec) => {
            let name = format!(
                "{}.{}",
                spec.object,
                super::model::qualified(spec.namespace.as_deref(), &spec.name)
            );
            exists(
                org.validation_rules.iter().any(|r| r.full_name() == name),
                "validation rule",
                &name,
            )?;
            org.add_validation_rule(&spec);
        }
        Component::WorkflowRule(spec) => {
            let name = format!(
                "{}.{}",
                spec.object,
                super::model::qualified(spec.namespace.as_deref(), &spec.name)
            );
            exists(
                org.workflow_rules.iter().any(|r| r.full_name() == name),
                "workflow rule",
                &name,
            )?;
            org.add_workflow_rule(&spec);
        }
        Component::Trigger(spec) => {
            let name = super::model::qualified(spec.namespace.as_deref(), &spec.name);
            exists(
                org.triggers.iter().any(|t| t.full_name() == name),
                "trigger",
                &name,
            )?;
            org.add_trigger(&spec);
        }
        Component::Object(spec) => {
            // Validation above already refused a duplicate (it is in `check.objects` twice).
            org.add_object(&spec);
        }
    }
    Ok(())
}
