//! End-to-end tests of [`run`] against a small Tooling-like org: flows with active/latest
//! version relationships (one null), validation rules pointing at `EntityDefinition`, and
//! `EntityDefinition` itself, which has no `Id`.

use serde_json::{Map, Value, json};

use super::{Catalog, ObjectSchema, QueryOutput, SoqlError, SoqlErrorCode, run};

const PREFIX: &str = "/services/data/v66.0/tooling/sobjects";

const SCHEMAS: &[ObjectSchema] = &[
    ObjectSchema {
        name: "FlowDefinition",
        fields: &[
            "Id",
            "DeveloperName",
            "NamespacePrefix",
            "ActiveVersionId",
            "LatestVersionId",
            "FullName",
            "Metadata",
        ],
        relationships: &[("ActiveVersion", "Flow"), ("LatestVersion", "Flow")],
        single_row_fields: &["FullName", "Metadata"],
    },
    ObjectSchema {
        name: "Flow",
        fields: &["Id", "VersionNumber", "Status", "DefinitionId"],
        relationships: &[("Definition", "FlowDefinition")],
        single_row_fields: &["FullName", "Metadata"],
    },
    ObjectSchema {
        name: "ValidationRule",
        fields: &[
            "Id",
            "ValidationName",
            "Active",
            "EntityDefinitionId",
            "NamespacePrefix",
        ],
        relationships: &[("EntityDefinition", "EntityDefinition")],
        single_row_fields: &["FullName", "Metadata"],
    },
    ObjectSchema {
        name: "EntityDefinition",
        fields: &["DurableId", "QualifiedApiName"],
        relationships: &[],
        single_row_fields: &[],
    },
];

struct TestOrg;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test row is not an object: {other}"),
    }
}

impl Catalog for TestOrg {
    fn schema(&self, object: &str) -> Option<&ObjectSchema> {
        SCHEMAS.iter().find(|s| s.name.eq_ignore_ascii_case(object))
    }

    fn rows(&self, name: &str) -> Vec<Map<String, Value>> {
        let flow = |id: &str, version: u64, status: &str| json!({"Id": id, "VersionNumber": version, "Status": status});
        let entity = |name: &str| json!({"DurableId": name, "QualifiedApiName": name});
        let rows = match name {
            "FlowDefinition" => vec![
                json!({"Id": "300A", "DeveloperName": "Account_After_Save", "NamespacePrefix": null,
                       "ActiveVersion": flow("301A3", 3, "Active"),
                       "LatestVersion": flow("301A4", 4, "Draft"), "FullName": "Account_After_Save"}),
                json!({"Id": "300B", "DeveloperName": "Contact_Before_Save", "NamespacePrefix": null,
                       "ActiveVersion": null, "LatestVersion": flow("301B1", 1, "Draft")}),
                json!({"Id": "300C", "DeveloperName": "lead_router", "NamespacePrefix": "pkg",
                       "ActiveVersion": flow("301C2", 2, "Active"),
                       "LatestVersion": flow("301C2", 2, "Active")}),
                // No NamespacePrefix key at all: absent must read as null.
                json!({"Id": "300D", "DeveloperName": "Opportunity_Flow",
                       "ActiveVersion": null, "LatestVersion": null}),
            ],
            "Flow" => vec![
                json!({"Id": "301A3", "VersionNumber": 3, "Status": "Active",
                "Definition": {"Id": "300A", "DeveloperName": "Account_After_Save",
                               "ActiveVersion": flow("301A3", 3, "Active")}}),
            ],
            "ValidationRule" => vec![
                json!({"Id": "03d1", "ValidationName": "Require_Phone", "Active": true,
                       "NamespacePrefix": null, "EntityDefinition": entity("Account")}),
                json!({"Id": "03d2", "ValidationName": "Amount_Positive", "Active": false,
                       "NamespacePrefix": null, "EntityDefinition": entity("Opportunity")}),
                json!({"Id": "03d3", "ValidationName": "Pkg_Rule", "Active": true,
                       "NamespacePrefix": "pkg", "EntityDefinition": entity("Account")}),
            ],
            "EntityDefinition" => vec![entity("Account"), entity("Campaign")],
            _ => Vec::new(),
        };
        rows.into_iter().map(object).collect()
    }
}

