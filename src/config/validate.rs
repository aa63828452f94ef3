//! From raw sections to the typed [`Config`], with every semantic check.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Value, ValueKind};
use jiff::Timestamp;
use url::{Host, Url};

use super::raw::{
    Collector, DAEMON_KEYS, ORG_KEYS, ROOT_KEYS, RawDaemon, RawOrg, RawRoot, join_key,
};
use super::secret::{self, CLIENT_SECRET, SecretKeys};
use super::{
    Config, DaemonConfig, LogFormat, OrgConfig, TriggerTestLevel, duration, notify, windows,
};
use crate::automation::Kind;
use crate::salesforce::ApiVersion;

/// Longest `lead_time` and `min_remaining`: anything longer is surely a typo for minutes.
const MAX_SCHEDULE_SLACK: Duration = Duration::from_secs(24 * 60 * 60);

/// `sun_path` holds 108 bytes including the terminating NUL on Linux.
const MAX_SOCKET_PATH: usize = 107;

/// Hosts that serve the generic login page rather than one org.
const GENERIC_LOGIN_HOSTS: &[&str] = &["login.salesforce.com", "test.salesforce.com"];

/// The whole configuration; `now` is where warnings about the coming year's windows start.
pub(super) fn build(
    c: &mut Collector<'_>,
    path: &Path,
    root: Value,
    now: Timestamp,
) -> Option<Config> {
    let raw: RawRoot = c.section("", root, ROOT_KEYS)?;
    let daemon = daemon(c, raw.daemon);
    let org_names = table_keys(raw.orgs.as_ref());
    let orgs = orgs(c, raw.orgs);
    let windows = windows::build(c, raw.windows, &org_names);
    let notify = notify::build(c, raw.notify);
    let (orgs, windows) = (orgs?, windows?);
    windows::warn(c, &windows, &orgs, now);
    Some(Config {
        path: path.to_owned(),
        daemon: daemon?,
        orgs,
        windows,
        notify: notify?,
        warnings: c.take_warnings(),
    })
}

