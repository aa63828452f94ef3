//! The report `pauseplay plan` prints: every component a pause would touch and every one it
//! would skip, and why. People get a table per kind, grouped by object, with totals; machines
//! get stable, versioned JSON (documented in `docs/json.md`).
//!
//! The JSON types here are wire types: they are built from [`Discovery`] by hand so internal
//! types can change without changing the output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::automation::{Component, Discovery, Kind, ObservedState};
use crate::budget::{DEPLOY_POLLS, DEPLOY_POLLS_WITH_TESTS, Estimate};
use crate::engine::trigger_test_level;
use crate::salesforce::{ApiUsage, ApiVersion, TestLevel};

/// Bumped whenever a field is removed or changes meaning; additions keep the version.
pub const PLAN_JSON_VERSION: u32 = 1;

/// The plan of one org: its configured name, the API version used and what discovery found.
#[derive(Debug, Clone, Copy)]
pub struct OrgPlan<'a> {
    pub org: &'a str,
    pub api_version: ApiVersion,
    pub discovery: &'a Discovery,
    /// The test level the org's trigger deploys use in production (from its configuration);
    /// a sandbox runs none.
    pub production_tests: &'a TestLevel,
    /// What the plan's discovery cost and what the org has left, when known.
    pub api: Option<PlanApi>,
}

/// The API calls of a plan: what its discovery took and the org's usage after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanApi {
    pub discovery_calls: u64,
    /// From the last `Sforce-Limit-Info`; `None` if the org sent none.
    pub usage: Option<ApiUsage>,
}

