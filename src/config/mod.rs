//! The configuration: one TOML file, overridable key by key through environment variables,
//! converted into typed values and checked as a whole before anything uses it.
//!
//! Loading never stops at the first mistake: [`Config::load`] returns either a complete
//! [`Config`] or [`ConfigErrors`] listing every problem, each with its key path and the place
//! its value came from (the file or an environment variable).
//!
//! ```toml
//! [daemon]
//! lead_time = "2m"
//!
//! [orgs.prod]
//! url = "https://acme.my.salesforce.com"
//! client_id = "3MVG9..."
//! client_secret_file = "/etc/pauseplay/prod.secret"
//! ```
//!
//! Client secrets are never part of the configuration itself: an org names one source (a file
//! with mode 600, an environment variable, or a systemd credential) and the secret is read from
//! there into a [`SecretString`] that prints as `[REDACTED]`. A `[[notify]]` target's webhook
//! URL is a secret too (Slack's carry their token in the path), read the same way into a
//! [`WebhookUrl`].

pub(crate) mod duration;
mod error;
mod notify;
mod raw;
mod secret;
mod validate;
mod values;
mod window;
mod windows;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::automation::Kind;
use crate::salesforce::ApiVersion;

pub use error::{ConfigErrors, ConfigProblem, ProblemSource};
pub use notify::{InvalidNotifyKind, NotifyKind, NotifyTarget, WebhookUrl};
pub use secret::SecretSource;
pub use values::{
    ExcludePattern, InvalidExcludePattern, InvalidLogFormat, InvalidTriggerTestLevel, LogFormat,
    TriggerTestLevel,
};
pub use window::{
    CronField, CronProblem, CronSchedule, InvalidCron, InvalidWindow, MAX_WINDOW_LENGTH,
    WindowConfig, WindowWhen,
};

/// Where the configuration is read from unless `--config` or `PAUSEPLAY_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/pauseplay/pauseplay.toml";

/// The prefix of environment overrides: `PAUSEPLAY__SECTION__KEY`, e.g.
/// `PAUSEPLAY__ORGS__PROD__CLIENT_ID`.
pub const ENV_PREFIX: &str = "PAUSEPLAY";

/// Between the prefix and the first key, and between nested keys, of an environment override.
const ENV_SEPARATOR: &str = "__";

/// The whole configuration, typed and checked.
///
/// Deliberately not `Serialize`: it holds client secrets and webhook URLs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    /// Every configured org by name; never empty.
    pub orgs: BTreeMap<String, OrgConfig>,
    /// The `[[windows]]` tables, in file order.
    pub windows: Vec<WindowConfig>,
    /// The `[[notify]]` tables, in file order; empty means no notifications.
    pub notify: Vec<NotifyTarget>,
    /// What is worth knowing but does not stop the configuration from loading (a window start
    /// in a DST gap or fold within a year, a one-off window already over, ...), ordered by key.
    /// `check-config` prints them.
    pub warnings: Vec<ConfigProblem>,
}

/// `[daemon]`: how the daemon runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Where `state.db` lives.
    pub state_dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// Members of this group may use the socket (mode 0660); otherwise mode 0600.
    pub socket_group: Option<String>,
    /// Start pausing this long before a window opens.
    pub lead_time: Duration,
    /// A window found already open is paused only if at least this much of it remains.
    pub min_remaining: Duration,
    /// The length of a manual pause when `--for` is not given.
    pub manual_pause_default: Duration,
    /// The longest manual pause accepted.
    pub manual_pause_max: Duration,
    pub log_format: LogFormat,
    /// Where the metrics endpoint listens; `None` serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// The share of the org's daily API limit (1 to 100) above which an `api_usage_high`
    /// notification is sent.
    pub api_usage_alert_percent: u8,
}

impl DaemonConfig {
    pub const DEFAULT_LEAD_TIME: Duration = Duration::from_secs(2 * 60);
    pub const DEFAULT_MIN_REMAINING: Duration = Duration::from_secs(5 * 60);
    pub const DEFAULT_MANUAL_PAUSE: Duration = Duration::from_secs(60 * 60);
    pub const DEFAULT_MANUAL_PAUSE_MAX: Duration = Duration::from_secs(12 * 60 * 60);
    /// High enough not to fire on a busy day, low enough to leave a fifth of the budget for a
    /// pause and its restore.
    pub const DEFAULT_API_USAGE_ALERT_PERCENT: u8 = 80;

    /// `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`) when given, else `./state`.
    pub fn default_state_dir(state_directory: Option<&str>) -> PathBuf {
        first_directory(state_directory).unwrap_or_else(|| PathBuf::from("./state"))
    }

    /// `$RUNTIME_DIRECTORY/control.sock` (systemd's `RuntimeDirectory=`) when given, else
    /// `./pauseplay.sock`.
    pub fn default_socket(runtime_directory: Option<&str>) -> PathBuf {
        first_directory(runtime_directory)
            .map(|dir| dir.join("control.sock"))
            .unwrap_or_else(|| PathBuf::from("./pauseplay.sock"))
    }
}