fn query(soql: &str) -> QueryOutput {
    match run(soql, &TestOrg, PREFIX) {
        Ok(output) => output,
        Err(err) => panic!("query {soql:?} failed: {err}"),
    }
}

fn error(soql: &str) -> SoqlError {
    match run(soql, &TestOrg, PREFIX) {
        Ok(output) => panic!("query {soql:?} succeeded: {output:?}"),
        Err(err) => err,
    }
}

/// The `Id`s of the records `soql` returns (on FlowDefinition, unless the query says otherwise).
fn ids(soql: &str) -> Vec<String> {
    query(soql)
        .records
        .iter()
        .map(|r| r["Id"].as_str().unwrap_or("<no Id>").to_owned())
        .collect()
}

fn flows_where(condition: &str) -> Vec<String> {
    ids(&format!("SELECT Id FROM FlowDefinition WHERE {condition}"))
}

fn caret(query_line: &str, row: usize, column: usize, detail: &str) -> String {
    let padding = " ".repeat(column - 1);
    format!("\n{query_line}\n{padding}^\nERROR at Row:{row}:Column:{column}\n{detail}")
}

fn no_such_column(field: &str, entity: &str) -> String {
    format!(
        "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom \
         field, be sure to append the '__c' after the custom field name. Please reference your \
         WSDL or the describe call for the appropriate names."
    )
}

// ---- output shape -------------------------------------------------------------------------

#[test]
fn flat_record_has_attributes_and_selected_fields() {
    let output = query("SELECT Id, DeveloperName FROM FlowDefinition WHERE Id = '300A'");
    assert_eq!(output.object, "FlowDefinition");
    assert!(!output.selects_single_row_fields);
    assert_eq!(
        output.records,
        vec![json!({
            "attributes": {"type": "FlowDefinition", "url": format!("{PREFIX}/FlowDefinition/300A")},
            "Id": "300A",
            "DeveloperName": "Account_After_Save",
        })]
    );
}

#[test]
fn relationship_paths_nest_and_share_one_record_and_null_relationship_is_null() {
    let output = query(
        "SELECT Id, ActiveVersion.VersionNumber, LatestVersion.VersionNumber, \
         ActiveVersion.Status FROM FlowDefinition WHERE Id IN ('300A', '300B')",
    );
    assert_eq!(
        output.records,
        vec![
            json!({
                "attributes": {"type": "FlowDefinition", "url": format!("{PREFIX}/FlowDefinition/300A")},
                "Id": "300A",
                "ActiveVersion": {
                    "attributes": {"type": "Flow", "url": format!("{PREFIX}/Flow/301A3")},
                    "VersionNumber": 3,
                    "Status": "Active",
                },
                "LatestVersion": {
                    "attributes": {"type": "Flow", "url": format!("{PREFIX}/Flow/301A4")},
                    "VersionNumber": 4,
                },
            }),
            json!({
                "attributes": {"type": "FlowDefinition", "url": format!("{PREFIX}/FlowDefinition/300B")},
                "Id": "300B",
                "ActiveVersion": null,
                "LatestVersion": {
                    "attributes": {"type": "Flow", "url": format!("{PREFIX}/Flow/301B1")},
                    "VersionNumber": 1,
                },
            }),
        ]
    );
}

