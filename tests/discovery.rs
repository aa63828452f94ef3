//! Discovery against answers the simulated org cannot be made to give: two reads that
//! disagree because a flow changed between them, and malformed version numbers.

mod common;

use std::collections::BTreeSet;

use pauseplay::automation::{Kind, ObservedState, Scope, discover};
use serde_json::{Value, json};

use common::mock::{Mock, Recorded, Reply, token_reply};
use common::{client, settings};

const TOKEN: &str = "00DXX0000001abc!discovery-token";

fn query_text(request: &Recorded) -> String {
    let query = request.query.clone().unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn records(records: Value) -> Reply {
    let count = records.as_array().map_or(0, Vec::len);
    Reply::json(
        200,
        json!({"totalSize": count, "done": true, "records": records}),
    )
}

/// An org with one record-triggered flow. The view names version `301X3` as active; the
/// Tooling row, read a moment later, names `301X4` (someone activated v4 in between), with
/// `tooling_active_number` as its number.
async fn racing_org(tooling_active_number: Value, version_record: Value) -> Mock {
    Mock::start(move |request, _| {
        let path = request.path.as_str();
        if path == "/services/oauth2/token" {
            return token_reply(request, TOKEN);
        }
        let soql = query_text(request);
        match path {
            "/services/data/v66.0/query" if soql.contains("FROM Organization") => records(json!([{
                "Id": "00DXX0000001abcEAA", "Name": "Acme", "IsSandbox": true,
                "OrganizationType": "Enterprise Edition", "NamespacePrefix": null
            }])),
            "/services/data/v66.0/query" if soql.contains("FROM FlowDefinitionView") => {
                records(json!([{
                    "DurableId": "300XX0000000001AAA", "ApiName": "Race_Flow",
                    "ProcessType": "AutoLaunchedFlow", "TriggerType": "RecordAfterSave",
                    "TriggerObjectOrEvent": {"QualifiedApiName": "Account"},
                    "ActiveVersionId": "301XX0000000003AAA", "NamespacePrefix": null,
                    "ManageableState": "unmanaged"
                }]))
            }
            "/services/data/v66.0/tooling/query" if soql.contains("FROM FlowDefinition") => {
                records(json!([{
                    "Id": "300XX0000000001AAA",
                    "ActiveVersionId": "301XX0000000004AAA",
                    "ActiveVersion": {"VersionNumber": tooling_active_number.clone()},
                    "LatestVersion": {"VersionNumber": 4}
                }]))
            }
            "/services/data/v66.0/tooling/composite" => {
                let body: Value = serde_json::from_str(&request.body).expect("composite JSON");
                let items: Vec<Value> = body["compositeRequest"]
                    .as_array()
                    .expect("subrequests")
                    .iter()
                    .map(|sub| {
                        json!({"body": version_record.clone(), "httpHeaders": {},
                               "httpStatusCode": 200, "referenceId": sub["referenceId"]})
                    })
                    .collect();
                Reply::json(200, json!({"compositeResponse": items}))
            }
            _ => Reply::json(
                404,
                json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
            ),
        }
    })
    .await
}

fn flows_only() -> Scope {
    Scope::new(
        [Kind::Flow].into_iter().collect::<BTreeSet<_>>(),
        None,
        Vec::new(),
        false,
    )
}

#[tokio::test]
async fn a_flow_activated_between_the_two_reads_is_numbered_from_the_version_the_view_names() {
    let mock = racing_org(
        json!(4),
        json!({"Id": "301XX0000000003AAA", "VersionNumber": 3}),
    )
    .await;
    let client = client(settings("race", &mock.url, "key", "secret"));
    let discovery = discover(&client, &flows_only()).await.expect("discovery");
    let flow = &discovery.components[0];
    assert!(flow.will_pause());
    assert_eq!(
        flow.state,
        ObservedState::Flow {
            active_version: Some(3),
            latest_version: Some(4),
        },
        "the number to restore is the one of the version seen active, not the newer one"
    );
    let reads: Vec<Recorded> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/tooling/composite"))
        .collect();
    assert_eq!(reads.len(), 1);
    assert!(
        reads[0].body.contains("Flow/301XX0000000003AAA"),
        "{}",
        reads[0].body
    );
}

#[tokio::test]
async fn a_version_number_that_is_not_whole_fails_discovery_instead_of_being_guessed() {
    let mock = racing_org(
        json!(4),
        json!({"Id": "301XX0000000003AAA", "VersionNumber": 3.5}),
    )
    .await;
    let client = client(settings("race", &mock.url, "key", "secret"));
    let error = discover(&client, &flows_only())
        .await
        .expect_err("a fractional version number is refused");
    let text = format!("{error}: {}", error.source);
    assert!(text.contains("race"), "{text}");
    assert!(text.contains("VersionNumber"), "{text}");
}

/// The `Organization` query runs alongside the kinds' list queries, and each kind waits for it
/// to decide; when it fails, the discovery fails naming it, whichever branch saw it first.
#[tokio::test]
async fn a_failed_organization_query_fails_discovery_naming_it() {
    let mock = Mock::start(|request, _| {
        if request.path == "/services/oauth2/token" {
            return token_reply(request, TOKEN);
        }
        let soql = query_text(request);
        if soql.contains("FROM Organization") {
            return Reply::json(
                400,
                json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'NamespacePrefix'"}]),
            );
        }
        records(json!([]))
    })
    .await;
    let client = client(settings("noorg", &mock.url, "key", "secret"));
    let error = discover(&client, &flows_only())
        .await
        .expect_err("discovery fails");
    assert_eq!(error.what, "the Organization record", "{error:?}");
    assert!(
        error.source.to_string().contains("INVALID_FIELD"),
        "{:?}",
        error.source
    );
}
