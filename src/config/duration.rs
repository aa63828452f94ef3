//! Human durations such as `90s`, `2h30m` or `1h`.

use std::time::Duration;

use jiff::SignedDuration;

/// Parses a strictly positive human duration. The error is a message for people.
pub(crate) fn parse_positive(text: &str) -> Result<Duration, String> {
    // jiff's own messages talk about its types ("try parsing into a `jiff::Span`"), which means
    // nothing to someone editing a config file, so the message is ours.
    let parsed: SignedDuration = text.trim().parse().map_err(|_| {
        format!(
            "`{text}` is not a duration; write it like \"90s\", \"2h30m\" or \"1h\" (hours at most: write \"48h\", not \"2d\")"
        )
    })?;
    if parsed.is_zero() || parsed.is_negative() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Duration::try_from(parsed).map_err(|_| format!("`{text}` is out of range"))
}

/// Formats a duration the way a person would write it in the config, e.g. `2h 30m`.
pub(crate) fn display(duration: Duration) -> String {
    match SignedDuration::try_from(duration) {
        Ok(signed) => format!("{signed:#}"),
        Err(_) => format!("{}s", duration.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_friendly_durations() {
        assert_eq!(parse_positive("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_positive("2h30m"), Ok(Duration::from_secs(9000)));
        assert_eq!(parse_positive("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_positive("PT5M"), Ok(Duration::from_secs(300)));
    }

    #[test]
    fn refuses_zero_negative_and_calendar_units() {
        for bad in ["0s", "-5m", "1d", "5", "", "soon"] {
            assert!(parse_positive(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn displays_like_the_config() {
        assert_eq!(display(Duration::from_secs(9000)), "2h 30m");
    }
}
