//! The untyped layer: the merged `config::Value` tree split into sections, every unknown key
//! found, and each field turned into a typed value with a problem recorded (not returned) when
//! it does not fit.
//!
//! Sections deserialize into structs whose fields are all `Option<Value>`, so deserializing can
//! only fail when a section is not a table; everything else is checked field by field, which
//! keeps the key in every message (errors raised inside custom `Deserialize` impls would lose it,
//! config-rs issue #532) and reports every bad field rather than the first of each section.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

use config::{Value, ValueKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::{ConfigErrors, ConfigProblem, ProblemSource};
use super::{ENV_PREFIX, ENV_SEPARATOR};

/// The top level of the file.
#[derive(Deserialize)]
pub(super) struct RawRoot {
    pub daemon: Option<Value>,
    pub orgs: Option<Value>,
    pub windows: Option<Value>,
    pub notify: Option<Value>,
}

pub(super) const ROOT_KEYS: &[&str] = &["daemon", "orgs", "windows", "notify"];

/// `[daemon]`.
#[derive(Deserialize, Default)]
pub(super) struct RawDaemon {
    pub state_dir: Option<Value>,
    pub socket: Option<Value>,
    pub socket_group: Option<Value>,
    pub lead_time: Option<Value>,
    pub min_remaining: Option<Value>,
    pub manual_pause_default: Option<Value>,
    pub manual_pause_max: Option<Value>,
    pub log_format: Option<Value>,
    pub metrics_listen: Option<Value>,
    pub api_usage_alert_percent: Option<Value>,
}

pub(super) const DAEMON_KEYS: &[&str] = &[
    "state_dir",
    "socket",
    "socket_group",
    "lead_time",
    "min_remaining",
    "manual_pause_default",
    "manual_pause_max",
    "log_format",
    "metrics_listen",
    "api_usage_alert_percent",
];

/// `[orgs.NAME]`.
#[derive(Deserialize)]
pub(super) struct RawOrg {
    pub url: Option<Value>,
    pub client_id: Option<Value>,
    /// Accepted as a key only to refuse it with a helpful message; its value is never read.
    pub client_secret: Option<Value>,
    pub client_secret_file: Option<Value>,
    pub client_secret_env: Option<Value>,
    pub credential: Option<Value>,
    pub api_version: Option<Value>,
    pub kinds: Option<Value>,
    pub objects: Option<Value>,
    pub exclude: Option<Value>,
    pub include_managed: Option<Value>,
    pub trigger_test_level: Option<Value>,
    pub trigger_tests: Option<Value>,
}

pub(super) const ORG_KEYS: &[&str] = &[
    "url",
    "client_id",
    "client_secret",
    "client_secret_file",
    "client_secret_env",
    "credential",
    "api_version",
    "kinds",
    "objects",
    "exclude",
    "include_managed",
    "trigger_test_level",
    "trigger_tests",
];

/// One `[[windows]]` table.
#[derive(Deserialize)]
pub(super) struct RawWindow {
    pub name: Option<Value>,
    pub orgs: Option<Value>,
    pub cron: Option<Value>,
    pub duration: Option<Value>,
    pub timezone: Option<Value>,
    pub start: Option<Value>,
    pub end: Option<Value>,
    pub kinds: Option<Value>,
    pub objects: Option<Value>,
}

pub(super) const WINDOW_KEYS: &[&str] = &[
    "name", "orgs", "cron", "duration", "timezone", "start", "end", "kinds", "objects",
];

/// One `[[notify]]` table.
#[derive(Deserialize)]
pub(super) struct RawNotify {
    pub name: Option<Value>,
    pub kind: Option<Value>,
    /// Accepted as a key only to refuse it with a helpful message; its value is never read.
    pub url: Option<Value>,
    pub url_file: Option<Value>,
    pub url_env: Option<Value>,
    pub credential: Option<Value>,
    pub events: Option<Value>,
}

pub(super) const NOTIFY_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "url_file",
    "url_env",
    "credential",
    "events",
];

