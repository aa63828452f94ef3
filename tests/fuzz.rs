//! Property tests (proptest) of what pauseplay reads from outside: the configuration file and
//! its environment overrides, window expressions (cron, durations, time zones, one-off
//! instants) and the schedules computed from them, and the control protocol's request decoder.
//!
//! Each property says that hostile input gets an error that names what is wrong, never a
//! panic, and that every computation ends. Each property runs on a helper thread with a
//! deadline, so a hang fails the test with a message instead of stalling the suite.
//!
//! The last property drives a real daemon (in this process, on a simulated org) with random
//! sequences of well-formed requests whose values go to the ends of their types: each gets a
//! result or an error that is not `internal`, `status` answers after every sequence, and once
//! every hold is released the org is exactly as it was.
//!
//! Case counts are chosen to keep this binary at a few seconds on two cores (see `CASES_*`);
//! `PROPTEST_CASES=N` runs every property with N cases instead, for a longer hunt. Each test
//! prints one line with its figures (`cargo test --test fuzz -- --nocapture`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use pauseplay::config::{Config, ConfigErrors, ProblemSource, WindowConfig, WindowWhen};
use pauseplay::control::protocol::{
    ErrorCode, MAX_LINE_BYTES, PROTOCOL_VERSION, ReplyLine, Request, RequestLine, ResultBody,
    parse_request_line,
};
use pauseplay::control::{ClientError, ControlClient};
use pauseplay::schedule;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};

/// Cases per property. The config loader is the slowest per case (a file write and a full
/// load with its window warnings for the coming year).
const CASES_CONFIG_TEXT: u32 = 1_000;
const CASES_CONFIG_MUTATIONS: u32 = 1_000;
const CASES_CONFIG_WRONG_TYPE: u32 = 300;
const CASES_CRON: u32 = 1_000;
const CASES_ONCE: u32 = 1_000;
const CASES_DECODER: u32 = 5_000;
const CASES_ROUND_TRIP: u32 = 2_000;
/// Sequences of requests to the real daemon; each pause converges the simulated org.
const CASES_DAEMON: u32 = 250;

/// How long one property may run before it counts as hung: a minute, plus a budget per case
/// far above what any case takes (the slowest take a few milliseconds).
fn deadline(cases: u32) -> Duration {
    Duration::from_secs(60) + Duration::from_millis(50) * cases
}

/// The client secret in the fixtures' secret file; it must never appear in a message.
const SECRET: &str = "fuzz-secret-value-never-shown";

/// The instant configurations are loaded at: window warnings look a year ahead from here.
fn loaded_at() -> Timestamp {
    "2026-05-01T00:00:00Z".parse().expect("a valid instant")
}

fn proptest_config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Regressions are reported in the failure message; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs the strategy `strategy` builds through `property` for `cases` cases on a helper
/// thread (strategies are built there: recursive ones are not `Send`), failing if it panics,
/// fails or does not finish within its [`deadline`]. Returns how many inputs it tried.
fn check<S>(
    what: &'static str,
    cases: u32,
    strategy: impl FnOnce() -> S + Send + 'static,
    property: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) -> u64
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let tried = std::sync::Arc::new(AtomicU64::new(0));
    let counter = std::sync::Arc::clone(&tried);
    let (done, finished) = std::sync::mpsc::channel();
    let config = proptest_config(cases);
    let deadline = deadline(config.cases);
    std::thread::spawn(move || {
        let strategy = strategy();
        let mut runner = TestRunner::new(config);
        let outcome = runner
            .run(&strategy, |input| {
                counter.fetch_add(1, Ordering::Relaxed);
                property(input)
            })
            .map_err(|error| error.to_string());
        let _ = done.send(outcome);
    });
    match finished.recv_timeout(deadline) {
        Ok(Ok(())) => tried.load(Ordering::Relaxed),
        Ok(Err(failure)) => panic!("{what}: {failure}"),
        // proptest catches panics in a case; this one was outside any (in a strategy).
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("{what}: the property's thread panicked outside a test case (see above)")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "{what}: did not finish within {deadline:?} ({} inputs tried); an input hangs",
            tried.load(Ordering::Relaxed)
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The configuration loader
// ---------------------------------------------------------------------------------------------

/// A directory with a mode-600 secret file; configurations are written to `pauseplay.toml`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("prod.secret");
        fs::write(&secret, format!("{SECRET}\n")).expect("write the secret");
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod");
        Fixture { dir }
    }

    fn secret_path(&self) -> PathBuf {
        self.dir.path().join("prod.secret")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("pauseplay.toml")
    }
}

/// The checks every load result must pass: an error lists at least one problem; each problem
/// has a message and names a key, the file or the environment variable it came from; and
/// neither the error nor a loaded configuration's `Debug` shows the client secret.
fn check_loaded(path: &Path, result: &Result<Config, ConfigErrors>) -> Result<(), TestCaseError> {
    match result {
        Ok(config) => {
            let debug = format!("{config:?}");
            prop_assert!(!debug.contains(SECRET), "Debug shows the secret: {debug}");
        }
        Err(errors) => {
            prop_assert!(!errors.problems.is_empty(), "an error without problems");
            prop_assert_eq!(&errors.path, path);
            for problem in &errors.problems {
                prop_assert!(
                    !problem.message.trim().is_empty(),
                    "a problem without a message: {:?}",
                    problem
                );
                let named = !problem.key.is_empty()
                    || problem.source == ProblemSource::File(path.to_owned())
                    || matches!(problem.source, ProblemSource::EnvVar(_));
                prop_assert!(
                    named,
                    "a problem naming neither key nor file: {:?}",
                    problem
                );
            }
            let shown = errors.to_string();
            prop_assert!(
                shown.contains(&path.display().to_string()),
                "the error does not name the file: {}",
                shown
            );
            prop_assert!(
                !shown.contains(SECRET),
                "the error shows the secret: {}",
                shown
            );
        }
    }
    Ok(())
}

/// Text that is sometimes TOML-shaped: arbitrary Unicode, characters TOML cares about, and
/// bytes that are not UTF-8 at all.
fn arbitrary_config_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        "[\\[\\]a-z_.=\"'0-9 \n#{},:+-]{0,200}".prop_map(String::into_bytes),
        "(\\[(daemon|orgs\\.[a-z]{1,4}|\\[windows\\])\\]\n([a-z_]{1,20} = (\"[^\"\n]{0,20}\"|[0-9]{1,4}|true|\\[\\])\n){0,4}){0,4}"
            .prop_map(String::into_bytes),
        vec(any::<u8>(), 0..300),
    ]
}