#[test]
fn names_match_case_insensitively_and_output_is_canonical() {
    let output = query(
        "select id, developername, activeversion.versionnumber from flowdefinition \
         where DEVELOPERNAME = 'ACCOUNT_after_SAVE'",
    );
    assert_eq!(output.object, "FlowDefinition");
    assert_eq!(output.records.len(), 1);
    let record = &output.records[0];
    assert_eq!(record["DeveloperName"], "Account_After_Save");
    assert_eq!(record["ActiveVersion"]["VersionNumber"], 3);
    assert_eq!(record["attributes"]["type"], "FlowDefinition");
    assert!(record.get("developername").is_none());
}

#[test]
fn object_without_id_uses_durable_id_in_url() {
    let output = query(
        "SELECT DurableId, QualifiedApiName FROM EntityDefinition WHERE QualifiedApiName = 'Campaign'",
    );
    assert_eq!(
        output.records,
        vec![json!({
            "attributes": {"type": "EntityDefinition", "url": format!("{PREFIX}/EntityDefinition/Campaign")},
            "DurableId": "Campaign",
            "QualifiedApiName": "Campaign",
        })]
    );
}

#[test]
fn field_absent_from_row_is_null() {
    let output = query("SELECT NamespacePrefix FROM FlowDefinition WHERE Id = '300D'");
    assert_eq!(output.records[0]["NamespacePrefix"], Value::Null);
    assert!(
        output.records[0]
            .as_object()
            .is_some_and(|r| r.contains_key("NamespacePrefix"))
    );
}

#[test]
fn deep_paths_nest_recursively() {
    let output = query(
        "SELECT Id, Definition.ActiveVersion.VersionNumber, Definition.DeveloperName FROM Flow",
    );
    assert_eq!(output.object, "Flow");
    assert_eq!(
        output.records,
        vec![json!({
            "attributes": {"type": "Flow", "url": format!("{PREFIX}/Flow/301A3")},
            "Id": "301A3",
            "Definition": {
                "attributes": {"type": "FlowDefinition", "url": format!("{PREFIX}/FlowDefinition/300A")},
                "ActiveVersion": {
                    "attributes": {"type": "Flow", "url": format!("{PREFIX}/Flow/301A3")},
                    "VersionNumber": 3,
                },
                "DeveloperName": "Account_After_Save",
            },
        })]
    );
}

#[test]
fn single_row_fields_are_flagged() {
    assert!(query("SELECT Id, FullName FROM FlowDefinition").selects_single_row_fields);
    assert!(query("SELECT metadata FROM FlowDefinition").selects_single_row_fields);
    assert!(!query("SELECT Id, DeveloperName FROM FlowDefinition").selects_single_row_fields);
}

// ---- WHERE --------------------------------------------------------------------------------

#[test]
fn numeric_comparison_operators() {
    let v = "ActiveVersion.VersionNumber";
    assert_eq!(flows_where(&format!("{v} = 2")), ["300C"]);
    assert_eq!(flows_where(&format!("{v} > 2")), ["300A"]);
    assert_eq!(flows_where(&format!("{v} >= 2")), ["300A", "300C"]);
    assert_eq!(flows_where(&format!("{v} < 3")), ["300C"]);
    assert_eq!(flows_where(&format!("{v} <= 3")), ["300A", "300C"]);
    assert_eq!(flows_where(&format!("{v} < 2.5")), ["300C"]);
    assert_eq!(flows_where(&format!("{v} > -1")), ["300A", "300C"]);
    // Null values satisfy `!=`, never an ordering.
    assert_eq!(flows_where(&format!("{v} != 2")), ["300A", "300B", "300D"]);
    assert_eq!(flows_where(&format!("{v} <> 2")), ["300A", "300B", "300D"]);
}

#[test]
fn string_comparisons_are_case_insensitive() {
    assert_eq!(flows_where("DeveloperName < 'm'"), ["300A", "300B", "300C"]);
    assert_eq!(flows_where("DeveloperName > 'LEAD'"), ["300C", "300D"]);
    assert_eq!(
        flows_where("DeveloperName >= 'LEAD_ROUTER'"),
        ["300C", "300D"]
    );
    assert_eq!(
        flows_where("DeveloperName <= 'lead_router'"),
        ["300A", "300B", "300C"]
    );
    assert_eq!(
        flows_where("DeveloperName != 'LEAD_ROUTER'"),
        ["300A", "300B", "300D"]
    );
}

