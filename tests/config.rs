//! Loading the configuration: layering, typed values, and every problem reported at once.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pauseplay::automation::Kind;
use pauseplay::config::{
    Config, ConfigErrors, ConfigProblem, DaemonConfig, LogFormat, NotifyKind, ProblemSource,
    SecretSource, TriggerTestLevel, WindowWhen,
};
use pauseplay::notify::EventKind;
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
        self.file(name, &format!("{SECRET}\n"), mode)
    }

    /// Writes `contents` into a file with the given mode.
    fn file(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, contents).expect("write file");
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
metrics_listen = "127.0.0.1:9464"
api_usage_alert_percent = 90

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
            metrics_listen: Some("127.0.0.1:9464".parse().expect("address")),
            api_usage_alert_percent: 90,
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
    assert_eq!(daemon.metrics_listen, None);
    assert_eq!(
        daemon.api_usage_alert_percent,
        DaemonConfig::DEFAULT_API_USAGE_ALERT_PERCENT
    );
    assert_eq!(daemon.api_usage_alert_percent, 80);
    assert!(config.notify.is_empty());

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
    // Every event a [[notify]] target can ask for is explained there.
    for kind in EventKind::ALL {
        assert!(example.contains(kind.as_str()), "{kind} is not documented");
    }
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
    assert_eq!(config.daemon.socket_group.as_deref(), Some("pauseplay-ops"));
    assert_eq!(config.orgs["prod"].client_secret.expose_secret(), SECRET);
    assert_eq!(config.orgs["prod"].exclude.len(), 2);
    let names: Vec<&str> = config.windows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["nightly-load", "q4-migration"]);
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
window = []

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
            "window",
        ],
        "{errors}"
    );
}

// --- [[windows]] ------------------------------------------------------------------------------

/// `PROD` plus a second org, for windows to name.
fn two_orgs() -> String {
    format!(
        "{PROD}\n[orgs.uat]\nurl = \"https://acme--uat.sandbox.my.salesforce.com\"\n\
         client_id = \"3MVG9-uat\"\nclient_secret_file = \"{{secret}}\"\n"
    )
}

/// A moment with no DST change in the coming year's windows of these tests' fixed dates:
/// warnings look a year ahead from here.
fn loaded_at() -> jiff::Timestamp {
    "2026-06-01T00:00:00Z".parse().expect("instant")
}

fn load_at(path: &Path) -> Config {
    match Config::load_with_env_at(path, &env(&[]), loaded_at()) {
        Ok(config) => config,
        Err(errors) => panic!("expected the config to load, got:\n{errors}"),
    }
}

fn window_problems(windows: &str) -> ConfigErrors {
    let fixture = Fixture::new();
    let path = fixture.config(&format!("{}{windows}", two_orgs()));
    match Config::load_with_env_at(&path, &env(&[]), loaded_at()) {
        Ok(config) => panic!("expected problems, got {:?}", config.windows),
        Err(errors) => errors,
    }
}

fn only_window_problem(windows: &str) -> ConfigProblem {
    let errors = window_problems(windows);
    assert_eq!(errors.problems.len(), 1, "expected one problem:\n{errors}");
    errors.problems.into_iter().next().expect("one problem")
}

#[test]
fn both_window_forms_load_into_typed_values() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        r#"{}
[[windows]]
name = "nightly-load"
orgs = ["prod"]
cron = "0 1 * * 1-5"
duration = "2h"
timezone = "Europe/Berlin"
objects = ["Account"]
kinds = ["flow", "validation_rule"]

[[windows]]
name = "q4-migration"
orgs = ["uat", "prod"]
start = "2026-12-01T22:00:00+01:00"
end = 2026-12-02T04:00:00+01:00

