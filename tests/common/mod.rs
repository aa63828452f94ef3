//! Helpers shared by the client tests.
#![allow(dead_code)]

pub mod mock;

use std::time::Duration;

use pauseplay::salesforce::{ApiVersion, ClientSettings, OrgClient, RetryPolicy};
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