#[test]
fn boolean_comparisons() {
    let rules = |c: &str| ids(&format!("SELECT Id FROM ValidationRule WHERE {c}"));
    assert_eq!(rules("Active = TRUE"), ["03d1", "03d3"]);
    assert_eq!(rules("Active = false"), ["03d2"]);
    assert_eq!(rules("Active != true"), ["03d2"]);
}

#[test]
fn null_tests() {
    assert_eq!(
        flows_where("NamespacePrefix = NULL"),
        ["300A", "300B", "300D"]
    );
    assert_eq!(flows_where("NamespacePrefix != null"), ["300C"]);
    assert_eq!(
        flows_where("ActiveVersion.VersionNumber = NULL"),
        ["300B", "300D"]
    );
    assert_eq!(
        flows_where("LatestVersion.Status != NULL"),
        ["300A", "300B", "300C"]
    );
}

#[test]
fn in_and_not_in() {
    assert_eq!(
        flows_where("DeveloperName IN ('lead_router', 'CONTACT_before_save')"),
        ["300B", "300C"]
    );
    assert_eq!(
        flows_where("DeveloperName NOT IN ('lead_router', 'CONTACT_before_save')"),
        ["300A", "300D"]
    );
    assert_eq!(
        flows_where("NamespacePrefix NOT IN ('pkg')"),
        ["300A", "300B", "300D"]
    );
    assert_eq!(
        flows_where("NamespacePrefix IN (NULL)"),
        ["300A", "300B", "300D"]
    );
    assert_eq!(
        flows_where("LatestVersion.VersionNumber IN (1, 4)"),
        ["300A", "300B"]
    );
}

#[test]
fn relationship_filter_like_the_reference_queries() {
    let output = query(
        "SELECT Id, Active, EntityDefinitionId, EntityDefinition.QualifiedApiName, NamespacePrefix, \
         ValidationName FROM ValidationRule \
         WHERE EntityDefinition.QualifiedApiName IN ('Account') AND NamespacePrefix = NULL",
    );
    assert_eq!(output.records.len(), 1);
    assert_eq!(output.records[0]["Id"], "03d1");
    assert_eq!(
        output.records[0]["EntityDefinition"],
        json!({
            "attributes": {"type": "EntityDefinition", "url": format!("{PREFIX}/EntityDefinition/Account")},
            "QualifiedApiName": "Account",
        })
    );
}

#[test]
fn like_patterns() {
    assert_eq!(flows_where("DeveloperName LIKE '%save'"), ["300A", "300B"]);
    assert_eq!(flows_where("DeveloperName LIKE 'ACCOUNT%'"), ["300A"]);
    assert_eq!(flows_where("DeveloperName LIKE '_ead%'"), ["300C"]);
    assert_eq!(flows_where(r"DeveloperName LIKE '%d\_r%'"), ["300C"]);
    assert_eq!(
        flows_where("DeveloperName LIKE '%'"),
        ["300A", "300B", "300C", "300D"]
    );
    assert!(flows_where("DeveloperName LIKE 'save'").is_empty());
    // A null never matches.
    assert!(flows_where("NamespacePrefix LIKE '%'") == ["300C"]);
}

#[test]
fn and_or_not_and_parentheses() {
    assert_eq!(
        flows_where("NamespacePrefix = NULL AND ActiveVersion.VersionNumber != NULL"),
        ["300A"]
    );
    assert_eq!(
        flows_where("DeveloperName = 'lead_router' OR ActiveVersion.VersionNumber = 3"),
        ["300A", "300C"]
    );
    assert_eq!(
        flows_where("NOT DeveloperName LIKE '%save'"),
        ["300C", "300D"]
    );
    assert_eq!(
        flows_where("(NOT DeveloperName LIKE 'a%') AND NamespacePrefix = NULL"),
        ["300B", "300D"]
    );
    assert_eq!(
        flows_where("Id = '300A' AND Id = '300B' AND Id = '300C'"),
        Vec::<String>::new()
    );
}