#[test]
fn the_config_loader_gives_a_clear_error_for_arbitrary_text() {
    let started = Instant::now();
    let tried = check(
        "config loader on arbitrary text",
        CASES_CONFIG_TEXT,
        arbitrary_config_bytes,
        |bytes| {
            let fixture = Fixture::new();
            let path = fixture.config_path();
            fs::write(&path, &bytes).expect("write the config");
            let result = Config::load_with_env_at(&path, &HashMap::new(), loaded_at());
            check_loaded(&path, &result)?;
            // What the socket-only commands read: never a panic either.
            let _ = pauseplay::config::socket_path(&path);
            Ok(())
        },
    );
    println!(
        "config loader, arbitrary text: {tried} generated inputs, 0 panics, every error names \
         the file ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

/// A valid configuration using every key, as a TOML table; `secret` is the secret file.
fn valid_config(secret: &Path) -> toml::Table {
    let text = format!(
        r#"
[daemon]
state_dir = "/var/lib/pauseplay"
socket = "/run/pauseplay/control.sock"
socket_group = "pauseplay-ops"
lead_time = "2m"
min_remaining = "5m"
manual_pause_default = "1h"
manual_pause_max = "12h"
log_format = "text"

[orgs.prod]
url = "https://acme.my.salesforce.com"
client_id = "3MVG9-prod"
client_secret_file = "{secret}"
api_version = "66.0"
kinds = ["flow", "process_builder", "trigger", "validation_rule", "workflow_rule"]
objects = ["Account", "Contact"]
exclude = ["flow:Critical_*"]
include_managed = false
trigger_test_level = "RunSpecifiedTests"
trigger_tests = ["AccountTriggerTest"]

[[windows]]
name = "nightly"
orgs = ["prod"]
cron = "0 1 * * 1-5"
duration = "2h"
timezone = "Europe/Berlin"
kinds = ["flow"]
objects = ["Account"]

[[windows]]
name = "migration"
orgs = ["prod"]
start = "2026-12-01T22:00:00+01:00"
end = "2026-12-02T04:00:00+01:00"
"#,
        secret = secret.display()
    );
    toml::from_str(&text).expect("the base configuration is TOML")
}

/// Every key of [`valid_config`], as a path of table keys and array indexes.
const KEY_PATHS: &[&str] = &[
    "daemon",
    "daemon.state_dir",
    "daemon.socket",
    "daemon.socket_group",
    "daemon.lead_time",
    "daemon.min_remaining",
    "daemon.manual_pause_default",
    "daemon.manual_pause_max",
    "daemon.log_format",
    "orgs",
    "orgs.prod",
    "orgs.prod.url",
    "orgs.prod.client_id",
    "orgs.prod.client_secret_file",
    "orgs.prod.api_version",
    "orgs.prod.kinds",
    "orgs.prod.objects",
    "orgs.prod.exclude",
    "orgs.prod.include_managed",
    "orgs.prod.trigger_test_level",
    "orgs.prod.trigger_tests",
    "windows",
    "windows.0",
    "windows.0.name",
    "windows.0.orgs",
    "windows.0.cron",
    "windows.0.duration",
    "windows.0.timezone",
    "windows.0.kinds",
    "windows.0.objects",
    "windows.1",
    "windows.1.start",
    "windows.1.end",
    "windows.1.name",
];

/// Keys that are valid in a section although the base configuration leaves them out.
const OPTIONAL_KEY_PATHS: &[&str] = &[
    "orgs.prod.client_secret",
    "orgs.prod.client_secret_env",
    "orgs.prod.credential",
    "windows.0.start",
    "windows.1.cron",
    "orgs.uat",
];

/// Strings that are nearly right, edge cases of each key's type, and anything at all.
fn config_string() -> impl Strategy<Value = String> {
    let near = select(vec![
        "",
        " ",
        "0",
        "0s",
        "1s",
        "59s",
        "2m",
        "24h",
        "25h",
        "168h",
        "169h",
        "-1h",
        "1.5h",
        "90",
        "1h30m",
        "2h 30m",
        "P1D",
        "PT2H",
        "1000000000000h",
        "18446744073709551616s",
        "ms",
        "https://acme.my.salesforce.com",
        "http://acme.my.salesforce.com",
        "http://10.0.0.5",
        "http://127.0.0.1:1",
        "https://user:pw@acme.my.salesforce.com",
        "ftp://x",
        "https://login.salesforce.com",
        "flow",
        "trigger",
        "Flow",
        "flow:*",
        "trigger:Acc*",
        "nope:*",
        "NoTestRun",
        "RunLocalTests",
        "RunSpecifiedTests",
        "66.0",
        "0.0",
        "66",
        "999999.0",
        "text",
        "json",
        "yaml",
        "Europe/Berlin",
        "Mars/Olympus",
        "europe/berlin",
        "UTC",
        "0 1 * * 1-5",
        "* * * * *",
        "*/0 * * * *",
        "0 0 30 2 *",
        "0 0 29 2 *",
        "0 0 * * 8",
        "@daily",
        "0 0 L * *",
        "0 0 1W * *",
        "0 0 * * MON#2",
        "0 0 1 * MON+",
        "0 0 * JAN-DEC SUN",
        "0 0 * MON *",
        "0 0 * * * *",
        "2026-03-29T02:30:00+01:00",
        "2026-12-01T22:00:00",
        "9999-12-31T23:59:59Z",
        "-009999-01-01T00:00:00Z",
        "/nonexistent/prod.secret",
        "/",
        "PROD",
        "prod",
        "uat",
        "pauseplay-ops",
        "a\u{0}b",
        "\u{202e}evil",
    ])
    .prop_map(str::to_owned);
    let long = (100usize..400).prop_map(|n| "x".repeat(n));
    prop_oneof![8 => near, 2 => any::<String>(), 2 => "[ -~]{0,24}", 1 => long]
}

fn toml_leaf() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        3 => config_string().prop_map(toml::Value::String),
        1 => any::<i64>().prop_map(toml::Value::Integer),
        1 => select(vec![0i64, 1, -1, 2, 66, 3600, i64::MAX, i64::MIN]).prop_map(toml::Value::Integer),
        1 => any::<f64>().prop_map(toml::Value::Float),
        1 => any::<bool>().prop_map(toml::Value::Boolean),
        1 => select(vec!["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "1979-05-27T07:32:00"])
            .prop_map(|text| toml::Value::Datetime(text.parse().expect("a TOML datetime"))),
    ]
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    toml_leaf().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        ]
    })
}

