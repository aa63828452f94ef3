//! Metadata API deploys (reference §5.4.2, §5.4.3): the per-org queue, the
//! `Pending → InProgress → Succeeded/Failed` state machine, simulated Apex tests and the
//! JSON of a `DeployResult`.
//!
//! Time does not move a deploy; polls do. A deploy answers `pending_polls` polls `Pending`
//! once it may start, then `in_progress_polls` polls `InProgress`, and completes on the
//! poll after that ([INFERRED]: Salesforce runs deploys on its own clock; counting polls
//! keeps tests deterministic). Only one deploy runs at a time per org (reference §5.4.3):
//! a deploy cannot start while an earlier one is not done, and its polls meanwhile answer
//! `Pending` without counting toward `pending_polls`; each of them moves the earliest unfinished
//! deploy on by one poll instead, as Salesforce would run it without being asked.

use serde_json::{Value, json};

use super::ids::IdAllocator;
use super::model::Org;
use super::package::{self, Checked, Problem, TriggerChange};
use super::scenario::DeploySpec;

/// Key prefix of deploy request ids (`0Af`, reference §5.4.1).
pub const DEPLOY_PREFIX: &str = "0Af";

/// Start of the deploys' logical clock: the sim has no wall clock in its data.
const CLOCK_START: i64 = 1_793_527_200; // 2026-11-01T10:00:00Z

/// Test levels (reference §5.4.1).
pub const TEST_LEVELS: &[&str] = &[
    "NoTestRun",
    "RunSpecifiedTests",
    "RunLocalTests",
    "RunAllTestsInOrg",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    InProgress,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
        }
    }

    fn done(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

/// The options the sim acts on, read from `deployOptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// As sent, echoed in the 201 and recorded in the snapshot.
    pub raw: Value,
    /// The level tests run at: as sent, or the default when absent.
    pub test_level: String,
    pub run_tests: Vec<String>,
    pub check_only: bool,
    pub single_package: bool,
    pub ignore_warnings: bool,
    pub rollback_on_error: bool,
}

/// One simulated test method's outcome.
#[derive(Debug, Clone, PartialEq)]
struct TestOutcome {
    class: String,
    method: String,
    failed: bool,
}

/// What a completed deploy reports.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    success: bool,
    /// Component names (package.xml first) with their trigger id, if any.
    successes: Vec<(String, String, Option<String>)>,
    failures: Vec<Problem>,
    tests: Vec<TestOutcome>,
    coverage_warning: bool,
    members: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Deploy {
    pub id: String,
    pub options: Options,
    pub status: Status,
    zip: Option<Vec<u8>>,
    polls_pending: u32,
    polls_in_progress: u32,
    created: i64,
    started: Option<i64>,
    completed: Option<i64>,
    outcome: Option<Outcome>,
}

/// Every deploy of one org, in arrival order, and the test behaviour.
#[derive(Debug)]
pub struct Deploys {
    pub behaviour: DeploySpec,
    list: Vec<Deploy>,
    ids: IdAllocator,
    clock: i64,
}

/// Why a deploy request is refused up front (400).
pub type Refusal = (&'static str, String);

/// Reads and checks `deployOptions` for an org ([INFERRED] error codes, see §5.4.3).
pub fn options(raw: &Value, is_sandbox: bool) -> Result<Options, Refusal> {
    let Some(object) = raw.as_object() else {
        return Err((
            "JSON_PARSER_ERROR",
            "deployOptions must be an object".into(),
        ));
    };
    let flag = |name: &str, default: bool| -> Result<bool, Refusal> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(other) => Err((
                "JSON_PARSER_ERROR",
                format!("deployOptions.{name} must be a boolean, got {other}"),
            )),
        }
    };
    let run_tests = match object.get("runTests") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or((
                "JSON_PARSER_ERROR",
                "deployOptions.runTests must be an array of strings".to_owned(),
            ))?,
        Some(_) => {
            return Err((
                "JSON_PARSER_ERROR",
                "deployOptions.runTests must be an array of strings".to_owned(),
            ));
        }
    };
    let test_level = match object.get("testLevel") {
        // Metadata API default: no tests in a sandbox, local tests in production.
        None | Some(Value::Null) if is_sandbox => "NoTestRun".to_owned(),
        None | Some(Value::Null) => "RunLocalTests".to_owned(),
        Some(Value::String(level)) if TEST_LEVELS.contains(&level.as_str()) => level.clone(),
        Some(other) => {
            return Err((
                "INVALID_OPERATION",
                format!("INVALID_OPERATION: invalid testLevel {other}"),
            ));
        }
    };
    if !is_sandbox && test_level == "NoTestRun" {
        // [INFERRED] REST form of the SOAP fault the reference reports (§5.4.3).
        return Err((
            "INVALID_OPERATION",
            "INVALID_OPERATION: testLevel of NoTestRun cannot be used in production organizations"
                .to_owned(),
        ));
    }
    if test_level == "RunSpecifiedTests" && run_tests.is_empty() {
        return Err((
            "INVALID_OPERATION",
            "INVALID_OPERATION: runTests must be set when testLevel is RunSpecifiedTests"
                .to_owned(),
        ));
    }
    if !is_sandbox && flag("purgeOnDelete", false)? {
        return Err((
            "INVALID_OPERATION",
            "INVALID_OPERATION: purgeOnDelete option can only be used on a non-active org"
                .to_owned(),
        ));
    }
    Ok(Options {
        raw: raw.clone(),
        test_level,
        run_tests,
        check_only: flag("checkOnly", false)?,
        single_package: flag("singlePackage", false)?,
        ignore_warnings: flag("ignoreWarnings", false)?,
        rollback_on_error: flag("rollbackOnError", true)?,
    })
}

