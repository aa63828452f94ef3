//! The scenario file: the org a simulated server starts with.
//!
//! A scenario is TOML (documented key by key in `docs/sim-scenarios.md`). Unknown keys are
//! refused so that a typo never silently yields a different org. After parsing, every
//! component is checked (names, objects, version statuses) and errors name the key, e.g.
//! `flows[2].versions: at most one version may be Active`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::faults::Faults;
use super::generate::{self, GenerateSpec};

/// The built-in mixed org used by `pauseplay demo` (see the comment at the top of the file
/// for its expected classification).
const MIXED_TOML: &str = include_str!("../../config/sim/mixed.toml");

/// A whole simulated org: its identity, limits, faults and automations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub org: OrgSpec,
    #[serde(default)]
    pub limits: LimitsSpec,
    #[serde(default)]
    pub query: QuerySpec,
    #[serde(default)]
    pub faults: Faults,
    /// Custom objects (`__c`) and platform events (`__e`). Standard objects are implicit.
    #[serde(default)]
    pub objects: Vec<ObjectSpec>,
    #[serde(default)]
    pub flows: Vec<FlowSpec>,
    #[serde(default)]
    pub validation_rules: Vec<ValidationRuleSpec>,
    #[serde(default)]
    pub workflow_rules: Vec<WorkflowRuleSpec>,
    #[serde(default)]
    pub triggers: Vec<TriggerSpec>,
    /// `[deploy]`: how Metadata API deploys behave.
    #[serde(default)]
    pub deploy: DeploySpec,
    /// Adds deterministically generated components after the hand-written ones.
    #[serde(default)]
    pub generate: Option<GenerateSpec>,
}

/// How the token endpoint treats a correct client id and secret.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Tokens are issued.
    #[default]
    Ok,
    /// The app has no Run As user: `invalid_grant` / `no client credentials user enabled`.
    NoRunAsUser,
    /// The request did not reach the org's My Domain: `invalid_grant` /
    /// `request not supported on this domain`.
    WrongDomain,
    /// The app exists but its client-credentials flow is not enabled: `unsupported_grant_type`
    /// / `grant type not supported`, after the key and secret were accepted.
    FlowDisabled,
}

/// `[org]`: the organization and its External Client App.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgSpec {
    pub name: String,
    pub is_sandbox: bool,
    pub organization_type: String,
    /// The org's own namespace prefix (a packaging org), if any.
    pub namespace: Option<String>,
    pub instance_name: String,
    /// Set for scratch/trial orgs, e.g. `2026-12-31T00:00:00.000+0000`.
    pub trial_expiration_date: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub run_as_username: String,
    pub run_as_name: String,
    /// The Run As user's user permissions, by API name without `Permissions`
    /// (`AuthorApex`); what `UserPermissionAccess` answers.
    pub run_as_permissions: Vec<String>,
    pub auth: AuthMode,
}

impl Default for OrgSpec {
    fn default() -> Self {
        OrgSpec {
            name: "Simulated Org".to_owned(),
            is_sandbox: true,
            organization_type: "Enterprise Edition".to_owned(),
            namespace: None,
            instance_name: "CS42".to_owned(),
            trial_expiration_date: None,
            client_id: "3MVG9SimulatedClientIdForPausePlay".to_owned(),
            client_secret: "sim-client-secret".to_owned(),
            run_as_username: "integration@example.com.sim".to_owned(),
            run_as_name: "Integration User".to_owned(),
            run_as_permissions: DEFAULT_RUN_AS_PERMISSIONS
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            auth: AuthMode::Ok,
        }
    }
}

/// The Run As user's permissions when a scenario names none: the permission set
/// `docs/connect-an-org.md` tells an admin to create, on an API-only user.
pub const DEFAULT_RUN_AS_PERMISSIONS: &[&str] = &[
    "ApiEnabled",
    "ApiUserOnly",
    "AuthorApex",
    "CustomizeApplication",
    "ManageInteraction",
    "ModifyMetadata",
    "ViewSetup",
];

/// `[limits]`: the daily API request allowance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSpec {
    pub daily_api_requests: u64,
    /// Requests already used today when the server starts.
    pub used: u64,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            daily_api_requests: 100_000,
            used: 0,
        }
    }
}