#[test]
fn grouping_decides_and_or_and_unparenthesised_mix_is_refused() {
    let a = "DeveloperName = 'lead_router'";
    let b = "NamespacePrefix = NULL";
    let c = "ActiveVersion.VersionNumber = 3";
    assert_eq!(
        flows_where(&format!("{a} OR ({b} AND {c})")),
        ["300A", "300C"]
    );
    assert_eq!(flows_where(&format!("({a} OR {b}) AND {c}")), ["300A"]);

    // Salesforce refuses mixing AND and OR at one level rather than picking a precedence.
    let soql = format!("SELECT Id FROM FlowDefinition WHERE {a} OR {b} AND {c}");
    let err = error(&soql);
    let column = soql.find(" AND ").map_or(0, |i| i + 2);
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert_eq!(
        err.message,
        caret(&soql, 1, column, "unexpected token: 'AND'")
    );
}

#[test]
fn not_after_a_connective_needs_parentheses() {
    let soql = "SELECT Id FROM FlowDefinition WHERE Id = '300A' OR NOT Id = '300B'";
    let err = error(soql);
    assert_eq!(err.message, caret(soql, 1, 52, "unexpected token: 'NOT'"));
    assert_eq!(
        flows_where("Id = '300A' OR (NOT Id != '300B')"),
        ["300A", "300B"]
    );
}

// ---- ORDER BY / LIMIT ---------------------------------------------------------------------

#[test]
fn order_by_is_case_insensitive_and_stable() {
    let base = "SELECT Id FROM FlowDefinition ORDER BY";
    assert_eq!(
        ids(&format!("{base} DeveloperName")),
        ["300A", "300B", "300C", "300D"]
    );
    assert_eq!(
        ids(&format!("{base} DeveloperName DESC")),
        ["300D", "300C", "300B", "300A"]
    );
    assert_eq!(
        ids(&format!("{base} DeveloperName asc")),
        ["300A", "300B", "300C", "300D"]
    );
    // Equal keys (null prefixes) keep catalog order.
    assert_eq!(
        ids(&format!("{base} NamespacePrefix DESC")),
        ["300C", "300A", "300B", "300D"]
    );
}

#[test]
fn order_by_puts_nulls_first_ascending_and_last_descending() {
    let base = "SELECT Id FROM FlowDefinition ORDER BY ActiveVersion.VersionNumber";
    assert_eq!(ids(base), ["300B", "300D", "300C", "300A"]);
    assert_eq!(
        ids(&format!("{base} DESC")),
        ["300A", "300C", "300B", "300D"]
    );
    assert_eq!(
        ids(&format!("{base} NULLS LAST")),
        ["300C", "300A", "300B", "300D"]
    );
    assert_eq!(
        ids(&format!("{base} DESC NULLS FIRST")),
        ["300B", "300D", "300A", "300C"]
    );
}

#[test]
fn order_by_several_keys() {
    assert_eq!(
        ids("SELECT Id FROM FlowDefinition ORDER BY NamespacePrefix DESC, DeveloperName DESC"),
        ["300C", "300D", "300B", "300A"]
    );
}

#[test]
fn limit_truncates_after_sorting() {
    assert_eq!(
        ids("SELECT Id FROM FlowDefinition ORDER BY DeveloperName DESC LIMIT 2"),
        ["300D", "300C"]
    );
    assert!(ids("SELECT Id FROM FlowDefinition LIMIT 0").is_empty());
    assert_eq!(
        ids("SELECT Id FROM FlowDefinition LIMIT 99999999999999999999999").len(),
        4
    );
}