/// The keys of a table value (none if it is not a table).
fn table_keys(value: Option<&Value>) -> BTreeSet<String> {
    match value.map(|value| &value.kind) {
        Some(ValueKind::Table(table)) => table.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

fn daemon(c: &mut Collector<'_>, value: Option<Value>) -> Option<DaemonConfig> {
    let raw: RawDaemon = match value {
        Some(value) => c.section("daemon", value, DAEMON_KEYS)?,
        None => RawDaemon::default(),
    };

    let state_dir = match raw.state_dir {
        Some(value) => c
            .nonempty_string("daemon.state_dir", value)
            .map(PathBuf::from),
        None => Some(DaemonConfig::default_state_dir(c.env("STATE_DIRECTORY"))),
    };
    let socket = match raw.socket {
        Some(value) => c.nonempty_string("daemon.socket", value).map(PathBuf::from),
        None => Some(DaemonConfig::default_socket(c.env("RUNTIME_DIRECTORY"))),
    };
    let socket = socket.and_then(|socket| {
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            c.problem(
                "daemon.socket",
                format!(
                    "the socket path is {len} bytes long, more than the {MAX_SOCKET_PATH} a unix \
                     socket address can hold; choose a shorter path"
                ),
            );
            return None;
        }
        Some(socket)
    });
    let socket_group = match raw.socket_group {
        Some(value) => c.nonempty_string("daemon.socket_group", value).map(Some),
        None => Some(None),
    };

    let mut duration_or = |key: &str, value: Option<Value>, default: Duration| match value {
        Some(value) => {
            let text = c.string(key, value)?;
            duration::parse_positive(&text)
                .map_err(|message| c.problem(key, message))
                .ok()
        }
        None => Some(default),
    };
    let manual_default_given = raw.manual_pause_default.is_some();
    let lead_time = duration_or(
        "daemon.lead_time",
        raw.lead_time,
        DaemonConfig::DEFAULT_LEAD_TIME,
    );
    let min_remaining = duration_or(
        "daemon.min_remaining",
        raw.min_remaining,
        DaemonConfig::DEFAULT_MIN_REMAINING,
    );
    let manual_pause_default = duration_or(
        "daemon.manual_pause_default",
        raw.manual_pause_default,
        DaemonConfig::DEFAULT_MANUAL_PAUSE,
    );
    let manual_pause_max = duration_or(
        "daemon.manual_pause_max",
        raw.manual_pause_max,
        DaemonConfig::DEFAULT_MANUAL_PAUSE_MAX,
    );

    let log_format = match raw.log_format {
        Some(value) => c.parsed::<LogFormat>("daemon.log_format", value),
        None => Some(LogFormat::default()),
    };

    let metrics_listen = match raw.metrics_listen {
        Some(value) => c
            .string("daemon.metrics_listen", value)
            .and_then(|text| metrics_listen(c, &text))
            .map(Some),
        None => Some(None),
    };
    let api_usage_alert_percent = match raw.api_usage_alert_percent {
        Some(value) => c
            .integer("daemon.api_usage_alert_percent", value)
            .and_then(|number| alert_percent(c, number)),
        None => Some(DaemonConfig::DEFAULT_API_USAGE_ALERT_PERCENT),
    };

    let lead_time = lead_time.and_then(|d| below_a_day(c, "daemon.lead_time", d));
    let min_remaining = min_remaining.and_then(|d| below_a_day(c, "daemon.min_remaining", d));
    if let (Some(default), Some(max)) = (manual_pause_default, manual_pause_max)
        && default > max
    {
        let (default, max) = (duration::display(default), duration::display(max));
        if manual_default_given {
            c.problem(
                "daemon.manual_pause_default",
                format!(
                    "manual_pause_default ({default}) is longer than manual_pause_max ({max}); \
                     shorten it or raise manual_pause_max"
                ),
            );
        } else {
            c.problem(
                "daemon.manual_pause_max",
                format!(
                    "manual_pause_max ({max}) is shorter than the built-in manual_pause_default \
                     ({default}); raise it or set a shorter manual_pause_default"
                ),
            );
        }
        // Last check of the section, so returning early hides nothing.
        return None;
    }

    Some(DaemonConfig {
        state_dir: state_dir?,
        socket: socket?,
        socket_group: socket_group?,
        lead_time: lead_time?,
        min_remaining: min_remaining?,
        manual_pause_default: manual_pause_default?,
        manual_pause_max: manual_pause_max?,
        log_format: log_format?,
        metrics_listen: metrics_listen?,
        api_usage_alert_percent: api_usage_alert_percent?,
    })
}

/// `daemon.metrics_listen`: an IP address and port. Anything but loopback is allowed (a
/// scraper may run elsewhere) but warned about, because the metrics name orgs and components.
fn metrics_listen(c: &mut Collector<'_>, text: &str) -> Option<SocketAddr> {
    const KEY: &str = "daemon.metrics_listen";
    let Ok(address) = text.trim().parse::<SocketAddr>() else {
        c.problem(
            KEY,
            format!(
                "`{text}` is not a socket address; write an IP address (not a host name) and a \
                 port, like \"127.0.0.1:9464\" or \"[::1]:9464\", or remove the key to serve no \
                 metrics"
            ),
        );
        return None;
    };
    if !address.ip().is_loopback() {
        c.warning(
            KEY,
            format!(
                "metrics on {address} can be reached from other machines; they name orgs and \
                 components, so keep the endpoint on a loopback address such as 127.0.0.1 or \
                 behind a firewall"
            ),
        );
    }
    Some(address)
}

/// `daemon.api_usage_alert_percent`: 1 to 100.
fn alert_percent(c: &mut Collector<'_>, number: i128) -> Option<u8> {
    match u8::try_from(number) {
        Ok(percent @ 1..=100) => Some(percent),
        _ => {
            c.problem(
                "daemon.api_usage_alert_percent",
                format!(
                    "{number} is not a percentage from 1 to 100; set the share of the daily API \
                     limit above which an api_usage_high notification is sent, like 80"
                ),
            );
            None
        }
    }
}

fn below_a_day(c: &mut Collector<'_>, key: &str, value: Duration) -> Option<Duration> {
    if value >= MAX_SCHEDULE_SLACK {
        c.problem(
            key,
            format!(
                "{} is too long; it must be shorter than 24h",
                duration::display(value)
            ),
        );
        return None;
    }
    Some(value)
}

fn orgs(c: &mut Collector<'_>, value: Option<Value>) -> Option<BTreeMap<String, OrgConfig>> {
    let table = match value.map(|value| value.kind) {
        None => BTreeMap::new(),
        Some(ValueKind::Table(table)) => table.into_iter().collect(),
        Some(_) => {
            c.problem(
                "orgs",
                "expected one [orgs.NAME] section per org, like [orgs.prod]",
            );
            return None;
        }
    };
    if table.is_empty() {
        c.problem(
            "orgs",
            "no orgs are configured; add an [orgs.NAME] section for each Salesforce org",
        );
        return None;
    }
    let mut orgs = BTreeMap::new();
    let mut complete = true;
    for (name, value) in table {
        // Every org is checked, even after a bad one, so one run lists every problem.
        let name_ok = check_org_name(c, &name);
        match org(c, &name, value) {
            Some(org) if name_ok => {
                orgs.insert(name, org);
            }
            _ => complete = false,
        }
    }
    complete.then_some(orgs)
}

/// Org names end up in environment variable names, which the `config` crate lowercases and
/// splits on `__`; a name it cannot reproduce could never be overridden.
fn check_org_name(c: &mut Collector<'_>, name: &str) -> bool {
    if is_simple_name(name) {
        return true;
    }
    c.problem(
        &join_key("orgs", name),
        format!(
            "org name `{name}` is not allowed: use lowercase letters, digits and single \
             underscores, like `prod` or `prod_eu`, because environment overrides \
             (PAUSEPLAY__ORGS__NAME__KEY) are lowercased and split on `__` and could not reach it"
        ),
    );
    false
}

fn org(c: &mut Collector<'_>, name: &str, value: Value) -> Option<OrgConfig> {
    let prefix = join_key("orgs", name);
    let raw: RawOrg = c.section(&prefix, value, ORG_KEYS)?;
    let key = |field: &str| join_key(&prefix, field);

    let url = match raw.url {
        Some(value) => c
            .string(&key("url"), value)
            .and_then(|text| check_url(c, &key("url"), &text)),
        None => {
            c.problem(
                &key("url"),
                "missing; set it to the org's My Domain URL, like https://acme.my.salesforce.com",
            );
            None
        }
    };
    let client_id = match raw.client_id {
        Some(value) => c.nonempty_string(&key("client_id"), value),
        None => {
            c.problem(
                &key("client_id"),
                "missing; set it to the consumer key of the org's External Client App",
            );
            None
        }
    };
    let secret = secret::load(
        c,
        &prefix,
        &CLIENT_SECRET,
        SecretKeys {
            file: raw.client_secret_file,
            env: raw.client_secret_env,
            credential: raw.credential,
            inline: raw.client_secret.is_some(),
        },
    );
    let api_version = match raw.api_version {
        Some(value) => c.parsed::<ApiVersion>(&key("api_version"), value),
        None => Some(ApiVersion::DEFAULT),
    };
    let kinds = match raw.kinds {
        Some(value) => c
            .parsed_list::<Kind>(&key("kinds"), value)
            .and_then(|kinds| {
                non_empty(
                    c,
                    &key("kinds"),
                    kinds,
                    "remove the key to pause every kind, or list at least one",
                )
            })
            .map(BTreeSet::from_iter),
        None => Some(BTreeSet::from(Kind::ALL)),
    };
    let objects = match raw.objects {
        Some(value) => c
            .string_list(&key("objects"), value)
            .and_then(|objects| {
                non_empty(
                    c,
                    &key("objects"),
                    objects,
                    "remove the key to cover every object, or list at least one",
                )
            })
            .map(|objects| Some(BTreeSet::from_iter(objects))),
        None => Some(None),
    };
    let exclude = match raw.exclude {
        Some(value) => c.parsed_list(&key("exclude"), value),
        None => Some(Vec::new()),
    };
    let include_managed = match raw.include_managed {
        Some(value) => c.boolean(&key("include_managed"), value),
        None => Some(false),
    };
    let trigger_test_level = match raw.trigger_test_level {
        Some(value) => c.parsed::<TriggerTestLevel>(&key("trigger_test_level"), value),
        None => Some(TriggerTestLevel::default()),
    };
    let trigger_tests = match raw.trigger_tests {
        Some(value) => c.string_list(&key("trigger_tests"), value),
        None => Some(Vec::new()),
    };
    if let (Some(level), Some(tests)) = (trigger_test_level, &trigger_tests) {
        let specified = level == TriggerTestLevel::RunSpecifiedTests;
        if specified && tests.is_empty() {
            c.problem(
                &key("trigger_test_level"),
                "RunSpecifiedTests needs test classes to run; list them in trigger_tests",
            );
            return None;
        }
        if !specified && !tests.is_empty() {
            c.problem(
                &key("trigger_tests"),
                format!(
                    "trigger_tests is used only with trigger_test_level = \"RunSpecifiedTests\" \
                     (this org uses {level}); remove it or change the level"
                ),
            );
            return None;
        }
    }

    let (client_secret, secret_source) = secret?;
    Some(OrgConfig {
        name: name.to_owned(),
        url: url?,
        client_id: client_id?,
        client_secret,
        secret_source,
        api_version: api_version?,
        kinds: kinds?,
        objects: objects?,
        exclude: exclude?,
        include_managed: include_managed?,
        trigger_test_level: trigger_test_level?,
        trigger_tests: trigger_tests?,
    })
}

pub(super) fn non_empty<T>(
    c: &mut Collector<'_>,
    key: &str,
    items: Vec<T>,
    hint: &str,
) -> Option<Vec<T>> {
    if items.is_empty() {
        c.problem(key, format!("the list is empty; {hint}"));
        return None;
    }
    Some(items)
}

/// Lowercase letters, digits and single underscores, neither first nor last: the names of orgs
/// and notification targets.
pub(super) fn is_simple_name(name: &str) -> bool {
    let allowed = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    allowed
        && !name.is_empty()
        && !name.starts_with('_')
        && !name.ends_with('_')
        && !name.contains("__")
}

/// The org's base URL. Messages name the host at most: a URL can carry credentials.
fn check_url(c: &mut Collector<'_>, key: &str, text: &str) -> Option<Url> {
    let url = match Url::parse(text.trim()) {
        Ok(url) => url,
        Err(err) => {
            c.problem(
                key,
                format!(
                    "not a valid URL ({err}); write the org's My Domain URL, like https://acme.my.salesforce.com"
                ),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "https" | "http") {
        c.problem(
            key,
            format!("the `{}` scheme is not supported; use https", url.scheme()),
        );
        return None;
    }
    let host = match url.host() {
        Some(host) => host.to_owned(),
        None => {
            c.problem(
                key,
                "the URL has no host; write the org's My Domain URL, like https://acme.my.salesforce.com",
            );
            return None;
        }
    };
    if url.scheme() == "http" && !is_loopback(&host) {
        c.problem(
            key,
            format!(
                "plain http is refused for {host}: the client secret and access token would \
                     cross the network in clear; use https (http is allowed only for loopback \
                     addresses such as 127.0.0.1 or localhost)"
            ),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        c.problem(
            key,
            "the URL must not contain a user name or password; credentials come from client_id and the secret source",
        );
        return None;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        c.problem(
            key,
            format!(
                "the URL must be the org's base URL with no path, query or fragment, like https://{host}"
            ),
        );
        return None;
    }
    if let Host::Domain(domain) = &host {
        let domain = domain.trim_end_matches('.');
        if GENERIC_LOGIN_HOSTS.contains(&domain) {
            c.problem(
                key,
                format!(
                    "{domain} is the generic login host, where the client-credentials flow is \
                     refused; use the org's My Domain URL, like https://acme.my.salesforce.com"
                ),
            );
            return None;
        }
    }
    Some(url)
}

pub(super) fn is_loopback(host: &Host<String>) -> bool {
    match host {
        Host::Domain(domain) => {
            domain.eq_ignore_ascii_case("localhost") || domain.eq_ignore_ascii_case("localhost.")
        }
        Host::Ipv4(addr) => IpAddr::V4(*addr).is_loopback(),
        Host::Ipv6(addr) => IpAddr::V6(*addr).is_loopback(),
    }
}
