//! Loading the configuration: layering, typed values, and every problem reported at once.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pauseplay::automation::Kind;
use pauseplay::config::{
    Config, ConfigErrors, ConfigProblem, DaemonConfig, LogFormat, ProblemSource, SecretSource,
    TriggerTestLevel,
};
use pauseplay::salesforce::ApiVersion;
use secrecy::ExposeSecret;

const SECRET: &str = "s3cret-value-never-printed";

/// A temporary directory holding a config file and secret files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a secret file with the given mode.
    fn secret(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, format!("{SECRET}\n")).expect("write secret");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// Writes `pauseplay.toml`; `{secret}` is replaced by the path of a mode-600 secret file.
    fn config(&self, text: &str) -> PathBuf {
        let secret = self.secret("prod.secret", 0o600);
        let path = self.path("pauseplay.toml");
        let text = text.replace("{secret}", &secret.display().to_string());
        fs::write(&path, text).expect("write config");
        path
    }
}

/// A minimal valid org.
const PROD: &str = r#"
[orgs.prod]
url = "https://acme.my.salesforce.com"
client_id = "3MVG9-prod"
client_secret_file = "{secret}"
"#;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn load(path: &Path, env: &HashMap<String, String>) -> Config {
    match Config::load_with_env(path, env) {
        Ok(config) => config,
        Err(errors) => panic!("expected the config to load, got:\n{errors}"),
    }
}

fn load_err(path: &Path, env: &HashMap<String, String>) -> ConfigErrors {
    match Config::load_with_env(path, env) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(errors) => errors,
    }
}

/// The single problem of a config expected to have exactly one.
fn only_problem(path: &Path, env: &HashMap<String, String>) -> ConfigProblem {
    let errors = load_err(path, env);
    assert_eq!(errors.problems.len(), 1, "expected one problem:\n{errors}");
    errors.problems.into_iter().next().expect("one problem")
}

fn from_file(path: &Path) -> ProblemSource {
    ProblemSource::File(path.to_owned())
}

#[test]
fn a_full_config_loads_into_typed_values() {
    let fixture = Fixture::new();
    let path = fixture.config(
        r#"
[daemon]
state_dir = "/var/lib/pauseplay"
socket = "/run/pauseplay/control.sock"
socket_group = "pauseplay"
lead_time = "90s"
min_remaining = "2h30m"
manual_pause_default = "30m"
manual_pause_max = "6h"
log_format = "json"

[orgs.prod]
url = "https://acme.my.salesforce.com"
client_id = "3MVG9-prod"
client_secret_file = "{secret}"
api_version = "64.0"
kinds = ["flow", "validation_rule"]
objects = ["Account", "Contact"]
exclude = ["flow:Critical_*", "validation_rule:Account.Keep_*"]
include_managed = true
trigger_test_level = "RunSpecifiedTests"
trigger_tests = ["AccountTriggerTest"]
"#,
    );
    let config = load(&path, &env(&[]));

    assert_eq!(config.path, path);
    assert_eq!(
        config.daemon,
        DaemonConfig {
            state_dir: PathBuf::from("/var/lib/pauseplay"),
            socket: PathBuf::from("/run/pauseplay/control.sock"),
            socket_group: Some("pauseplay".to_owned()),
            lead_time: Duration::from_secs(90),
            min_remaining: Duration::from_secs(2 * 3600 + 30 * 60),
            manual_pause_default: Duration::from_secs(30 * 60),
            manual_pause_max: Duration::from_secs(6 * 3600),
            log_format: LogFormat::Json,
        }
    );

    let prod = &config.orgs["prod"];
    assert_eq!(prod.name, "prod");
    assert_eq!(prod.url.as_str(), "https://acme.my.salesforce.com/");
    assert_eq!(prod.client_id, "3MVG9-prod");
    assert_eq!(prod.client_secret.expose_secret(), SECRET);
    assert_eq!(
        prod.secret_source,
        SecretSource::File(fixture.path("prod.secret"))
    );
    assert_eq!(prod.api_version, ApiVersion::new(64));
    assert_eq!(
        prod.kinds,
        BTreeSet::from([Kind::Flow, Kind::ValidationRule])
    );
    assert_eq!(
        prod.objects,
        Some(BTreeSet::from(["Account".to_owned(), "Contact".to_owned()]))
    );
    let patterns: Vec<String> = prod.exclude.iter().map(ToString::to_string).collect();
    assert_eq!(
        patterns,
        ["flow:Critical_*", "validation_rule:Account.Keep_*"]
    );
    assert!(prod.exclude[0].matches(Kind::Flow, "critical_invoice_sync"));
    assert!(!prod.exclude[0].matches(Kind::Trigger, "Critical_Invoice_Sync"));
    assert!(prod.exclude[1].matches(Kind::ValidationRule, "Account.Keep_Name"));
    assert!(prod.include_managed);
    assert_eq!(prod.trigger_test_level, TriggerTestLevel::RunSpecifiedTests);
    assert_eq!(prod.trigger_tests, ["AccountTriggerTest"]);
}

