//! API usage: the `Sforce-Limit-Info` header and the `/limits` resource.

use serde::Serialize;

/// The org's API usage as last reported by `Sforce-Limit-Info: api-usage=USED/MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    pub used: u64,
    pub max: u64,
}

impl ApiUsage {
    /// Calls left today.
    pub fn remaining(self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

/// The part of `GET /limits` pauseplay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub daily_api_requests: LimitValue,
}

impl Limits {
    /// The daily API requests in the header's terms (used of max).
    pub fn daily_usage(&self) -> ApiUsage {
        let daily = self.daily_api_requests;
        ApiUsage {
            used: daily.max.saturating_sub(daily.remaining),
            max: daily.max,
        }
    }
}

/// One `/limits` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimitValue {
    pub max: u64,
    pub remaining: u64,
}

/// Name of the usage header.
pub(crate) const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// Parses `api-usage=18/5000` out of a `Sforce-Limit-Info` value such as
/// `api-usage=25/5000; per-app-api-usage=17/250(appName=sample)`. The per-app part is
/// ignored; anything unparseable gives `None`.
pub(crate) fn parse_limit_info(value: &str) -> Option<ApiUsage> {
    value
        .split([';', ','])
        .map(str::trim)
        .find_map(|part| part.strip_prefix("api-usage="))
        .and_then(|usage| {
            let (used, max) = usage.trim().split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_header_forms() {
        assert_eq!(
            parse_limit_info("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-app)"),
            Some(ApiUsage {
                used: 25,
                max: 5000
            })
        );
        // The per-app part first must not be mistaken for the org usage.
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=x); api-usage=30/15000"),
            Some(ApiUsage {
                used: 30,
                max: 15000
            })
        );
    }

    #[test]
    fn garbage_gives_none() {
        for garbage in [
            "",
            "api-usage=",
            "api-usage=12",
            "api-usage=a/b",
            "api-usage=-1/5",
            "per-app-api-usage=17/250(appName=x)",
            "usage=1/2",
            "api-usage=1/2/3",
        ] {
            assert_eq!(parse_limit_info(garbage), None, "{garbage}");
        }
    }
}