#[test]
fn limit_must_be_a_non_negative_integer() {
    let soql = "SELECT Id FROM FlowDefinition LIMIT -1";
    assert_eq!(
        error(soql).message,
        caret(soql, 1, 37, "LIMIT must be a non-negative value")
    );
    let soql = "SELECT Id FROM FlowDefinition LIMIT +1";
    assert_eq!(
        error(soql).message,
        caret(soql, 1, 37, "unexpected token: '+1'")
    );
    let soql = "SELECT Id FROM FlowDefinition LIMIT 1.5";
    assert_eq!(
        error(soql).message,
        caret(soql, 1, 37, "unexpected token: '1.5'")
    );
}

// ---- errors -------------------------------------------------------------------------------

#[test]
fn empty_query_is_refused() {
    for soql in ["", "   ", " \n\t "] {
        let err = error(soql);
        assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
        assert_eq!(err.message, "SOQL statements cannot be empty or null");
    }
}

#[test]
fn unknown_object_matches_the_recorded_salesforce_message() {
    let err = error("select count() from XYZZY");
    assert_eq!(err.code, SoqlErrorCode::InvalidType);
    assert_eq!(
        err.message,
        "\nselect count() from XYZZY\n                    ^\nERROR at Row:1:Column:21\nsObject type \
         'XYZZY' is not supported. If you are attempting to use a custom object, be sure to \
         append the '__c' after the entity name. Please reference your WSDL or the describe \
         call for the appropriate names."
    );
    assert_eq!(
        err.to_string(),
        format!("INVALID_TYPE: {}", err.message),
        "Display carries the code"
    );
}

#[test]
fn unknown_object_on_a_later_row_reports_that_row() {
    let err = error("SELECT Id\n  FROM Xyzzy\nLIMIT 1");
    assert_eq!(err.code, SoqlErrorCode::InvalidType);
    assert!(
        err.message
            .starts_with("\n  FROM Xyzzy\n       ^\nERROR at Row:2:Column:8\nsObject type 'Xyzzy'"),
        "{}",
        err.message
    );
}

#[test]
fn unknown_field_in_select() {
    let soql = "SELECT Id, Foo FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(soql, 1, 12, &no_such_column("Foo", "FlowDefinition"))
    );
}

#[test]
fn unknown_field_behind_a_relationship_names_the_target_entity() {
    let soql = "SELECT Id, ActiveVersion.Nope FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(soql, 1, 12, &no_such_column("Nope", "Flow"))
    );
}

#[test]
fn relationship_name_alone_is_not_a_column() {
    let soql = "SELECT ActiveVersion FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            8,
            &no_such_column("ActiveVersion", "FlowDefinition")
        )
    );
}

#[test]
fn path_through_a_non_relationship() {
    let soql = "SELECT Id, DeveloperName.Foo FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            12,
            "Didn't understand relationship 'DeveloperName' in field path. If you are \
             attempting to use a custom relationship, be sure to append the '__r' after the \
             custom relationship name. Please reference your WSDL or the describe call for the \
             appropriate names."
        )
    );
}

#[test]
fn unknown_fields_in_where_and_order_by() {
    let err = error("SELECT Id\nFROM FlowDefinition\nWHERE Nope = 'x'");
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(
            "WHERE Nope = 'x'",
            3,
            7,
            &no_such_column("Nope", "FlowDefinition")
        )
    );

    let soql = "SELECT Id FROM FlowDefinition ORDER BY LatestVersion.Nope";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::InvalidField);
    assert_eq!(
        err.message,
        caret(soql, 1, 40, &no_such_column("Nope", "Flow"))
    );
}