/// The top-level keys that hold a list of tables (`[[windows]]`), which the environment cannot
/// reach: the `config` crate would read `PAUSEPLAY__WINDOWS__0__CRON` as a table key `0`, not
/// as the first window, and replace the file's list. Such variables are refused and kept away
/// from the crate.
const LIST_SECTIONS: &[&str] = &["windows", "notify"];

/// Collects problems while the configuration is converted, and knows where each key's value
/// came from.
pub(super) struct Collector<'a> {
    file: &'a Path,
    env: &'a HashMap<String, String>,
    /// Key path (`orgs.prod.url`) to the environment variable that set it.
    env_keys: HashMap<String, String>,
    problems: Vec<ConfigProblem>,
    warnings: Vec<ConfigProblem>,
}

impl<'a> Collector<'a> {
    pub fn new(file: &'a Path, env: &'a HashMap<String, String>) -> Self {
        let mut collector = Collector {
            file,
            env,
            env_keys: HashMap::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let mut names: Vec<&String> = env.keys().collect();
        names.sort();
        for name in names {
            let Some(key) = env_key(name) else {
                continue;
            };
            if let Some(section) = list_section(&key) {
                collector.problems.push(ConfigProblem {
                    key,
                    source: ProblemSource::EnvVar(name.clone()),
                    message: format!(
                        "{section} cannot be set through the environment (they are a list of \
                         [[{section}]] tables); edit them in the config file"
                    ),
                });
                continue;
            }
            if let Some(previous) = collector.env_keys.get(&key) {
                // Which one the crate keeps depends on hash order; make the user choose.
                let message = format!(
                    "set by both {previous} and {name}, which differ only in case; unset one of them"
                );
                collector.problems.push(ConfigProblem {
                    key,
                    source: ProblemSource::EnvVar(name.clone()),
                    message,
                });
                continue;
            }
            collector.env_keys.insert(key, name.clone());
        }
        collector
    }

    /// The process environment (or the map a test injected).
    pub fn env(&self, name: &str) -> Option<&'a str> {
        self.env.get(name).map(String::as_str)
    }

    /// Where the value of `key` came from: the environment variable that set it, else the file.
    pub fn source_of(&self, key: &str) -> ProblemSource {
        match self.env_keys.get(key) {
            Some(name) => ProblemSource::EnvVar(name.clone()),
            None => ProblemSource::File(self.file.to_owned()),
        }
    }