[[windows]]
name = "utc-by-default"
orgs = ["uat"]
cron = "*/30 3 * * 0"
duration = "15m"
"#,
        two_orgs()
    ));
    let config = load_at(&path);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let [nightly, migration, utc] = &config.windows[..] else {
        panic!("three windows expected: {:?}", config.windows);
    };

    assert_eq!(nightly.name, "nightly-load");
    assert_eq!(nightly.orgs, ["prod"]);
    assert_eq!(
        nightly.kinds,
        Some(BTreeSet::from([Kind::Flow, Kind::ValidationRule]))
    );
    assert_eq!(nightly.objects, Some(vec!["Account".to_owned()]));
    let WindowWhen::Cron {
        expression,
        duration,
        timezone,
        zone_name,
        ..
    } = &nightly.when
    else {
        panic!("a cron window expected: {:?}", nightly.when);
    };
    assert_eq!(expression, "0 1 * * 1-5");
    assert_eq!(*duration, Duration::from_secs(2 * 3600));
    assert_eq!(zone_name, "Europe/Berlin");
    assert_eq!(
        *timezone,
        jiff::tz::TimeZone::get("Europe/Berlin").expect("zone")
    );

    assert_eq!(migration.orgs, ["uat", "prod"]);
    assert_eq!(migration.kinds, None);
    assert_eq!(migration.objects, None);
    // The end is an unquoted TOML datetime; both are the same instants.
    assert_eq!(
        migration.when,
        WindowWhen::Once {
            start: "2026-12-01T21:00:00Z".parse().expect("instant"),
            end: "2026-12-02T03:00:00Z".parse().expect("instant"),
        }
    );

    let WindowWhen::Cron { zone_name, .. } = &utc.when else {
        panic!("a cron window expected: {:?}", utc.when);
    };
    assert_eq!(zone_name, "UTC");
}

#[test]
fn a_config_without_windows_has_none() {
    let fixture = Fixture::new();
    let path = fixture.config(PROD);
    let config = load(&path, &env(&[]));
    assert!(config.windows.is_empty());
    assert!(config.warnings.is_empty());
}

#[test]
fn every_window_problem_is_reported_at_once_with_its_key() {
    let errors = window_problems(
        r#"
[[windows]]
name = "a"
orgs = ["prod"]
cron = "0 1 * *"
duration = "0s"
timezone = "Europe/Berln"

[[windows]]
name = "a"
orgs = ["prdo"]
start = "2026-12-02T04:00:00+01:00"
end = "2026-12-01T22:00:00+01:00"
cronn = "0 1 * * *"

[[windows]]
name = "both"
orgs = ["prod"]
cron = "0 1 * * *"
duration = "1h"
start = "2026-12-01T22:00:00+01:00"
end = "2026-12-02T04:00:00+01:00"

[[windows]]
name = "neither"
orgs = ["prod"]
"#,
    );
    println!("{errors}");
    let found: Vec<(&str, &str)> = errors
        .problems
        .iter()
        .map(|p| (p.key.as_str(), p.message.as_str()))
        .collect();
    let keys: Vec<&str> = found.iter().map(|(key, _)| *key).collect();
    assert_eq!(
        keys,
        [
            "windows[0].cron",
            "windows[0].duration",
            "windows[0].timezone",
            "windows[1].cronn",
            "windows[1].end",
            "windows[1].name",
            "windows[1].orgs",
            "windows[2]",
            "windows[3]",
        ],
        "{errors}"
    );
    let message = |key: &str| {
        found
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, message)| *message)
            .unwrap_or_default()
    };
    assert!(message("windows[0].cron").contains("has 4 field(s)"));
    assert!(message("windows[0].duration").contains("longer than zero"));
    assert!(
        message("windows[0].timezone").contains("did you mean `Europe/Berlin`?"),
        "{errors}"
    );
    assert!(message("windows[1].cronn").contains("did you mean `cron`?"));
    assert!(message("windows[1].end").contains("is not after start"));
    assert!(message("windows[1].name").contains("windows[0] is also named `a`"));
    assert!(message("windows[1].orgs").contains("unknown org `prdo`; did you mean `prod`?"));
    assert!(message("windows[2]").contains("both cron"));
    assert!(message("windows[3]").contains("no schedule"));
    for problem in &errors.problems {
        assert_eq!(problem.source, from_file(&errors.path), "{problem}");
    }
    let shown = errors.to_string();
    assert!(
        shown.contains(&format!(
            "windows[0].cron (in {}): `0 1 * *` has 4 field(s)",
            errors.path.display()
        )),
        "{shown}"
    );
}