#[test]
fn duplicate_fields_are_refused_after_canonicalising() {
    let err = error("SELECT Id, DeveloperName, id FROM FlowDefinition");
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert_eq!(err.message, "duplicate field selected: id");
    let err = error(
        "SELECT ActiveVersion.VersionNumber, activeversion.VERSIONNUMBER FROM FlowDefinition",
    );
    assert_eq!(
        err.message,
        "duplicate field selected: activeversion.VERSIONNUMBER"
    );
    // The same field through two relationships is not a duplicate.
    assert_eq!(
        query(
            "SELECT ActiveVersion.VersionNumber, LatestVersion.VersionNumber FROM FlowDefinition"
        )
        .records
        .len(),
        4
    );
}

#[test]
fn subqueries_and_functions_are_refused_as_unsupported() {
    let soql = "SELECT Id, (SELECT Id FROM Versions) FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            12,
            "a subquery is not supported by the simulated org"
        )
    );

    let soql = "SELECT COUNT() FROM FlowDefinition";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            8,
            "the function COUNT() is not supported by the simulated org"
        )
    );

    let soql = "SELECT Id FROM FlowDefinition WHERE Id IN (SELECT DefinitionId FROM Flow)";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert!(
        err.message
            .contains("ERROR at Row:1:Column:43\na semi-join subquery is not supported")
    );
}

#[test]
fn unsupported_clauses_are_named() {
    let soql = "SELECT Id FROM FlowDefinition GROUP BY Id";
    assert_eq!(
        error(soql).message,
        caret(
            soql,
            1,
            31,
            "GROUP BY is not supported by the simulated org"
        )
    );
    let soql = "SELECT Id FROM FlowDefinition LIMIT 1 OFFSET 2";
    assert_eq!(
        error(soql).message,
        caret(soql, 1, 39, "OFFSET is not supported by the simulated org")
    );
}

#[test]
fn unexpected_tokens_carry_caret_and_text() {
    let cases = [
        (
            "SELECT Id FROM FlowDefinition WHERE",
            36,
            "unexpected token: <EOF>",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE Id = = 'x'",
            42,
            "unexpected token: '='",
        ),
        (
            "SELECT Id, FROM FlowDefinition",
            12,
            "unexpected token: 'FROM'",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE Id = :ids",
            42,
            "unexpected token: ':'",
        ),
        (
            "SELECT Id FROM FlowDefinition ORDER Id",
            37,
            "unexpected token: 'Id'",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE Id IN ()",
            44,
            "unexpected token: ')'",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE Id LIKE 5",
            45,
            "unexpected token: '5'",
        ),
        (
            "SELECT Id FROM FlowDefinition extra",
            31,
            "unexpected token: 'extra'",
        ),
        ("UPDATE FlowDefinition", 1, "unexpected token: 'UPDATE'"),
        (
            "SELECT Id, NOT(Id) FROM FlowDefinition",
            12,
            "unexpected token: 'NOT'",
        ),
    ];
    for (soql, column, detail) in cases {
        let err = error(soql);
        assert_eq!(err.code, SoqlErrorCode::MalformedQuery, "{soql}");
        assert_eq!(err.message, caret(soql, 1, column, detail), "{soql}");
    }
}

#[test]
fn eof_caret_sits_after_the_last_token_on_its_row() {
    let err = error("SELECT Id\nFROM FlowDefinition\nWHERE Id =\n");
    assert_eq!(
        err.message,
        caret("WHERE Id =", 3, 11, "unexpected token: <EOF>")
    );
}

#[test]
fn caret_columns_count_characters() {
    let soql = "SELECT Id FROM FlowDefinition WHERE DeveloperName = 'Ünïcödé' AND Ïd = '1'";
    let err = error(soql);
    assert_eq!(err.message, caret(soql, 1, 67, "unexpected token: 'Ï'"));
    assert!(flows_where("DeveloperName = 'Ünïcödé'").is_empty());
}

