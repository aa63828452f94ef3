//! Shared helpers for the integration tests: a scripted HTTP server (`mock`), client settings
//! with fast retries, a simulated org on a loopback port and a config file that points at it.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

pub mod daemon;
pub mod mock;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pauseplay::salesforce::{ApiVersion, ClientSettings, OrgClient, RetryPolicy};
use pauseplay::sim::{Scenario, SimHandle, SimServer};
use secrecy::SecretString;
use url::Url;

/// Retries that are fast enough for tests but still exercise the backoff.
pub const FAST_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    min_delay: Duration::from_millis(1),
    max_delay: Duration::from_millis(5),
    jitter: true,
};

pub fn settings(org: &str, login_url: &Url, client_id: &str, secret: &str) -> ClientSettings {
    ClientSettings {
        org: org.to_owned(),
        login_url: login_url.clone(),
        client_id: client_id.to_owned(),
        client_secret: SecretString::from(secret.to_owned()),
        api_version: ApiVersion::new(66),
        request_timeout: Duration::from_secs(10),
        retry: FAST_RETRY,
    }
}

pub fn client(settings: ClientSettings) -> OrgClient {
    OrgClient::new(settings).expect("client")
}

/// Starts a simulated org serving `scenario` on a port bound before the server starts, so a
/// test never waits for it to come up.
pub async fn start_sim(scenario: Scenario) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    SimServer::start(scenario, listener)
        .await
        .expect("start the simulated org")
}

/// A client for the org `sim` serves, named `org`, with fast retries.
pub fn sim_client(org: &str, sim: &SimHandle) -> OrgClient {
    client(settings(
        org,
        &sim.base_url(),
        sim.client_id(),
        sim.client_secret(),
    ))
}

/// The mixed demo scenario shipped in `config/sim/mixed.toml`.
pub fn mixed_scenario() -> Scenario {
    Scenario::load(&repo_path("config/sim/mixed.toml")).expect("mixed scenario loads")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Writes a config with one org `sim` pointing at `sim`, its secret in a mode-600 file, and
/// `org_extra` appended to the org's table. Returns the config path.
pub fn write_config(dir: &Path, sim: &SimHandle, org_extra: &str) -> PathBuf {
    write_config_with(dir, sim, "", org_extra)
}

/// [`write_config`] with `daemon_extra` appended to `[daemon]`. `org_extra` comes last in
/// the file, so it may also add top-level tables such as `[[windows]]`.
pub fn write_config_with(
    dir: &Path,
    sim: &SimHandle,
    daemon_extra: &str,
    org_extra: &str,
) -> PathBuf {
    let secret = dir.join("sim.secret");
    fs::write(&secret, format!("{}\n", sim.client_secret())).expect("write secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod secret");
    let config = dir.join("pauseplay.toml");
    fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{socket}\"\n{daemon_extra}\n\n\
             [orgs.sim]\nurl = \"{url}\"\nclient_id = \"{client_id}\"\n\
             client_secret_file = \"{secret}\"\n{org_extra}\n",
            state = dir.join("state").display(),
            socket = dir.join("pauseplay.sock").display(),
            url = sim.base_url(),
            client_id = sim.client_id(),
            secret = secret.display(),
        ),
    )
    .expect("write config");
    config
}

/// Runs the `pauseplay` binary with `args` off the async runtime, returning exit code, stdout
/// and stderr.
pub async fn run_cli(args: Vec<String>) -> (i32, String, String) {
    run_cli_with_env(args, &[]).await
}

/// [`run_cli`] with extra environment variables.
pub async fn run_cli_with_env(args: Vec<String>, env: &[(&str, &str)]) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pauseplay"))
            .args(&args)
            .envs(env)
            .env_remove("PAUSEPLAY_CONFIG")
            .env("PAUSEPLAY_LOG", "warn")
            .output()
            .expect("run pauseplay");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_no_secrets(&format!("stdout of pauseplay {args:?}"), &stdout);
        assert_no_secrets(&format!("stderr of pauseplay {args:?}"), &stderr);
        (output.status.code().unwrap_or(-1), stdout, stderr)
    })
    .await
    .expect("the CLI task finished")
}

/// The client secrets the tests' simulated orgs use: the sim's default and the shipped
/// scenarios'. Tests that pick their own secret scan for it themselves.
pub const TEST_SECRETS: &[&str] = &[
    "sim-client-secret",
    "mixed-sandbox-secret",
    "large-sandbox-secret",
    "production-secret",
];

/// Fails if `text` (output of `what`) contains a test client secret or anything shaped like
/// an access token the simulated org mints (`<org id>!AQ<opaque>`), so a leak anywhere in a
/// CLI's output or a daemon's log fails the test that caused it.
pub fn assert_no_secrets(what: &str, text: &str) {
    for secret in TEST_SECRETS {
        assert!(
            !text.contains(secret),
            "{what} contains the client secret:\n{text}"
        );
    }
    assert!(
        find_access_token(text).is_none(),
        "{what} contains an access token ({}):\n{text}",
        find_access_token(text).unwrap_or_default()
    );
}

/// The first access-token-shaped substring of `text`: `!AQ` followed by at least 20 token
/// characters (the sim mints 96; Salesforce's are of that form too).
pub fn find_access_token(text: &str) -> Option<&str> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_';
    text.match_indices("!AQ").find_map(|(at, _)| {
        let rest = &text[at + 3..];
        let len = rest.find(|c: char| !token_char(c)).unwrap_or(rest.len());
        (len >= 20).then(|| &text[at..at + 3 + len])
    })
}

/// What `tracing` logged, from [`capture_logs`].
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every event at `level` and above, from now on, into the returned [`Logs`].
///
/// The subscriber is the process-wide default: a thread-scoped one misses events when another
/// test thread caches a callsite's interest first. So at most one test of a binary may call
/// this, and other tests running meanwhile log into the same buffer, which only widens a check
/// that something is absent.
pub fn capture_logs(level: tracing::Level) -> Logs {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    logs
}

/// 2026-11-23T00:00:00Z, a Monday: the instant the service-level tests inject as "now".
pub fn t0() -> jiff::Timestamp {
    "2026-11-23T00:00:00Z".parse().expect("valid")
}

/// [`t0`] plus `minutes`.
pub fn at(minutes: i64) -> jiff::Timestamp {
    t0().checked_add(jiff::SignedDuration::from_mins(minutes))
        .expect("in range")
}

/// A progress callback that shows nothing.
pub fn quiet() -> pauseplay::daemon::service::ProgressFn {
    Arc::new(|_: pauseplay::engine::Progress| {})
}

/// The daemon's service over `config` and `store`, polling trigger deploys every few
/// milliseconds (the simulated org finishes one in a few polls).
pub fn fast_service(
    config: pauseplay::config::Config,
    store: &pauseplay::store::Store,
) -> pauseplay::daemon::service::Service {
    pauseplay::daemon::service::Service::with_engines(config, store.clone(), |engine| {
        engine.with_poll_policy(pauseplay::salesforce::PollPolicy::doubling(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
    })
    .expect("service")
}