#[test]
fn omitted_keys_take_their_defaults() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);

    let config = load(&path, &env(&[]));
    let daemon = &config.daemon;
    assert_eq!(daemon.state_dir, PathBuf::from("./state"));
    assert_eq!(daemon.socket, PathBuf::from("./pauseplay.sock"));
    assert_eq!(daemon.socket_group, None);
    assert_eq!(daemon.lead_time, Duration::from_secs(120));
    assert_eq!(daemon.min_remaining, Duration::from_secs(300));
    assert_eq!(daemon.manual_pause_default, Duration::from_secs(3600));
    assert_eq!(daemon.manual_pause_max, Duration::from_secs(12 * 3600));
    assert_eq!(daemon.log_format, LogFormat::Text);

    let prod = &config.orgs["prod"];
    assert_eq!(prod.api_version, ApiVersion::DEFAULT);
    assert_eq!(prod.kinds, BTreeSet::from(Kind::ALL));
    assert_eq!(prod.objects, None);
    assert!(prod.exclude.is_empty());
    assert!(!prod.include_managed);
    assert_eq!(prod.trigger_test_level, TriggerTestLevel::RunLocalTests);
    assert!(prod.trigger_tests.is_empty());
}

#[test]
fn systemd_directories_set_the_default_state_dir_and_socket() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let config = load(
        &path,
        &env(&[
            ("STATE_DIRECTORY", "/var/lib/pauseplay:/var/lib/other"),
            ("RUNTIME_DIRECTORY", "/run/pauseplay"),
        ]),
    );
    assert_eq!(config.daemon.state_dir, PathBuf::from("/var/lib/pauseplay"));
    assert_eq!(
        config.daemon.socket,
        PathBuf::from("/run/pauseplay/control.sock")
    );
}

#[test]
fn an_environment_override_wins_over_the_file() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let config = load(
        &path,
        &env(&[
            ("PAUSEPLAY__ORGS__PROD__CLIENT_ID", "3MVG9-from-env"),
            ("PAUSEPLAY__DAEMON__LEAD_TIME", "5m"),
            ("PAUSEPLAY__ORGS__PROD__INCLUDE_MANAGED", "true"),
        ]),
    );
    assert_eq!(config.orgs["prod"].client_id, "3MVG9-from-env");
    assert_eq!(config.daemon.lead_time, Duration::from_secs(300));
    assert!(config.orgs["prod"].include_managed);
}

#[test]
fn single_underscore_and_the_config_path_variable_are_not_keys() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    // If either were read, `PAUSEPLAY_CONFIG` would become an unknown key `config` (or
    // `_config`) and the client id would change.
    let config = load(
        &path,
        &env(&[
            ("PAUSEPLAY_ORGS__PROD__CLIENT_ID", "3MVG9-single-underscore"),
            ("PAUSEPLAY_CONFIG", "/somewhere/else.toml"),
        ]),
    );
    assert_eq!(config.orgs["prod"].client_id, "3MVG9-prod");
}

#[test]
fn environment_values_stay_strings() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let config = load(&path, &env(&[("PAUSEPLAY__ORGS__PROD__CLIENT_ID", "007")]));
    assert_eq!(config.orgs["prod"].client_id, "007");
}