#[test]
fn bad_cron_values_name_the_field() {
    for (cron, expected) in [
        ("0 25 * * *", "invalid hour field `25`"),
        ("61 1 * * *", "invalid minute field `61`"),
        ("0 1 * 13 *", "invalid month field `13`"),
        ("0 1 * * 8", "invalid day-of-week field `8`"),
        ("0 1 0 * *", "invalid day-of-month field `0`"),
        ("0 1 * * 5#2", "croner extension"),
        ("@daily", "nickname @daily"),
        ("0 0 30 2 *", "never matches a real date"),
        ("0 0 1 * * *", "has 6 field(s)"),
    ] {
        let problem = only_window_problem(&format!(
            "[[windows]]\nname = \"w\"\norgs = [\"prod\"]\ncron = \"{cron}\"\nduration = \"1h\"\n"
        ));
        assert_eq!(problem.key, "windows[0].cron", "{cron}");
        assert!(problem.message.contains(expected), "{cron}: {problem}");
    }
}

#[test]
fn window_schedule_keys_are_checked() {
    let window = |body: &str| format!("[[windows]]\nname = \"w\"\norgs = [\"prod\"]\n{body}");
    for (body, key, expected) in [
        (
            "cron = \"0 1 * * *\"\n",
            "windows[0].duration",
            "missing; a cron window needs a duration",
        ),
        (
            "cron = \"0 1 * * *\"\nduration = \"169h\"\n",
            "windows[0].duration",
            "limit of 7 days",
        ),
        (
            "cron = \"0 1 * * *\"\nduration = \"1d\"\n",
            "windows[0].duration",
            "not a duration",
        ),
        (
            "cron = \"0 1 * * *\"\nduration = \"1h\"\ntimezone = \"Mars/Olympus\"\n",
            "windows[0].timezone",
            "unknown time zone `Mars/Olympus`; use an IANA name",
        ),
        (
            "start = \"2026-12-01T22:00:00+01:00\"\n",
            "windows[0].end",
            "missing; a one-off window needs both start and end",
        ),
        (
            "start = \"2026-12-01T22:00:00\"\nend = \"2026-12-02T04:00:00+01:00\"\n",
            "windows[0].start",
            "not an RFC 3339 time with an offset",
        ),
        (
            "start = \"2026-12-01T22:00:00Z\"\nend = \"2026-12-01T22:00:00Z\"\n",
            "windows[0].end",
            "is not after start",
        ),
        (
            "start = \"2026-12-01T00:00:00Z\"\nend = \"2026-12-09T00:00:00Z\"\n",
            "windows[0].end",
            "limit of 7 days",
        ),
        (
            "start = \"2026-12-01T22:00:00Z\"\nend = \"2026-12-02T04:00:00Z\"\nduration = \"1h\"\n",
            "windows[0].duration",
            "a one-off window ends at `end`",
        ),
        (
            "start = \"2026-12-01T22:00:00Z\"\nend = \"2026-12-02T04:00:00Z\"\ntimezone = \"UTC\"\n",
            "windows[0].timezone",
            "carry their own offsets",
        ),
    ] {
        let problem = only_window_problem(&window(body));
        assert_eq!(problem.key, key, "{body}");
        assert!(problem.message.contains(expected), "{body}: {problem}");
    }
}

#[test]
fn window_names_orgs_and_scope_are_checked() {
    let cron = "cron = \"0 1 * * *\"\nduration = \"1h\"\n";
    for (window, key, expected) in [
        (
            format!("orgs = [\"prod\"]\n{cron}"),
            "windows[0].name",
            "missing; give the window a unique name",
        ),
        (
            format!("name = \" \"\norgs = [\"prod\"]\n{cron}"),
            "windows[0].name",
            "must not be empty",
        ),
        (
            format!("name = \"w\"\n{cron}"),
            "windows[0].orgs",
            "missing; list the orgs",
        ),
        (
            format!("name = \"w\"\norgs = []\n{cron}"),
            "windows[0].orgs",
            "the list is empty",
        ),
        (
            format!("name = \"w\"\norgs = [\"prod\", \"prod\"]\n{cron}"),
            "windows[0].orgs",
            "org `prod` is listed twice",
        ),
        (
            format!("name = \"w\"\norgs = [\"staging\"]\n{cron}"),
            "windows[0].orgs",
            "unknown org `staging`; configured orgs: prod, uat",
        ),
        (
            format!("name = \"w\"\norgs = [\"prod\"]\nkinds = [\"flows\"]\n{cron}"),
            "windows[0].kinds",
            "unknown automation kind `flows`",
        ),
        (
            format!("name = \"w\"\norgs = [\"prod\"]\nobjects = []\n{cron}"),
            "windows[0].objects",
            "the list is empty",
        ),
    ] {
        let problem = only_window_problem(&format!("[[windows]]\n{window}"));
        assert_eq!(problem.key, key, "{window}");
        assert!(problem.message.contains(expected), "{window}: {problem}");
    }
}