/// One change to a valid configuration.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace (or add) the value at a key path.
    Set(String, toml::Value),
    /// Remove the key at a path.
    Remove(String),
    /// Add a key no section knows.
    Unknown(String, String, toml::Value),
    /// An environment override `PAUSEPLAY__...` (or a related variable) with a string value.
    Env(String, String),
}

fn key_path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEY_PATHS).prop_map(str::to_owned),
        1 => select(OPTIONAL_KEY_PATHS).prop_map(str::to_owned),
    ]
}

const ENV_NAMES: &[&str] = &[
    "PAUSEPLAY__DAEMON__LEAD_TIME",
    "PAUSEPLAY__DAEMON__MIN_REMAINING",
    "PAUSEPLAY__DAEMON__MANUAL_PAUSE_MAX",
    "PAUSEPLAY__DAEMON__SOCKET",
    "PAUSEPLAY__DAEMON__STATE_DIR",
    "PAUSEPLAY__DAEMON__LOG_FORMAT",
    "PAUSEPLAY__ORGS__PROD__URL",
    "PAUSEPLAY__ORGS__PROD__CLIENT_ID",
    "PAUSEPLAY__ORGS__PROD__CLIENT_SECRET_FILE",
    "PAUSEPLAY__ORGS__PROD__CLIENT_SECRET_ENV",
    "PAUSEPLAY__ORGS__PROD__CREDENTIAL",
    "PAUSEPLAY__ORGS__PROD__KINDS",
    "PAUSEPLAY__ORGS__PROD__INCLUDE_MANAGED",
    "PAUSEPLAY__ORGS__PROD__API_VERSION",
    "PAUSEPLAY__ORGS__UAT__URL",
    "PAUSEPLAY__WINDOWS__0__CRON",
    "PAUSEPLAY__BOGUS",
    "PAUSEPLAY__DAEMON",
    "PAUSEPLAY__",
    "PAUSEPLAY___ORGS",
    "CREDENTIALS_DIRECTORY",
    "STATE_DIRECTORY",
    "RUNTIME_DIRECTORY",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (key_path(), toml_value()).prop_map(|(path, value)| Mutation::Set(path, value)),
        2 => key_path().prop_map(Mutation::Remove),
        1 => (key_path(), "[a-z_]{1,16}", toml_value())
            .prop_map(|(path, key, value)| Mutation::Unknown(path, key, value)),
        2 => (select(ENV_NAMES).prop_map(str::to_owned), config_string())
            .prop_map(|(name, value)| Mutation::Env(name, value)),
    ]
}

