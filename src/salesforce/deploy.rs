//! Metadata API deploys of Apex triggers through REST `deployRequest` (reference §5.4).
//!
//! In production an Apex trigger can only be switched off by deploying its unchanged body
//! with `<status>Inactive</status>` in its `-meta.xml`, and such a deploy runs tests. The
//! deploy is asynchronous: [`OrgClient::deploy_triggers`] uploads the zip and returns the
//! deploy id (the caller journals it before polling, so a crash resumes polling instead of
//! deploying again), [`OrgClient::deploy_status`] polls once and
//! [`OrgClient::wait_for_deploy`] polls until the deploy is done.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Cursor, Write as _};
use std::time::Duration;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use reqwest::Method;
use tracing::debug;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::ApiVersion;
use super::client::{Call, FormPart, OrgClient, encode_segment};
use super::error::SfError;
use super::wire::{DeployOptionsJson, DeployRequestBody, DeployRequestJson, DeployResultBody};

/// The Metadata API namespace of `package.xml` and every `-meta.xml`.
const METADATA_NS: &str = "http://soap.sforce.com/2006/04/metadata";

/// A trigger's `status` in its `-meta.xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerStatus {
    Active,
    Inactive,
}

impl TriggerStatus {
    /// The value as written in `-meta.xml` (`Active` / `Inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerStatus::Active => "Active",
            TriggerStatus::Inactive => "Inactive",
        }
    }
}

impl fmt::Display for TriggerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tests a deploy runs. Production rejects `NoTestRun` (400 `INVALID_OPERATION`,
/// surfaced as [`SfError::Api`]); `RunLocalTests` is the safe choice there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestLevel {
    NoTestRun,
    /// These test classes only (at least one).
    RunSpecifiedTests(Vec<String>),
    RunLocalTests,
    RunAllTestsInOrg,
}

impl TestLevel {
    /// The `testLevel` value on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            TestLevel::NoTestRun => "NoTestRun",
            TestLevel::RunSpecifiedTests(_) => "RunSpecifiedTests",
            TestLevel::RunLocalTests => "RunLocalTests",
            TestLevel::RunAllTestsInOrg => "RunAllTestsInOrg",
        }
    }
}

/// One trigger to deploy, as read from Tooling `ApexTrigger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerSource {
    /// The trigger's name (`AccountTrigger`, or `ns__AccountTrigger`).
    pub name: String,
    /// The Tooling `Body`, byte for byte.
    pub body: String,
    /// The trigger's own `ApiVersion`, e.g. `"66.0"`.
    pub api_version: String,
}

/// The id of a Metadata API deploy (`0Af…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeployId(pub String);

impl fmt::Display for DeployId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A component the deploy could not apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComponentFailure {
    pub full_name: String,
    pub file_name: String,
    pub problem: String,
    /// `Error` or `Warning`.
    pub problem_type: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// A failed test method.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestFailure {
    /// The test class.
    pub name: String,
    pub method_name: String,
    pub message: String,
}

/// The state of a deploy as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOutcome {
    pub id: DeployId,
    /// `Pending`, `InProgress`, `Succeeded`, `SucceededPartial`, `Failed`, `Canceling`,
    /// `Canceled` (or a newer value, kept as sent).
    pub status: String,
    /// The deploy has finished. An unknown status counts as running unless Salesforce says
    /// `done`.
    pub done: bool,
    /// Done with status `Succeeded` or `SucceededPartial`.
    pub success: bool,
    pub component_failures: Vec<ComponentFailure>,
    /// Full names of the components deployed (the `package.xml` entry is left out).
    pub succeeded: Vec<String>,
    pub test_failures: Vec<TestFailure>,
    /// Code coverage warnings (e.g. "Test coverage of selected Apex Trigger is 0%, …").
    pub coverage_warnings: Vec<String>,
    pub tests_run: u64,
    /// The top-level `errorMessage` (with `errorStatusCode` in front when there is one).
    pub error_message: Option<String>,
    pub state_detail: Option<String>,
}

/// How [`OrgClient::wait_for_deploy`] spaces its polls: the first `back_to_back` follow one
/// another with no wait (each takes a round trip), then the waits start at `initial` and
/// double, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub back_to_back: u32,
}

/// Polls a [sized](PollPolicy::sized) policy sends back to back before it waits.
const SIZED_BACK_TO_BACK: u32 = 5;

impl Default for PollPolicy {
    /// 1 s, doubling up to 30 s.
    fn default() -> Self {
        PollPolicy::doubling(Duration::from_secs(1), Duration::from_secs(30))
    }
}

impl PollPolicy {
    /// Waits of `initial`, doubling from the second up to `max`.
    pub const fn doubling(initial: Duration, max: Duration) -> PollPolicy {
        PollPolicy {
            initial,
            max,
            back_to_back: 0,
        }
    }