/// `[query]`: query result paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerySpec {
    /// Records per page (Salesforce's default batch is 2000).
    pub page_size: usize,
}

impl Default for QuerySpec {
    fn default() -> Self {
        QuerySpec { page_size: 2000 }
    }
}

/// `[deploy]`: how the Metadata API `deployRequest` endpoint behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeploySpec {
    /// Polls a started deploy answers `Pending` before it moves to `InProgress`.
    pub pending_polls: u32,
    /// Polls answered `InProgress` before the deploy completes.
    pub in_progress_polls: u32,
    /// Test classes run by `RunLocalTests` / `RunAllTestsInOrg`.
    pub test_classes: Vec<String>,
    /// Test methods that fail when their class runs, as `Class.method`.
    pub failing_tests: Vec<String>,
    /// Org-wide coverage is below 75%: production deploys that run tests fail.
    pub coverage_shortfall: bool,
}

impl Default for DeploySpec {
    fn default() -> Self {
        DeploySpec {
            pending_polls: 1,
            in_progress_polls: 2,
            test_classes: vec![
                "AccountTriggerTest".to_owned(),
                "ContactTriggerTest".to_owned(),
            ],
            failing_tests: Vec::new(),
            coverage_shortfall: false,
        }
    }
}

/// `[[objects]]`: a custom object or platform event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    pub api_name: String,
    pub label: String,
}

/// Status of one flow version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowStatus {
    Active,
    Draft,
    Obsolete,
    InvalidDraft,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Active => "Active",
            FlowStatus::Draft => "Draft",
            FlowStatus::Obsolete => "Obsolete",
            FlowStatus::InvalidDraft => "InvalidDraft",
        }
    }
}

/// `[[flows]]`: a flow or Process Builder process (a FlowDefinition with its versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// DeveloperName (without namespace).
    pub name: String,
    /// MasterLabel; defaults to the name with `_` as spaces.
    #[serde(default)]
    pub label: Option<String>,
    /// `AutoLaunchedFlow`, `Flow` (screen flow), `Workflow` (Process Builder), ...
    pub process_type: String,
    /// `RecordBeforeSave`, `RecordAfterSave`, `RecordBeforeDelete`, `Scheduled`,
    /// `PlatformEvent`; only for `AutoLaunchedFlow`.
    #[serde(default)]
    pub trigger_type: Option<String>,
    /// `Create`, `Update`, `CreateAndUpdate`, `Delete`; defaults from `trigger_type`.
    #[serde(default)]
    pub record_trigger_type: Option<String>,
    /// Triggering object or platform event (Process Builders: the process's object).
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Defaults to `installed` when `namespace` is set, else `unmanaged`.
    #[serde(default)]
    pub manageable_state: Option<String>,
    /// Status of versions 1..N.
    pub versions: Vec<FlowStatus>,
}

/// `[[validation_rules]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRuleSpec {
    pub object: String,
    pub name: String,
    pub active: bool,
    pub formula: String,
    pub message: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Field the message shows next to; absent: top of page.
    #[serde(default)]
    pub error_display_field: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub manageable_state: Option<String>,
}

/// `[[workflow_rules]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRuleSpec {
    pub object: String,
    /// May contain spaces.
    pub name: String,
    pub active: bool,
    /// `onCreateOnly`, `onCreateOrTriggeringUpdate` (default) or `onAllChanges`.
    #[serde(default = "default_workflow_trigger")]
    pub trigger_type: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A rule formula; absent: a criteria item on the object is generated.
    #[serde(default)]
    pub formula: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

fn default_workflow_trigger() -> String {
    "onCreateOrTriggeringUpdate".to_owned()
}

/// Apex trigger status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerStatus {
    Active,
    Inactive,
    Deleted,
}

impl TriggerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerStatus::Active => "Active",
            TriggerStatus::Inactive => "Inactive",
            TriggerStatus::Deleted => "Deleted",
        }
    }
}