/// `2026-11-01T10:00:04.000+0000` for a logical clock second.
fn date(second: i64) -> Value {
    match jiff::Timestamp::from_second(second) {
        Ok(ts) => json!(ts.strftime("%Y-%m-%dT%H:%M:%S.000+0000").to_string()),
        Err(_) => Value::Null,
    }
}

impl Deploys {
    pub fn new(behaviour: DeploySpec) -> Deploys {
        Deploys {
            behaviour,
            list: Vec::new(),
            ids: IdAllocator::default(),
            clock: CLOCK_START,
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    /// Queues a deploy and returns its index.
    pub fn create(&mut self, options: Options, zip: Vec<u8>) -> usize {
        let created = self.tick();
        self.list.push(Deploy {
            id: self.ids.next(DEPLOY_PREFIX),
            options,
            status: Status::Pending,
            zip: Some(zip),
            polls_pending: 0,
            polls_in_progress: 0,
            created,
            started: None,
            completed: None,
            outcome: None,
        });
        self.list.len() - 1
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.list
            .iter()
            .position(|d| super::ids::matches(&d.id, id))
    }

    pub fn get(&self, index: usize) -> Option<&Deploy> {
        self.list.get(index)
    }

    /// One poll of deploy `index`: advances it and, when it completes, applies it to `org`.
    /// While an earlier deploy is not done, the polled one stays `Pending` and the earliest
    /// unfinished one advances instead: Salesforce runs queued deploys on its own, so one whose
    /// id a client lost (never polled again) must not hold up the others for good.
    pub fn poll(&mut self, index: usize, org: &mut Org) {
        let ahead = self.list[..index.min(self.list.len())]
            .iter()
            .position(|d| !d.status.done());
        if let Some(ahead) = ahead {
            self.poll(ahead, org);
            return;
        }
        let (pending_polls, in_progress_polls) = (
            self.behaviour.pending_polls,
            self.behaviour.in_progress_polls,
        );
        let now = self.tick();
        let Some(deploy) = self.list.get_mut(index) else {
            return;
        };
        if deploy.status == Status::Pending {
            if deploy.polls_pending < pending_polls {
                deploy.polls_pending += 1;
                return;
            }
            deploy.status = Status::InProgress;
            deploy.started = Some(now);
        }
        if deploy.status == Status::InProgress {
            if deploy.polls_in_progress < in_progress_polls {
                deploy.polls_in_progress += 1;
                return;
            }
            let zip = deploy.zip.take().unwrap_or_default();
            let options = deploy.options.clone();
            let outcome = complete(&self.behaviour, org, &options, zip);
            let deploy = &mut self.list[index];
            deploy.status = if outcome.success {
                Status::Succeeded
            } else {
                Status::Failed
            };
            deploy.completed = Some(now);
            deploy.outcome = Some(outcome);
        }
    }

    /// The `"deploys"` entry of the snapshot.
    pub fn snapshot(&self) -> Value {
        Value::Array(
            self.list
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "options": d.options.raw,
                        "test_level": d.options.test_level,
                        "members": d.outcome.as_ref().map(|o| o.members.clone()).unwrap_or_default(),
                        "status": d.status.as_str(),
                        "done": d.status.done(),
                    })
                })
                .collect(),
        )
    }
}

