//! The two wire formats of an [`Event`], built by hand from it (internal types do not derive
//! `Serialize`):
//!
//! - `webhook`: `{"version": 1, "source": "pauseplay", "event", "org", "at", "summary",
//!   "details"}`, `at` in RFC 3339 UTC, `org` null for events about no one org.
//! - `slack`: an incoming-webhook message: `text` (the summary, what phone notifications show)
//!   and Block Kit `blocks`: a section with the event's title and summary, a section listing
//!   the details, and a context line "pauseplay · org · time". Text is mrkdwn, so `&`, `<` and
//!   `>` are escaped as Slack requires, and each text stays under Slack's 3000-character limit.
//!
//! Both show at most [`MAX_DETAILS`] details and then "… and N more".

use serde::Serialize;

use super::event::Event;
use crate::config::NotifyKind;

/// Details listed before "… and N more": enough to name what went wrong in a partial pause,
/// few enough to read in a chat message.
const MAX_DETAILS: usize = 20;

/// Slack refuses a text object longer than this.
const SLACK_TEXT_MAX: usize = 3000;

/// One detail line is cut at this length in Slack, so that one long reason cannot push the
/// others out of the 3000 characters.
const SLACK_LINE_MAX: usize = 300;

/// The summary is cut at this length in Slack; escaped (at most five characters each) and with
/// the title it stays under [`SLACK_TEXT_MAX`].
const SLACK_SUMMARY_MAX: usize = 500;

/// Room kept in the details text for the "… and N more" line.
const MORE_LINE_ROOM: usize = 40;

/// The body of the request that delivers `event` in `kind`'s format.
pub(super) fn render(kind: NotifyKind, event: &Event) -> Result<Vec<u8>, serde_json::Error> {
    match kind {
        NotifyKind::Webhook => serde_json::to_vec(&generic(event)),
        NotifyKind::Slack => serde_json::to_vec(&slack(event)),
    }
}

#[derive(Serialize)]
struct Generic<'a> {
    version: u32,
    source: &'static str,
    event: &'static str,
    org: Option<&'a str>,
    at: String,
    summary: &'a str,
    details: Vec<String>,
}

fn generic(event: &Event) -> Generic<'_> {
    let shown = event.details.len().min(MAX_DETAILS);
    let mut details = event.details[..shown].to_vec();
    let more = event.details.len() - shown;
    if more > 0 {
        details.push(and_more(more));
    }
    Generic {
        version: 1,
        source: "pauseplay",
        event: event.kind.as_str(),
        org: event.org.as_deref(),
        at: event.at.to_string(),
        summary: &event.summary,
        details,
    }
}

#[derive(Serialize)]
struct SlackMessage {
    /// The fallback for notifications and clients that cannot show blocks.
    text: String,
    blocks: Vec<Block>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Section { text: Text },
    Context { elements: Vec<Text> },
}

/// A Block Kit text object; always mrkdwn here.
#[derive(Serialize)]
struct Text {
    #[serde(rename = "type")]
    format: &'static str,
    text: String,
}

impl Text {
    fn mrkdwn(text: String) -> Text {
        Text {
            format: "mrkdwn",
            text,
        }
    }
}

fn slack(event: &Event) -> SlackMessage {
    let summary = escape(&cut(&event.summary, SLACK_SUMMARY_MAX));
    let mut blocks = vec![Block::Section {
        text: Text::mrkdwn(format!("*{}*\n{summary}", event.kind.title())),
    }];
    if let Some(details) = slack_details(&event.details) {
        blocks.push(Block::Section {
            text: Text::mrkdwn(details),
        });
    }
    let context = match &event.org {
        Some(org) => format!("pauseplay · {org} · {}", event.at),
        None => format!("pauseplay · {}", event.at),
    };
    blocks.push(Block::Context {
        elements: vec![Text::mrkdwn(escape(&context))],
    });
    SlackMessage {
        text: summary,
        blocks,
    }
}

/// The details as a bulleted list: at most [`MAX_DETAILS`] lines, fewer if they would not fit
/// in one text object, then how many were left out. `None` without details (Slack refuses an
/// empty text).
fn slack_details(details: &[String]) -> Option<String> {
    if details.is_empty() {
        return None;
    }
    let mut text = String::new();
    let mut length = 0;
    let mut listed = 0;
    for detail in details.iter().take(MAX_DETAILS) {
        let line = format!("• {}", escape(&cut(detail, SLACK_LINE_MAX)));
        let line_length = line.chars().count() + usize::from(listed > 0);
        if length + line_length > SLACK_TEXT_MAX - MORE_LINE_ROOM {
            break;
        }
        if listed > 0 {
            text.push('\n');
        }
        text.push_str(&line);
        length += line_length;
        listed += 1;
    }
    let more = details.len() - listed;
    if more > 0 {
        text.push('\n');
        text.push_str(&and_more(more));
    }
    Some(text)
}

fn and_more(count: usize) -> String {
    format!("… and {count} more")
}

/// `text` cut to at most `max` characters, the last one an ellipsis when it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// The three characters Slack reserves for its own markup (`<@U123>`, `<url|label>`) and
/// entities, escaped so that text shows as written.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::EventKind;

    fn event(details: Vec<String>) -> Event {
        Event {
            kind: EventKind::PartialFailure,
            org: Some("prod".to_owned()),
            at: "2026-12-01T21:00:00Z".parse().expect("timestamp"),
            summary: "3 of 5 paused; <see> status & retry".to_owned(),
            details,
        }
    }

    fn texts(message: &SlackMessage) -> Vec<&str> {
        message
            .blocks
            .iter()
            .flat_map(|block| match block {
                Block::Section { text } => vec![text.text.as_str()],
                Block::Context { elements } => elements.iter().map(|t| t.text.as_str()).collect(),
            })
            .collect()
    }

    #[test]
    fn slack_text_is_escaped_and_the_details_block_is_left_out_when_empty() {
        let message = slack(&event(Vec::new()));
        assert_eq!(
            message.text,
            "3 of 5 paused; &lt;see&gt; status &amp; retry"
        );
        let texts = texts(&message);
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert_eq!(
            texts[0],
            "*Partial failure*\n3 of 5 paused; &lt;see&gt; status &amp; retry"
        );
        assert_eq!(texts[1], "pauseplay · prod · 2026-12-01T21:00:00Z");
    }

    #[test]
    fn long_details_fit_in_one_slack_text_and_say_how_many_are_left_out() {
        let details: Vec<String> = (0..30)
            .map(|i| format!("{i}: {}", "<x>".repeat(200)))
            .collect();
        let message = slack(&event(details));
        let listed = texts(&message)[1];
        assert!(listed.chars().count() <= SLACK_TEXT_MAX, "{}", listed.len());
        let lines: Vec<&str> = listed.lines().collect();
        let shown = lines.len() - 1;
        assert!(
            shown < MAX_DETAILS,
            "each line is long, so fewer than 20 fit: {shown}"
        );
        assert_eq!(lines[shown], format!("… and {} more", 30 - shown));
        assert!(lines[0].starts_with("• 0: &lt;x&gt;"), "{}", lines[0]);
        assert!(lines[0].ends_with('…'), "{}", lines[0]);
    }

    #[test]
    fn a_long_summary_is_cut() {
        let mut event = event(Vec::new());
        event.summary = "&".repeat(2 * SLACK_SUMMARY_MAX);
        let message = slack(&event);
        assert!(texts(&message)[0].chars().count() <= SLACK_TEXT_MAX);
        assert!(message.text.ends_with('…'));
    }
}