/// The value at `path` in `root`, created as an empty table where a step is missing and the
/// parent is a table. `None` if the path runs through something else.
fn slot<'a>(root: &'a mut toml::Value, path: &str) -> Option<&'a mut toml::Value> {
    let mut at = root;
    for step in path.split('.') {
        at = match at {
            toml::Value::Table(table) => table
                .entry(step.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn remove(root: &mut toml::Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (slot(root, parent), last),
        None => (Some(root), path),
    };
    match parent {
        Some(toml::Value::Table(table)) => {
            table.remove(last);
        }
        Some(toml::Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// Applies `mutations` to the valid configuration; the TOML text and the environment.
fn mutate(secret: &Path, mutations: &[Mutation]) -> (String, HashMap<String, String>) {
    let mut root = toml::Value::Table(valid_config(secret));
    let mut env = HashMap::new();
    for mutation in mutations {
        match mutation {
            Mutation::Set(path, value) => {
                if let Some(at) = slot(&mut root, path) {
                    *at = value.clone();
                }
            }
            Mutation::Remove(path) => remove(&mut root, path),
            Mutation::Unknown(path, key, value) => {
                if let Some(toml::Value::Table(table)) = slot(&mut root, path) {
                    table.insert(key.clone(), value.clone());
                }
            }
            Mutation::Env(name, value) => {
                env.insert(name.clone(), value.clone());
            }
        }
    }
    let text = match root {
        toml::Value::Table(table) => toml::to_string(&table).expect("a table serializes"),
        _ => unreachable!("the root stays a table"),
    };
    (text, env)
}

#[test]
fn the_config_loader_gives_a_clear_error_for_mutated_configs() {
    let started = Instant::now();
    let errors = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&errors);
    let tried = check(
        "config loader on mutated configurations",
        CASES_CONFIG_MUTATIONS,
        || vec(mutation(), 1..6),
        move |mutations| {
            let fixture = Fixture::new();
            let path = fixture.config_path();
            let (text, env) = mutate(&fixture.secret_path(), &mutations);
            fs::write(&path, &text).expect("write the config");
            let result = Config::load_with_env_at(&path, &env, loaded_at());
            if result.is_err() {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            check_loaded(&path, &result)
        },
    );
    println!(
        "config loader, mutated valid configs (wrong types, out-of-range values, unknown keys, \
         broken windows, env overrides): {tried} generated inputs, {} refused, 0 panics, every \
         problem names its key or the file ({:.1} s)",
        errors.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

/// How a problem's key spells a mutation's path: `windows.0.cron` is `windows[0].cron`.
fn problem_key(path: &str) -> String {
    let mut key = String::new();
    for step in path.split('.') {
        if step.parse::<usize>().is_ok() {
            key.push_str(&format!("[{step}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(step);
        }
    }
    key
}

/// Values no key of pauseplay's takes: a table with a key in it, or a list of tables.
fn never_right() -> impl Strategy<Value = toml::Value> {
    prop_oneof![
        btree_map("[a-z_]{1,8}", toml_leaf(), 1..3)
            .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        vec(
            btree_map("[a-z_]{1,8}", toml_leaf(), 1..3)
                .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
            1..3
        )
        .prop_map(toml::Value::Array),
    ]
}

/// The leaf keys of [`KEY_PATHS`] (no sections).
fn leaf_key_path() -> impl Strategy<Value = String> {
    let leaves: Vec<&str> = KEY_PATHS
        .iter()
        .copied()
        .filter(|path| {
            !matches!(
                *path,
                "daemon" | "orgs" | "orgs.prod" | "windows" | "windows.0" | "windows.1"
            )
        })
        .collect();
    select(leaves).prop_map(str::to_owned)
}

#[test]
fn a_key_given_a_value_of_the_wrong_type_is_named_in_the_error() {
    let started = Instant::now();
    let tried = check(
        "config loader naming the key of a wrong type",
        CASES_CONFIG_WRONG_TYPE,
        || (leaf_key_path(), never_right()),
        |(path, value)| {
            let fixture = Fixture::new();
            let config = fixture.config_path();
            let (text, env) = mutate(
                &fixture.secret_path(),
                &[Mutation::Set(path.clone(), value)],
            );
            fs::write(&config, &text).expect("write the config");
            let result = Config::load_with_env_at(&config, &env, loaded_at());
            check_loaded(&config, &result)?;
            let Err(errors) = result else {
                return Err(TestCaseError::fail(format!(
                    "{path} accepted a table:\n{text}"
                )));
            };
            let key = problem_key(&path);
            prop_assert!(
                errors
                    .problems
                    .iter()
                    .any(|problem| problem.key.starts_with(&key)),
                "no problem names {}:\n{}",
                key,
                errors
            );
            Ok(())
        },
    );
    println!(
        "config loader, a table or list of tables for each of {} keys: {tried} generated inputs, \
         each refused naming its key, 0 panics ({:.1} s)",
        KEY_PATHS.len() - 6,
        started.elapsed().as_secs_f64()
    );
}

/// Duration-shaped text: numbers with and without units, fractions, signs, ISO 8601, and
/// anything at all.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9]{1,22}(ns|us|ms|s|m|h|d|w|mo|y|)",
        3 => "([0-9]{1,6}(\\.[0-9]{1,3})? ?(h|m|s|ms|hours?|minutes?|secs?|d)){1,4}",
        1 => "[+-][0-9]{1,6}[smh]",
        1 => "P(T)?[0-9]{1,6}[DHMS]",
        1 => select(vec!["", " ", "0s", "24h", "23h59m59s", "168h", "168h1s", "1ns", "-0s"])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

const DURATION_KEYS: &[&str] = &[
    "daemon.lead_time",
    "daemon.min_remaining",
    "daemon.manual_pause_default",
    "daemon.manual_pause_max",
    "windows.0.duration",
];

#[test]
fn durations_in_the_config_are_in_range_or_refused_naming_their_section() {
    let started = Instant::now();
    let accepted = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&accepted);
    let day = Duration::from_secs(24 * 3600);
    let tried = check(
        "duration values in the config",
        CASES_CONFIG_WRONG_TYPE,
        || (select(DURATION_KEYS), duration_text()),
        move |(path, text)| {
            let fixture = Fixture::new();
            let config = fixture.config_path();
            let mutation = Mutation::Set(path.to_owned(), toml::Value::String(text.clone()));
            let (toml, env) = mutate(&fixture.secret_path(), &[mutation]);
            fs::write(&config, &toml).expect("write the config");
            let result = Config::load_with_env_at(&config, &env, loaded_at());
            check_loaded(&config, &result)?;
            match result {
                Ok(loaded) => {
                    counted.fetch_add(1, Ordering::Relaxed);
                    let daemon = &loaded.daemon;
                    prop_assert!(daemon.lead_time > Duration::ZERO && daemon.lead_time < day);
                    prop_assert!(
                        daemon.min_remaining > Duration::ZERO && daemon.min_remaining < day
                    );
                    prop_assert!(daemon.manual_pause_default > Duration::ZERO);
                    prop_assert!(daemon.manual_pause_default <= daemon.manual_pause_max);
                    for window in &loaded.windows {
                        let length = window.when.length();
                        prop_assert!(
                            length.is_positive()
                                && length.unsigned_abs() <= pauseplay::config::MAX_WINDOW_LENGTH,
                            "{} accepted as {:?}",
                            text,
                            length
                        );
                    }
                }
                Err(errors) => {
                    // The section the value is in: `daemon.` or `windows[0].`.
                    let section = problem_key(path)
                        .split('.')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    prop_assert!(
                        errors.problems.iter().all(|p| p.key.starts_with(&section)),
                        "{:?} = {:?} blamed elsewhere:\n{}",
                        path,
                        text,
                        errors
                    );
                }
            }
            Ok(())
        },
    );
    println!(
        "config durations: {tried} generated values for {} keys, {} accepted and all in range \
         (lead_time and min_remaining under 24h, default <= max, windows at most 7 days), the \
         rest refused naming their section, 0 panics ({:.1} s)",
        DURATION_KEYS.len(),
        accepted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// Window expressions and the schedule
// ---------------------------------------------------------------------------------------------

/// A valid field for values in `low..=high`: `*`, a value, a range, a step, a list.
fn valid_cron_field(low: u32, high: u32) -> impl Strategy<Value = String> {
    let value = low..=high;
    prop_oneof![
        3 => Just("*".to_owned()),
        3 => value.clone().prop_map(|n| n.to_string()),
        2 => (value.clone(), value.clone())
            .prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        2 => (1..=high.max(1)).prop_map(|n| format!("*/{n}")),
        1 => (value.clone(), 1..=high.max(1)).prop_map(move |(a, n)| format!("{a}-{high}/{n}")),
        2 => vec(value, 1..4).prop_map(|list| {
            list.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        }),
    ]
}

/// Any field: out of range, extended (`L`, `W`, `#`, `?`, `+`), names, or noise.
fn wild_cron_field() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (0u32..100).prop_map(|n| n.to_string()),
        1 => (0u32..100, 0u32..100).prop_map(|(a, b)| format!("{a}-{b}")),
        1 => (0u32..70).prop_map(|n| format!("*/{n}")),
        2 => select(vec![
            "MON", "sun", "JAN", "dec", "MON-FRI", "L", "W", "1W", "5L", "MON#2", "?", "1+",
            "LW", "foo", "-", "/", ",", "*/", "1-", "7", "0-7", "*/0", "60", "24", "32", "13",
        ])
        .prop_map(str::to_owned),
        1 => "[0-9*/,A-Z#?LW+-]{1,6}",
    ]
}

/// Five fields, each valid for its position nine times in ten.
fn cron_fields() -> impl Strategy<Value = String> {
    let field =
        |low: u32, high: u32| prop_oneof![9 => valid_cron_field(low, high), 1 => wild_cron_field()];
    (
        field(0, 59),
        field(0, 23),
        field(1, 31),
        prop_oneof![3 => field(1, 12), 1 => select(vec!["JAN", "feb-jun", "DEC"]).prop_map(str::to_owned)],
        prop_oneof![3 => field(0, 7), 1 => select(vec!["MON", "mon-fri", "SUN,SAT"]).prop_map(str::to_owned)],
    )
        .prop_map(|(minute, hour, day, month, weekday)| {
            format!("{minute} {hour} {day} {month} {weekday}")
        })
}

fn cron_expression() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => cron_fields(),
        1 => vec(wild_cron_field(), 0..8).prop_map(|fields| fields.join(" ")),
        1 => select(vec!["@daily", "@reboot", "", "   ", "\t0 1 * * *\n", "* * * * *"])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// IANA zones with unusual rules, and names that are not zones.
fn zone_name() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => select(vec![
            "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
            "Pacific/Chatham", "Asia/Kathmandu", "America/Santiago", "Africa/Casablanca",
            "Antarctica/Troll", "Europe/Dublin", "America/St_Johns", "Pacific/Kiritimati",
            "Etc/GMT+12", "Europe/Berln", "Mars/Olympus", "", "utc", " Europe/Berlin ",
            "../../etc/passwd", "Europe/Berlin\u{0}",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Window lengths around the 7-day limit and at the ends of `Duration`.
fn window_length() -> impl Strategy<Value = Duration> {
    let limit = pauseplay::config::MAX_WINDOW_LENGTH.as_secs();
    prop_oneof![
        4 => (0..=limit + 3600).prop_map(Duration::from_secs),
        1 => Just(Duration::ZERO),
        1 => Just(Duration::from_nanos(1)),
        1 => Just(pauseplay::config::MAX_WINDOW_LENGTH),
        1 => Just(pauseplay::config::MAX_WINDOW_LENGTH + Duration::from_nanos(1)),
        1 => any::<u64>().prop_map(Duration::from_secs),
        1 => Just(Duration::MAX),
    ]
}

/// Instants near today, and anywhere in jiff's range including its very ends.
fn instant() -> impl Strategy<Value = Timestamp> {
    let min = Timestamp::MIN.as_second();
    let max = Timestamp::MAX.as_second();
    prop_oneof![
        4 => (1_500_000_000i64..2_200_000_000, 0i32..1_000_000_000)
            .prop_map(|(s, n)| Timestamp::new(s, n).expect("in range")),
        1 => (min..=max).prop_map(|s| Timestamp::from_second(s).expect("in range")),
        1 => select(vec![Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH]),
        1 => (max - 400 * 86_400..=max).prop_map(|s| Timestamp::from_second(s).expect("in range")),
        1 => (min..=min + 400 * 86_400).prop_map(|s| Timestamp::from_second(s).expect("in range")),
    ]
}

fn shifted(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The schedule's answers for `window` around `from` are consistent: occurrences ascend, lie
/// in the range asked and last the window's length; `next` and `active_at` agree with them.
fn check_schedule(
    window: &WindowConfig,
    from: Timestamp,
    span: SignedDuration,
    n: usize,
) -> Result<(), TestCaseError> {
    let to = shifted(from, span);
    let length = window.when.length();
    let found = schedule::occurrences(window, from, to);
    for pair in found.windows(2) {
        prop_assert!(pair[0].start < pair[1].start, "not ascending: {:?}", pair);
    }
    for occurrence in &found {
        prop_assert!(
            from <= occurrence.start && occurrence.start < to,
            "{:?} outside [{}, {})",
            occurrence,
            from,
            to
        );
        // At the end of the calendar the end is clamped; elsewhere it is start + length.
        if occurrence.end != Timestamp::MAX {
            prop_assert_eq!(occurrence.start.duration_until(occurrence.end), length);
        }
        prop_assert_eq!(&occurrence.window, &window.name);
    }
    for occurrence in found.iter().take(3) {
        let before = shifted(occurrence.start, SignedDuration::from_nanos(-1));
        if before < occurrence.start {
            let next = schedule::next(window, before, 1);
            prop_assert_eq!(next.first(), Some(occurrence), "next disagrees");
        }
        if occurrence.start < occurrence.end {
            let active = schedule::active_at(window, occurrence.start);
            prop_assert!(
                active.contains(occurrence),
                "{:?} not active at its own start: {:?}",
                occurrence,
                active
            );
        }
    }
    let next = schedule::next(window, from, n);
    prop_assert!(next.len() <= n);
    for pair in next.windows(2) {
        prop_assert!(
            pair[0].start < pair[1].start,
            "next not ascending: {:?}",
            pair
        );
    }
    for occurrence in &next {
        prop_assert!(
            occurrence.start > from,
            "{:?} not after {}",
            occurrence,
            from
        );
    }
    for occurrence in schedule::active_at(window, from) {
        prop_assert!(
            occurrence.start <= from && from < occurrence.end,
            "{:?} not in force at {}",
            occurrence,
            from
        );
    }
    Ok(())
}

fn window(when: WindowWhen) -> WindowConfig {
    WindowConfig {
        name: "w".to_owned(),
        orgs: vec!["prod".to_owned()],
        when,
        kinds: None,
        objects: None,
    }
}

#[test]
fn cron_windows_give_a_clear_error_or_a_schedule_that_ends() {
    let started = Instant::now();
    let valid = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&valid);
    let tried = check(
        "cron window expressions and their schedule",
        CASES_CRON,
        || {
            (
                cron_expression(),
                window_length(),
                zone_name(),
                instant(),
                0i64..=3 * 86_400,
                0usize..6,
            )
        },
        move |(expression, length, zone, from, span, n)| match WindowWhen::cron(
            &expression,
            length,
            &zone,
        ) {
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    !message.trim().is_empty(),
                    "an empty error for {:?}",
                    expression
                );
                Ok(())
            }
            Ok(when) => {
                counted.fetch_add(1, Ordering::Relaxed);
                let window = window(when);
                check_schedule(&window, from, SignedDuration::from_secs(span), n)?;
                let notes_to = shifted(from, SignedDuration::from_hours(24 * 8));
                for note in schedule::dst_notes(&window, from, notes_to) {
                    prop_assert!(!note.is_empty());
                }
                Ok(())
            }
        },
    );
    println!(
        "window expressions, cron: {tried} generated (expression, length, zone, instant) inputs, \
         {} valid windows scheduled consistently, 0 panics, 0 hangs ({:.1} s)",
        valid.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn one_off_windows_give_a_clear_error_or_a_schedule_that_ends() {
    let started = Instant::now();
    let tried = check(
        "one-off windows and their schedule",
        CASES_ONCE,
        || {
            (
                instant(),
                prop_oneof![
                    3 => (-3600i64..=8 * 86_400).prop_map(SignedDuration::from_secs),
                    1 => any::<i64>().prop_map(SignedDuration::from_secs),
                ],
                instant(),
                any::<bool>(),
            )
        },
        |(start, length, probe, near)| {
            let end = shifted(start, length);
            match WindowWhen::once(start, end) {
                Err(error) => {
                    prop_assert!(!error.to_string().trim().is_empty());
                    Ok(())
                }
                Ok(when) => {
                    let window = window(when);
                    // Probe near the window half of the time, where the answers are not empty.
                    let from = if near {
                        shifted(start, SignedDuration::from_secs(-60))
                    } else {
                        probe
                    };
                    check_schedule(&window, from, SignedDuration::from_hours(24 * 9), 3)?;
                    prop_assert!(schedule::dst_notes(&window, from, end).is_empty());
                    Ok(())
                }
            }
        },
    );
    println!(
        "window expressions, one-off: {tried} generated (start, end, instant) inputs, 0 panics, \
         0 hangs ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// The control protocol decoder
// ---------------------------------------------------------------------------------------------

/// The checks every decoded line must pass: a request that encodes back to itself, or a
/// `bad_request` / `unsupported_version` error with a message.
fn check_decoded(line: &str) -> Result<Result<Request, ErrorCode>, TestCaseError> {
    match parse_request_line(line) {
        Ok(request) => {
            let again = serde_json::to_string(&RequestLine::new(request.clone()))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parse_request_line(&again), Ok(request.clone()));
            Ok(Ok(request))
        }
        Err(error) => {
            prop_assert!(
                matches!(
                    error.code,
                    ErrorCode::BadRequest | ErrorCode::UnsupportedVersion
                ),
                "{:?} for {:?}",
                error,
                line
            );
            prop_assert!(
                !error.message.trim().is_empty(),
                "no message for {:?}",
                line
            );
            Ok(Err(error.code))
        }
    }
}

/// Words the protocol uses, so generated JSON sometimes comes close to a request.
const WORDS: &[&str] = &[
    "v",
    "request",
    "type",
    "orgs",
    "duration_secs",
    "reason",
    "start",
    "hold",
    "window",
    "org",
    "limit",
    "pause_now",
    "pause_at",
    "resume",
    "status",
    "history",
    "ping",
    "x",
];

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        select(WORDS).prop_map(Json::from),
        any::<String>().prop_map(Json::from),
        Just(json!("2026-12-01T21:00:00Z")),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Json::Array),
            btree_map(
                prop_oneof![3 => select(WORDS).prop_map(str::to_owned), 1 => any::<String>()],
                inner,
                0..5
            )
            .prop_map(|map: BTreeMap<String, Json>| Json::Object(map.into_iter().collect())),
        ]
    })
}

/// Arbitrary lines: any text, JSON-looking text, generated JSON, nesting far deeper than
/// serde_json's recursion limit, and bytes that are not UTF-8 read the way a lossy reader
/// would.
fn arbitrary_line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[{}\\[\\]\":,0-9a-z_ .vE+-]{0,80}",
        3 => json_value().prop_map(|value| value.to_string()),
        3 => json_value().prop_map(|request| json!({"v": 1, "request": request}).to_string()),
        1 => (1usize..5000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        1 => (1usize..5000).prop_map(|depth| format!("{{\"v\":1,\"request\":{}", "{\"a\":".repeat(depth))),
        1 => vec(any::<u8>(), 0..200).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
        0i32..1_000_000_000,
    )
        .prop_filter_map("in jiff's range", |(second, nanos)| {
            Timestamp::new(second, nanos).ok()
        })
}

fn request() -> impl Strategy<Value = Request> {
    let orgs = || vec(any::<String>(), 0..4);
    let text = || option::of(any::<String>());
    prop_oneof![
        (orgs(), option::of(any::<u64>()), text()).prop_map(|(orgs, duration_secs, reason)| {
            Request::PauseNow {
                orgs,
                duration_secs,
                reason,
            }
        }),
        (orgs(), timestamp(), any::<u64>(), text()).prop_map(
            |(orgs, start, duration_secs, reason)| Request::PauseAt {
                orgs,
                start,
                duration_secs,
                reason,
            }
        ),
        (orgs(), option::of(any::<i64>()), text())
            .prop_map(|(orgs, hold, window)| Request::Resume { orgs, hold, window }),
        Just(Request::Status {}),
        (text(), option::of(any::<u32>())).prop_map(|(org, limit)| Request::History { org, limit }),
        Just(Request::Ping {}),
    ]
}

#[test]
fn the_request_decoder_refuses_arbitrary_lines_with_an_error() {
    let started = Instant::now();
    let accepted = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&accepted);
    let tried = check(
        "request decoder on arbitrary lines",
        CASES_DECODER,
        arbitrary_line,
        move |line| {
            if check_decoded(&line)?.is_ok() {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            // The client's side reads the daemon's lines with the same care.
            if let Ok(reply) = serde_json::from_str::<ReplyLine>(&line) {
                let _ = reply.into_reply();
            }
            Ok(())
        },
    );
    println!(
        "control protocol decoder, arbitrary lines (text, JSON, nesting up to 5,000 deep, \
         non-UTF-8 read lossily): {tried} generated inputs, {} happened to be valid requests, \
         0 panics ({:.1} s)",
        accepted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

/// One change to a valid request line, and what the decoder must answer.
#[derive(Debug, Clone)]
enum LineMutation {
    /// `v` set to another whole number: `unsupported_version`.
    OtherVersion(u64),
    /// `v` set to something that is not a whole number: `bad_request`.
    BadVersion(Json),
    /// An unknown field at the top or in the request: `bad_request`.
    UnknownField {
        top: bool,
        name: String,
        value: Json,
    },
    /// `type` set to a word that is no request: `bad_request`.
    UnknownType(String),
    /// Any field of the request (or the request itself) replaced by any value.
    Replace(usize, Json),
    /// A field of the request removed.
    Remove(usize),
    /// The line cut short after this many characters.
    Truncate(usize),
}

fn line_mutation() -> impl Strategy<Value = LineMutation> {
    prop_oneof![
        prop_oneof![Just(0u64), 2u64..].prop_map(LineMutation::OtherVersion),
        prop_oneof![
            any::<String>().prop_map(Json::from),
            Just(json!("1")),
            Just(json!(1.0)),
            Just(json!(-1)),
            Just(json!(null)),
            Just(json!([1])),
            Just(json!({"v": 1})),
        ]
        .prop_map(LineMutation::BadVersion),
        (
            any::<bool>(),
            "[a-z_]{1,12}".prop_filter("not a field of any request", |name| {
                !WORDS.contains(&name.as_str())
            }),
            json_value()
        )
            .prop_map(|(top, name, value)| LineMutation::UnknownField { top, name, value }),
        any::<String>()
            .prop_filter("not a request type", |word| {
                ![
                    "pause_now",
                    "pause_at",
                    "resume",
                    "status",
                    "history",
                    "ping",
                ]
                .contains(&word.as_str())
            })
            .prop_map(LineMutation::UnknownType),
        (any::<usize>(), json_value()).prop_map(|(at, value)| LineMutation::Replace(at, value)),
        any::<usize>().prop_map(LineMutation::Remove),
        any::<usize>().prop_map(LineMutation::Truncate),
    ]
}

/// Applies `mutation` to the line of `request`; the line and the error code it must get, if
/// the mutation decides one.
fn mutate_line(request: &Request, mutation: &LineMutation) -> (String, Option<ErrorCode>) {
    let mut line = serde_json::to_value(RequestLine::new(request.clone())).expect("serializes");
    let fields: Vec<String> = line["request"]
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    let expected = match mutation {
        LineMutation::OtherVersion(v) => {
            line["v"] = json!(v);
            Some(ErrorCode::UnsupportedVersion)
        }
        LineMutation::BadVersion(v) => {
            line["v"] = v.clone();
            Some(ErrorCode::BadRequest)
        }
        LineMutation::UnknownField { top, name, value } => {
            let target = if *top {
                &mut line
            } else {
                &mut line["request"]
            };
            target[name.as_str()] = value.clone();
            Some(ErrorCode::BadRequest)
        }
        LineMutation::UnknownType(word) => {
            line["request"]["type"] = json!(word);
            Some(ErrorCode::BadRequest)
        }
        LineMutation::Replace(at, value) => {
            match fields.get(at % (fields.len() + 1)) {
                Some(field) => line["request"][field.as_str()] = value.clone(),
                None => line["request"] = value.clone(),
            }
            None
        }
        LineMutation::Remove(at) => {
            if let Some(object) = line["request"].as_object_mut()
                && !fields.is_empty()
            {
                object.remove(&fields[at % fields.len()]);
            }
            None
        }
        LineMutation::Truncate(_) => None,
    };
    let mut text = line.to_string();
    if let LineMutation::Truncate(at) = mutation {
        let cut = at % text.len().max(1);
        let cut = (0..=cut)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
    }
    (text, expected)
}

#[test]
fn the_request_decoder_refuses_mutated_requests_with_the_right_code() {
    let started = Instant::now();
    let tried = check(
        "request decoder on mutated valid requests",
        CASES_DECODER,
        || (request(), line_mutation()),
        |(request, mutation)| {
            let (line, expected) = mutate_line(&request, &mutation);
            let decoded = check_decoded(&line)?;
            if let Some(code) = expected {
                prop_assert_eq!(decoded.as_ref().err(), Some(&code), "{:?}", line);
            }
            if let LineMutation::Truncate(_) = mutation {
                prop_assert!(decoded.is_err(), "a cut line was accepted: {:?}", line);
            }
            Ok(())
        },
    );
    println!(
        "control protocol decoder, mutated valid requests (other or broken version, unknown \
         fields and types, replaced, removed and cut fields): {tried} generated inputs, each \
         refused with the expected code, 0 panics ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_valid_request_survives_the_wire_unchanged_on_one_line() {
    let started = Instant::now();
    let tried = check("request round trip", CASES_ROUND_TRIP, request, |request| {
        let line = serde_json::to_string(&RequestLine::new(request.clone()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // The socket frames by newline: any newline in a reason or name must be escaped.
        prop_assert!(!line.contains('\n') && !line.contains('\r'), "{:?}", line);
        let version = format!("\"v\":{PROTOCOL_VERSION}");
        prop_assert!(line.contains(&version), "{:?}", line);
        if line.len() <= MAX_LINE_BYTES {
            prop_assert_eq!(parse_request_line(&line), Ok(request));
        }
        Ok(())
    });
    println!(
        "control protocol round trip: {tried} generated requests of every type encoded on one \
         line and decoded unchanged ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// The daemon's handler, behind the decoder
// ---------------------------------------------------------------------------------------------

/// When a generated `pause_at` starts: seconds from the moment it is sent, or an instant.
#[derive(Debug, Clone)]
enum When {
    In(i64),
    At(Timestamp),
}

/// Which hold a generated `resume` names.
#[derive(Debug, Clone)]
enum HoldPick {
    /// None: the manual holds, or a window.
    None,
    /// The n-th (modulo) hold `status` lists when the request is sent.
    Listed(usize),
    /// Any id at all.
    Id(i64),
}

/// A request as generated, resolved against the clock and the daemon's holds when sent.
#[derive(Debug, Clone)]
enum Action {
    PauseNow {
        orgs: Vec<String>,
        duration: Option<u64>,
        reason: Option<String>,
    },
    PauseAt {
        orgs: Vec<String>,
        start: When,
        duration: u64,
    },
    Resume {
        orgs: Vec<String>,
        hold: HoldPick,
        window: Option<String>,
    },
    Status,
    History {
        org: Option<String>,
        limit: Option<u32>,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let orgs = || {
        vec(
            prop_oneof![
                6 => Just("sim".to_owned()),
                1 => Just(String::new()),
                1 => Just("nosuch".to_owned()),
                1 => any::<String>(),
            ],
            0..3,
        )
    };
    let duration = || {
        prop_oneof![
            4 => 1u64..=7_200,
            1 => Just(0u64),
            1 => Just(12 * 3_600),
            1 => Just(12 * 3_600 + 1),
            1 => Just(u64::MAX),
            1 => any::<u64>(),
        ]
    };
    let start = prop_oneof![
        4 => (-120i64..=4 * 3_600).prop_map(When::In),
        1 => select(vec![
            "9999-12-30T21:00:00Z", "9999-12-30T21:59:59.5Z", "9000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ])
        .prop_map(|text| When::At(text.parse().expect("an instant"))),
        1 => select(vec![Timestamp::MIN, Timestamp::MAX]).prop_map(When::At),
        1 => timestamp().prop_map(When::At),
    ];
    let hold = prop_oneof![
        2 => Just(HoldPick::None),
        3 => any::<usize>().prop_map(HoldPick::Listed),
        1 => select(vec![0i64, -1, i64::MIN, i64::MAX]).prop_map(HoldPick::Id),
        1 => any::<i64>().prop_map(HoldPick::Id),
    ];
    prop_oneof![
        3 => (orgs(), option::of(duration()), option::of(any::<String>()))
            .prop_map(|(orgs, duration, reason)| Action::PauseNow { orgs, duration, reason }),
        3 => (orgs(), start, duration())
            .prop_map(|(orgs, start, duration)| Action::PauseAt { orgs, start, duration }),
        3 => (orgs(), hold, option::of(prop_oneof![Just(String::new()), any::<String>()]))
            .prop_map(|(orgs, hold, window)| Action::Resume { orgs, hold, window }),
        1 => Just(Action::Status),
        1 => (option::of(prop_oneof![Just("sim".to_owned()), any::<String>()]), option::of(any::<u32>()))
            .prop_map(|(org, limit)| Action::History { org, limit }),
    ]
}

/// The real daemon, run in this process on the mixed simulated org (triggers out of scope:
/// their deploys are polled for seconds), with `manual_pause_max` so large that any length a
/// request can carry reaches the store.
struct DaemonUnderTest {
    sim: pauseplay::sim::SimHandle,
    _dir: tempfile::TempDir,
    socket: PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl DaemonUnderTest {
    async fn start() -> DaemonUnderTest {
        let sim = common::start_sim(common::mixed_scenario()).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = common::write_config_with(
            dir.path(),
            &sim,
            "manual_pause_max = \"100000000h\"",
            "kinds = [\"flow\", \"process_builder\", \"validation_rule\", \"workflow_rule\"]",
        );
        let config = Config::load(&config).expect("the config loads");
        let socket = config.daemon.socket.clone();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(pauseplay::daemon::run(config, shutdown.clone()));
        let started = Instant::now();
        while send(&socket, Request::Ping {}).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the daemon did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        DaemonUnderTest {
            sim,
            _dir: dir,
            socket,
            shutdown,
            task,
        }
    }

    async fn status(&self) -> pauseplay::control::protocol::StatusView {
        match send(&self.socket, Request::Status {}).await {
            Ok(ResultBody::Status(status)) => status,
            other => panic!("status did not answer: {other:?}"),
        }
    }
}

async fn send(socket: &Path, request: Request) -> Result<ResultBody, ClientError> {
    let mut client = ControlClient::connect(socket).await?;
    client.request(request, |_| {}).await
}

/// Sends `actions` in turn; each must get a result or a well-formed error that is not a bug
/// (`internal`), and `status` must answer afterwards.
async fn run_actions(daemon: &DaemonUnderTest, actions: Vec<Action>) -> Result<(), String> {
    for action in actions {
        let request = match action.clone() {
            Action::PauseNow {
                orgs,
                duration,
                reason,
            } => Request::PauseNow {
                orgs,
                duration_secs: duration,
                reason,
            },
            Action::PauseAt {
                orgs,
                start,
                duration,
            } => Request::PauseAt {
                orgs,
                start: match start {
                    When::In(secs) => shifted(Timestamp::now(), SignedDuration::from_secs(secs)),
                    When::At(at) => at,
                },
                duration_secs: duration,
                reason: None,
            },
            Action::Resume { orgs, hold, window } => {
                let hold = match hold {
                    HoldPick::None => None,
                    HoldPick::Id(id) => Some(id),
                    HoldPick::Listed(n) => {
                        let status = daemon.status().await;
                        let ids: Vec<i64> = status
                            .holds
                            .iter()
                            .chain(&status.upcoming)
                            .map(|hold| hold.id)
                            .collect();
                        if ids.is_empty() {
                            None
                        } else {
                            Some(ids[n % ids.len()])
                        }
                    }
                };
                Request::Resume {
                    orgs,
                    hold,
                    window: if hold.is_some() { None } else { window },
                }
            }
            Action::Status => Request::Status {},
            Action::History { org, limit } => Request::History { org, limit },
        };
        match send(&daemon.socket, request.clone()).await {
            Ok(_) => {}
            Err(ClientError::Daemon { code, message }) => {
                if code == ErrorCode::Internal || message.trim().is_empty() {
                    return Err(format!("{request:?} got {code}: {message:?}"));
                }
            }
            Err(other) => return Err(format!("{request:?} failed: {other}")),
        }
    }
    match send(&daemon.socket, Request::Status {}).await {
        Ok(ResultBody::Status(_)) => Ok(()),
        other => Err(format!("status does not answer any more: {other:?}")),
    }
}

#[test]
fn the_daemon_answers_any_sequence_of_requests_and_still_restores_exactly() {
    let started = Instant::now();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime"),
    );
    let daemon = Arc::new(runtime.block_on(DaemonUnderTest::start()));
    let initial = common::daemon::org_state(&daemon.sim);
    let sent = Arc::new(AtomicU64::new(0));
    let tried = {
        let (runtime, daemon, sent) =
            (Arc::clone(&runtime), Arc::clone(&daemon), Arc::clone(&sent));
        check(
            "the daemon on sequences of requests",
            CASES_DAEMON,
            || vec(action(), 1..5),
            move |actions| {
                sent.fetch_add(actions.len() as u64, Ordering::Relaxed);
                runtime
                    .block_on(run_actions(&daemon, actions))
                    .map_err(TestCaseError::fail)
            },
        )
    };

    // Every hold released, the org is as it was.
    runtime.block_on(async {
        let status = daemon.status().await;
        let holds = status.holds.len() + status.upcoming.len();
        for hold in status.holds.iter().chain(&status.upcoming) {
            let released = send(
                &daemon.socket,
                Request::Resume {
                    orgs: vec![],
                    hold: Some(hold.id),
                    window: None,
                },
            )
            .await;
            assert!(released.is_ok(), "releasing hold {}: {released:?}", hold.id);
        }
        let after = daemon.status().await;
        assert!(
            after.holds.is_empty() && after.upcoming.is_empty(),
            "{after:?}"
        );
        assert_eq!(after.orgs[0].paused, 0, "{after:?}");
        assert_eq!(common::daemon::org_state(&daemon.sim), initial);
        daemon.shutdown.cancel();
        println!(
            "daemon handler: {tried} random sequences, {} requests (pause now/at, resume, status, \
             history; lengths up to u64::MAX, starts to the ends of the calendar), none \
             `internal`, `status` answering after each; {holds} holds left released and the \
             org restored exactly ({:.1} s)",
            sent.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64()
        );
    });
    if let Ok(daemon) = Arc::try_unwrap(daemon) {
        runtime
            .block_on(daemon.task)
            .expect("the daemon task")
            .expect("the daemon stops cleanly");
    }
}