/// Checks the package, runs the simulated tests and applies the changes if all pass.
fn complete(behaviour: &DeploySpec, org: &mut Org, options: &Options, zip: Vec<u8>) -> Outcome {
    let (members, checked) = package::check(org, zip, options.single_package);
    let tests = run_tests(behaviour, options);
    // Coverage is enforced in production only (reference §5.4.3), and only when tests run.
    let coverage_warning =
        behaviour.coverage_shortfall && !org.info.is_sandbox && options.test_level != "NoTestRun";
    let tests_failed = tests.iter().any(|t| t.failed);
    match checked {
        Checked::Failed(failures) => Outcome {
            success: false,
            successes: Vec::new(),
            members,
            failures,
            // [INFERRED] Salesforce does not run tests for a package that does not deploy.
            tests: Vec::new(),
            coverage_warning: false,
        },
        Checked::Ok(changes) => {
            let success = !tests_failed && !coverage_warning;
            // rollbackOnError=false could keep the component changes when tests fail, but
            // production forces it true and tests only fail as a whole ([INFERRED]).
            if success && !options.check_only {
                apply(org, &changes);
            }
            let mut successes = vec![("package.xml".to_owned(), String::new(), None)];
            successes.extend(changes.iter().map(|c| {
                (
                    c.full_name.clone(),
                    "ApexTrigger".to_owned(),
                    Some(c.id.clone()),
                )
            }));
            Outcome {
                success,
                successes,
                failures: Vec::new(),
                tests,
                coverage_warning,
                members,
            }
        }
    }
}

/// Applies a successful deploy; each trigger it carries counts as one write.
fn apply(org: &mut Org, changes: &[TriggerChange]) {
    for change in changes {
        let _ = org.tallied(&change.id, |org| {
            let trigger = org
                .triggers
                .iter_mut()
                .find(|t| t.id == change.id)
                .ok_or(())?;
            trigger.status = change.status;
            trigger.body.clone_from(&change.body);
            trigger.api_version = change.api_version;
            Ok::<(), ()>(())
        });
    }
}

/// The simulated test run: each class runs `testInsert` and `testUpdate`, plus any failing
/// method named for it ([INFERRED]: the sim has no Apex to run).
fn run_tests(behaviour: &DeploySpec, options: &Options) -> Vec<TestOutcome> {
    let classes: Vec<String> = match options.test_level.as_str() {
        "NoTestRun" => return Vec::new(),
        "RunSpecifiedTests" => options.run_tests.clone(),
        _ => behaviour.test_classes.clone(),
    };
    let mut outcomes = Vec::new();
    for class in classes {
        let mut methods = vec!["testInsert".to_owned(), "testUpdate".to_owned()];
        for failing in &behaviour.failing_tests {
            if let Some((c, m)) = failing.split_once('.')
                && c == class
                && !methods.iter().any(|x| x == m)
            {
                methods.push(m.to_owned());
            }
        }
        for method in methods {
            let failed = behaviour
                .failing_tests
                .iter()
                .any(|f| f.split_once('.') == Some((class.as_str(), method.as_str())));
            outcomes.push(TestOutcome {
                class: class.clone(),
                method,
                failed,
            });
        }
    }
    outcomes
}

/// Stable fake ids for test classes (`01p`), derived from the position in the run.
fn class_id(position: usize) -> String {
    format!("01pXX{:010}AAA", position + 1)
}

fn component(
    name: &str,
    component_type: &str,
    file: &str,
    id: Option<&str>,
    created: &Value,
    problem: Option<&str>,
) -> Value {
    json!({
        "componentType": component_type,
        "fileName": file,
        "fullName": name,
        "id": id,
        "problem": problem,
        "problemType": problem.map(|_| "Error"),
        "success": problem.is_none(),
        "warning": false,
        "created": false,
        "changed": problem.is_none() && !component_type.is_empty(),
        "deleted": false,
        "lineNumber": null,
        "columnNumber": null,
        "requiresProductionTestRun": false,
        "createdDate": created,
        "knownPackagingProblem": false,
        "forPackageManifestFile": component_type.is_empty(),
    })
}

