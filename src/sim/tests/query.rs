//! `/query` and `/tooling/query`: shapes, paging, the one-row rule and endpoint catalogs.

use super::*;

fn large_page(page_size: usize) -> Scenario {
    scenario(&format!(
        "[query]\npage_size = {page_size}\n[generate]\nseed = 5\nvalidation_rules = 23\n"
    ))
}

#[tokio::test]
async fn organization_and_user_on_the_standard_endpoint() {
    let org = Org::mixed().await;
    let answer = org
        .query("SELECT Id, Name, OrganizationType, IsSandbox, InstanceName, NamespacePrefix, TrialExpirationDate FROM Organization")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.headers["content-type"],
        "application/json;charset=UTF-8"
    );
    let keys: Vec<&String> = answer.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["done", "records", "totalSize"]);
    let record = &answer.body["records"][0];
    assert_eq!(record["IsSandbox"], true);
    assert_eq!(record["OrganizationType"], "Enterprise Edition");
    assert_eq!(record["NamespacePrefix"], Value::Null);
    assert_eq!(record["TrialExpirationDate"], Value::Null);
    assert_eq!(record["attributes"]["type"], "Organization");
    let user = org
        .query("SELECT Id, Username, Name, Email, IsActive FROM User")
        .await;
    assert_eq!(user.body["records"][0]["Name"], "Integration User");
    assert_eq!(user.body["records"][0]["IsActive"], true);
    // `%20` works as well as `+`.
    let spaced = org
        .get(&format!("{V}/query/?q=SELECT%20Id%20FROM%20Organization"))
        .await;
    assert_eq!(spaced.body["totalSize"], 1);
}

#[tokio::test]
async fn flow_definition_view_is_standard_and_strict() {
    let org = Org::mixed().await;
    let answer = org
        .query(
            "SELECT Id, DurableId, ApiName, IsActive, ActiveVersionId, LatestVersionId, TriggerObjectOrEventLabel, TriggerObjectOrEvent.QualifiedApiName, VersionNumber \
             FROM FlowDefinitionView WHERE ApiName = 'Contact_After_Save'",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let record = &answer.body["records"][0];
    assert_eq!(record["Id"], "000000000000000AAA");
    assert_eq!(record["DurableId"], org.flow_id("Contact_After_Save"));
    // Active v2 is older than Draft v3: IsActive is false in the strict reading.
    assert_eq!(record["IsActive"], false);
    assert_ne!(record["ActiveVersionId"], record["LatestVersionId"]);
    assert_eq!(record["VersionNumber"], 3);
    assert_eq!(record["TriggerObjectOrEventLabel"], "Contact");
    assert_eq!(
        record["TriggerObjectOrEvent"]["QualifiedApiName"],
        "Contact"
    );
    let event = org
        .query("SELECT TriggerObjectOrEventLabel, TriggerObjectOrEventId FROM FlowDefinitionView WHERE ApiName = 'Order_Event_Listener'")
        .await;
    assert_eq!(
        event.body["records"][0]["TriggerObjectOrEventLabel"],
        "Order Event"
    );
    assert!(
        event.body["records"][0]["TriggerObjectOrEventId"]
            .as_str()
            .unwrap()
            .starts_with("01I")
    );

    let tooling = org.tooling_query("SELECT Id FROM FlowDefinitionView").await;
    assert_eq!(tooling.status, StatusCode::BAD_REQUEST);
    assert_eq!(tooling.error_code(), "INVALID_TYPE");
    let wrong_side = org.query("SELECT Id FROM FlowDefinition").await;
    assert_eq!(wrong_side.error_code(), "INVALID_TYPE");
}

#[tokio::test]
async fn tooling_shape_relationships_and_errors() {
    let org = Org::mixed().await;
    let answer = org
        .tooling_query("SELECT Id, DeveloperName, ActiveVersion.VersionNumber, LatestVersion.VersionNumber FROM FlowDefinition WHERE DeveloperName IN ('Contact_After_Save', 'Account_Legacy_Sync')")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = &answer.body;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "done",
            "entityTypeName",
            "queryLocator",
            "records",
            "size",
            "totalSize"
        ]
    );
    assert_eq!(body["entityTypeName"], "FlowDefinition");
    assert_eq!(body["queryLocator"], Value::Null);
    assert_eq!(body["size"], 2);
    let records = body["records"].as_array().unwrap();
    let contact = records
        .iter()
        .find(|r| r["DeveloperName"] == "Contact_After_Save")
        .unwrap();
    assert_eq!(contact["ActiveVersion"]["VersionNumber"], 2);
    assert_eq!(contact["LatestVersion"]["VersionNumber"], 3);
    assert_eq!(contact["ActiveVersion"]["attributes"]["type"], "Flow");
    let legacy = records
        .iter()
        .find(|r| r["DeveloperName"] == "Account_Legacy_Sync")
        .unwrap();
    assert_eq!(legacy["ActiveVersion"], Value::Null);

    let rules = org
        .tooling_query("SELECT Id, Active, EntityDefinition.QualifiedApiName FROM ValidationRule WHERE EntityDefinition.QualifiedApiName = 'Invoice__c'")
        .await;
    assert_eq!(rules.body["totalSize"], 1, "{}", rules.body);
    let entity = org
        .tooling_query("SELECT DurableId, QualifiedApiName FROM EntityDefinition WHERE QualifiedApiName IN ('Account', 'Invoice__c')")
        .await;
    let ids: Vec<&str> = entity.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["DurableId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"Account"));
    assert!(ids.iter().any(|id| id.starts_with("01I")));
    let wr = org
        .tooling_query(
            "SELECT Id, Name, TableEnumOrId FROM WorkflowRule WHERE TableEnumOrId = 'Account'",
        )
        .await;
    assert_eq!(wr.body["records"][0]["Name"], "Set Account Rating");
    // WorkflowRule has no Active field.
    assert_eq!(
        org.tooling_query("SELECT Id, Active FROM WorkflowRule")
            .await
            .error_code(),
        "INVALID_FIELD"
    );
    let trigger = org
        .tooling_query(
            "SELECT Name, ApiVersion, Status FROM ApexTrigger WHERE Name = 'ContactTrigger'",
        )
        .await;
    assert_eq!(trigger.body["records"][0]["ApiVersion"], json!(64.0));
    let empty = org.get(&format!("{V}/query?q=")).await;
    assert_eq!(empty.error_code(), "MALFORMED_QUERY");
}