    /// The variable that set `key`, if it came from the environment.
    pub fn env_var_of(&self, key: &str) -> Option<&str> {
        self.env_keys.get(key).map(String::as_str)
    }

    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            key: key.to_owned(),
            source: self.source_of(key),
            message: message.into(),
        });
    }

    /// Something worth knowing that does not stop the configuration from loading.
    pub fn warning(&mut self, key: &str, message: impl Into<String>) {
        self.warnings.push(ConfigProblem {
            key: key.to_owned(),
            source: self.source_of(key),
            message: message.into(),
        });
    }

    /// The warnings so far, ordered by key (stable, so one key's warnings keep their order).
    pub fn take_warnings(&mut self) -> Vec<ConfigProblem> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort_by(|a, b| a.key.cmp(&b.key));
        warnings
    }

    /// The loaded value if nothing was wrong, else every problem, ordered by key.
    pub fn finish<T>(mut self, value: Option<T>) -> Result<T, ConfigErrors> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => {
                if self.problems.is_empty() {
                    // Every path that yields no value records why; this is a safety net.
                    self.problem("", "the configuration could not be loaded");
                }
                self.problems.sort_by(|a, b| a.key.cmp(&b.key));
                Err(ConfigErrors {
                    path: self.file.to_owned(),
                    problems: self.problems,
                })
            }
        }
    }

    /// Deserializes the table at `key` into a raw section, reporting every key it does not
    /// know. `None` (with a problem recorded) when the value is not a table.
    pub fn section<T: DeserializeOwned>(
        &mut self,
        key: &str,
        value: Value,
        known: &[&str],
    ) -> Option<T> {
        if !matches!(value.kind, ValueKind::Table(_)) {
            let found = describe(&value.kind);
            let header = if key.is_empty() { "the file" } else { key };
            self.problem(
                key,
                format!("expected a table (a [{header}] section), found {found}"),
            );
            return None;
        }
        let mut unknown: Vec<Vec<String>> = Vec::new();
        let result = serde_ignored::deserialize(value, |path| {
            let mut segments = Vec::new();
            collect_segments(&path, &mut segments);
            unknown.push(segments);
        });
        unknown.sort();
        for segments in unknown {
            let full = join_key(key, &segments.join("."));
            let message = match segments.as_slice() {
                [only] => match suggest(only, known) {
                    Some(close) => format!("unknown key; did you mean `{close}`?"),
                    None => format!("unknown key; expected one of {}", known.join(", ")),
                },
                _ => "unknown key".to_owned(),
            };
            self.problem(&full, message);
        }
        match result {
            Ok(raw) => Some(raw),
            Err(err) => {
                self.problem(key, err.to_string());
                None
            }
        }
    }

    /// A string value. Numbers and booleans are not coerced: `client_id = 007` in the file is
    /// a mistake worth pointing out, not `"7"`.
    pub fn string(&mut self, key: &str, value: Value) -> Option<String> {
        match value.kind {
            ValueKind::String(text) => Some(text),
            other => {
                let found = describe(&other);
                self.problem(
                    key,
                    format!("expected a string, found {found}; put the value in quotes"),
                );
                None
            }
        }
    }

    /// A string that must not be empty or blank.
    pub fn nonempty_string(&mut self, key: &str, value: Value) -> Option<String> {
        let text = self.string(key, value)?;
        if text.trim().is_empty() {
            self.problem(key, "must not be empty");
            return None;
        }
        Some(text)
    }

    /// A value parsed from a string with `FromStr`, whose error is already a message for people.
    pub fn parsed<T>(&mut self, key: &str, value: Value) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.string(key, value)?;
        match text.parse::<T>() {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                self.problem(key, err.to_string());
                None
            }
        }
    }

    /// `true` or `false`. Environment variables are always strings (type guessing is off, see
    /// `environment()`), so the strings "true" and "false" are accepted too.
    pub fn boolean(&mut self, key: &str, value: Value) -> Option<bool> {
        match value.kind {
            ValueKind::Boolean(flag) => Some(flag),
            ValueKind::String(text) if text == "true" => Some(true),
            ValueKind::String(text) if text == "false" => Some(false),
            ValueKind::String(text) => {
                self.problem(key, format!("expected true or false, found `{text}`"));
                None
            }
            other => {
                let found = describe(&other);
                self.problem(key, format!("expected true or false, found {found}"));
                None
            }
        }
    }

    /// A whole number. Environment variables are always strings (type guessing is off, see
    /// `environment()`), so a string holding a whole number is accepted too.
    pub fn integer(&mut self, key: &str, value: Value) -> Option<i128> {
        match value.kind {
            ValueKind::I64(number) => Some(number.into()),
            ValueKind::U64(number) => Some(number.into()),
            ValueKind::I128(number) => Some(number),
            // Beyond i128 is out of any range a caller checks; saturating keeps it out.
            ValueKind::U128(number) => Some(i128::try_from(number).unwrap_or(i128::MAX)),
            ValueKind::String(text) => match text.trim().parse::<i128>() {
                Ok(number) => Some(number),
                Err(_) => {
                    self.problem(key, format!("expected a whole number, found `{text}`"));
                    None
                }
            },
            other => {
                let found = describe(&other);
                self.problem(key, format!("expected a whole number, found {found}"));
                None
            }
        }
    }

    /// A list of non-empty strings.
    pub fn string_list(&mut self, key: &str, value: Value) -> Option<Vec<String>> {
        let items = match value.kind {
            ValueKind::Array(items) => items,
            ValueKind::String(_) if self.env_var_of(key).is_some() => {
                self.problem(
                    key,
                    "lists cannot be set through the environment; set this key in the config file",
                );
                return None;
            }
            other => {
                let found = describe(&other);
                self.problem(
                    key,
                    format!("expected a list of strings, like [\"a\", \"b\"], found {found}"),
                );
                return None;
            }
        };
        let mut strings = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.into_iter().enumerate() {
            match item.kind {
                ValueKind::String(text) if !text.trim().is_empty() => strings.push(text),
                ValueKind::String(_) => {
                    self.problem(key, format!("entry {} is empty", index + 1));
                    ok = false;
                }
                other => {
                    let found = describe(&other);
                    self.problem(
                        key,
                        format!("entry {} should be a string, found {found}", index + 1),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(strings)
    }

    /// A list whose entries parse with `FromStr`; one problem per bad entry.
    pub fn parsed_list<T>(&mut self, key: &str, value: Value) -> Option<Vec<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        let strings = self.string_list(key, value)?;
        let mut parsed = Vec::with_capacity(strings.len());
        let mut ok = true;
        for text in strings {
            match text.parse::<T>() {
                Ok(item) => parsed.push(item),
                Err(err) => {
                    self.problem(key, err.to_string());
                    ok = false;
                }
            }
        }
        ok.then_some(parsed)
    }
}

/// The key an environment variable sets, e.g. `orgs.prod.url` for
/// `PAUSEPLAY__ORGS__PROD__URL`: the same mapping the `config` crate applies (it lowercases the
/// whole name, strips the prefix and turns each separator into a dot), so that a problem can
/// name the variable a value came from. `None` for variables that are not configuration.
pub(super) fn env_key(name: &str) -> Option<String> {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}").to_lowercase();
    let lowered = name.to_lowercase();
    let rest = lowered.strip_prefix(&prefix)?;
    Some(rest.replace(ENV_SEPARATOR, "."))
}

/// The list of tables (see [`LIST_SECTIONS`]) an environment variable's key reaches into, if
/// any.
pub(super) fn list_section(key: &str) -> Option<&'static str> {
    let top = key.split('.').next().unwrap_or(key);
    LIST_SECTIONS
        .iter()
        .copied()
        .find(|section| *section == top)
}