    /// This policy for a deploy of `components` components.
    ///
    /// A handful of triggers in a sandbox deploys in about a second, and waits of one, two,
    /// then four seconds add seconds to a pause for nothing. The Salesforce CLI polls a deploy
    /// at a fixed rate for as long as it runs (source-deploy-retrieve's
    /// `calculatePollingFrequency`: every 100 ms up to 10 components, 250 ms up to 50, 500 ms
    /// up to 100, then 1 s), a charged call each time. This policy sends its first
    /// [`SIZED_BACK_TO_BACK`] polls one after another, each spaced from the last by its own
    /// round trip (at most one in flight), which catches a quick deploy no later than the
    /// CLI would; a deploy still running after them is most likely running tests, so the waits
    /// then start at the CLI's step for the deploy's size and double up to `max`. The fast
    /// start costs at most that many calls more than backing off from the first poll would.
    pub fn sized(self, components: usize) -> PollPolicy {
        let by_size = match components {
            0..=10 => Duration::from_millis(100),
            11..=50 => Duration::from_millis(250),
            51..=100 => Duration::from_millis(500),
            _ => Duration::from_secs(1),
        };
        if by_size > self.initial {
            return self;
        }
        PollPolicy {
            initial: by_size,
            max: self.max,
            back_to_back: SIZED_BACK_TO_BACK,
        }
    }

    /// The wait after `polls` polls that were not done.
    fn delay(self, polls: u32) -> Duration {
        if polls <= self.back_to_back {
            return Duration::ZERO;
        }
        let floor = Duration::from_millis(1);
        let cap = self.max.max(floor);
        let doublings = (polls - self.back_to_back - 1).min(20);
        let wait = self.initial.max(floor).saturating_mul(1u32 << doublings);
        wait.min(cap)
    }
}

/// Builds the error for a package or request that cannot be built; `org` may be empty
/// ([`build_trigger_package`] does not know it; [`OrgClient::deploy_triggers`] fills it).
fn invalid(org: &str, message: impl Into<String>) -> SfError {
    SfError::Config {
        org: org.to_owned(),
        message: message.into(),
    }
}

/// One Apex identifier part: a letter first, then letters, digits and single underscores,
/// not ending in an underscore.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic())
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !part.contains("__")
        && !part.ends_with('_')
}

/// Whether `name` can be a trigger name and so a file name in the zip: an identifier,
/// optionally prefixed by a namespace `ns__`.
pub(crate) fn is_valid_trigger_name(name: &str) -> bool {
    if name.len() > 255 {
        return false;
    }
    match name.split_once("__") {
        Some((namespace, rest)) => is_identifier(namespace) && is_identifier(rest),
        None => is_identifier(name),
    }
}

/// Whether `version` looks like an API version (`66.0`, `66`).
fn is_valid_api_version(version: &str) -> bool {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    !major.is_empty()
        && major.len() <= 4
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit())
}

type XmlWriter = Writer<Vec<u8>>;

fn xml_writer() -> std::io::Result<XmlWriter> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 4);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    Ok(writer)
}

