//! Shapes result rows into Salesforce's record JSON: `attributes` first, then the selected
//! fields in select order, relationship paths folded into nested records that carry their
//! own `attributes`.

use serde_json::{Map, Value};

use super::resolve::{Hop, Plan, ResolvedPath};

pub(super) fn records(plan: &Plan, rows: &[&Map<String, Value>], url_prefix: &str) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let mut record = new_record(plan.object.name, row, url_prefix);
            for path in &plan.select {
                place(&mut record, row, &path.hops, path, url_prefix);
            }
            Value::Object(record)
        })
        .collect()
}

fn new_record(object: &str, row: &Map<String, Value>, url_prefix: &str) -> Map<String, Value> {
    let mut attributes = Map::new();
    attributes.insert("type".to_owned(), Value::String(object.to_owned()));
    // Objects without an Id (EntityDefinition) are addressed by their DurableId.
    let id = ["Id", "DurableId"]
        .iter()
        .find_map(|key| row.get(*key).and_then(Value::as_str));
    if let Some(id) = id {
        attributes.insert(
            "url".to_owned(),
            Value::String(format!("{url_prefix}/{object}/{id}")),
        );
    }
    let mut record = Map::new();
    record.insert("attributes".to_owned(), Value::Object(attributes));
    record
}

/// Writes `path`'s value into `record`, walking `hops` (the part of the path still to follow
/// from `row`). Paths through the same relationship share one nested record.
fn place(
    record: &mut Map<String, Value>,
    row: &Map<String, Value>,
    hops: &[Hop],
    path: &ResolvedPath,
    url_prefix: &str,
) {
    let Some((hop, rest)) = hops.split_first() else {
        let value = row.get(path.field).cloned().unwrap_or(Value::Null);
        record.insert(path.field.to_owned(), value);
        return;
    };
    let Some(related) = row.get(hop.relationship).and_then(Value::as_object) else {
        record.insert(hop.relationship.to_owned(), Value::Null);
        return;
    };
    let nested = record
        .entry(hop.relationship.to_owned())
        .or_insert_with(|| Value::Object(new_record(hop.target, related, url_prefix)));
    if let Value::Object(nested) = nested {
        place(nested, related, rest, path, url_prefix);
    }
}