/// `[[triggers]]`: an Apex trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub object: String,
    pub name: String,
    pub status: TriggerStatus,
    /// Apex source; absent: a small trigger on `before insert, before update`.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "default_api_version")]
    pub api_version: f64,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub manageable_state: Option<String>,
}

fn default_api_version() -> f64 {
    66.0
}

/// Standard objects the sim knows without a `[[objects]]` entry: API name and label.
pub const STANDARD_OBJECTS: &[(&str, &str)] = &[
    ("Account", "Account"),
    ("Asset", "Asset"),
    ("Campaign", "Campaign"),
    ("CampaignMember", "Campaign Member"),
    ("Case", "Case"),
    ("Contact", "Contact"),
    ("Contract", "Contract"),
    ("Event", "Event"),
    ("Lead", "Lead"),
    ("Opportunity", "Opportunity"),
    ("OpportunityLineItem", "Opportunity Product"),
    ("Order", "Order"),
    ("OrderItem", "Order Product"),
    ("Pricebook2", "Price Book"),
    ("Product2", "Product"),
    ("Quote", "Quote"),
    ("Task", "Task"),
    ("User", "User"),
];

/// Flow process types the sim accepts.
pub const PROCESS_TYPES: &[&str] = &[
    "AutoLaunchedFlow",
    "Flow",
    "Workflow",
    "InvocableProcess",
    "CustomEvent",
    "ContactRequestFlow",
    "FieldServiceMobile",
    "Survey",
    "Orchestrator",
];

/// Process types that are Process Builder processes.
pub const PROCESS_BUILDER_TYPES: &[&str] = &["Workflow", "InvocableProcess", "CustomEvent"];

pub const FLOW_TRIGGER_TYPES: &[&str] = &[
    "RecordBeforeSave",
    "RecordAfterSave",
    "RecordBeforeDelete",
    "Scheduled",
    "PlatformEvent",
];

pub const RECORD_TRIGGER_TYPES: &[&str] = &["Create", "Update", "CreateAndUpdate", "Delete"];

pub const WORKFLOW_TRIGGER_TYPES: &[&str] =
    &["onCreateOnly", "onCreateOrTriggeringUpdate", "onAllChanges"];

pub const MANAGEABLE_STATES: &[&str] = &[
    "unmanaged",
    "installed",
    "released",
    "beta",
    "deleted",
    "deprecated",
    "deprecatedEditable",
    "installedEditable",
];

impl Scenario {
    /// Parses and checks a scenario. Errors name the offending key.
    pub fn from_toml_str(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|err| anyhow!("invalid scenario: {err}"))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads, parses and checks a scenario file. Errors name the file.
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario file {}", path.display()))?;
        Scenario::from_toml_str(&text)
            .with_context(|| format!("in scenario file {}", path.display()))
    }

    /// The built-in mixed org (`config/sim/mixed.toml`).
    pub fn demo() -> Scenario {
        match Scenario::from_toml_str(MIXED_TOML) {
            Ok(scenario) => scenario,
            // The file is compiled in and a unit test parses it, so this branch is not
            // reached; an empty default org is still a usable answer.
            Err(err) => {
                tracing::error!("built-in mixed scenario is invalid: {err:#}");
                Scenario::default()
            }
        }
    }

    /// The scenario with its `[generate]` components appended to the hand-written ones.
    pub fn expanded(&self) -> Scenario {
        let mut out = self.clone();
        if let Some(spec) = &self.generate {
            let generated = generate::generate(spec);
            out.objects.extend(generated.objects);
            out.flows.extend(generated.flows);
            out.validation_rules.extend(generated.validation_rules);
            out.workflow_rules.extend(generated.workflow_rules);
            out.triggers.extend(generated.triggers);
        }
        out.generate = None;
        out
    }

    /// Checks everything serde cannot: values, names, references, uniqueness.
    pub fn validate(&self) -> anyhow::Result<()> {
        validate_org(&self.org)?;
        if self.limits.daily_api_requests == 0 {
            bail!("limits.daily_api_requests must be at least 1");
        }
        if self.limits.used > self.limits.daily_api_requests {
            bail!(
                "limits.used ({}) must not exceed limits.daily_api_requests ({})",
                self.limits.used,
                self.limits.daily_api_requests
            );
        }
        if !(1..=2000).contains(&self.query.page_size) {
            bail!(
                "query.page_size must be between 1 and 2000, got {}",
                self.query.page_size
            );
        }
        self.faults.validate().map_err(|err| anyhow!(err))?;
        validate_deploy(&self.deploy)?;
        if let Some(spec) = &self.generate {
            spec.validate()?;
        }
        let full = self.expanded();
        let hand_written = ComponentCounts::of(self);
        let objects = validate_objects(&full.objects, hand_written.objects)?;
        validate_flows(&full.flows, hand_written.flows, &objects)?;
        validate_validation_rules(
            &full.validation_rules,
            hand_written.validation_rules,
            &objects,
        )?;
        validate_workflow_rules(&full.workflow_rules, hand_written.workflow_rules, &objects)?;
        validate_triggers(&full.triggers, hand_written.triggers, &objects)?;
        Ok(())
    }
}

