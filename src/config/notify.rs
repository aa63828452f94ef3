//! The `[[notify]]` list: notification targets, each with its kind, its events and a webhook
//! URL that is a secret, read like an org's client secret from exactly one source. Problems are
//! keyed `notify[0].kind` and so on, counting the tables from 0 in file order; none of them
//! quotes the URL.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use config::Value;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::raw::{
    Collector, NOTIFY_KEYS, RawNotify, join_key, list_entry, table_list, unique_name,
};
use super::secret::{self, SecretKeys, SecretSource, WEBHOOK_URL};
use super::validate::{is_loopback, is_simple_name, non_empty};
use crate::notify::EventKind;

/// One `[[notify]]` table: where notifications go and which ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    /// Unique among targets; lowercase letters, digits and single underscores. Logs and metrics
    /// labels name the target by it.
    pub name: String,
    pub kind: NotifyKind,
    /// Read from exactly one source; prints as `[REDACTED]`.
    pub url: WebhookUrl,
    /// Where the URL came from, for messages.
    pub url_source: SecretSource,
    /// The events this target receives; every kind unless configured.
    pub events: BTreeSet<EventKind>,
}

/// The payload format a target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    /// Generic JSON, versioned, for any receiver.
    Webhook,
    /// A Slack-compatible incoming webhook: text and Block Kit blocks.
    Slack,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Slack => "slack",
        }
    }
}

impl fmt::Display for NotifyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a target kind other than `webhook` or `slack`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown notification kind `{0}`; expected \"webhook\" (generic JSON) or \"slack\" (a Slack incoming webhook)"
)]
pub struct InvalidNotifyKind(pub String);

impl FromStr for NotifyKind {
    type Err = InvalidNotifyKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "webhook" => Ok(NotifyKind::Webhook),
            "slack" => Ok(NotifyKind::Slack),
            other => Err(InvalidNotifyKind(other.to_owned())),
        }
    }
}

/// A webhook URL. It is a secret (a Slack webhook URL carries its token in the path), so it
/// has no `Display` and its `Debug` prints `[REDACTED]`; [`ExposeSecret`] gives the URL to the
/// code that sends the request.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn new(url: Url) -> Self {
        WebhookUrl(url)
    }
}

impl ExposeSecret<Url> for WebhookUrl {
    fn expose_secret(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([REDACTED])")
    }
}

/// Every target, or `None` with each problem recorded.
pub(super) fn build(c: &mut Collector<'_>, value: Option<Value>) -> Option<Vec<NotifyTarget>> {
    table_list(c, "notify", value, "notification targets", one)
}

/// `notify[index]`.
fn one(
    c: &mut Collector<'_>,
    index: usize,
    value: Value,
    names: &mut HashMap<String, usize>,
) -> Option<NotifyTarget> {
    let (raw, prefix): (RawNotify, String) = list_entry(
        c,
        ("notify", index),
        value,
        NOTIFY_KEYS,
        "write each target as a [[notify]] section with name, kind and a URL source",
    )?;
    let key = |field: &str| join_key(&prefix, field);

    let name = match raw.name {
        Some(value) => name(c, &key("name"), value, index, names),
        None => {
            c.problem(
                &key("name"),
                "missing; give the target a unique name, like \"ops_slack\" (logs and metrics \
                 name the target by it)",
            );
            None
        }
    };
    let kind = match raw.kind {
        Some(value) => c.parsed::<NotifyKind>(&key("kind"), value),
        None => {
            c.problem(
                &key("kind"),
                "missing; set it to \"webhook\" (generic JSON) or \"slack\" (a Slack incoming \
                 webhook)",
            );
            None
        }
    };
    let url = secret::load(
        c,
        &prefix,
        &WEBHOOK_URL,
        SecretKeys {
            file: raw.url_file,
            env: raw.url_env,
            credential: raw.credential,
            inline: raw.url.is_some(),
        },
    )
    .and_then(|(text, source)| {
        let key = WEBHOOK_URL.key_of(&prefix, &source);
        let url = check_url(c, &key, &source, &text)?;
        Some((WebhookUrl(url), source))
    });
    let events = match raw.events {
        Some(value) => c
            .parsed_list::<EventKind>(&key("events"), value)
            .and_then(|events| {
                non_empty(
                    c,
                    &key("events"),
                    events,
                    "remove the key to receive every event, or list at least one",
                )
            })
            .map(BTreeSet::from_iter),
        None => Some(BTreeSet::from(EventKind::ALL)),
    };

    let (url, url_source) = url?;
    Some(NotifyTarget {
        name: name?,
        kind: kind?,
        url,
        url_source,
        events: events?,
    })
}

/// A target's name: logs and metrics labels name the target by it, so it must be unique and
/// plain.
fn name(
    c: &mut Collector<'_>,
    key: &str,
    value: Value,
    index: usize,
    names: &mut HashMap<String, usize>,
) -> Option<String> {
    let name = c.string(key, value)?;
    if !is_simple_name(&name) {
        c.problem(
            key,
            format!(
                "target name `{name}` is not allowed: use lowercase letters, digits and single \
                 underscores, like `ops_slack`, as for org names (logs and metrics labels name \
                 the target by it)"
            ),
        );
        return None;
    }
    unique_name(
        c,
        key,
        ("notify", index),
        name,
        names,
        "target names must be unique because logs and metrics tell targets apart by name",
    )
}

/// The webhook URL read from `source`. Messages name the key and the source, never the URL or
/// any part of it that could be the secret.
fn check_url(
    c: &mut Collector<'_>,
    key: &str,
    source: &SecretSource,
    text: &SecretString,
) -> Option<Url> {
    let url = match Url::parse(text.expose_secret().trim()) {
        Ok(url) => url,
        // `ParseError` names the kind of mistake only, never the input.
        Err(err) => {
            c.problem(
                key,
                format!(
                    "the webhook URL read from {source} is not a valid URL ({err}); write the \
                     whole URL, like https://hooks.slack.com/services/..., into it"
                ),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "https" | "http") {
        c.problem(
            key,
            format!("the webhook URL read from {source} is not an https URL; use https"),
        );
        return None;
    }
    let Some(host) = url.host().map(|host| host.to_owned()) else {
        c.problem(
            key,
            format!("the webhook URL read from {source} has no host; write the whole URL"),
        );
        return None;
    };
    if url.scheme() == "http" && !is_loopback(&host) {
        c.problem(
            key,
            format!(
                "the webhook URL read from {source} is plain http to a host that is not a \
                 loopback address: the events and the URL's token would cross the network in \
                 clear; use https (http is allowed only for loopback addresses such as \
                 127.0.0.1 or localhost)"
            ),
        );
        return None;
    }
    Some(url)
}