fn finish_xml(writer: XmlWriter) -> Vec<u8> {
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

/// `package.xml` naming `members` (written in the given order) as `ApexTrigger`s.
pub(crate) fn package_xml(members: &[&str], version: ApiVersion) -> std::io::Result<Vec<u8>> {
    let mut writer = xml_writer()?;
    writer
        .create_element("Package")
        .with_attribute(("xmlns", METADATA_NS))
        .write_inner_content(|writer| {
            writer
                .create_element("types")
                .write_inner_content(|writer| {
                    for member in members {
                        writer
                            .create_element("members")
                            .write_text_content(BytesText::new(member))?;
                    }
                    writer
                        .create_element("name")
                        .write_text_content(BytesText::new("ApexTrigger"))?;
                    Ok(())
                })?;
            writer
                .create_element("version")
                .write_text_content(BytesText::new(&version.to_string()))?;
            Ok(())
        })?;
    Ok(finish_xml(writer))
}

/// `triggers/NAME.trigger-meta.xml`.
pub(crate) fn trigger_meta_xml(
    api_version: &str,
    status: TriggerStatus,
) -> std::io::Result<Vec<u8>> {
    let mut writer = xml_writer()?;
    writer
        .create_element("ApexTrigger")
        .with_attribute(("xmlns", METADATA_NS))
        .write_inner_content(|writer| {
            writer
                .create_element("apiVersion")
                .write_text_content(BytesText::new(api_version))?;
            writer
                .create_element("status")
                .write_text_content(BytesText::new(status.as_str()))?;
            Ok(())
        })?;
    Ok(finish_xml(writer))
}

/// Builds the deploy zip (`singlePackage`: files at the root): `package.xml` listing the
/// triggers (sorted), and for each trigger `triggers/NAME.trigger` (its body, byte for byte)
/// and `triggers/NAME.trigger-meta.xml` (its own API version and `status`). `api_version`
/// is the package version.
///
/// Refuses an empty list, a duplicate or invalid trigger name (letters, digits and single
/// underscores, an optional `ns__` prefix) and an API version that is not `NN.0`, with
/// [`SfError::Config`] whose org is empty.
pub fn build_trigger_package(
    triggers: &[TriggerSource],
    status: TriggerStatus,
    api_version: ApiVersion,
) -> Result<Vec<u8>, SfError> {
    build_package(triggers, status, api_version, "")
}

fn build_package(
    triggers: &[TriggerSource],
    status: TriggerStatus,
    api_version: ApiVersion,
    org: &str,
) -> Result<Vec<u8>, SfError> {
    if triggers.is_empty() {
        return Err(invalid(org, "a trigger deploy needs at least one trigger"));
    }
    let mut by_name: BTreeMap<&str, &TriggerSource> = BTreeMap::new();
    for trigger in triggers {
        if !is_valid_trigger_name(&trigger.name) {
            return Err(invalid(
                org,
                format!(
                    "`{}` is not a valid Apex trigger name (letters, digits and single \
                     underscores, optionally after a `ns__` namespace prefix)",
                    trigger.name.escape_debug()
                ),
            ));
        }
        if !is_valid_api_version(&trigger.api_version) {
            return Err(invalid(
                org,
                format!(
                    "trigger `{}` has API version `{}`, expected a version such as 66.0",
                    trigger.name,
                    trigger.api_version.escape_debug()
                ),
            ));
        }
        if by_name.insert(&trigger.name, trigger).is_some() {
            return Err(invalid(
                org,
                format!("trigger `{}` is listed twice", trigger.name),
            ));
        }
    }
    let zip_error =
        |error: &dyn fmt::Display| invalid(org, format!("cannot build the deploy zip: {error}"));
    let members: Vec<&str> = by_name.keys().copied().collect();
    let package = package_xml(&members, api_version).map_err(|e| zip_error(&e))?;
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut add = |name: String, bytes: &[u8]| -> Result<(), SfError> {
        zip.start_file(name, options).map_err(|e| zip_error(&e))?;
        zip.write_all(bytes).map_err(|e| zip_error(&e))
    };
    add("package.xml".to_owned(), &package)?;
    for (name, trigger) in &by_name {
        add(format!("triggers/{name}.trigger"), trigger.body.as_bytes())?;
        let meta = trigger_meta_xml(&trigger.api_version, status).map_err(|e| zip_error(&e))?;
        add(format!("triggers/{name}.trigger-meta.xml"), &meta)?;
    }
    let cursor = zip.finish().map_err(|e| zip_error(&e))?;
    Ok(cursor.into_inner())
}

/// The `json` part of the deploy request for `level` (`check_only`: a validation).
pub(crate) fn deploy_options_json(level: &TestLevel, check_only: bool) -> serde_json::Value {
    let run_tests = match level {
        TestLevel::RunSpecifiedTests(tests) => Some(tests.as_slice()),
        _ => None,
    };
    let request = DeployRequestJson {
        deploy_options: DeployOptionsJson {
            allow_missing_files: false,
            auto_update_package: false,
            check_only,
            ignore_warnings: false,
            perform_retrieve: false,
            purge_on_delete: false,
            rollback_on_error: true,
            run_tests,
            single_package: true,
            test_level: level.as_str(),
        },
    };
    // Serializing plain structs of bools and strings cannot fail.
    serde_json::to_value(&request).unwrap_or_default()
}

/// The statuses after which a deploy does not change any more.
fn is_terminal(status: &str) -> bool {
    matches!(
        status,
        "Succeeded" | "SucceededPartial" | "Failed" | "Canceled"
    )
}

/// Turns a poll's `deployResult` into a [`DeployOutcome`]. `fallback_id` is used when the
/// result carries no id.
pub(crate) fn outcome_from(result: DeployResultBody, fallback_id: &str) -> DeployOutcome {
    let status = result.status.trim().to_owned();
    let done = result.done || is_terminal(&status);
    let success = done
        && match status.as_str() {
            "Succeeded" | "SucceededPartial" => true,
            "Failed" | "Canceled" | "Canceling" | "Pending" | "InProgress" => false,
            _ => result.success,
        };
    let details = result.details.unwrap_or_default();
    let component_failures = details
        .component_failures
        .into_iter()
        .map(|failure| ComponentFailure {
            full_name: failure.full_name,
            file_name: failure.file_name,
            problem: failure.problem,
            problem_type: failure.problem_type,
            line: failure.line_number,
            column: failure.column_number,
        })
        .collect();
    let succeeded = details
        .component_successes
        .into_iter()
        // The package.xml entry has an empty componentType.
        .filter(|success| !success.component_type.trim().is_empty())
        .map(|success| success.full_name)
        .collect();
    let tests = details.run_test_result.or(result.run_test_result);
    let (tests_run, test_failures, coverage_warnings) = match tests {
        Some(tests) => (
            tests.num_tests_run.max(result.number_tests_completed),
            tests
                .failures
                .into_iter()
                .map(|failure| TestFailure {
                    name: failure.name,
                    method_name: failure.method_name,
                    message: failure.message,
                })
                .collect(),
            tests
                .code_coverage_warnings
                .into_iter()
                .map(|warning| {
                    if warning.name.is_empty() {
                        warning.message
                    } else {
                        format!("{}: {}", warning.name, warning.message)
                    }
                })
                .collect(),
        ),
        None => (result.number_tests_completed, Vec::new(), Vec::new()),
    };
    let error_message = match (result.error_status_code, result.error_message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (None, Some(message)) => Some(message),
        (Some(code), None) => Some(code),
        (None, None) => None,
    };
    DeployOutcome {
        id: DeployId(result.id.unwrap_or_else(|| fallback_id.to_owned())),
        status,
        done,
        success,
        component_failures,
        succeeded,
        test_failures,
        coverage_warnings,
        tests_run,
        error_message,
        state_detail: result.state_detail,
    }
}

/// Whether `id` can be a deploy id (it becomes a path segment; encoded anyway).
fn is_valid_deploy_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl OrgClient {
    fn deploy_request_path(&self) -> String {
        self.data_path("/metadata/deployRequest")
    }

    /// Builds the trigger zip (see [`build_trigger_package`]) and starts a deploy with
    /// `POST /services/data/vNN.0/metadata/deployRequest` (multipart: a `json` part with the
    /// deploy options and a `file` part `deploy.zip`). Returns the deploy id from the 201
    /// answer; the caller journals it before polling.
    ///
    /// The POST is sent **once**: a transient failure (a timeout, a dropped connection, a
    /// 503) before the 201 arrived may or may not have started a deploy, and sending it again
    /// could start a second one (deploys queue, one at a time). The transient error is
    /// returned as such ([`SfError::is_transient`]) and the caller decides, e.g. by checking
    /// the trigger's status, whether to deploy again. Minting the token is retried, and a 401
    /// re-mints and sends again, since in both cases nothing was deployed. A 2xx answer
    /// without a usable id is [`SfError::Decode`]; a deploy may have started then too.
    ///
    /// Production refuses [`TestLevel::NoTestRun`] with 400 `INVALID_OPERATION` ("testLevel of
    /// NoTestRun cannot be used in production organizations"): [`SfError::Api`] with that
    /// message.
    pub async fn deploy_triggers(
        &self,
        triggers: &[TriggerSource],
        status: TriggerStatus,
        level: &TestLevel,
    ) -> Result<DeployId, SfError> {
        self.start_deploy(triggers, status, level, false).await
    }

    /// [`OrgClient::deploy_triggers`] as a validation (`checkOnly`): the org checks the
    /// package and runs the tests but changes nothing. Deploys run one at a time in arrival
    /// order (reference §5.4.3), so once a validation is done every deploy sent before it is
    /// done too: the engine uses one to wait for a deploy whose id it never received.
    pub async fn validate_triggers(
        &self,
        triggers: &[TriggerSource],
        status: TriggerStatus,
        level: &TestLevel,
    ) -> Result<DeployId, SfError> {
        self.start_deploy(triggers, status, level, true).await
    }

    async fn start_deploy(
        &self,
        triggers: &[TriggerSource],
        status: TriggerStatus,
        level: &TestLevel,
        check_only: bool,
    ) -> Result<DeployId, SfError> {
        if let TestLevel::RunSpecifiedTests(tests) = level
            && (tests.is_empty() || tests.iter().any(|test| test.trim().is_empty()))
        {
            return Err(invalid(
                self.org(),
                "RunSpecifiedTests needs at least one test class name (and no empty ones)",
            ));
        }
        let zip = build_package(triggers, status, self.api_version(), self.org())?;
        let options = deploy_options_json(level, check_only);
        let parts = [
            FormPart {
                name: "json",
                file_name: None,
                content_type: "application/json",
                bytes: options.to_string().into_bytes(),
            },
            FormPart {
                name: "file",
                file_name: Some("deploy.zip"),
                content_type: "application/zip",
                bytes: zip,
            },
        ];
        let call = Call::with_multipart(Method::POST, self.deploy_request_path(), &parts);
        let reply = self.execute_once(&call).await?;
        let body: DeployRequestBody = self.decode(&reply, "a deployRequest with an id")?;
        let id = body
            .id
            .or_else(|| body.deploy_result.and_then(|result| result.id))
            .filter(|id| is_valid_deploy_id(id))
            .ok_or_else(|| {
                SfError::decode(
                    self.org(),
                    &reply.path,
                    "a deployRequest with an id",
                    format!("HTTP {} without a usable `id`", reply.status),
                )
            })?;
        if reply.status != 201 {
            debug!(
                org = self.org(),
                status = reply.status,
                "deploy accepted with a status other than 201"
            );
        }
        debug!(
            org = self.org(),
            deploy = %id,
            triggers = triggers.len(),
            %status,
            test_level = level.as_str(),
            check_only,
            "deploy started"
        );
        Ok(DeployId(id))
    }

    /// One poll: `GET …/metadata/deployRequest/{id}?includeDetails=true`. Transient failures
    /// are retried (a GET).
    pub async fn deploy_status(&self, id: &DeployId) -> Result<DeployOutcome, SfError> {
        let path = format!("{}/{}", self.deploy_request_path(), encode_segment(&id.0));
        let call = Call::get(path).query("includeDetails", "true");
        let reply = self.execute(&call).await?;
        let body: DeployRequestBody = self.decode(&reply, "a deployRequest with a deployResult")?;
        let result = body.deploy_result.ok_or_else(|| {
            SfError::decode(
                self.org(),
                &reply.path,
                "a deployRequest with a deployResult",
                "no `deployResult`",
            )
        })?;
        Ok(outcome_from(result, &id.0))
    }

    /// Polls until the deploy is done, waiting `poll.initial`, then twice as long each time
    /// up to `poll.max`. `on_poll` sees every status, the last one included. There is no
    /// overall limit: a deploy that runs all tests can take an hour; wrap the future in a
    /// timeout if needed (the deploy id is journaled, so polling can resume later).
    pub async fn wait_for_deploy(
        &self,
        id: &DeployId,
        poll: PollPolicy,
        mut on_poll: impl FnMut(&DeployOutcome),
    ) -> Result<DeployOutcome, SfError> {
        let mut polls: u32 = 0;
        loop {
            let outcome = self.deploy_status(id).await?;
            on_poll(&outcome);
            if outcome.done {
                return Ok(outcome);
            }
            polls = polls.saturating_add(1);
            tokio::time::sleep(poll.delay(polls)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use serde_json::json;

    use super::*;

    fn trigger(name: &str, body: &str, version: &str) -> TriggerSource {
        TriggerSource {
            name: name.to_owned(),
            body: body.to_owned(),
            api_version: version.to_owned(),
        }
    }

    /// Every file of a zip, in order, with its bytes.
    fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index(index).expect("entry");
                assert_eq!(file.compression(), CompressionMethod::Deflated);
                let name = file.name().expect("name").into_owned();
                let mut content = Vec::new();
                file.read_to_end(&mut content).expect("read");
                (name, content)
            })
            .collect()
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn package_has_exact_files_bodies_and_meta() {
        let crlf_body =
            "trigger Zeta on Account (before insert) {\r\n    // Grüße, ünïcödé ✓\r\n}\r\n";
        let plain_body = "trigger ns__Alpha on Contact (after update) { System.debug('<&>'); }";
        let zip = build_trigger_package(
            &[
                trigger("Zeta", crlf_body, "66.0"),
                trigger("ns__Alpha", plain_body, "42.0"),
            ],
            TriggerStatus::Inactive,
            ApiVersion::new(66),
        )
        .expect("builds");
        let files = unzip(&zip);
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "package.xml",
                "triggers/Zeta.trigger",
                "triggers/Zeta.trigger-meta.xml",
                "triggers/ns__Alpha.trigger",
                "triggers/ns__Alpha.trigger-meta.xml",
            ]
        );
        assert_eq!(files[1].1, crlf_body.as_bytes(), "byte for byte, CRLF kept");
        assert_eq!(files[3].1, plain_body.as_bytes());
        assert_eq!(
            text(&files[0].1),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Package xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n    \
             <types>\n        <members>Zeta</members>\n        <members>ns__Alpha</members>\n        \
             <name>ApexTrigger</name>\n    </types>\n    <version>66.0</version>\n</Package>\n"
        );
        assert_eq!(
            text(&files[2].1),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ApexTrigger xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n    \
             <apiVersion>66.0</apiVersion>\n    <status>Inactive</status>\n</ApexTrigger>\n"
        );
        let alpha_meta = text(&files[4].1);
        assert!(
            alpha_meta.contains("<apiVersion>42.0</apiVersion>"),
            "{alpha_meta}"
        );
        assert!(
            alpha_meta.contains("<status>Inactive</status>"),
            "{alpha_meta}"
        );
    }

    #[test]
    fn active_status_and_sorted_members() {
        let zip = build_trigger_package(
            &[
                trigger("b_Trigger", "b", "60.0"),
                trigger("A2", "a2", "61.0"),
                trigger("A1", "a1", "66.0"),
            ],
            TriggerStatus::Active,
            ApiVersion::new(67),
        )
        .expect("builds");
        let files = unzip(&zip);
        let package = text(&files[0].1);
        let a1 = package.find("<members>A1</members>").expect("A1");
        let a2 = package.find("<members>A2</members>").expect("A2");
        let b = package.find("<members>b_Trigger</members>").expect("b");
        assert!(a1 < a2 && a2 < b, "{package}");
        assert!(package.contains("<version>67.0</version>"), "{package}");
        for (name, content) in &files[1..] {
            if name.ends_with("-meta.xml") {
                assert!(text(content).contains("<status>Active</status>"), "{name}");
            }
        }
        assert_eq!(files.len(), 7);
    }

    #[test]
    fn xml_text_is_escaped_by_the_writer() {
        let package = package_xml(&["A&B<C>\"'"], ApiVersion::new(66)).expect("xml");
        let package = text(&package);
        assert!(
            package.contains("<members>A&amp;B&lt;C&gt;&quot;&apos;</members>"),
            "{package}"
        );
        let meta = trigger_meta_xml("66.0</apiVersion><status>Active", TriggerStatus::Inactive)
            .expect("xml");
        let meta = text(&meta);
        assert!(
            meta.contains("66.0&lt;/apiVersion&gt;&lt;status&gt;Active"),
            "{meta}"
        );
        assert_eq!(meta.matches("<status>").count(), 1, "{meta}");
    }

    #[test]
    fn invalid_names_versions_and_lists_are_refused() {
        for bad in [
            "",
            "1Trigger",
            "_Trigger",
            "Trigger_",
            "My Trigger",
            "../evil",
            "a/b",
            "A&B",
            "a__b__c",
            "__Trigger",
            "ns___T",
            "Trig\u{e9}",
        ] {
            let error = build_trigger_package(
                &[trigger(bad, "x", "66.0")],
                TriggerStatus::Inactive,
                ApiVersion::new(66),
            )
            .expect_err(bad);
            assert!(matches!(error, SfError::Config { .. }), "{bad}: {error:?}");
            assert!(!error.is_transient());
        }
        for good in ["T", "Account_Trigger2", "ns__Account_Trigger"] {
            assert!(is_valid_trigger_name(good), "{good}");
        }
        for version in ["", "abc", "66.0<", "66."] {
            assert!(
                build_trigger_package(
                    &[trigger("T", "x", version)],
                    TriggerStatus::Inactive,
                    ApiVersion::new(66),
                )
                .is_err(),
                "{version:?}"
            );
        }
        assert!(build_trigger_package(&[], TriggerStatus::Inactive, ApiVersion::new(66)).is_err());
        let twice = [trigger("T", "x", "66.0"), trigger("T", "y", "66.0")];
        let error = build_trigger_package(&twice, TriggerStatus::Inactive, ApiVersion::new(66))
            .expect_err("duplicate");
        assert!(error.to_string().contains("twice"), "{error}");
    }

    #[test]
    fn deploy_options_per_test_level() {
        let base = |level: &str| {
            json!({"deployOptions": {"allowMissingFiles": false, "autoUpdatePackage": false,
                "checkOnly": false, "ignoreWarnings": false, "performRetrieve": false,
                "purgeOnDelete": false, "rollbackOnError": true, "singlePackage": true,
                "testLevel": level}})
        };
        assert_eq!(
            deploy_options_json(&TestLevel::NoTestRun, false),
            base("NoTestRun")
        );
        assert_eq!(
            deploy_options_json(&TestLevel::RunLocalTests, false),
            base("RunLocalTests")
        );
        assert_eq!(
            deploy_options_json(&TestLevel::RunAllTestsInOrg, false),
            base("RunAllTestsInOrg")
        );
        let mut specified = base("RunSpecifiedTests");
        specified["deployOptions"]["runTests"] = json!(["AccountTriggerTest", "OtherTest"]);
        let level = TestLevel::RunSpecifiedTests(vec![
            "AccountTriggerTest".to_owned(),
            "OtherTest".to_owned(),
        ]);
        assert_eq!(deploy_options_json(&level, false), specified);
        assert_eq!(
            deploy_options_json(&level, false).to_string(),
            r#"{"deployOptions":{"allowMissingFiles":false,"autoUpdatePackage":false,"checkOnly":false,"ignoreWarnings":false,"performRetrieve":false,"purgeOnDelete":false,"rollbackOnError":true,"runTests":["AccountTriggerTest","OtherTest"],"singlePackage":true,"testLevel":"RunSpecifiedTests"}}"#
        );
        assert!(
            !deploy_options_json(&TestLevel::NoTestRun, false)
                .to_string()
                .contains("runTests")
        );
        let mut validation = base("RunLocalTests");
        validation["deployOptions"]["checkOnly"] = json!(true);
        assert_eq!(
            deploy_options_json(&TestLevel::RunLocalTests, true),
            validation
        );
    }

    fn parse(body: serde_json::Value) -> DeployOutcome {
        let body: DeployRequestBody = serde_json::from_value(body).expect("parses");
        outcome_from(body.deploy_result.expect("deployResult"), "0AfFALLBACK")
    }

    /// The reference's recorded success response (§5.4.2).
    pub(crate) fn recorded_success() -> serde_json::Value {
        let component = json!({
            "componentType": "ApexTrigger", "fileName": "triggers/AccountTrigger.trigger",
            "fullName": "AccountTrigger", "id": "01qXX0000000001AAA", "problem": null,
            "problemType": null, "success": true, "warning": false, "created": false,
            "changed": true, "deleted": false, "lineNumber": null, "columnNumber": null,
            "requiresProductionTestRun": false, "createdDate": "2026-11-01T10:00:03.000+0000",
            "knownPackagingProblem": false, "forPackageManifestFile": false
        });
        let package = json!({
            "componentType": "", "fileName": "package.xml", "fullName": "package.xml",
            "id": null, "problem": null, "problemType": null, "success": true,
            "lineNumber": null, "columnNumber": null
        });
        json!({
          "id": "0AfXX0000000001AAA", "validatedDeployRequestId": null, "deployOptions": null,
          "deployResult": {
            "id": "0AfXX0000000001AAA", "messages": null, "retrieveResult": null,
            "success": true, "checkOnly": false, "ignoreWarnings": false,
            "rollbackOnError": true, "status": "Succeeded",
            "numberComponentsDeployed": 1, "numberComponentsTotal": 1,
            "numberComponentErrors": 0, "numberTestsCompleted": 3, "numberTestsTotal": 3,
            "numberTestErrors": 0,
            "details": {
              "componentFailures": [],
              "componentSuccesses": [component, package],
              "retrieveResult": null,
              "allComponentMessages": [component],
              "runTestResult": {
                "successes": [{"id": "01pXX0000000009AAA", "name": "AccountTriggerTest",
                  "methodName": "testInsert", "namespace": null, "seeAllData": false,
                  "time": 120.0}],
                "failures": [], "totalTime": 812.0, "apexLogId": null, "flowCoverage": [],
                "numFailures": 0, "codeCoverage": [], "codeCoverageWarnings": [],
                "flowCoverageWarnings": [], "numTestsRun": 3
              }
            },
            "createdDate": "2026-11-01T10:00:00.000+0000",
            "startDate": "2026-11-01T10:00:01.000+0000",
            "lastModifiedDate": "2026-11-01T10:00:04.000+0000",
            "completedDate": "2026-11-01T10:00:04.000+0000",
            "errorStatusCode": null, "errorMessage": null, "stateDetail": null,
            "createdBy": "005XX000001xyzA", "createdByName": "Integration User",
            "canceledBy": null, "canceledByName": null, "done": true,
            "runTestsEnabled": true, "runTestResult": null
          }
        })
    }

    #[test]
    fn parses_the_recorded_success() {
        let outcome = parse(recorded_success());
        assert_eq!(
            outcome,
            DeployOutcome {
                id: DeployId("0AfXX0000000001AAA".to_owned()),
                status: "Succeeded".to_owned(),
                done: true,
                success: true,
                component_failures: Vec::new(),
                succeeded: vec!["AccountTrigger".to_owned()],
                test_failures: Vec::new(),
                coverage_warnings: Vec::new(),
                tests_run: 3,
                error_message: None,
                state_detail: None,
            }
        );
    }

    fn failure_item(name: &str, line: serde_json::Value) -> serde_json::Value {
        json!({"componentType": "ApexTrigger", "fileName": format!("triggers/{name}.trigger"),
            "fullName": name, "problem": "Variable does not exist: foo",
            "problemType": "Error", "success": false, "lineNumber": line, "columnNumber": 5})
    }

    #[test]
    fn failures_as_an_array_or_a_single_object() {
        let as_array = parse(json!({"id": "0AfXX0000000002AAA", "deployResult": {
            "id": "0AfXX0000000002AAA", "status": "Failed", "done": true, "success": false,
            "errorStatusCode": null, "errorMessage": null,
            "details": {"componentFailures": [failure_item("A", json!(3)), failure_item("B", json!(null))],
                "componentSuccesses": [], "runTestResult": null}}}));
        assert!(as_array.done && !as_array.success);
        assert_eq!(as_array.status, "Failed");
        assert_eq!(as_array.component_failures.len(), 2);
        assert_eq!(
            as_array.component_failures[0],
            ComponentFailure {
                full_name: "A".to_owned(),
                file_name: "triggers/A.trigger".to_owned(),
                problem: "Variable does not exist: foo".to_owned(),
                problem_type: "Error".to_owned(),
                line: Some(3),
                column: Some(5),
            }
        );
        assert_eq!(as_array.component_failures[1].line, None);

        let single = parse(json!({"deployResult": {
            "status": "Failed", "done": true, "success": false,
            "errorStatusCode": "INVALID_CROSS_REFERENCE_KEY", "errorMessage": "No package.xml found",
            "details": {"componentFailures": failure_item("C", json!("7")),
                "componentSuccesses": null}}}));
        assert_eq!(single.id, DeployId("0AfFALLBACK".to_owned()));
        assert_eq!(single.component_failures.len(), 1);
        assert_eq!(single.component_failures[0].full_name, "C");
        assert_eq!(single.component_failures[0].line, Some(7));
        assert_eq!(
            single.error_message.as_deref(),
            Some("INVALID_CROSS_REFERENCE_KEY: No package.xml found")
        );
        assert!(single.succeeded.is_empty());
    }

    #[test]
    fn string_typed_booleans_and_numbers() {
        // The shape of the official doc example: quoted values, `runTestResults`.
        let outcome = parse(json!({"id": "0AfXX0000000003AAA", "deployResult": {
            "id": "0AfXX0000000003AAA", "checkOnly": "false", "done": "true",
            "success": "true", "status": "Succeeded", "numberComponentsDeployed": "10",
            "numberTestsCompleted": "4", "stateDetail": "",
            "details": {"componentSuccesses": {"componentType": "ApexTrigger",
                "fullName": "T", "success": "true", "lineNumber": "", "columnNumber": null},
                "runTestResults": {"numTestsRun": "4.0", "numFailures": "0",
                    "failures": null, "codeCoverageWarnings": null}}}}));
        assert!(outcome.done && outcome.success);
        assert_eq!(outcome.tests_run, 4);
        assert_eq!(outcome.succeeded, ["T"]);
        assert_eq!(outcome.state_detail, None);

        let running = parse(
            json!({"deployResult": {"id": "0AfX", "status": "InProgress",
            "done": "false", "success": "false", "numberTestsCompleted": 2,
            "stateDetail": "Running Test: AccountTriggerTest.testInsert"}}),
        );
        assert!(!running.done && !running.success);
        assert_eq!(running.tests_run, 2);
        assert_eq!(
            running.state_detail.as_deref(),
            Some("Running Test: AccountTriggerTest.testInsert")
        );
        let bad: Result<DeployRequestBody, _> =
            serde_json::from_value(json!({"deployResult": {"done": "maybe"}}));
        assert!(bad.is_err());
    }

    #[test]
    fn test_failures_and_coverage_warnings() {
        let outcome = parse(json!({"deployResult": {"id": "0AfXX0000000004AAA",
            "status": "Failed", "done": true, "success": false, "numberTestsCompleted": 2,
            "details": {"componentFailures": [], "componentSuccesses": [],
                "runTestResult": {"numTestsRun": 3, "numFailures": 1,
                    "failures": [{"name": "AccountTriggerTest", "methodName": "testInsert",
                        "message": "System.AssertException: Assertion Failed",
                        "stackTrace": "Class.AccountTriggerTest.testInsert: line 9",
                        "namespace": null}],
                    "codeCoverageWarnings": {"name": "AccountTrigger", "namespace": null,
                        "message": "Test coverage of selected Apex Trigger is 0%, at least 1% test coverage is required"}}}}}));
        assert!(outcome.done && !outcome.success);
        assert_eq!(outcome.tests_run, 3);
        assert_eq!(
            outcome.test_failures,
            [TestFailure {
                name: "AccountTriggerTest".to_owned(),
                method_name: "testInsert".to_owned(),
                message: "System.AssertException: Assertion Failed".to_owned(),
            }]
        );
        assert_eq!(
            outcome.coverage_warnings,
            [
                "AccountTrigger: Test coverage of selected Apex Trigger is 0%, at least 1% test coverage is required"
            ]
        );
        let org_wide = parse(json!({"deployResult": {"status": "Failed", "done": true,
            "details": {"runTestResult": {"codeCoverageWarnings": [{"name": null,
                "message": "Average test coverage across all Apex Classes and Triggers is 0%, at least 75% test coverage is required."}]}}}}));
        assert_eq!(
            org_wide.coverage_warnings,
            [
                "Average test coverage across all Apex Classes and Triggers is 0%, at least 75% test coverage is required."
            ]
        );
    }

    #[test]
    fn unknown_status_is_running_unless_done() {
        let running = parse(
            json!({"deployResult": {"id": "0AfX", "status": "FinalizingDeploy",
            "done": false, "success": false}}),
        );
        assert!(!running.done && !running.success);
        assert_eq!(running.status, "FinalizingDeploy");
        let finished = parse(
            json!({"deployResult": {"id": "0AfX", "status": "SomethingNew",
            "done": true, "success": true}}),
        );
        assert!(finished.done && finished.success);
        let partial = parse(json!({"deployResult": {"id": "0AfX",
            "status": "SucceededPartial", "done": true, "success": false}}));
        assert!(partial.done && partial.success);
        let canceled = parse(json!({"deployResult": {"id": "0AfX", "status": "Canceled"}}));
        assert!(
            canceled.done && !canceled.success,
            "a terminal status is done"
        );
        let pending = parse(json!({"deployResult": {"id": "0AfX", "status": "Pending"}}));
        assert!(!pending.done);
    }

    #[test]
    fn poll_delays_double_up_to_the_cap() {
        let policy = PollPolicy::default();
        let secs: Vec<u64> = (1..=8).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(policy.delay(u32::MAX), Duration::from_secs(30));
        let zero = PollPolicy::doubling(Duration::ZERO, Duration::ZERO);
        assert_eq!(zero.delay(1), Duration::from_millis(1));
    }

    #[test]
    fn a_sized_policy_polls_back_to_back_five_times_then_backs_off_from_the_cli_step() {
        let millis = |policy: PollPolicy| -> Vec<u128> {
            (1..=8).map(|n| policy.delay(n).as_millis()).collect()
        };
        let policy = PollPolicy::default();
        assert_eq!(millis(policy.sized(3)), [0, 0, 0, 0, 0, 100, 200, 400]);
        assert_eq!(millis(policy.sized(20)), [0, 0, 0, 0, 0, 250, 500, 1_000]);
        assert_eq!(
            millis(policy.sized(100)),
            [0, 0, 0, 0, 0, 500, 1_000, 2_000]
        );
        assert_eq!(
            millis(policy.sized(500)),
            [0, 0, 0, 0, 0, 1_000, 2_000, 4_000]
        );
        assert_eq!(policy.sized(3).max, policy.max, "the cap stays");
        assert_eq!(
            policy.sized(3).delay(u32::MAX),
            policy.max,
            "a long deploy ends at the cap"
        );
        let fast = PollPolicy::doubling(Duration::from_millis(5), Duration::from_millis(20));
        assert_eq!(fast.sized(500), fast, "a faster policy is kept as it is");
        assert_eq!(fast.sized(3), fast);
    }
}