/// How many entries of each table were written by hand (the rest are generated), so that
/// errors can say `flows[3]` or `generated flow Foo`.
struct ComponentCounts {
    objects: usize,
    flows: usize,
    validation_rules: usize,
    workflow_rules: usize,
    triggers: usize,
}

impl ComponentCounts {
    fn of(scenario: &Scenario) -> Self {
        ComponentCounts {
            objects: scenario.objects.len(),
            flows: scenario.flows.len(),
            validation_rules: scenario.validation_rules.len(),
            workflow_rules: scenario.workflow_rules.len(),
            triggers: scenario.triggers.len(),
        }
    }
}

fn key(table: &str, index: usize, hand_written: usize, name: &str) -> String {
    if index < hand_written {
        format!("{table}[{index}]")
    } else {
        format!("{table} (generated `{name}`)")
    }
}

/// Test names must be `Class` (test classes) or `Class.method` (failing tests), so that a
/// typo cannot silently make a failing test never run.
pub fn validate_deploy(deploy: &DeploySpec) -> anyhow::Result<()> {
    let identifier = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for class in &deploy.test_classes {
        if !identifier(class) {
            bail!("deploy.test_classes: `{class}` is not an Apex class name");
        }
    }
    for test in &deploy.failing_tests {
        let valid = test
            .split_once('.')
            .is_some_and(|(class, method)| identifier(class) && identifier(method));
        if !valid {
            bail!("deploy.failing_tests: `{test}` is not Class.method");
        }
    }
    Ok(())
}