fn run_test_result(outcome: &Outcome) -> Value {
    let mut classes: Vec<&str> = Vec::new();
    for test in &outcome.tests {
        if !classes.contains(&test.class.as_str()) {
            classes.push(&test.class);
        }
    }
    let id_of = |class: &str| class_id(classes.iter().position(|c| *c == class).unwrap_or(0));
    let successes: Vec<Value> = outcome
        .tests
        .iter()
        .filter(|t| !t.failed)
        .map(|t| {
            json!({ "id": id_of(&t.class), "name": t.class, "methodName": t.method,
                    "namespace": null, "seeAllData": false, "time": 120.0 })
        })
        .collect();
    let failures: Vec<Value> = outcome
        .tests
        .iter()
        .filter(|t| t.failed)
        .map(|t| {
            json!({
                "id": id_of(&t.class), "name": t.class, "methodName": t.method, "namespace": null,
                "message": "System.AssertException: Assertion Failed: Expected: 1, Actual: 0",
                "stackTrace": format!("Class.{}.{}: line 12, column 1", t.class, t.method),
                "type": "Class", "seeAllData": false, "time": 95.0,
            })
        })
        .collect();
    let warnings: Vec<Value> = if outcome.coverage_warning {
        vec![json!({
            "id": null, "name": null, "namespace": null,
            "message": "Average test coverage across all Apex Classes and Triggers is 0%, at least 75% test coverage is required.",
        })]
    } else {
        Vec::new()
    };
    let total = outcome.tests.len();
    json!({
        "successes": successes,
        "failures": failures,
        "totalTime": 120.0 * total as f64,
        "apexLogId": null,
        "flowCoverage": [],
        "numFailures": failures.len(),
        "codeCoverage": [],
        "codeCoverageWarnings": warnings,
        "flowCoverageWarnings": [],
        "numTestsRun": total,
    })
}

impl Deploy {
    /// `deployResult` as the recorded poll response shows it (reference §5.4.2).
    pub fn result(&self, org: &Org, include_details: bool) -> Value {
        let outcome = self.outcome.as_ref();
        let completed = self.completed.map_or(Value::Null, date);
        let components_total = outcome.map_or(0, |o| {
            o.successes.len().saturating_sub(1) + o.failures.len()
        });
        let failures = outcome.map_or(0, |o| o.failures.len());
        let deployed = outcome.map_or(0, |o| {
            if o.failures.is_empty() {
                o.successes.len().saturating_sub(1)
            } else {
                0
            }
        });
        let tests_total = outcome.map_or(0, |o| o.tests.len());
        let test_errors = outcome.map_or(0, |o| o.tests.iter().filter(|t| t.failed).count());
        let details = if include_details {
            // [INFERRED] while the deploy runs, details carry empty lists.
            let successes: Vec<Value> = outcome
                .map(|o| {
                    o.successes
                        .iter()
                        .map(|(name, kind, id)| {
                            let file = if kind.is_empty() {
                                name.clone()
                            } else {
                                format!("triggers/{name}.trigger")
                            };
                            component(name, kind, &file, id.as_deref(), &completed, None)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let failures: Vec<Value> = outcome
                .map(|o| {
                    o.failures
                        .iter()
                        .map(|p| {
                            component(
                                &p.full_name,
                                &p.component_type,
                                &p.file_name,
                                None,
                                &completed,
                                Some(&p.problem),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let all: Vec<Value> = successes.iter().chain(failures.iter()).cloned().collect();
            json!({
                "componentFailures": failures,
                "componentSuccesses": successes,
                "retrieveResult": null,
                "allComponentMessages": all,
                "runTestResult": outcome
                    .filter(|o| !o.tests.is_empty() || o.coverage_warning)
                    .map(run_test_result),
            })
        } else {
            // [INFERRED] without includeDetails=true the details are left out.
            Value::Null
        };
        let error_message = outcome.and_then(|o| {
            if !o.failures.is_empty() {
                None
            } else if o.tests.iter().any(|t| t.failed) {
                Some("Deploy failed: Apex test failures")
            } else if o.coverage_warning {
                Some("Deploy failed: insufficient code coverage")
            } else {
                None
            }
        });
        json!({
            "id": self.id,
            "messages": null,
            "retrieveResult": null,
            "success": self.status == Status::Succeeded,
            "checkOnly": self.options.check_only,
            "ignoreWarnings": self.options.ignore_warnings,
            "rollbackOnError": self.options.rollback_on_error,
            "status": self.status.as_str(),
            "numberComponentsDeployed": deployed,
            "numberComponentsTotal": components_total,
            "numberComponentErrors": failures,
            "numberTestsCompleted": tests_total - test_errors,
            "numberTestsTotal": tests_total,
            "numberTestErrors": test_errors,
            "details": details,
            "createdDate": date(self.created),
            "startDate": self.started.map_or(Value::Null, date),
            "lastModifiedDate": date(self.completed.or(self.started).unwrap_or(self.created)),
            "completedDate": completed,
            "errorStatusCode": null,
            "errorMessage": error_message,
            "stateDetail": null,
            "createdBy": super::ids::short(&org.info.user.id),
            "createdByName": org.info.user.name,
            "canceledBy": null,
            "canceledByName": null,
            "done": self.status.done(),
            "runTestsEnabled": self.options.test_level != "NoTestRun",
            "runTestResult": null,
        })
    }
}