/// systemd joins several directories with `:`; the first is the one configured first.
fn first_directory(value: Option<&str>) -> Option<PathBuf> {
    value
        .and_then(|value| value.split(':').next())
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// `[orgs.NAME]`: one Salesforce org and what may be paused in it.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    /// The name in `[orgs.NAME]`: lowercase letters, digits and single underscores.
    pub name: String,
    /// The org's My Domain URL: https, or http to a loopback address.
    pub url: Url,
    /// The consumer key of the External Client App.
    pub client_id: String,
    /// Read from exactly one source; prints as `[REDACTED]`.
    pub client_secret: SecretString,
    /// Where the secret came from, for messages.
    pub secret_source: SecretSource,
    pub api_version: ApiVersion,
    /// The kinds of automation to pause; all five unless configured.
    pub kinds: BTreeSet<Kind>,
    /// The objects whose automation is paused; `None` means every object.
    pub objects: Option<BTreeSet<String>>,
    /// Components that are never paused.
    pub exclude: Vec<ExcludePattern>,
    /// Whether managed-package components are paused too (otherwise skipped and reported).
    pub include_managed: bool,
    /// The test level of trigger deploys in production.
    pub trigger_test_level: TriggerTestLevel,
    /// The test classes run with [`TriggerTestLevel::RunSpecifiedTests`].
    pub trigger_tests: Vec<String>,
}

impl Config {
    /// Loads `path` with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        // Variables that are not valid Unicode cannot be config keys or secrets; skip them
        // rather than panic as `std::env::vars` would.
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_with_env(path, &env)
    }

    /// Loads `path` with overrides from `env` instead of the process environment. `env` is also
    /// where `client_secret_env`, `CREDENTIALS_DIRECTORY`, `STATE_DIRECTORY` and
    /// `RUNTIME_DIRECTORY` are looked up.
    pub fn load_with_env(
        path: &Path,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigErrors> {
        Self::load_with_env_at(path, env, jiff::Timestamp::now())
    }

    /// [`Config::load_with_env`] as if loaded at `now`, which is where the warnings about the
    /// coming year's windows (DST gaps and folds, one-off windows already over) start.
    pub fn load_with_env_at(
        path: &Path,
        env: &HashMap<String, String>,
        now: jiff::Timestamp,
    ) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigErrors::whole_file(path, unreadable(&err)))?;
        // Parsed once here only for the error: the `config` crate's parse error quotes the
        // offending line, which may hold a secret someone pasted in.
        if let Err(err) = toml::from_str::<toml::Table>(&text) {
            return Err(ConfigErrors::whole_file(path, not_toml(&text, &err)));
        }
        let merged = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .add_source(environment(env))
            .build()
            .map_err(|err| {
                ConfigErrors::whole_file(path, format!("cannot merge the configuration: {err}"))
            })?;
        let mut collector = raw::Collector::new(path, env);
        let config = validate::build(&mut collector, path, merged.cache, now);
        collector.finish(config)
    }
}

/// The control socket's path, for the commands that only talk to the daemon (`pause`,
/// `resume`, `status`, `history`). It reads `daemon.socket` (file, then
/// `PAUSEPLAY__DAEMON__SOCKET`, then the default) and nothing else: an operator in
/// `socket_group` may not be able to read the orgs' secrets, and does not need to.
pub fn socket_path(path: &Path) -> Result<PathBuf, ConfigErrors> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    if let Some(socket) = env("PAUSEPLAY__DAEMON__SOCKET") {
        return Ok(PathBuf::from(socket));
    }
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigErrors::whole_file(
            path,
            format!("{} (or pass --socket PATH)", unreadable(&err)),
        )
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|err| ConfigErrors::whole_file(path, not_toml(&text, &err)))?;
    match table.get("daemon").and_then(|daemon| daemon.get("socket")) {
        Some(toml::Value::String(socket)) => Ok(PathBuf::from(socket)),
        Some(_) => Err(ConfigErrors::whole_file(
            path,
            "daemon.socket must be a path in quotes".to_owned(),
        )),
        None => Ok(DaemonConfig::default_socket(
            env("RUNTIME_DIRECTORY").as_deref(),
        )),
    }
}

/// The environment layer.
fn environment(env: &HashMap<String, String>) -> config::Environment {
    // Variables aimed at `[[windows]]` or `[[notify]]` are reported by the collector and kept
    // from the crate, which would otherwise replace the file's list with a table.
    let overrides: HashMap<String, String> = env
        .iter()
        .filter(|(name, _)| raw::env_key(name).is_none_or(|key| raw::list_section(&key).is_none()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    config::Environment::with_prefix(ENV_PREFIX)
        // Set explicitly although "__" is what the crate falls back to when a separator is set:
        // the fallback is easy to miss and to "fix" to "_", and with "_" the CLI's own
        // `PAUSEPLAY_CONFIG` (the config path) would be read as a key named `config`. Only
        // `PAUSEPLAY__...` variables are configuration.
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        // Left off (the default): it guesses types, so a client id "007" would become 7 and
        // "true" a boolean. Every value from the environment stays a string and is converted
        // by the same code that converts the file's values.
        .try_parsing(false)
        .source(Some(overrides))
}

fn unreadable(err: &io::Error) -> String {
    let reason = match err.kind() {
        io::ErrorKind::NotFound => "it does not exist".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::InvalidData => "it is not UTF-8 text".to_owned(),
        _ => err.to_string(),
    };
    format!(
        "cannot read the configuration file: {reason}; pass --config PATH or set PAUSEPLAY_CONFIG to use another file"
    )
}

fn not_toml(text: &str, err: &toml::de::Error) -> String {
    let position = err.span().map(|span| {
        let before = text.get(..span.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(" at line {line}, column {column}")
    });
    format!(
        "not valid TOML{}: {}",
        position.unwrap_or_default(),
        err.message().trim_end()
    )
}
