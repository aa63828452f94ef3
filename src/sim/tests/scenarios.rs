//! Scenario parsing, the shipped scenario files and the generator, at the data level.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sim::Scenario;
use crate::sim::model::Org as Model;

fn shipped(name: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/sim")
        .join(name);
    Scenario::load(&path).unwrap()
}

/// Classifies components at the data level the way DESIGN.md describes the pause rules,
/// with the default configuration (no excludes, managed components skipped).
fn classify(model: &Model) -> BTreeMap<&'static str, (usize, usize)> {
    let mut out: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut add = |kind: &'static str, pause: bool| {
        let entry = out.entry(kind).or_default();
        if pause {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    };
    for flow in &model.flows {
        let managed = flow.namespace.is_some();
        let active = flow.active().is_some();
        if flow.is_process_builder() {
            add("process_builder", active && !managed);
        } else {
            let triggered = flow.trigger_type.is_some();
            add("flow", active && !managed && triggered);
        }
    }
    for rule in &model.validation_rules {
        add(
            "validation_rule",
            rule.metadata.active && rule.namespace.is_none(),
        );
    }
    for rule in &model.workflow_rules {
        add(
            "workflow_rule",
            rule.metadata.active && rule.namespace.is_none(),
        );
    }
    for trigger in &model.triggers {
        let active = trigger.status == crate::sim::TriggerStatus::Active;
        add("trigger", active && trigger.namespace.is_none());
    }
    out
}

#[test]
fn mixed_matches_its_documented_classification() {
    let scenario = Scenario::demo();
    assert_eq!(scenario, shipped("mixed.toml"));
    assert!(scenario.org.is_sandbox);
    let model = Model::from_scenario(&scenario);
    let expected: BTreeMap<&str, (usize, usize)> = [
        ("flow", (6, 5)),
        ("process_builder", (2, 1)),
        ("validation_rule", (5, 3)),
        ("workflow_rule", (3, 2)),
        ("trigger", (3, 2)),
    ]
    .into_iter()
    .collect();
    assert_eq!(classify(&model), expected);
    let contact = model
        .flows
        .iter()
        .find(|f| f.name == "Contact_After_Save")
        .unwrap();
    assert_eq!(contact.active().unwrap().number, 2);
    assert_eq!(contact.latest().unwrap().number, 3);
    assert!(model.workflow_rules.iter().any(|r| r.name.contains(' ')));
    assert!(
        model
            .validation_rules
            .iter()
            .any(|r| r.name.starts_with("Keep_"))
    );
}

#[test]
fn production_matches_its_documented_classification() {
    let scenario = shipped("production.toml");
    assert!(!scenario.org.is_sandbox);
    let expected: BTreeMap<&str, (usize, usize)> = [
        ("flow", (2, 1)),
        ("process_builder", (1, 0)),
        ("validation_rule", (2, 1)),
        ("workflow_rule", (1, 0)),
        ("trigger", (1, 1)),
    ]
    .into_iter()
    .collect();
    assert_eq!(classify(&Model::from_scenario(&scenario)), expected);
}

#[test]
fn large_has_about_1400_components_and_is_deterministic() {
    let scenario = shipped("large.toml");
    let model = Model::from_scenario(&scenario);
    let automations = model.flows.len()
        + model.validation_rules.len()
        + model.workflow_rules.len()
        + model.triggers.len();
    assert_eq!(automations, 1370);
    let custom = model
        .objects
        .iter()
        .filter(|o| o.api_name.contains("__"))
        .count();
    assert_eq!(custom, 31);
    let again = Model::from_scenario(&scenario);
    assert_eq!(model.snapshot(), again.snapshot());
    let counts = classify(&model);
    for kind in [
        "flow",
        "process_builder",
        "validation_rule",
        "workflow_rule",
        "trigger",
    ] {
        let (pause, skip) = counts[kind];
        assert!(pause > 0 && skip > 0, "{kind}: {pause} / {skip}");
    }
}

