//! The `[generate]` table: a deterministic generator for large, realistic orgs.
//!
//! Given a seed and a count per kind, it produces scenario entries with the mix documented
//! in `docs/sim-scenarios.md` (the weights below). The same seed and counts always give the
//! same entries, and names carry a running number so they never collide with each other
//! (hand-written names should avoid the `Gen_` prefix).

use anyhow::bail;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::scenario::{
    FlowSpec, FlowStatus, ObjectSpec, TriggerSpec, TriggerStatus, ValidationRuleSpec,
    WorkflowRuleSpec,
};

/// `[generate]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSpec {
    pub seed: u64,
    /// Flows (record-triggered, screen, autolaunched, scheduled, platform-event, managed).
    pub flows: usize,
    /// Process Builder processes.
    pub process_builders: usize,
    pub validation_rules: usize,
    pub workflow_rules: usize,
    pub triggers: usize,
    /// Custom objects `Gen_Object_N__c`; components land on them about a quarter of the time.
    pub custom_objects: usize,
}

/// Upper bound per kind, so that a typo cannot make the sim allocate for hours.
const MAX_PER_KIND: usize = 20_000;

impl GenerateSpec {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (key, count) in [
            ("flows", self.flows),
            ("process_builders", self.process_builders),
            ("validation_rules", self.validation_rules),
            ("workflow_rules", self.workflow_rules),
            ("triggers", self.triggers),
            ("custom_objects", self.custom_objects),
        ] {
            if count > MAX_PER_KIND {
                bail!("generate.{key} must be at most {MAX_PER_KIND}, got {count}");
            }
        }
        Ok(())
    }
}

/// Generated entries, appended to the scenario's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    pub objects: Vec<ObjectSpec>,
    pub flows: Vec<FlowSpec>,
    pub validation_rules: Vec<ValidationRuleSpec>,
    pub workflow_rules: Vec<WorkflowRuleSpec>,
    pub triggers: Vec<TriggerSpec>,
}

/// The kinds of generated flow, with their weights (percent of `flows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowMix {
    /// Record-triggered, latest version active.
    RecordActive,
    /// Record-triggered, an older version active and a later Draft.
    RecordActiveOlderThanDraft,
    /// Record-triggered without an active version.
    RecordNoActive,
    /// Screen flow (`Flow`), active.
    Screen,
    /// Autolaunched flow without trigger (a subflow), active.
    AutolaunchedNoTrigger,
    /// Schedule-triggered, active.
    Scheduled,
    /// Platform-event-triggered, active.
    PlatformEvent,
    /// Record-triggered from an installed managed package, active.
    ManagedRecord,
}

pub const FLOW_MIX: &[(FlowMix, u32)] = &[
    (FlowMix::RecordActive, 40),
    (FlowMix::RecordActiveOlderThanDraft, 10),
    (FlowMix::RecordNoActive, 13),
    (FlowMix::Screen, 10),
    (FlowMix::AutolaunchedNoTrigger, 10),
    (FlowMix::Scheduled, 7),
    (FlowMix::PlatformEvent, 5),
    (FlowMix::ManagedRecord, 5),
];

/// Process Builder mix: active `Workflow` 70, inactive `Workflow` 15, active
/// `InvocableProcess` 10, managed active `Workflow` 5.
const PB_MIX: &[(u8, u32)] = &[(0, 70), (1, 15), (2, 10), (3, 5)];
/// Validation rules: active 70, inactive 20, managed (active) 10.
const VR_MIX: &[(u8, u32)] = &[(0, 70), (1, 20), (2, 10)];
/// Workflow rules: active 60, inactive 30, managed (active) 10.
const WR_MIX: &[(u8, u32)] = &[(0, 60), (1, 30), (2, 10)];
/// Triggers: active 65, inactive 25, managed (active) 10.
const TRIGGER_MIX: &[(u8, u32)] = &[(0, 65), (1, 25), (2, 10)];

/// The namespace of generated managed components.
pub const GENERATED_NAMESPACE: &str = "gpkg";
/// The platform event generated platform-event flows listen to.
pub const GENERATED_EVENT: &str = "Gen_Integration_Event__e";

const STANDARD_POOL: &[&str] = &[
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Case",
    "Order",
    "Campaign",
    "Product2",
    "Task",
    "Asset",
];

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, weight) in weighted {
        if roll < *weight {
            return *item;
        }
        roll -= weight;
    }
    // The weights sum to `total`, so the loop returns; fall back to the first entry.
    weighted[0].0
}

struct Objects {
    custom: Vec<String>,
}

impl Objects {
    /// A standard object, or about a quarter of the time a generated custom object.
    fn pick(&self, rng: &mut StdRng) -> String {
        if !self.custom.is_empty() && rng.random_bool(0.25) {
            let i = rng.random_range(0..self.custom.len());
            self.custom[i].clone()
        } else {
            STANDARD_POOL[rng.random_range(0..STANDARD_POOL.len())].to_owned()
        }
    }
}

/// The object name as it may appear inside a developer name (`Gen_Object_3__c` →
/// `Gen_Object_3`).
fn name_part(object: &str) -> &str {
    object.strip_suffix("__c").unwrap_or(object)
}