#[test]
fn windows_must_be_a_list_of_tables() {
    let problem = only_window_problem("[windows]\nname = \"w\"\n");
    assert_eq!(problem.key, "windows");
    assert!(problem.message.contains("[[windows]]"), "{problem}");
}

#[test]
fn a_window_naming_a_broken_org_is_not_blamed_for_it() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{}\n[[windows]]\nname = \"w\"\norgs = [\"prod\"]\ncron = \"0 1 * * *\"\nduration = \"1h\"\n",
        PROD.replace("https://acme.my.salesforce.com", "http://acme.my.salesforce.com")
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "orgs.prod.url");
}

#[test]
fn windows_cannot_be_set_from_the_environment() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}\n[[windows]]\nname = \"w\"\norgs = [\"prod\"]\ncron = \"0 1 * * *\"\nduration = \"1h\"\n"
    ));
    let problem = only_problem(&path, &env(&[("PAUSEPLAY__WINDOWS__0__CRON", "0 2 * * *")]));
    assert_eq!(problem.key, "windows.0.cron");
    assert_eq!(
        problem.source,
        ProblemSource::EnvVar("PAUSEPLAY__WINDOWS__0__CRON".to_owned())
    );
    assert!(problem.message.contains("config file"), "{problem}");
}

#[test]
fn a_start_in_a_dst_gap_or_fold_is_a_warning_not_an_error() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}\n[[windows]]\nname = \"w\"\norgs = [\"prod\"]\ncron = \"30 2 * * *\"\n\
         duration = \"1h\"\ntimezone = \"Europe/Berlin\"\n"
    ));
    let config = match Config::load_with_env_at(
        &path,
        &env(&[]),
        "2026-01-01T00:00:00Z".parse().expect("instant"),
    ) {
        Ok(config) => config,
        Err(errors) => panic!("warnings must not stop loading:\n{errors}"),
    };
    assert_eq!(config.windows.len(), 1);
    let warnings: Vec<(&str, &str)> = config
        .warnings
        .iter()
        .map(|w| (w.key.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [
            (
                "windows[0].cron",
                "2026-03-29: 02:30 Europe/Berlin does not exist (clocks spring forward from \
                 02:00 to 03:00); moved to 03:00 CEST (2026-03-29T01:00:00Z)"
            ),
            (
                "windows[0].cron",
                "2026-10-25: 02:30 Europe/Berlin happens twice (clocks fall back from 03:00 to \
                 02:00); fires once, at 02:30 CEST (2026-10-25T00:30:00Z), the first pass"
            ),
        ]
    );
    assert_eq!(config.warnings[0].source, from_file(&path));

    // Loaded now, whenever that is, the coming twelve months hold one change of each kind.
    let config = load(&path, &env(&[]));
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
}

#[test]
fn windows_that_cannot_pause_anything_are_warnings() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}kinds = [\"flow\"]\nobjects = [\"Account\"]\n\
         [[windows]]\nname = \"over\"\norgs = [\"prod\"]\n\
         start = \"2026-01-01T00:00:00Z\"\nend = \"2026-01-01T01:00:00Z\"\n\
         kinds = [\"trigger\"]\nobjects = [\"Contact\"]\n"
    ));
    let config = load_at(&path);
    let keys: Vec<&str> = config.warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(
        keys,
        ["windows[0].end", "windows[0].kinds", "windows[0].objects"],
        "{:?}",
        config.warnings
    );
    assert!(
        config.warnings[0]
            .message
            .contains("ended at 2026-01-01T01:00:00Z")
    );
    assert!(config.warnings[1].message.contains("only flow"));
    assert!(config.warnings[2].message.contains("only Account"));
}

// Notification targets and the daemon keys that go with them.

/// The part of the test webhook URLs that stands for the token a Slack URL carries.
const HOOK_TOKEN: &str = "hook-token-never-printed";

/// A webhook URL on `origin` (scheme and host) carrying [`HOOK_TOKEN`].
fn hook_url(origin: &str) -> String {
    format!("{origin}/services/T000/B000/{HOOK_TOKEN}")
}