fn validate_org(org: &OrgSpec) -> anyhow::Result<()> {
    for (field, value) in [
        ("name", &org.name),
        ("organization_type", &org.organization_type),
        ("instance_name", &org.instance_name),
        ("client_id", &org.client_id),
        ("client_secret", &org.client_secret),
        ("run_as_username", &org.run_as_username),
        ("run_as_name", &org.run_as_name),
    ] {
        if value.trim().is_empty() {
            bail!("org.{field} must not be empty");
        }
    }
    if let Some(namespace) = &org.namespace {
        check_namespace(namespace).map_err(|err| anyhow!("org.namespace: {err}"))?;
    }
    let mut seen = BTreeSet::new();
    for name in &org.run_as_permissions {
        if !super::schema::user_permissions().any(|known| known == name) {
            bail!(
                "org.run_as_permissions: `{name}` is not a permission the sim knows; known: {}",
                super::schema::user_permissions()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !seen.insert(name) {
            bail!("org.run_as_permissions: `{name}` is listed twice");
        }
    }
    Ok(())
}

/// Whether `name` is a valid developer name: a letter first, then letters, digits and single
/// underscores, not ending with an underscore, at most 80 characters.
pub fn is_developer_name(name: &str) -> bool {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && name.len() <= 80
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.len() <= 15 && is_developer_name(namespace) && !namespace.contains('_') {
        Ok(())
    } else {
        Err(format!(
            "`{namespace}` is not a namespace prefix (1-15 letters and digits, starting with a letter)"
        ))
    }
}

fn check_manageable(
    namespace: Option<&String>,
    state: Option<&String>,
    at: &str,
) -> anyhow::Result<()> {
    if let Some(namespace) = namespace {
        check_namespace(namespace).map_err(|err| anyhow!("{at}.namespace: {err}"))?;
    }
    if let Some(state) = state {
        if !MANAGEABLE_STATES.contains(&state.as_str()) {
            bail!(
                "{at}.manageable_state: `{state}` is not one of {}",
                MANAGEABLE_STATES.join(", ")
            );
        }
        if namespace.is_none() && state != "unmanaged" {
            bail!("{at}.manageable_state: `{state}` needs a namespace");
        }
    }
    Ok(())
}

fn validate_objects(
    objects: &[ObjectSpec],
    hand_written: usize,
) -> anyhow::Result<BTreeSet<String>> {
    let mut known: BTreeSet<String> = STANDARD_OBJECTS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    for (index, object) in objects.iter().enumerate() {
        let at = key("objects", index, hand_written, &object.api_name);
        let base = object
            .api_name
            .strip_suffix("__c")
            .or_else(|| object.api_name.strip_suffix("__e"));
        let base_ok = base.is_some_and(|base| {
            // A namespaced custom object is `ns__Name__c`.
            match base.split_once("__") {
                Some((ns, rest)) => check_namespace(ns).is_ok() && is_developer_name(rest),
                None => is_developer_name(base),
            }
        });
        if !base_ok {
            bail!(
                "{at}.api_name: `{}` is not a custom object or platform event name (Name__c or Name__e); standard objects need no entry",
                object.api_name
            );
        }
        if object.label.trim().is_empty() {
            bail!("{at}.label must not be empty");
        }
        if !known.insert(object.api_name.clone()) {
            bail!("{at}.api_name: `{}` is declared twice", object.api_name);
        }
    }
    Ok(known)
}

fn check_object(object: &str, known: &BTreeSet<String>, at: &str) -> anyhow::Result<()> {
    if known.contains(object) {
        return Ok(());
    }
    if object.ends_with("__c") || object.ends_with("__e") {
        bail!("{at}.object: `{object}` is not declared; add an [[objects]] entry for it");
    }
    bail!(
        "{at}.object: unknown object `{object}`; the sim knows the standard objects {} and the [[objects]] entries",
        STANDARD_OBJECTS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn validate_flows(
    flows: &[FlowSpec],
    hand_written: usize,
    known: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (index, flow) in flows.iter().enumerate() {
        let at = key("flows", index, hand_written, &flow.name);
        if !is_developer_name(&flow.name) {
            bail!("{at}.name: `{}` is not a valid flow API name", flow.name);
        }
        let full = match &flow.namespace {
            Some(ns) => format!("{ns}__{}", flow.name),
            None => flow.name.clone(),
        };
        if !seen.insert(full.clone()) {
            bail!("{at}.name: flow `{full}` is defined twice");
        }
        if !PROCESS_TYPES.contains(&flow.process_type.as_str()) {
            bail!(
                "{at}.process_type: `{}` is not one of {}",
                flow.process_type,
                PROCESS_TYPES.join(", ")
            );
        }
        if let Some(trigger) = &flow.trigger_type {
            if !FLOW_TRIGGER_TYPES.contains(&trigger.as_str()) {
                bail!(
                    "{at}.trigger_type: `{trigger}` is not one of {}",
                    FLOW_TRIGGER_TYPES.join(", ")
                );
            }
            if flow.process_type != "AutoLaunchedFlow" {
                bail!(
                    "{at}.trigger_type: only AutoLaunchedFlow flows have a trigger, this one is {}",
                    flow.process_type
                );
            }
            let needs_object = trigger.starts_with("Record") || trigger == "PlatformEvent";
            if needs_object && flow.object.is_none() {
                bail!(
                    "{at}.object: a {trigger} flow needs the object (or platform event) it runs on"
                );
            }
        }
        if let Some(record) = &flow.record_trigger_type {
            if !RECORD_TRIGGER_TYPES.contains(&record.as_str()) {
                bail!(
                    "{at}.record_trigger_type: `{record}` is not one of {}",
                    RECORD_TRIGGER_TYPES.join(", ")
                );
            }
            if !flow
                .trigger_type
                .as_deref()
                .is_some_and(|t| t.starts_with("Record"))
            {
                bail!("{at}.record_trigger_type: only record-triggered flows have one");
            }
        }
        if flow.process_type == "Workflow" && flow.object.is_none() {
            bail!("{at}.object: a Process Builder (Workflow) process needs its object");
        }
        if let Some(object) = &flow.object {
            check_object(object, known, &at)?;
        }
        check_manageable(flow.namespace.as_ref(), flow.manageable_state.as_ref(), &at)?;
        if flow.versions.is_empty() {
            bail!("{at}.versions: a flow has at least one version");
        }
        if flow
            .versions
            .iter()
            .filter(|status| **status == FlowStatus::Active)
            .count()
            > 1
        {
            bail!("{at}.versions: at most one version may be Active");
        }
    }
    Ok(())
}

fn validate_validation_rules(
    rules: &[ValidationRuleSpec],
    hand_written: usize,
    known: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (index, rule) in rules.iter().enumerate() {
        let at = key("validation_rules", index, hand_written, &rule.name);
        check_object(&rule.object, known, &at)?;
        if !is_developer_name(&rule.name) {
            bail!(
                "{at}.name: `{}` is not a valid validation rule name",
                rule.name
            );
        }
        if !seen.insert((
            rule.object.clone(),
            rule.namespace.clone(),
            rule.name.clone(),
        )) {
            bail!(
                "{at}.name: `{}.{}` is defined twice",
                rule.object,
                rule.name
            );
        }
        if rule.formula.trim().is_empty() {
            bail!("{at}.formula must not be empty");
        }
        if rule.message.trim().is_empty() {
            bail!("{at}.message must not be empty");
        }
        check_manageable(rule.namespace.as_ref(), rule.manageable_state.as_ref(), &at)?;
    }
    Ok(())
}

fn validate_workflow_rules(
    rules: &[WorkflowRuleSpec],
    hand_written: usize,
    known: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (index, rule) in rules.iter().enumerate() {
        let at = key("workflow_rules", index, hand_written, &rule.name);
        check_object(&rule.object, known, &at)?;
        let name_ok = !rule.name.trim().is_empty()
            && rule.name.trim() == rule.name
            && rule.name.len() <= 80
            && !rule.name.contains('.');
        if !name_ok {
            bail!(
                "{at}.name: `{}` is not a valid workflow rule name (1-80 characters, no dots, no leading or trailing spaces)",
                rule.name
            );
        }
        if !seen.insert((
            rule.object.clone(),
            rule.namespace.clone(),
            rule.name.clone(),
        )) {
            bail!(
                "{at}.name: `{}.{}` is defined twice",
                rule.object,
                rule.name
            );
        }
        if !WORKFLOW_TRIGGER_TYPES.contains(&rule.trigger_type.as_str()) {
            bail!(
                "{at}.trigger_type: `{}` is not one of {}",
                rule.trigger_type,
                WORKFLOW_TRIGGER_TYPES.join(", ")
            );
        }
        check_manageable(rule.namespace.as_ref(), None, &at)?;
    }
    Ok(())
}

fn validate_triggers(
    triggers: &[TriggerSpec],
    hand_written: usize,
    known: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
    for (index, trigger) in triggers.iter().enumerate() {
        let at = key("triggers", index, hand_written, &trigger.name);
        check_object(&trigger.object, known, &at)?;
        if !is_developer_name(&trigger.name) {
            bail!("{at}.name: `{}` is not a valid trigger name", trigger.name);
        }
        if !seen.insert((trigger.namespace.clone(), trigger.name.clone())) {
            bail!("{at}.name: trigger `{}` is defined twice", trigger.name);
        }
        if !(10.0..=68.0).contains(&trigger.api_version) {
            bail!(
                "{at}.api_version: {} is not an API version between 10.0 and 68.0",
                trigger.api_version
            );
        }
        if trigger.body.as_deref().is_some_and(|b| b.trim().is_empty()) {
            bail!("{at}.body must not be empty");
        }
        check_manageable(
            trigger.namespace.as_ref(),
            trigger.manageable_state.as_ref(),
            &at,
        )?;
    }
    Ok(())
}