/// Versions for a flow whose newest version is active: `n - 1` Obsolete, then Active.
fn latest_active(rng: &mut StdRng) -> Vec<FlowStatus> {
    let n = rng.random_range(1..=4);
    let mut versions = vec![FlowStatus::Obsolete; n - 1];
    versions.push(FlowStatus::Active);
    versions
}

pub fn generate(spec: &GenerateSpec) -> Generated {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut out = Generated::default();
    for i in 1..=spec.custom_objects {
        out.objects.push(ObjectSpec {
            api_name: format!("Gen_Object_{i}__c"),
            label: format!("Gen Object {i}"),
        });
    }
    let objects = Objects {
        custom: out.objects.iter().map(|o| o.api_name.clone()).collect(),
    };
    let mut needs_event = false;

    for i in 1..=spec.flows {
        let mix = pick(&mut rng, FLOW_MIX);
        let object = objects.pick(&mut rng);
        let record_trigger = ["RecordAfterSave", "RecordBeforeSave", "RecordBeforeDelete"]
            [rng.random_range(0..3)]
        .to_owned();
        let record_kind = match record_trigger.as_str() {
            "RecordBeforeDelete" => "Delete",
            _ => ["Create", "Update", "CreateAndUpdate"][rng.random_range(0..3)],
        };
        let mut flow = FlowSpec {
            name: String::new(),
            label: None,
            process_type: "AutoLaunchedFlow".to_owned(),
            trigger_type: Some(record_trigger.clone()),
            record_trigger_type: Some(record_kind.to_owned()),
            object: Some(object.clone()),
            description: None,
            namespace: None,
            manageable_state: None,
            versions: latest_active(&mut rng),
        };
        let stem = match mix {
            FlowMix::RecordActive => format!("{}_{}", name_part(&object), record_trigger),
            FlowMix::RecordActiveOlderThanDraft => {
                let older = rng.random_range(1..=3);
                let mut versions = vec![FlowStatus::Obsolete; older - 1];
                versions.push(FlowStatus::Active);
                versions.push(FlowStatus::Draft);
                flow.versions = versions;
                format!("{}_{}_Revised", name_part(&object), record_trigger)
            }
            FlowMix::RecordNoActive => {
                flow.versions = if rng.random_bool(0.5) {
                    vec![FlowStatus::Draft]
                } else {
                    vec![FlowStatus::Obsolete; rng.random_range(1..=3)]
                };
                format!("{}_{}_Retired", name_part(&object), record_trigger)
            }
            FlowMix::Screen => {
                flow.process_type = "Flow".to_owned();
                flow.trigger_type = None;
                flow.record_trigger_type = None;
                flow.object = None;
                "Screen_Wizard".to_owned()
            }
            FlowMix::AutolaunchedNoTrigger => {
                flow.trigger_type = None;
                flow.record_trigger_type = None;
                flow.object = None;
                "Subflow".to_owned()
            }
            FlowMix::Scheduled => {
                flow.trigger_type = Some("Scheduled".to_owned());
                flow.record_trigger_type = None;
                // Scheduled flows may or may not run over an object's records.
                if rng.random_bool(0.5) {
                    flow.object = None;
                }
                "Nightly_Job".to_owned()
            }
            FlowMix::PlatformEvent => {
                needs_event = true;
                flow.trigger_type = Some("PlatformEvent".to_owned());
                flow.record_trigger_type = None;
                flow.object = Some(GENERATED_EVENT.to_owned());
                "Event_Listener".to_owned()
            }
            FlowMix::ManagedRecord => {
                flow.namespace = Some(GENERATED_NAMESPACE.to_owned());
                flow.manageable_state = Some("installed".to_owned());
                format!("Pkg_{}_{}", name_part(&object), record_trigger)
            }
        };
        flow.name = format!("Gen_{stem}_{i}");
        out.flows.push(flow);
    }

    for i in 1..=spec.process_builders {
        let variant = pick(&mut rng, PB_MIX);
        let object = objects.pick(&mut rng);
        let mut flow = FlowSpec {
            name: format!("Gen_{}_Process_{i}", name_part(&object)),
            label: None,
            process_type: "Workflow".to_owned(),
            trigger_type: None,
            record_trigger_type: None,
            object: Some(object),
            description: None,
            namespace: None,
            manageable_state: None,
            versions: latest_active(&mut rng),
        };
        match variant {
            1 => flow.versions = vec![FlowStatus::Obsolete; rng.random_range(1..=3)],
            2 => flow.process_type = "InvocableProcess".to_owned(),
            3 => {
                flow.namespace = Some(GENERATED_NAMESPACE.to_owned());
                flow.manageable_state = Some("installed".to_owned());
            }
            _ => {}
        }
        out.flows.push(flow);
    }

    for i in 1..=spec.validation_rules {
        let variant = pick(&mut rng, VR_MIX);
        let object = objects.pick(&mut rng);
        let field = ["Name", "Description", "OwnerId"][rng.random_range(0..3)];
        let managed = variant == 2;
        out.validation_rules.push(ValidationRuleSpec {
            object: object.clone(),
            name: format!("Gen_Require_{field}_{i}"),
            active: variant != 1,
            formula: format!("ISBLANK({field})"),
            message: format!("{field} is required."),
            description: rng
                .random_bool(0.5)
                .then(|| format!("Generated rule {i} on {object}")),
            error_display_field: rng.random_bool(0.5).then(|| field.to_owned()),
            namespace: managed.then(|| GENERATED_NAMESPACE.to_owned()),
            manageable_state: managed.then(|| "installed".to_owned()),
        });
    }

    for i in 1..=spec.workflow_rules {
        let variant = pick(&mut rng, WR_MIX);
        let object = objects.pick(&mut rng);
        let name = if rng.random_bool(0.3) {
            format!("Gen Notify Owner {i}")
        } else {
            format!("Gen_Set_Status_{i}")
        };
        out.workflow_rules.push(WorkflowRuleSpec {
            object,
            name,
            active: variant != 1,
            trigger_type: ["onCreateOnly", "onCreateOrTriggeringUpdate", "onAllChanges"]
                [rng.random_range(0..3)]
            .to_owned(),
            description: None,
            formula: rng
                .random_bool(0.3)
                .then(|| "ISCHANGED(OwnerId)".to_owned()),
            namespace: (variant == 2).then(|| GENERATED_NAMESPACE.to_owned()),
        });
    }

    for i in 1..=spec.triggers {
        let variant = pick(&mut rng, TRIGGER_MIX);
        let object = objects.pick(&mut rng);
        let managed = variant == 2;
        out.triggers.push(TriggerSpec {
            object: object.clone(),
            name: format!("Gen_{}_Trigger_{i}", name_part(&object)),
            status: if variant == 1 {
                TriggerStatus::Inactive
            } else {
                TriggerStatus::Active
            },
            body: None,
            api_version: [58.0, 62.0, 64.0, 66.0][rng.random_range(0..4)],
            namespace: managed.then(|| GENERATED_NAMESPACE.to_owned()),
            manageable_state: managed.then(|| "installed".to_owned()),
        });
    }

    if needs_event {
        out.objects.push(ObjectSpec {
            api_name: GENERATED_EVENT.to_owned(),
            label: "Gen Integration Event".to_owned(),
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn spec(seed: u64) -> GenerateSpec {
        GenerateSpec {
            seed,
            flows: 400,
            process_builders: 100,
            validation_rules: 300,
            workflow_rules: 150,
            triggers: 100,
            custom_objects: 20,
        }
    }

    #[test]
    fn generation_is_deterministic_and_counts_are_exact() {
        let a = generate(&spec(1));
        assert_eq!(a, generate(&spec(1)));
        assert_ne!(a, generate(&spec(2)));
        assert_eq!(a.flows.len(), 500);
        assert_eq!(a.validation_rules.len(), 300);
        assert_eq!(a.workflow_rules.len(), 150);
        assert_eq!(a.triggers.len(), 100);
        // 20 custom objects plus the platform event.
        assert_eq!(a.objects.len(), 21);
    }

    #[test]
    fn the_mix_covers_every_case() {
        let g = generate(&spec(3));
        let flows = &g.flows;
        let active = |f: &&FlowSpec| f.versions.contains(&FlowStatus::Active);
        let record = |f: &&FlowSpec| {
            f.trigger_type
                .as_deref()
                .is_some_and(|t| t.starts_with("Record"))
        };
        assert!(flows.iter().filter(record).filter(active).count() > 150);
        assert!(flows.iter().filter(record).any(|f| !active(&f)));
        assert!(flows.iter().any(|f| {
            f.versions.last() == Some(&FlowStatus::Draft)
                && f.versions.contains(&FlowStatus::Active)
        }));
        assert!(flows.iter().any(|f| f.process_type == "Flow"));
        assert!(
            flows
                .iter()
                .any(|f| f.process_type == "AutoLaunchedFlow" && f.trigger_type.is_none())
        );
        for trigger in ["Scheduled", "PlatformEvent"] {
            assert!(
                flows
                    .iter()
                    .any(|f| f.trigger_type.as_deref() == Some(trigger))
            );
        }
        for process in ["Workflow", "InvocableProcess"] {
            assert!(flows.iter().any(|f| f.process_type == process));
        }
        assert!(flows.iter().any(|f| f.namespace.is_some()));
        assert!(g.validation_rules.iter().any(|r| !r.active));
        assert!(g.validation_rules.iter().any(|r| r.namespace.is_some()));
        assert!(g.workflow_rules.iter().any(|r| !r.active));
        assert!(g.workflow_rules.iter().any(|r| r.name.contains(' ')));
        assert!(
            g.triggers
                .iter()
                .any(|t| t.status == TriggerStatus::Inactive)
        );
        assert!(g.triggers.iter().any(|t| t.object.ends_with("__c")));
        // Roughly the documented 70 % of validation rules are plain active ones.
        let plain_active = g
            .validation_rules
            .iter()
            .filter(|r| r.active && r.namespace.is_none())
            .count();
        assert!((170..=250).contains(&plain_active), "{plain_active}");
    }
}