impl OrgPlan<'_> {
    /// What a pause of this plan and its restore would cost (see [`crate::budget`]).
    pub fn estimate(&self) -> Estimate {
        Estimate::for_kinds(
            self.discovery
                .components
                .iter()
                .filter(|c| c.will_pause())
                .map(|c| c.kind),
            self.runs_tests(),
        )
    }

    fn runs_tests(&self) -> bool {
        !matches!(
            trigger_test_level(self.discovery.org.is_sandbox, self.production_tests),
            TestLevel::NoTestRun
        )
    }

    pub fn pause_count(&self) -> usize {
        self.discovery
            .components
            .iter()
            .filter(|c| c.will_pause())
            .count()
    }

    pub fn skip_count(&self) -> usize {
        self.discovery.components.len() - self.pause_count()
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// Renders the plan of one org as a table for people.
pub fn render_text(plan: &OrgPlan<'_>) -> String {
    let discovery = plan.discovery;
    let mut out = String::new();
    let org_type = if discovery.org.is_sandbox {
        "sandbox"
    } else {
        "production"
    };
    let _ = writeln!(
        out,
        "Org `{}`: {} ({}), {org_type}, API {}",
        plan.org, discovery.org.name, discovery.org.id, plan.api_version
    );
    for kind in Kind::ALL {
        let components: Vec<&Component> = discovery
            .components
            .iter()
            .filter(|c| c.kind == kind)
            .collect();
        if components.is_empty() {
            continue;
        }
        let pause = components.iter().filter(|c| c.will_pause()).count();
        let _ = writeln!(
            out,
            "\n{}: {pause} to pause, {} skipped",
            kind.label(),
            components.len() - pause
        );
        let mut rows = vec![[
            "ACTION".to_owned(),
            "OBJECT".to_owned(),
            "NAME".to_owned(),
            "STATE".to_owned(),
            "WHY SKIPPED".to_owned(),
        ]];
        let mut previous_object: Option<&str> = None;
        for component in components {
            let object = component.object.as_deref().unwrap_or("-");
            // Print each object once, at the head of its group, so the groups stand out.
            let object_cell = if previous_object == Some(object) {
                String::new()
            } else {
                object.to_owned()
            };
            previous_object = Some(object);
            rows.push([
                if component.will_pause() {
                    "pause"
                } else {
                    "skip"
                }
                .to_owned(),
                object_cell,
                component.api_name.clone(),
                component.state.to_string(),
                component
                    .skip_reason()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ]);
        }
        push_table(&mut out, &rows);
    }
    let _ = writeln!(
        out,
        "\nTotal: {} to pause, {} skipped",
        plan.pause_count(),
        plan.skip_count()
    );
    let triggers = discovery
        .components
        .iter()
        .filter(|c| c.kind == Kind::Trigger && c.will_pause())
        .count();
    if triggers > 0 {
        let level = trigger_test_level(discovery.org.is_sandbox, plan.production_tests);
        let _ = writeln!(
            out,
            "Triggers: {triggers} switched by one Metadata API deploy per pause and per \
             restore, test level {}",
            level.as_str()
        );
        if !discovery.org.is_sandbox {
            let _ = writeln!(
                out,
                "Warning: this is a production org; each trigger deploy runs Apex tests and can \
                 take minutes, and if a test fails no trigger is switched"
            );
        }
    }
    if let Some(api) = plan.api {
        let _ = writeln!(out, "{}", api_text(plan, api));
    }
    let reasons = skip_reason_counts(discovery);
    if !reasons.is_empty() {
        let list = reasons
            .iter()
            .map(|(reason, count)| format!("{} {count}", reason.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "Skipped: {list}");
    }
    if discovery.components.is_empty() {
        let _ = writeln!(
            out,
            "No automation of the configured kinds was found; check the org's `kinds` and \
             `objects` in the config"
        );
    }
    out
}

/// The plan's API line: the discovery's cost, the estimate, and whether the org can afford it.
fn api_text(plan: &OrgPlan<'_>, api: PlanApi) -> String {
    let estimate = plan.estimate();
    let polls = if plan.runs_tests() {
        DEPLOY_POLLS_WITH_TESTS
    } else {
        DEPLOY_POLLS
    };
    let mut line = format!(
        "API calls: this plan's discovery took {}; a pause would take about {} more and its \
         restore about {}",
        api.discovery_calls, estimate.pause, estimate.restore
    );
    let triggers = plan
        .discovery
        .components
        .iter()
        .any(|c| c.kind == Kind::Trigger && c.will_pause());
    if triggers {
        let _ = write!(line, " (allowing {polls} polls per trigger deploy)");
    }
    match api.usage {
        Some(usage) => {
            let remaining = usage.remaining();
            let verdict = if estimate.check(usage).is_ok() {
                "enough"
            } else {
                "NOT enough: the daemon would refuse this pause"
            };
            let _ = write!(
                line,
                "\nThe org has {remaining} of its {} daily API calls left: {verdict}",
                usage.max
            );
        }
        None => line.push_str("\nThe org did not report its API usage (no Sforce-Limit-Info)"),
    }
    line
}

fn push_table(out: &mut String, rows: &[[String; 5]]) {
    let mut widths = [0usize; 5];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from("  ");
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn skip_reason_counts(discovery: &Discovery) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for reason in discovery
        .components
        .iter()
        .filter_map(Component::skip_reason)
    {
        *counts.entry(reason.code()).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Debug, Serialize)]
struct PlanJson<'a> {
    version: u32,
    orgs: Vec<OrgPlanJson<'a>>,
}

#[derive(Debug, Serialize)]
struct OrgPlanJson<'a> {
    org: &'a str,
    org_id: &'a str,
    org_name: &'a str,
    sandbox: bool,
    api_version: String,
    summary: SummaryJson,
    /// Absent when the plan was rendered without its API figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<ApiJson>,
    components: Vec<ComponentJson<'a>>,
}

#[derive(Debug, Serialize)]
struct ApiJson {
    discovery_calls: u64,
    pause_calls: u64,
    restore_calls: u64,
    used: Option<u64>,
    max: Option<u64>,
    remaining: Option<u64>,
    affordable: Option<bool>,
}