#[test]
fn literal_types_must_match_the_field() {
    let soql = "SELECT Id FROM ValidationRule WHERE Active = 'true'";
    let err = error(soql);
    assert_eq!(err.code, SoqlErrorCode::MalformedQuery);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            46,
            "value of filter criterion for field 'Active' must be of type boolean and should \
             not be enclosed in quotes"
        )
    );
    let cases = [
        (
            "SELECT Id FROM FlowDefinition WHERE ActiveVersion.VersionNumber = '3'",
            "field 'VersionNumber' must be of type integer and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE DeveloperName = 5",
            "field 'DeveloperName' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM FlowDefinition WHERE DeveloperName IN ('a', TRUE)",
            "field 'DeveloperName' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM ValidationRule WHERE Active LIKE 'tr%'",
            "field 'Active' must be of type boolean and should not be enclosed in quotes",
        ),
    ];
    for (soql, detail) in cases {
        let err = error(soql);
        assert_eq!(err.code, SoqlErrorCode::MalformedQuery, "{soql}");
        assert!(err.message.ends_with(detail), "{soql}: {}", err.message);
    }
}

#[test]
fn string_literal_escapes() {
    assert_eq!(flows_where(r"DeveloperName = 'lead\_router'"), ["300C"]);
    assert!(flows_where(r"DeveloperName = 'it\'s \\ \n \t'").is_empty());
    let soql = r"SELECT Id FROM FlowDefinition WHERE Id = 'a\qb'";
    let err = error(soql);
    assert_eq!(
        err.message,
        caret(
            soql,
            1,
            44,
            "invalid escape sequence '\\q' in string literal"
        )
    );
    let soql = "SELECT Id FROM FlowDefinition WHERE Id = 'open";
    assert_eq!(
        error(soql).message,
        caret(soql, 1, 42, "unterminated string literal")
    );
}

#[test]
fn garbage_never_panics_and_is_refused() {
    let long_select = format!("SELECT {}Id FROM FlowDefinition", "Id, ".repeat(20_000));
    let deep = format!(
        "SELECT Id FROM FlowDefinition WHERE {}Id = 'x'{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let long_junk = "é(')\\".repeat(5_000);
    let inputs: Vec<&str> = vec![
        "SELECT",
        "SELECT ,",
        "(",
        ")",
        "'",
        "'abc",
        "'\\",
        "SELECT Id FROM",
        "SELECT Id FROM FlowDefinition WHERE (",
        "SELECT Id FROM FlowDefinition WHERE (Id = 'x'",
        "SELECT Id FROM FlowDefinition WHERE Id IN (",
        "SELECT Id FROM FlowDefinition WHERE Id NOT",
        "SELECT Id FROM FlowDefinition WHERE NOT",
        "SELECT Id FROM FlowDefinition ORDER BY",
        "SELECT Id FROM FlowDefinition ORDER BY Id NULLS",
        "SELECT Id FROM FlowDefinition LIMIT",
        "SELECT Id. FROM FlowDefinition",
        "SELECT .Id FROM FlowDefinition",
        "SELECT COUNT( FROM FlowDefinition",
        "SELECT (SELECT",
        "SELECT Id FROM FlowDefinition WHERE Id IN (SELECT",
        "🦀🦀🦀",
        "SELECT 🦀 FROM FlowDefinition",
        "\u{0}\u{1}\u{7f}",
        "SELECT Id FROM FlowDefinition WHERE Id = -",
        "SELECT Id FROM FlowDefinition WHERE Id = 1e5",
        "SELECT TYPEOF What FROM Task",
        &long_select,
        &deep,
        &long_junk,
    ];
    for soql in inputs {
        let result = std::panic::catch_unwind(|| run(soql, &TestOrg, PREFIX));
        match result {
            Ok(Err(err)) => assert!(
                err.code == SoqlErrorCode::MalformedQuery && !err.message.is_empty(),
                "{soql:.80}: {err}"
            ),
            Ok(Ok(output)) => panic!("garbage accepted: {soql:.80} -> {output:?}"),
            Err(_) => panic!("panicked on {soql:.80}"),
        }
    }
}