/// `orgs.prod` + `url` = `orgs.prod.url`.
pub(super) fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Map keys and indexes of an ignored path, without serde_ignored's `?` markers for options.
fn collect_segments(path: &serde_ignored::Path<'_>, out: &mut Vec<String>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            collect_segments(parent, out);
            out.push(index.to_string());
        }
        Path::Map { parent, key } => {
            collect_segments(parent, out);
            out.push(key.clone());
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            collect_segments(parent, out);
        }
    }
}

/// "a string", "a list", ... for messages.
fn describe(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Nil => "nothing",
        ValueKind::Boolean(_) => "a boolean",
        ValueKind::I64(_) | ValueKind::I128(_) | ValueKind::U64(_) | ValueKind::U128(_) => {
            "an integer"
        }
        ValueKind::Float(_) => "a number",
        ValueKind::String(_) => "a string",
        ValueKind::Table(_) => "a table",
        ValueKind::Array(_) => "a list",
    }
}

/// The known key closest to `unknown`, if it is a small edit away (a typo, a transposition, a
/// wrong case).
pub(super) fn suggest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_lowercase();
    let mut best: BTreeMap<usize, &'k str> = BTreeMap::new();
    for candidate in known {
        let distance = edit_distance(&unknown, candidate);
        // At most two edits, and not more than a third of the word: "url" is not "uid".
        if distance <= 2 && distance * 3 <= candidate.len() {
            best.entry(distance).or_insert(candidate);
        }
    }
    best.into_values().next()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of adjacent characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        table[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        table[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[at(i - 1, j)] + 1)
                .min(table[at(i, j - 1)] + 1)
                .min(table[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[at(i - 2, j - 2)] + 1);
            }
            table[at(i, j)] = best;
        }
    }
    table[at(a.len(), b.len())]
}