#[derive(Debug, Serialize)]
struct SummaryJson {
    pause: usize,
    skip: usize,
    by_kind: BTreeMap<&'static str, KindCountsJson>,
    skip_reasons: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Default, Serialize)]
struct KindCountsJson {
    pause: usize,
    skip: usize,
}

#[derive(Debug, Serialize)]
struct ComponentJson<'a> {
    kind: &'static str,
    id: &'a str,
    api_name: &'a str,
    object: Option<&'a str>,
    namespace: Option<&'a str>,
    action: &'static str,
    reason: Option<&'static str>,
    reason_detail: Option<String>,
    state: StateJson<'a>,
}

#[derive(Debug, Serialize)]
struct StateJson<'a> {
    active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

/// Renders the plans of one or more orgs as one JSON document.
pub fn render_json(plans: &[OrgPlan<'_>]) -> String {
    let document = PlanJson {
        version: PLAN_JSON_VERSION,
        orgs: plans.iter().map(org_json).collect(),
    };
    // Serialising these plain structs cannot fail; fall back to an empty object rather than
    // panic should that ever change.
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| "{}".to_owned())
}

fn org_json<'a>(plan: &OrgPlan<'a>) -> OrgPlanJson<'a> {
    let discovery = plan.discovery;
    let mut by_kind: BTreeMap<&'static str, KindCountsJson> = BTreeMap::new();
    for component in &discovery.components {
        let counts = by_kind.entry(component.kind.as_str()).or_default();
        if component.will_pause() {
            counts.pause += 1;
        } else {
            counts.skip += 1;
        }
    }
    OrgPlanJson {
        org: plan.org,
        org_id: &discovery.org.id,
        org_name: &discovery.org.name,
        sandbox: discovery.org.is_sandbox,
        api_version: plan.api_version.to_string(),
        summary: SummaryJson {
            pause: plan.pause_count(),
            skip: plan.skip_count(),
            by_kind,
            skip_reasons: skip_reason_counts(discovery),
        },
        api: plan.api.map(|api| {
            let estimate = plan.estimate();
            ApiJson {
                discovery_calls: api.discovery_calls,
                pause_calls: estimate.pause,
                restore_calls: estimate.restore,
                used: api.usage.map(|usage| usage.used),
                max: api.usage.map(|usage| usage.max),
                remaining: api.usage.map(ApiUsage::remaining),
                affordable: api.usage.map(|usage| estimate.check(usage).is_ok()),
            }
        }),
        components: discovery.components.iter().map(component_json).collect(),
    }
}

