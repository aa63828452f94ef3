//! Salesforce API versions (`66.0`).

use std::fmt;
use std::str::FromStr;

/// A Salesforce API version such as `66.0`. Salesforce has only ever released `NN.0`
/// versions, so the major number is the whole identity.
///
/// ```
/// use pauseplay::salesforce::ApiVersion;
///
/// let version: ApiVersion = "66.0".parse().unwrap();
/// assert_eq!(version.path_segment(), "v66.0");
/// assert!("66".parse::<ApiVersion>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiVersion(u16);

impl ApiVersion {
    /// The version pauseplay is tested against (Spring '26, served by every org in late 2026).
    pub const DEFAULT: ApiVersion = ApiVersion(66);

    pub const fn new(major: u16) -> Self {
        ApiVersion(major)
    }

    pub fn major(self) -> u16 {
        self.0
    }

    /// The path segment used in REST URLs, e.g. `v66.0`.
    pub fn path_segment(self) -> String {
        format!("v{}.0", self.0)
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion::DEFAULT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.0", self.0)
    }
}

/// The error for a string that is not an API version of the form `NN.0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Salesforce API version; write it like \"66.0\"")]
pub struct InvalidApiVersion(pub String);

impl FromStr for ApiVersion {
    type Err = InvalidApiVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidApiVersion(s.to_owned());
        let digits = s.trim_start_matches('v');
        let major = digits.strip_suffix(".0").ok_or_else(invalid)?;
        let major: u16 = major.parse().map_err(|_| invalid())?;
        // Versions below 20 predate everything pauseplay uses; refusing them catches typos
        // like "6.0".
        if !(20..1000).contains(&major) {
            return Err(invalid());
        }
        Ok(ApiVersion(major))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_versions() {
        let version: ApiVersion = "66.0".parse().expect("valid version");
        assert_eq!(version.to_string(), "66.0");
        assert_eq!(version.path_segment(), "v66.0");
        assert_eq!("v67.0".parse::<ApiVersion>().map(ApiVersion::major), Ok(67));
    }

    #[test]
    fn refuses_malformed_versions() {
        for bad in ["66", "66.5", "six", "6.0", ""] {
            assert!(
                bad.parse::<ApiVersion>().is_err(),
                "{bad} should be refused"
            );
        }
    }
}