/// The problems of [`PROD`] plus one `[[notify]]` table. No problem, displayed or debugged, may
/// show the URL's token.
fn notify_errors(fixture: &Fixture, target: &str, env: &HashMap<String, String>) -> ConfigErrors {
    let path = fixture.config(&format!("{PROD}\n[[notify]]\n{target}"));
    let errors = load_err(&path, env);
    for shown in [errors.to_string(), format!("{errors:?}")] {
        assert!(!shown.contains(HOOK_TOKEN), "{shown}");
    }
    errors
}

/// The single problem of [`notify_errors`].
fn only_notify_problem(
    fixture: &Fixture,
    target: &str,
    env: &HashMap<String, String>,
) -> ConfigProblem {
    let errors = notify_errors(fixture, target, env);
    assert_eq!(errors.problems.len(), 1, "expected one problem:\n{errors}");
    errors.problems.into_iter().next().expect("one problem")
}

#[test]
fn notify_targets_load_from_each_url_source() {
    let fixture = Fixture::new();
    let slack_url = hook_url("https://hooks.slack.com");
    let url_file = fixture.file("slack.url", &format!("{slack_url}\n"), 0o600);
    let credential = fixture.file("hook.url", "https://hooks.example.com/in/abc", 0o440);
    let path = fixture.config(&format!(
        r#"{PROD}
[[notify]]
name = "ops_slack"
kind = "slack"
url_file = "{}"
events = ["restore_overdue", "partial_failure"]

[[notify]]
name = "hooks"
kind = "webhook"
url_env = "PAUSEPLAY_HOOK_URL"

[[notify]]
name = "local"
kind = "webhook"
credential = "hook.url"
"#,
        url_file.display()
    ));
    let directory = fixture.dir.path().display().to_string();
    let config = load(
        &path,
        &env(&[
            ("PAUSEPLAY_HOOK_URL", "http://127.0.0.1:9000/hook"),
            ("CREDENTIALS_DIRECTORY", &directory),
        ]),
    );

    let [slack, hooks, local] = config.notify.as_slice() else {
        panic!("expected three targets: {:?}", config.notify);
    };
    assert_eq!(slack.name, "ops_slack");
    assert_eq!(slack.kind, NotifyKind::Slack);
    assert_eq!(slack.url.expose_secret().as_str(), slack_url);
    assert_eq!(slack.url_source, SecretSource::File(url_file));
    assert_eq!(
        slack.events,
        BTreeSet::from([EventKind::RestoreOverdue, EventKind::PartialFailure])
    );

    assert_eq!(hooks.kind, NotifyKind::Webhook);
    assert_eq!(
        hooks.url.expose_secret().as_str(),
        "http://127.0.0.1:9000/hook"
    );
    assert_eq!(
        hooks.url_source,
        SecretSource::Env("PAUSEPLAY_HOOK_URL".to_owned())
    );
    assert_eq!(hooks.events, BTreeSet::from(EventKind::ALL));

    assert_eq!(
        local.url.expose_secret().as_str(),
        "https://hooks.example.com/in/abc"
    );
    assert_eq!(
        local.url_source,
        SecretSource::Credential {
            name: "hook.url".to_owned(),
            path: credential,
        }
    );

    let debug = format!("{config:?}");
    assert!(!debug.contains(HOOK_TOKEN), "{debug}");
    assert!(!debug.contains("/in/abc"), "{debug}");
    assert!(debug.contains("WebhookUrl([REDACTED])"), "{debug}");
}

#[test]
fn an_inline_webhook_url_is_refused_pointing_at_the_three_sources() {
    let fixture = Fixture::new();
    let target = format!(
        "name = \"ops\"\nkind = \"slack\"\nurl = \"{}\"\n",
        hook_url("https://hooks.slack.com")
    );
    let problem = only_notify_problem(&fixture, &target, &env(&[]));
    assert_eq!(problem.key, "notify[0].url");
    assert!(problem.message.contains("is a secret"), "{problem}");
    for source in ["url_file", "url_env", "credential"] {
        assert!(problem.message.contains(source), "{problem}");
    }
}