fn component_json(component: &Component) -> ComponentJson<'_> {
    let reason = component.skip_reason();
    let state = match &component.state {
        ObservedState::Flow {
            active_version,
            latest_version,
        } => StateJson {
            active: Some(active_version.is_some()),
            active_version: *active_version,
            latest_version: *latest_version,
            status: None,
        },
        ObservedState::Rule { active } => StateJson {
            active: *active,
            active_version: None,
            latest_version: None,
            status: None,
        },
        ObservedState::Trigger { status } => StateJson {
            active: Some(status == "Active"),
            active_version: None,
            latest_version: None,
            status: Some(status),
        },
    };
    ComponentJson {
        kind: component.kind.as_str(),
        id: &component.id,
        api_name: &component.api_name,
        object: component.object.as_deref(),
        namespace: component.namespace.as_deref(),
        action: if component.will_pause() {
            "pause"
        } else {
            "skip"
        },
        reason: reason.map(|r| r.code()),
        reason_detail: reason.map(ToString::to_string),
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::{Decision, OrgInfo, SkipReason};

    fn discovery() -> Discovery {
        Discovery {
            org: OrgInfo {
                id: "00D000000000001AAA".to_owned(),
                name: "Acme".to_owned(),
                is_sandbox: true,
                organization_type: None,
                namespace: None,
            },
            read: Default::default(),
            components: vec![
                Component {
                    kind: Kind::Flow,
                    id: "300000000000001AAA".to_owned(),
                    api_name: "Account_After_Save".to_owned(),
                    object: Some("Account".to_owned()),
                    namespace: None,
                    state: ObservedState::Flow {
                        active_version: Some(2),
                        latest_version: Some(3),
                    },
                    decision: Decision::Pause,
                },
                Component {
                    kind: Kind::Flow,
                    id: "300000000000002AAA".to_owned(),
                    api_name: "Account_Screen".to_owned(),
                    object: Some("Account".to_owned()),
                    namespace: None,
                    state: ObservedState::Flow {
                        active_version: Some(1),
                        latest_version: Some(1),
                    },
                    decision: Decision::Skip(SkipReason::ScreenFlow),
                },
            ],
        }
    }

    #[test]
    fn text_groups_objects_and_counts() {
        let discovery = discovery();
        let plan = OrgPlan {
            org: "demo",
            api_version: ApiVersion::DEFAULT,
            discovery: &discovery,
            production_tests: &TestLevel::RunLocalTests,
            api: None,
        };
        let text = render_text(&plan);
        assert!(text.contains("Flows: 1 to pause, 1 skipped"), "{text}");
        assert!(text.contains("active v2 (newer v3 not active)"), "{text}");
        assert_eq!(
            text.matches("Account ").count(),
            1,
            "object printed once: {text}"
        );
        assert!(text.contains("Skipped: screen flow 1"), "{text}");
    }

    #[test]
    fn json_is_versioned_and_stable() {
        let discovery = discovery();
        let plan = OrgPlan {
            org: "demo",
            api_version: ApiVersion::DEFAULT,
            discovery: &discovery,
            production_tests: &TestLevel::RunLocalTests,
            api: None,
        };
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&[plan])).expect("valid JSON");
        assert_eq!(json["version"], 1);
        let org = &json["orgs"][0];
        assert_eq!(org["summary"]["pause"], 1);
        assert_eq!(org["summary"]["skip_reasons"]["screen_flow"], 1);
        assert_eq!(org["components"][0]["state"]["active_version"], 2);
        assert_eq!(org["components"][1]["reason"], "screen_flow");
    }

    #[test]
    fn triggers_to_pause_show_the_test_level_and_warn_in_production() {
        let mut discovery = discovery();
        assert!(
            !render_text(&OrgPlan {
                org: "demo",
                api_version: ApiVersion::DEFAULT,
                discovery: &discovery,
                production_tests: &TestLevel::RunLocalTests,
                api: None,
            })
            .contains("test level"),
            "no trigger, no line"
        );
        discovery.components.push(Component {
            kind: Kind::Trigger,
            id: "01q000000000001AAA".to_owned(),
            api_name: "AccountTrigger".to_owned(),
            object: Some("Account".to_owned()),
            namespace: None,
            state: ObservedState::Trigger {
                status: "Active".to_owned(),
            },
            decision: Decision::Pause,
        });
        let production_tests = TestLevel::RunSpecifiedTests(vec!["AccountTriggerTest".to_owned()]);
        let sandbox = render_text(&OrgPlan {
            org: "demo",
            api_version: ApiVersion::DEFAULT,
            discovery: &discovery,
            production_tests: &production_tests,
            api: None,
        });
        assert!(sandbox.contains("test level NoTestRun"), "{sandbox}");
        assert!(!sandbox.contains("Warning"), "{sandbox}");
        discovery.org.is_sandbox = false;
        let production = render_text(&OrgPlan {
            org: "demo",
            api_version: ApiVersion::DEFAULT,
            discovery: &discovery,
            production_tests: &production_tests,
            api: None,
        });
        assert!(
            production.contains("test level RunSpecifiedTests"),
            "{production}"
        );
        assert!(
            production.contains("Warning: this is a production org"),
            "{production}"
        );
    }
}