#[test]
fn one_file_with_three_mistakes_reports_all_three() {
    let fixture = Fixture::new();
    let secret = fixture.secret("exposed.secret", 0o644);
    let path = fixture.config(&format!(
        r#"
[orgs.prod]
url = "http://acme.my.salesforce.com"
client_id = "3MVG9-prod"
clinet_id = "typo"
client_secret_file = "{}"
"#,
        secret.display()
    ));
    let errors = load_err(&path, &env(&[]));
    println!("{errors}");

    assert_eq!(errors.path, path);
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "orgs.prod.client_secret_file",
            "orgs.prod.clinet_id",
            "orgs.prod.url"
        ]
    );
    for problem in &errors.problems {
        assert_eq!(problem.source, from_file(&path), "{problem}");
    }
    let [secret_problem, unknown, url] = &errors.problems[..] else {
        panic!("three problems expected");
    };
    assert!(
        secret_problem
            .message
            .contains(&format!("chmod 600 {}", secret.display())),
        "{secret_problem}"
    );
    assert!(secret_problem.message.contains("0644"), "{secret_problem}");
    assert!(
        unknown.message.contains("did you mean `client_id`"),
        "{unknown}"
    );
    assert!(url.message.contains("http"), "{url}");
    assert!(url.message.contains("in clear"), "{url}");

    let shown = errors.to_string();
    assert!(
        shown.starts_with(&format!(
            "configuration file {} has 3 problems:",
            path.display()
        )),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 4, "{shown}");
    assert!(
        shown.contains(&format!("orgs.prod.url (in {}): ", path.display())),
        "{shown}"
    );
}

#[test]
fn plain_http_is_accepted_for_loopback_addresses() {
    for url in [
        "http://127.0.0.1:8443",
        "http://localhost:8443",
        "http://[::1]:8443",
        "http://127.0.0.2",
    ] {
        let fixture = Fixture::new();
        let path = fixture.config(&PROD.replace("https://acme.my.salesforce.com", url));
        let config = load(&path, &env(&[]));
        assert_eq!(config.orgs["prod"].url.scheme(), "http", "{url}");
    }
}

#[test]
fn urls_that_cannot_work_are_refused_with_a_reason() {
    for (url, expected) in [
        ("https://login.salesforce.com", "My Domain"),
        ("https://test.salesforce.com", "My Domain"),
        ("https://acme.my.salesforce.com/services/data", "no path"),
        ("https://acme.my.salesforce.com/?x=1", "no path"),
        ("ftp://acme.my.salesforce.com", "`ftp` scheme"),
        ("http://10.0.0.5", "in clear"),
        ("acme.my.salesforce.com", "not a valid URL"),
        (
            "https://user:pw@acme.my.salesforce.com",
            "user name or password",
        ),
    ] {
        let fixture = Fixture::new();
        let path = fixture.config(&PROD.replace("https://acme.my.salesforce.com", url));
        let problem = only_problem(&path, &env(&[]));
        assert_eq!(problem.key, "orgs.prod.url", "{url}");
        assert!(problem.message.contains(expected), "{url}: {problem}");
        assert!(!problem.message.contains("pw@"), "{problem}");
    }
}

#[test]
fn a_missing_secret_file_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace("{secret}", "/nonexistent/prod.secret"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.client_secret_file");
    assert!(
        problem
            .message
            .contains("/nonexistent/prod.secret does not exist"),
        "{problem}"
    );
}

#[test]
fn a_secret_from_an_environment_variable_loads() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        r#"client_secret_env = "PROD_SECRET""#,
    ));
    let config = load(&path, &env(&[("PROD_SECRET", SECRET)]));
    let prod = &config.orgs["prod"];
    assert_eq!(prod.client_secret.expose_secret(), SECRET);
    assert_eq!(
        prod.secret_source,
        SecretSource::Env("PROD_SECRET".to_owned())
    );
}

#[test]
fn a_missing_or_empty_secret_variable_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        r#"client_secret_env = "PROD_SECRET""#,
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.client_secret_env");
    assert!(
        problem.message.contains("PROD_SECRET is not set"),
        "{problem}"
    );

    let problem = only_problem(&path, &env(&[("PROD_SECRET", "")]));
    assert!(
        problem.message.contains("PROD_SECRET is empty"),
        "{problem}"
    );
}

#[test]
fn two_secret_sources_are_refused() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!("{PROD}credential = \"prod\"\n"));
    let problem = only_problem(&path, &env(&[("CREDENTIALS_DIRECTORY", "/run/creds")]));
    assert_eq!(problem.key, "orgs.prod");
    assert!(
        problem
            .message
            .contains("more than one secret source is set (client_secret_file, credential)"),
        "{problem}"
    );
}

#[test]
fn no_secret_source_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(r#"client_secret_file = "{secret}""#, ""));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod");
    assert!(
        problem.message.contains("no client secret source"),
        "{problem}"
    );
}