#[test]
fn a_webhook_url_needs_exactly_one_source() {
    let fixture = Fixture::new();
    let url_file = fixture.file("hook.url", "https://hooks.example.com/in", 0o600);
    let target = format!(
        "name = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\nurl_env = \"HOOK\"\n",
        url_file.display()
    );
    let problem = only_notify_problem(&fixture, &target, &env(&[("HOOK", "https://x.example")]));
    assert_eq!(problem.key, "notify[0]");
    assert!(
        problem
            .message
            .contains("more than one secret source is set (url_file, url_env)"),
        "{problem}"
    );

    let problem = only_notify_problem(&fixture, "name = \"ops\"\nkind = \"webhook\"\n", &env(&[]));
    assert_eq!(problem.key, "notify[0]");
    assert!(
        problem
            .message
            .contains("no webhook URL source; set one of url_file, url_env or credential"),
        "{problem}"
    );
}

#[test]
fn a_webhook_url_file_readable_by_others_is_refused() {
    let fixture = Fixture::new();
    let url_file = fixture.file("hook.url", &hook_url("https://hooks.slack.com"), 0o640);
    let target = format!(
        "name = \"ops\"\nkind = \"slack\"\nurl_file = \"{}\"\n",
        url_file.display()
    );
    let problem = only_notify_problem(&fixture, &target, &env(&[]));
    assert_eq!(problem.key, "notify[0].url_file");
    assert!(problem.message.contains("mode 0640"), "{problem}");
    assert!(problem.message.contains("chmod 600"), "{problem}");
}

#[test]
fn webhook_urls_that_cannot_work_are_refused_without_quoting_them() {
    let fixture = Fixture::new();
    let from_env = |url: String| {
        let problem = only_notify_problem(
            &fixture,
            "name = \"ops\"\nkind = \"slack\"\nurl_env = \"HOOK\"\n",
            &env(&[("HOOK", &url)]),
        );
        assert_eq!(problem.key, "notify[0].url_env");
        assert!(
            problem
                .message
                .contains("the webhook URL read from environment variable HOOK"),
            "{problem}"
        );
        problem.message
    };
    let message = from_env(hook_url("http://hooks.slack.com"));
    assert!(message.contains("plain http"), "{message}");
    assert!(message.contains("use https"), "{message}");
    let message = from_env(hook_url("hooks.slack.com"));
    assert!(message.contains("not a valid URL"), "{message}");
    let message = from_env(hook_url("ftp://hooks.slack.com"));
    assert!(message.contains("not an https URL"), "{message}");

    // The same checks apply whatever the source; a file's problem names the file key.
    let url_file = fixture.file("hook.url", &hook_url("http://10.0.0.1"), 0o600);
    let target = format!(
        "name = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\n",
        url_file.display()
    );
    let problem = only_notify_problem(&fixture, &target, &env(&[]));
    assert_eq!(problem.key, "notify[0].url_file");
    assert!(problem.message.contains("plain http"), "{problem}");
}

#[test]
fn notify_names_kinds_and_events_are_checked() {
    let fixture = Fixture::new();
    let target = |fields: &str| format!("url_env = \"HOOK\"\n{fields}");
    let hook = env(&[("HOOK", "https://hooks.example.com/in")]);

    let problem = only_notify_problem(
        &fixture,
        &target("name = \"ops\"\nkind = \"slack\"\nevents = [\"restore_late\"]\n"),
        &hook,
    );
    assert_eq!(problem.key, "notify[0].events");
    assert!(
        problem.message.contains("unknown event `restore_late`"),
        "{problem}"
    );
    for kind in EventKind::ALL {
        assert!(problem.message.contains(kind.as_str()), "{problem}");
    }

    let problem = only_notify_problem(
        &fixture,
        &target("name = \"ops\"\nkind = \"slack\"\nevents = []\n"),
        &hook,
    );
    assert_eq!(problem.key, "notify[0].events");
    assert!(problem.message.contains("the list is empty"), "{problem}");

    let problem = only_notify_problem(
        &fixture,
        &target("name = \"ops\"\nkind = \"teams\"\n"),
        &hook,
    );
    assert_eq!(problem.key, "notify[0].kind");
    assert!(
        problem
            .message
            .contains("unknown notification kind `teams`"),
        "{problem}"
    );

    let errors = notify_errors(&fixture, &target(""), &hook);
    let keys: Vec<&str> = errors.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["notify[0].kind", "notify[0].name"], "{errors}");

    let problem = only_notify_problem(
        &fixture,
        &target("name = \"Ops Slack\"\nkind = \"slack\"\n"),
        &hook,
    );
    assert_eq!(problem.key, "notify[0].name");
    assert!(problem.message.contains("lowercase letters"), "{problem}");

    let problem = only_notify_problem(
        &fixture,
        &format!(
            "{}\n[[notify]]\n{}",
            target("name = \"ops\"\nkind = \"slack\"\n"),
            target("name = \"ops\"\nkind = \"webhook\"\n")
        ),
        &hook,
    );
    assert_eq!(problem.key, "notify[1].name");
    assert!(
        problem.message.contains("notify[0] is also named `ops`"),
        "{problem}"
    );

    let problem = only_notify_problem(
        &fixture,
        &target("name = \"ops\"\nkind = \"slack\"\nchannel = \"#ops\"\n"),
        &hook,
    );
    assert_eq!(problem.key, "notify[0].channel");
}