/// One `[[list]]` section (`windows`, `notify`): every entry is checked by `entry`, even after a
/// bad one, so one run lists every problem; `None` when the value is not a list or any entry is
/// bad. `what` names the entries for the message when the value is not a list ("windows").
pub(super) fn table_list<'a, T>(
    c: &mut Collector<'a>,
    list: &str,
    value: Option<Value>,
    what: &str,
    mut entry: impl FnMut(&mut Collector<'a>, usize, Value, &mut HashMap<String, usize>) -> Option<T>,
) -> Option<Vec<T>> {
    let items = match value.map(|value| value.kind) {
        None => return Some(Vec::new()),
        Some(ValueKind::Array(items)) => items,
        Some(_) => {
            c.problem(
                list,
                format!(
                    "expected a list of {what}, each a [[{list}]] table (with double brackets)"
                ),
            );
            return None;
        }
    };
    let mut names = HashMap::new();
    let mut entries = Vec::with_capacity(items.len());
    let mut complete = true;
    for (index, value) in items.into_iter().enumerate() {
        match entry(c, index, value, &mut names) {
            Some(checked) => entries.push(checked),
            None => complete = false,
        }
    }
    complete.then_some(entries)
}

/// Entry `index` of a `[[list]]` as its raw section, with its key prefix (`windows[0]`); a
/// problem saying `hint` (what each entry should hold) when it is not a table.
pub(super) fn list_entry<T: DeserializeOwned>(
    c: &mut Collector<'_>,
    (list, index): (&str, usize),
    value: Value,
    known: &[&str],
    hint: &str,
) -> Option<(T, String)> {
    let prefix = format!("{list}[{index}]");
    if !matches!(value.kind, ValueKind::Table(_)) {
        c.problem(&prefix, format!("expected a table; {hint}"));
        return None;
    }
    let raw = c.section(&prefix, value, known)?;
    Some((raw, prefix))
}

/// Records `name` as the name of entry `index` of the list `list` (`windows`, `notify`), or a
/// problem naming the earlier entry that has it; `why` says why the names must be unique.
pub(super) fn unique_name(
    c: &mut Collector<'_>,
    key: &str,
    (list, index): (&str, usize),
    name: String,
    names: &mut HashMap<String, usize>,
    why: &str,
) -> Option<String> {
    if let Some(first) = names.get(&name) {
        c.problem(
            key,
            format!("{list}[{first}] is also named `{name}`; {why}"),
        );
        return None;
    }
    names.insert(name.clone(), index);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        assert_eq!(suggest("clinet_id", ORG_KEYS), Some("client_id"));
        assert_eq!(suggest("Client_ID", ORG_KEYS), Some("client_id"));
        assert_eq!(suggest("lead_tme", DAEMON_KEYS), Some("lead_time"));
        assert_eq!(suggest("deamon", ROOT_KEYS), Some("daemon"));
        assert_eq!(suggest("window", ROOT_KEYS), Some("windows"));
        assert_eq!(suggest("crom", WINDOW_KEYS), Some("cron"));
        assert_eq!(suggest("timzone", WINDOW_KEYS), Some("timezone"));
        assert_eq!(suggest("uid", ORG_KEYS), None);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// The key lists used for suggestions must name exactly the fields the raw structs accept.
    #[test]
    fn key_lists_match_the_raw_structs() {
        fn table_of(keys: &[&str]) -> Value {
            let map: config::Map<String, Value> = keys
                .iter()
                .map(|key| ((*key).to_owned(), Value::new(None, "x")))
                .collect();
            Value::new(None, map)
        }
        let env = HashMap::new();
        let file = Path::new("test.toml");
        let mut collector = Collector::new(file, &env);
        let _: Option<RawDaemon> = collector.section("daemon", table_of(DAEMON_KEYS), DAEMON_KEYS);
        let _: Option<RawOrg> = collector.section("orgs.x", table_of(ORG_KEYS), ORG_KEYS);
        let _: Option<RawRoot> = collector.section("", table_of(ROOT_KEYS), ROOT_KEYS);
        let _: Option<RawWindow> =
            collector.section("windows[0]", table_of(WINDOW_KEYS), WINDOW_KEYS);
        let _: Option<RawNotify> =
            collector.section("notify[0]", table_of(NOTIFY_KEYS), NOTIFY_KEYS);
        assert!(collector.problems.is_empty(), "{:?}", collector.problems);

        let _: Option<RawOrg> = collector.section("orgs.x", table_of(&["clinet_id"]), ORG_KEYS);
        assert_eq!(collector.problems.len(), 1);
        assert_eq!(collector.problems[0].key, "orgs.x.clinet_id");
    }
}