#[test]
fn ids_are_real_looking_and_deterministic() {
    let a = Model::from_scenario(&Scenario::demo()).snapshot();
    let b = Model::from_scenario(&Scenario::demo()).snapshot();
    assert_eq!(a, b);
    let check = |id: &Value, prefix: &str| {
        let id = id.as_str().unwrap();
        assert_eq!(id.len(), 18, "{id}");
        assert!(id.starts_with(prefix), "{id} should start with {prefix}");
        assert_eq!(
            crate::sim::ids::checksum_suffix(&id[..15]).as_deref(),
            Some(&id[15..])
        );
    };
    check(&a["org"]["id"], "00D");
    check(&a["org"]["run_as_user_id"], "005");
    for flow in a["flows"].as_array().unwrap() {
        check(&flow["id"], "300");
        for version in flow["versions"].as_array().unwrap() {
            check(&version["id"], "301");
        }
    }
    for rule in a["validation_rules"].as_array().unwrap() {
        check(&rule["id"], "03d");
    }
    for rule in a["workflow_rules"].as_array().unwrap() {
        check(&rule["id"], "01Q");
    }
    for trigger in a["triggers"].as_array().unwrap() {
        check(&trigger["id"], "01q");
    }
    for object in a["objects"].as_array().unwrap() {
        check(&object["durable_id"], "01I");
    }
    let names: Vec<&str> = a["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

fn parse_error(text: &str) -> String {
    format!("{:#}", Scenario::from_toml_str(text).unwrap_err())
}

#[test]
fn scenario_errors_name_the_key() {
    let err = parse_error("[org]\nnmae = \"x\"\n");
    assert!(err.contains("nmae"), "{err}");
    let err = parse_error("[faults]\nlatency = \"soon\"\n");
    assert!(err.contains("latency") && err.contains("soon"), "{err}");
    let err = parse_error(
        "[[flows]]\nname = \"A\"\nprocess_type = \"AutoLaunchedFlow\"\nversions = [\"Active\", \"Active\"]\n",
    );
    assert!(err.contains("flows[0].versions"), "{err}");
    let err = parse_error(
        "[[flows]]\nname = \"A\"\nprocess_type = \"AutoLaunchedFlow\"\nversions = [\"Running\"]\n",
    );
    assert!(err.contains("Running"), "{err}");
    let err = parse_error(
        "[[validation_rules]]\nobject = \"Widget\"\nname = \"R\"\nactive = true\nformula = \"x\"\nmessage = \"m\"\n",
    );
    assert!(
        err.contains("validation_rules[0].object") && err.contains("Widget"),
        "{err}"
    );
    let err =
        parse_error("[[triggers]]\nobject = \"Widget__c\"\nname = \"T\"\nstatus = \"Active\"\n");
    assert!(
        err.contains("triggers[0].object") && err.contains("[[objects]]"),
        "{err}"
    );
    let err = parse_error("[query]\npage_size = 0\n");
    assert!(err.contains("query.page_size"), "{err}");
    let err = parse_error("[faults]\ndrop_rate = 2.0\n");
    assert!(err.contains("faults.drop_rate"), "{err}");
    let err = parse_error("[generate]\nflows = 10\ncolour = 1\n");
    assert!(err.contains("colour"), "{err}");
    let err =
        parse_error("[[workflow_rules]]\nobject = \"Account\"\nname = \"A.B\"\nactive = true\n");
    assert!(err.contains("workflow_rules[0].name"), "{err}");
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[org]\nis_sandbox = \"yes\"\n").unwrap();
    let err = format!("{:#}", Scenario::load(&path).unwrap_err());
    assert!(
        err.contains("broken.toml") && err.contains("is_sandbox"),
        "{err}"
    );
    let missing = dir.path().join("missing.toml");
    let err = format!("{:#}", Scenario::load(&missing).unwrap_err());
    assert!(err.contains("missing.toml"), "{err}");
}