#[tokio::test]
async fn the_one_row_rule() {
    let org = Org::mixed().await;
    let many = org
        .tooling_query("SELECT Id, FullName, Metadata FROM ValidationRule")
        .await;
    assert_eq!(many.status, StatusCode::BAD_REQUEST);
    assert_eq!(many.error_code(), "MALFORMED_QUERY");
    assert_eq!(
        many.message(),
        "When retrieving results with Metadata or FullName fields, the query qualifications must specify no more than one row for retrieval. Result size: 8"
    );
    let id = org.id_of("validation_rules", "full_name", "Account.Require_Phone");
    let one = org
        .tooling_query(&format!(
            "SELECT Id, FullName, Metadata FROM ValidationRule WHERE Id = '{id}'"
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["records"][0]["FullName"], "Account.Require_Phone");
    assert_eq!(
        one.body["records"][0]["Metadata"]["errorMessage"],
        "Enter a phone number."
    );
    let limited = org
        .tooling_query("SELECT FullName FROM WorkflowRule LIMIT 1")
        .await;
    assert_eq!(limited.status, StatusCode::OK);
}

#[tokio::test]
async fn standard_pagination_across_three_pages() {
    let org = Org::start(large_page(5)).await;
    let first = org
        .query("SELECT Id, ApiName FROM FlowDefinitionView")
        .await;
    // No flows in this org: one empty page.
    assert_eq!(
        first.body,
        json!({"totalSize": 0, "done": true, "records": []})
    );
    org.handle.reset_counters();
    let first = org
        .query("SELECT DurableId, QualifiedApiName FROM EntityDefinition")
        .await;
    let total = first.body["totalSize"].as_u64().unwrap();
    assert!(total > 15, "{total}");
    let mut seen = Vec::new();
    let mut page = first;
    let mut pages = 1;
    loop {
        assert_eq!(page.body["totalSize"], total);
        assert!(page.body.get("size").is_none());
        assert!(page.body.get("queryLocator").is_none());
        seen.extend(
            page.body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["QualifiedApiName"].clone()),
        );
        if page.body["done"] == true {
            assert!(page.body.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page.body["nextRecordsUrl"].as_str().unwrap().to_owned();
        assert!(next.starts_with("/services/data/v66.0/query/01g"), "{next}");
        assert!(next.ends_with(&format!("-{}", pages * 5)), "{next}");
        page = org.get(&next).await;
        pages += 1;
    }
    assert_eq!(pages, total.div_ceil(5));
    assert!(pages >= 3);
    assert_eq!(seen.len() as u64, total);
    assert_eq!(org.handle.counters()["query_more"], pages - 1);
}

#[tokio::test]
async fn tooling_pagination_and_bad_locators() {
    let org = Org::start(large_page(10)).await;
    let first = org
        .tooling_query("SELECT Id, ValidationName FROM ValidationRule")
        .await;
    assert_eq!(first.body["totalSize"], 23);
    assert_eq!(first.body["size"], 10);
    assert_eq!(first.body["done"], false);
    let next = first.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with("/services/data/v66.0/tooling/query/01g"),
        "{next}"
    );
    assert_eq!(
        next.rsplit('/').next().unwrap(),
        first.body["queryLocator"].as_str().unwrap()
    );
    let second = org.get(&next).await;
    assert_eq!(second.body["size"], 10);
    assert_eq!(second.body["totalSize"], 23);
    let third = org
        .get(second.body["nextRecordsUrl"].as_str().unwrap())
        .await;
    assert_eq!(third.body["size"], 3);
    assert_eq!(third.body["done"], true);
    assert_eq!(third.body["queryLocator"], Value::Null);
    assert!(third.body.get("nextRecordsUrl").is_none());
    let mut names: Vec<Value> = [&first, &second, &third]
        .iter()
        .flat_map(|p| {
            p.body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["ValidationName"].clone())
        })
        .collect();
    names.dedup();
    assert_eq!(names.len(), 23);
    for bad in ["01gDn0000000000AAA-10", "nonsense", "01gDn0000000000AAA"] {
        let answer = org.get(&format!("{V}/tooling/query/{bad}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error_code(), "INVALID_QUERY_LOCATOR");
    }
    // A tooling locator is not a standard one.
    let locator = next.rsplit('/').next().unwrap();
    assert_eq!(
        org.get(&format!("{V}/query/{locator}")).await.error_code(),
        "INVALID_QUERY_LOCATOR"
    );
}

#[tokio::test]
async fn the_large_org_answers_whole_kind_queries() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sim/large.toml");
    let org = Org::start(Scenario::load(&path).unwrap()).await;
    let started = std::time::Instant::now();
    let flows = org
        .tooling_query("SELECT Id, DeveloperName, NamespacePrefix, ActiveVersion.VersionNumber, LatestVersion.VersionNumber FROM FlowDefinition")
        .await;
    assert_eq!(flows.body["totalSize"], 650);
    let view = org
        .query("SELECT DurableId, ApiName, ProcessType, TriggerType, TriggerObjectOrEvent.QualifiedApiName, ActiveVersionId FROM FlowDefinitionView WHERE ProcessType = 'Workflow'")
        .await;
    assert!(
        view.body["totalSize"].as_u64().unwrap() > 50,
        "{}",
        view.body
    );
    let rules = org
        .tooling_query("SELECT Id, Active, EntityDefinition.QualifiedApiName FROM ValidationRule")
        .await;
    assert_eq!(rules.body["totalSize"], 400);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_uri_over_16384_bytes_is_refused_with_414_and_not_charged() {
    let org = Org::mixed().await;
    let ids = |n: usize| -> String {
        (0..n)
            .map(|i| format!("%27300XX{i:010}AAA%27"))
            .collect::<Vec<_>>()
            .join("%2C")
    };
    let path = |n: usize| {
        format!(
            "{V}/tooling/query?q=SELECT+Id+FROM+FlowDefinition+WHERE+Id+IN+({})",
            ids(n)
        )
    };
    let fits = path(500);
    let too_long = path(800);
    assert!(fits.len() < 16_000 && too_long.len() > 16_384);
    let answer = org.get(&fits).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let refused = org.get(&too_long).await;
    assert_eq!(refused.status, StatusCode::URI_TOO_LONG);
    let counters = org.handle.counters();
    assert_eq!(counters.get("uri_too_long"), Some(&1));
    assert_eq!(counters.get("tooling_query"), Some(&1), "{counters:?}");
    assert_eq!(counters.get("api_requests"), Some(&1), "{counters:?}");
}