#[test]
fn an_inline_secret_is_refused_without_repeating_it() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        &format!(r#"client_secret = "{SECRET}""#),
    ));
    let errors = load_err(&path, &env(&[]));
    assert_eq!(errors.problems.len(), 1, "{errors}");
    let problem = &errors.problems[0];
    assert_eq!(problem.key, "orgs.prod.client_secret");
    assert!(problem.message.contains("client_secret_file"), "{problem}");
    assert!(!errors.to_string().contains(SECRET));
    assert!(!format!("{errors:?}").contains(SECRET));
}

#[test]
fn a_credential_needs_credentials_directory() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        r#"credential = "prod""#,
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.credential");
    assert!(
        problem.message.contains("CREDENTIALS_DIRECTORY is not set"),
        "{problem}"
    );
    assert!(
        problem.message.contains("LoadCredential=prod:"),
        "{problem}"
    );
}

#[test]
fn a_credential_is_read_from_credentials_directory() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        r#"credential = "prod.secret""#,
    ));
    let directory = fixture.dir.path().display().to_string();
    let config = load(&path, &env(&[("CREDENTIALS_DIRECTORY", &directory)]));
    let prod = &config.orgs["prod"];
    assert_eq!(prod.client_secret.expose_secret(), SECRET);
    assert_eq!(
        prod.secret_source,
        SecretSource::Credential {
            name: "prod.secret".to_owned(),
            path: fixture.path("prod.secret"),
        }
    );

    let path = fixture.config(&PROD.replace(
        r#"client_secret_file = "{secret}""#,
        r#"credential = "missing""#,
    ));
    let problem = only_problem(&path, &env(&[("CREDENTIALS_DIRECTORY", &directory)]));
    assert!(
        problem
            .message
            .contains("credential `missing` is not in CREDENTIALS_DIRECTORY"),
        "{problem}"
    );
}

#[test]
fn no_test_run_is_refused() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!("{PROD}trigger_test_level = \"NoTestRun\"\n"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.trigger_test_level");
    assert!(
        problem
            .message
            .contains("production deploys never skip tests"),
        "{problem}"
    );
}

#[test]
fn run_specified_tests_needs_tests_and_tests_need_that_level() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}trigger_test_level = \"RunSpecifiedTests\"\n"
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.trigger_test_level");
    assert!(problem.message.contains("trigger_tests"), "{problem}");

    let path = fixture.config(&format!("{PROD}trigger_tests = [\"SomeTest\"]\n"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.trigger_tests");
    assert!(problem.message.contains("RunLocalTests"), "{problem}");
}

#[test]
fn a_bad_duration_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!("[daemon]\nlead_time = \"2 fortnights\"\n{PROD}"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "daemon.lead_time");
    assert_eq!(problem.source, from_file(&path));
    assert!(problem.message.contains("not a duration"), "{problem}");

    let path = fixture.config(&format!("[daemon]\nmin_remaining = \"0s\"\n{PROD}"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "daemon.min_remaining");

    let path = fixture.config(&format!("[daemon]\nlead_time = \"25h\"\n{PROD}"));
    let problem = only_problem(&path, &env(&[]));
    assert!(problem.message.contains("shorter than 24h"), "{problem}");
}

#[test]
fn the_manual_pause_default_must_not_exceed_the_maximum() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "[daemon]\nmanual_pause_default = \"13h\"\nmanual_pause_max = \"12h\"\n{PROD}"
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "daemon.manual_pause_default");
    assert!(problem.message.contains("(13h)"), "{problem}");

    // The comparison does not hide other problems of the section.
    let path = fixture.config(&format!(
        "[daemon]\nmanual_pause_default = \"13h\"\nlog_format = \"yaml\"\n{PROD}"
    ));
    let errors = load_err(&path, &env(&[]));
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["daemon.log_format", "daemon.manual_pause_default"],
        "{errors}"
    );

    // A maximum below the built-in default is blamed on the maximum.
    let path = fixture.config(&format!("[daemon]\nmanual_pause_max = \"30m\"\n{PROD}"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "daemon.manual_pause_max");
}

#[test]
fn a_bad_kind_in_exclude_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}exclude = [\"flow:Ok_*\", \"flows:Critical_*\"]\n"
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.exclude");
    assert!(
        problem.message.contains("unknown automation kind `flows`"),
        "{problem}"
    );
}

