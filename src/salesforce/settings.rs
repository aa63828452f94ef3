//! What an [`OrgClient`](super::OrgClient) needs to know about one org.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::{Host, Url};

use super::ApiVersion;

/// Everything needed to talk to one org. `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The configuration name of the org; every error message names it.
    pub org: String,
    /// The org's My Domain, e.g. `https://acme.my.salesforce.com`. The token is minted at
    /// `{login_url}/services/oauth2/token`.
    pub login_url: Url,
    /// The External Client App's consumer key.
    pub client_id: String,
    /// The External Client App's consumer secret.
    pub client_secret: SecretString,
    /// The REST API version used in every path.
    pub api_version: ApiVersion,
    /// The limit for one HTTP request (sending it and reading the whole response).
    pub request_timeout: Duration,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
}

impl ClientSettings {
    /// Settings with the default API version, a 60 s request timeout and the default retry
    /// policy.
    pub fn new(
        org: impl Into<String>,
        login_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        ClientSettings {
            org: org.into(),
            login_url,
            client_id: client_id.into(),
            client_secret,
            api_version: ApiVersion::DEFAULT,
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// Capped exponential backoff with jitter for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a request is sent at most, the first attempt included (at least 1).
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles on each further retry.
    pub min_delay: Duration,
    /// No delay is longer than this, jitter included.
    pub max_delay: Duration,
    /// Add a random part (up to the delay itself) so that clients do not retry in lockstep.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        min_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        jitter: false,
    };
}

/// Whether `url`'s host is a loopback address (127.0.0.0/8, ::1 or `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses anything but `https://`, except plain `http://` to a loopback host (the simulated
/// org). `what` names the URL in the message.
/// URLs with credentials in them (`https://user:pass@host`) are refused too: reqwest puts the
/// request URL into its error messages, so a password there would end up in logs.
pub(crate) fn check_url_scheme(url: &Url, what: &str) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        // The URL itself is not echoed: it holds the credentials.
        return Err(format!(
            "{what} must not contain a user name or password (`user:password@`); the client \
             secret belongs in its own file or credential"
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{what} `{url}` uses plain http; only https is allowed (plain http only to a \
             loopback address such as 127.0.0.1)"
        )),
        _ => Err(format!("{what} `{url}` is not an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid url")
    }

    #[test]
    fn refuses_plain_http_except_loopback() {
        for ok in [
            "https://acme.my.salesforce.com",
            "http://127.0.0.1:8080",
            "http://127.5.6.7",
            "http://[::1]:9000",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(check_url_scheme(&url(ok), "login_url").is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.my.salesforce.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
            "ftp://127.0.0.1",
            "file:///tmp/x",
            "https://user:hunter2@acme.my.salesforce.com",
            "https://user@acme.my.salesforce.com",
            "http://:hunter2@127.0.0.1:8080",
        ] {
            let error = check_url_scheme(&url(bad), "login_url").expect_err(bad);
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn settings_debug_hides_the_secret() {
        let settings = ClientSettings::new(
            "prod",
            url("https://acme.my.salesforce.com"),
            "key",
            SecretString::from("hunter2-secret"),
        );
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