#[test]
fn notify_must_be_a_list_of_tables() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!("{PROD}\n[notify]\nname = \"ops\"\n"));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "notify");
    assert!(problem.message.contains("[[notify]]"), "{problem}");
}

#[test]
fn notify_cannot_be_set_from_the_environment() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "{PROD}\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl_env = \"HOOK\"\n"
    ));
    let problem = only_problem(
        &path,
        &env(&[
            ("HOOK", "https://hooks.example.com/in"),
            ("PAUSEPLAY__NOTIFY__0__KIND", "slack"),
        ]),
    );
    assert_eq!(problem.key, "notify.0.kind");
    assert_eq!(
        problem.source,
        ProblemSource::EnvVar("PAUSEPLAY__NOTIFY__0__KIND".to_owned())
    );
    assert!(problem.message.contains("[[notify]]"), "{problem}");
    assert!(problem.message.contains("config file"), "{problem}");
}

#[test]
fn metrics_listen_is_a_socket_address_and_off_loopback_is_a_warning() {
    let fixture = Fixture::new();
    let path = fixture.config(&format!(
        "[daemon]\nmetrics_listen = \"localhost:9464\"\n{PROD}"
    ));
    let problem = only_problem(&path, &env(&[]));
    assert_eq!(problem.key, "daemon.metrics_listen");
    assert!(
        problem
            .message
            .contains("`localhost:9464` is not a socket address"),
        "{problem}"
    );
    assert!(problem.message.contains("127.0.0.1:9464"), "{problem}");

    let path = fixture.config(&format!(
        "[daemon]\nmetrics_listen = \"0.0.0.0:9464\"\n{PROD}"
    ));
    let config = load(&path, &env(&[]));
    assert_eq!(
        config.daemon.metrics_listen,
        Some("0.0.0.0:9464".parse().expect("address"))
    );
    let [warning] = config.warnings.as_slice() else {
        panic!("expected one warning: {:?}", config.warnings);
    };
    assert_eq!(warning.key, "daemon.metrics_listen");
    assert!(
        warning.message.contains("name orgs and components"),
        "{warning}"
    );
    assert!(warning.message.contains("firewall"), "{warning}");

    let path = fixture.config(&format!(
        "[daemon]\nmetrics_listen = \"[::1]:9464\"\n{PROD}"
    ));
    assert!(load(&path, &env(&[])).warnings.is_empty());
}

#[test]
fn api_usage_alert_percent_is_from_1_to_100() {
    let fixture = Fixture::new();
    for (value, expected) in [
        ("0", "0 is not a percentage from 1 to 100"),
        ("101", "101 is not a percentage from 1 to 100"),
        ("-5", "-5 is not a percentage from 1 to 100"),
        ("85.5", "expected a whole number, found a number"),
        ("\"many\"", "expected a whole number, found `many`"),
    ] {
        let path = fixture.config(&format!(
            "[daemon]\napi_usage_alert_percent = {value}\n{PROD}"
        ));
        let problem = only_problem(&path, &env(&[]));
        assert_eq!(problem.key, "daemon.api_usage_alert_percent");
        assert!(problem.message.contains(expected), "{value}: {problem}");
    }

    // From the environment the value is a string.
    let path = fixture.config(PROD);
    let config = load(
        &path,
        &env(&[("PAUSEPLAY__DAEMON__API_USAGE_ALERT_PERCENT", "95")]),
    );
    assert_eq!(config.daemon.api_usage_alert_percent, 95);
    let path = fixture.config(&format!("[daemon]\napi_usage_alert_percent = 100\n{PROD}"));
    assert_eq!(load(&path, &env(&[])).daemon.api_usage_alert_percent, 100);
}