#[test]
fn an_uppercase_org_name_is_refused() {
    let fixture = Fixture::new();
    let path = fixture.config(&PROD.replace("[orgs.prod]", "[orgs.Prod]"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.Prod");
    assert!(problem.message.contains("lowercased"), "{problem}");
}

#[test]
fn a_config_without_orgs_is_refused() {
    let fixture = Fixture::new();
    let path = fixture.config("[daemon]\nlog_format = \"text\"\n");
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs");
    assert!(
        problem.message.contains("add an [orgs.NAME] section"),
        "{problem}"
    );
}

#[test]
fn debug_output_does_not_contain_the_secret() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let config = load(&path, &env(&[]));
    assert_eq!(config.orgs["prod"].client_secret.expose_secret(), SECRET);
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}

#[test]
fn the_example_config_loads() {
    let fixture = Fixture::new();
    let secret = fixture.secret("prod.secret", 0o600);
    let example = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pauseplay.example.toml"),
    )
    .expect("example config");
    assert!(example.contains("# client_secret_env = "));
    assert!(example.contains("# credential = "));
    let path = fixture.path("example.toml");
    fs::write(
        &path,
        example.replace(
            "/etc/pauseplay/prod.secret\"",
            &format!("{}\"", secret.display()),
        ),
    )
    .expect("write example");

    let config = load(&path, &env(&[]));
    assert_eq!(config.daemon.socket_group.as_deref(), Some("pauseplay"));
    assert_eq!(config.orgs["prod"].client_secret.expose_secret(), SECRET);
    assert_eq!(config.orgs["prod"].exclude.len(), 2);
}

#[test]
fn a_missing_config_file_is_one_problem_with_a_hint() {
    let path = PathBuf::from("/nonexistent/pauseplay.toml");
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "");
    assert_eq!(problem.source, from_file(&path));
    assert!(problem.message.contains("does not exist"), "{problem}");
    assert!(problem.message.contains("--config"), "{problem}");
    assert!(problem.message.contains("PAUSEPLAY_CONFIG"), "{problem}");
}

#[test]
fn invalid_toml_is_reported_with_its_position() {
    let fixture = Fixture::new();
    let path = fixture.config("[daemon]\nlead_time = \"2m\nlog_format = \"text\"\n");
    let problem = only_problem(&path, &env(&[]));
    assert!(
        problem.message.starts_with("not valid TOML at line 2"),
        "{problem}"
    );
}

#[test]
fn problems_from_the_environment_name_the_variable() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let errors = load_err(
        &path,
        &env(&[
            ("PAUSEPLAY__ORGS__PROD__URL", "http://example.com"),
            ("PAUSEPLAY__DAEMON__LEAD_TIM", "5m"),
            ("PAUSEPLAY__ORGS__PROD__KINDS", "flow"),
        ]),
    );
    let found: Vec<(&str, &ProblemSource)> = errors
        .problems
        .iter()
        .map(|p| (p.key.as_str(), &p.source))
        .collect();
    let var = |name: &str| ProblemSource::EnvVar(name.to_owned());
    assert_eq!(
        found,
        [
            ("daemon.lead_tim", &var("PAUSEPLAY__DAEMON__LEAD_TIM")),
            ("orgs.prod.kinds", &var("PAUSEPLAY__ORGS__PROD__KINDS")),
            ("orgs.prod.url", &var("PAUSEPLAY__ORGS__PROD__URL")),
        ],
        "{errors}"
    );
    assert!(
        errors
            .to_string()
            .contains("orgs.prod.url (from environment variable PAUSEPLAY__ORGS__PROD__URL)"),
        "{errors}"
    );
}

#[test]
fn every_bad_org_and_every_bad_field_is_reported() {
    let fixture = Fixture::new();
    let path = fixture.config(
        r#"
windows = []

[daemon]
log_format = "yaml"
socket_group = ""

[orgs.prod]
url = "https://acme.my.salesforce.com"
client_id = 7
client_secret_file = "{secret}"
kinds = []
api_version = "66"

[orgs.uat]
url = "https://acme--uat.sandbox.my.salesforce.com"
client_secret_file = "{secret}"
objects = ["Account", ""]
include_managed = "yes"
"#,
    );
    let errors = load_err(&path, &env(&[]));
    println!("{errors}");
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "daemon.log_format",
            "daemon.socket_group",
            "orgs.prod.api_version",
            "orgs.prod.client_id",
            "orgs.prod.kinds",
            "orgs.uat.client_id",
            "orgs.uat.include_managed",
            "orgs.uat.objects",
            "windows",
        ],
        "{errors}"
    );
}
