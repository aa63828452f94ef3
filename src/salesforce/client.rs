//! [`OrgClient`]: request execution for one org (token, 401 handling, retries, usage header).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::{debug, trace};
use url::Url;

use super::ApiVersion;
use super::auth::{Identity, MintRequest, Session, TokenCache, mint};
use super::error::{SfError, TransportKind, from_error_response, prefix};
use super::limits::{ApiUsage, LIMIT_INFO_HEADER, LimitValue, Limits, parse_limit_info};
use super::settings::{ClientSettings, RetryPolicy, check_url_scheme};
use super::wire::{LimitsBody, VersionInfo};

/// The User-Agent of every request.
const USER_AGENT: &str = concat!(
    "pauseplay/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/pauseplay)"
);

/// The client for one org. Cheap to clone; clones share the HTTP connection pool, the token
/// and the last API usage seen.
#[derive(Clone)]
pub struct OrgClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ClientSettings,
    http: reqwest::Client,
    tokens: TokenCache,
    usage: Mutex<Option<ApiUsage>>,
    /// Authenticated requests sent, retries included: the calls the org charges against its
    /// daily limit (a composite is one).
    api_calls: AtomicU64,
    /// Token requests sent (client-credentials grants, retries included): not charged, but
    /// each is a round trip, and one per operation is the floor.
    token_requests: AtomicU64,
    /// Read-only composite calls in flight to this org, at most [`READS_IN_FLIGHT`].
    reads: tokio::sync::Semaphore,
}

/// How many read-only composite calls one org is sent at once. Reads may overlap (only writes
/// are serialised, reference §7); the bound keeps one org's discovery from opening dozens of
/// connections. Sixteen calls of 25 reads cover a mid-sized org's 400 rules in one round
/// trip, and stay clear of the org's cap on concurrent long-running requests (25 in
/// production, reference §7, which only counts requests running over 20 s), leaving room for
/// the org's own integrations.
pub(crate) const READS_IN_FLIGHT: usize = 16;

impl fmt::Debug for OrgClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.inner.settings;
        f.debug_struct("OrgClient")
            .field("org", &settings.org)
            .field("login_url", &settings.login_url.as_str())
            .field("client_id", &settings.client_id)
            .field("api_version", &settings.api_version)
            .finish_non_exhaustive()
    }
}

/// One HTTP request, described so it can be sent again (retries, the retry after a re-mint).
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: Method,
    /// Root-relative path (e.g. `/services/data/v66.0/query`), possibly with a query string
    /// already in it (a `nextRecordsUrl`).
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<&'a serde_json::Value>,
    /// A `multipart/form-data` body (instead of `body`), rebuilt from these parts for each
    /// send because a reqwest form can be sent only once.
    pub multipart: Option<&'a [FormPart]>,
    /// Sent with the bearer token to `instance_url`; otherwise sent without a token to the
    /// login URL (`GET /services/data`).
    pub authenticated: bool,
}

impl<'a> Call<'a> {
    pub fn get(path: String) -> Self {
        Call {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            multipart: None,
            authenticated: true,
        }
    }

    pub fn with_body(method: Method, path: String, body: &'a serde_json::Value) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: Some(body),
            multipart: None,
            authenticated: true,
        }
    }

    pub fn with_multipart(method: Method, path: String, parts: &'a [FormPart]) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            multipart: Some(parts),
            authenticated: true,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Clone)]
pub(crate) struct FormPart {
    /// The form field name (`Content-Disposition: form-data; name="…"`).
    pub name: &'static str,
    /// The `filename` of a file part.
    pub file_name: Option<&'static str>,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for FormPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormPart")
            .field("name", &self.name)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl FormPart {
    fn to_part(&self) -> Result<reqwest::multipart::Part, reqwest::Error> {
        let part =
            reqwest::multipart::Part::bytes(self.bytes.clone()).mime_str(self.content_type)?;
        Ok(match self.file_name {
            Some(file_name) => part.file_name(file_name),
            None => part,
        })
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub path: String,
    pub body: Vec<u8>,
}

/// Turns a reqwest failure into [`SfError::Transport`], classified for retrying. The message
/// carries the error chain (never a header, so never the token).
pub(crate) fn transport_error(org: &str, path: &str, error: &reqwest::Error) -> SfError {
    let kind = if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else if error.is_request() || error.is_body() || error.is_decode() {
        TransportKind::Interrupted
    } else {
        TransportKind::Other
    };
    let mut message = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = source {
        let text = current.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = current.source();
    }
    SfError::Transport {
        org: org.to_owned(),
        path: path.to_owned(),
        kind,
        message,
    }
}

impl OrgClient {
    /// Builds the client. Refuses a `login_url` that is plain `http://` to a non-loopback
    /// host. Makes no request.
    pub fn new(settings: ClientSettings) -> Result<Self, SfError> {
        let config_error = |message: String| SfError::Config {
            org: settings.org.clone(),
            message,
        };
        check_url_scheme(&settings.login_url, "login_url").map_err(config_error)?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(30)))
            // Salesforce APIs do not redirect; a redirect would only move the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(settings.login_url.scheme() == "https")
            .build()
            .map_err(|error| config_error(format!("cannot build the HTTP client: {error}")))?;
        Ok(OrgClient {
            inner: Arc::new(Inner {
                settings,
                http,
                tokens: TokenCache::default(),
                usage: Mutex::new(None),
                api_calls: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
                reads: tokio::sync::Semaphore::new(READS_IN_FLIGHT),
            }),
        })
    }

    /// The configuration name of the org.
    pub fn org(&self) -> &str {
        &self.inner.settings.org
    }

    /// Waits for a slot to send a read-only composite call (see [`READS_IN_FLIGHT`]).
    /// The semaphore is never closed, so this is always `Some`; were it closed, the read
    /// would go ahead unbounded rather than fail.
    pub(crate) async fn read_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.reads.acquire().await.ok()
    }

    /// How transient failures are retried.
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inner.settings.retry
    }

    /// The API version used in every path.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.settings.api_version
    }

    /// The org id, the Run As user id and the instance URL. Mints a token if none is cached.
    pub async fn identity(&self) -> Result<Identity, SfError> {
        self.retrying("identity", || async {
            self.session(None)
                .await
                .map(|session| session.identity.clone())
        })
        .await
    }

    /// The org's usage from the last `Sforce-Limit-Info` header seen, if any.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        *self
            .inner
            .usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many API calls this client (and its clones) has sent, retries included. Token
    /// requests and the unauthenticated version list are not charged by Salesforce and are
    /// not counted.
    pub fn api_calls(&self) -> u64 {
        self.inner.api_calls.load(Ordering::Relaxed)
    }

    /// How many token requests this client (and its clones) has sent, retries included.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// `GET /services/data/vNN.0/limits`: the daily API request budget.
    pub async fn limits(&self) -> Result<Limits, SfError> {
        let reply = self.execute(&Call::get(self.data_path("/limits"))).await?;
        let body: LimitsBody = self.decode(&reply, "a limits object with DailyApiRequests")?;
        Ok(Limits {
            daily_api_requests: LimitValue {
                max: body.daily_api_requests.max,
                remaining: body.daily_api_requests.remaining,
            },
        })
    }

    /// `GET /services/data` on the login URL, without a token: the API versions the org
    /// serves, oldest first.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>, SfError> {
        let mut call = Call::get("/services/data".to_owned());
        call.authenticated = false;
        let reply = self.execute(&call).await?;
        self.decode(&reply, "an array of API versions")
    }

    /// `GET /services/data/vNN.0/tooling/sobjects/{sobject}/{id}[?fields=a,b]`.
    pub async fn tooling_get<T: DeserializeOwned>(
        &self,
        sobject: &str,
        id: &str,
        fields: &[&str],
    ) -> Result<T, SfError> {
        let mut call = Call::get(self.tooling_sobject_path(sobject, id));
        if !fields.is_empty() {
            call = call.query("fields", fields.join(","));
        }
        let reply = self.execute(&call).await?;
        self.decode(&reply, &format!("a {sobject} record"))
    }

    /// `PATCH /services/data/vNN.0/tooling/sobjects/{sobject}/{id}` with `body`; success is
    /// 204 (or any 2xx).
    pub async fn tooling_patch(
        &self,
        sobject: &str,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<(), SfError> {
        let call = Call::with_body(Method::PATCH, self.tooling_sobject_path(sobject, id), body);
        self.execute(&call).await.map(|_| ())
    }

    /// `/services/data/vNN.0{rest}`.
    pub(crate) fn data_path(&self, rest: &str) -> String {
        format!(
            "/services/data/{}{rest}",
            self.inner.settings.api_version.path_segment()
        )
    }

    fn tooling_sobject_path(&self, sobject: &str, id: &str) -> String {
        self.data_path(&format!(
            "/tooling/sobjects/{}/{}",
            encode_segment(sobject),
            encode_segment(id)
        ))
    }

    /// Decodes a successful JSON body, naming what was expected when it does not fit.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        reply: &Reply,
        expected: &str,
    ) -> Result<T, SfError> {
        serde_json::from_slice(&reply.body).map_err(|error| {
            SfError::decode(
                self.org(),
                &reply.path,
                expected,
                format!(
                    "{error} (HTTP {}, body starts: {})",
                    reply.status,
                    prefix(String::from_utf8_lossy(&reply.body).trim(), 200)
                ),
            )
        })
    }

    /// Sends `call`, retrying transient failures, re-minting the token once on a 401.
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<Reply, SfError> {
        self.retrying(&call.path, || self.attempt(call)).await
    }

    /// Sends `call` once, never retrying a transient failure, for requests that are not safe
    /// to repeat (a deploy POST). Minting the token is retried first (nothing has been sent
    /// then), and a 401 still re-mints and sends again: Salesforce refused the request before
    /// doing anything with it.
    pub(crate) async fn execute_once(&self, call: &Call<'_>) -> Result<Reply, SfError> {
        if call.authenticated {
            self.retrying("identity", || self.session(None)).await?;
        }
        self.attempt(call).await
    }

    /// The cached session or a new one. `stale` names a generation that answered 401.
    async fn session(&self, stale: Option<u64>) -> Result<Arc<Session>, SfError> {
        let settings = &self.inner.settings;
        self.inner
            .tokens
            .session(stale, |generation| {
                self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
                mint(
                    MintRequest {
                        http: &self.inner.http,
                        org: &settings.org,
                        login_url: &settings.login_url,
                        client_id: &settings.client_id,
                        client_secret: &settings.client_secret,
                        timeout: settings.request_timeout,
                    },
                    generation,
                )
            })
            .await
    }

    /// One attempt: send with the current token; on a 401 mint a new token once and send
    /// again; a second 401 is [`SfError::SessionInvalid`].
    async fn attempt(&self, call: &Call<'_>) -> Result<Reply, SfError> {
        if !call.authenticated {
            return self.send(&self.inner.settings.login_url, None, call).await;
        }
        let session = self.session(None).await?;
        let first = self
            .send(
                &session.identity.instance_url,
                Some(&session.access_token),
                call,
            )
            .await;
        match first {
            Err(error) if error.is_session_expired() => {
                debug!(
                    org = self.org(),
                    path = %call.path,
                    "access token refused (401); minting a new one"
                );
                let fresh = self.session(Some(session.generation)).await?;
                match self
                    .send(
                        &fresh.identity.instance_url,
                        Some(&fresh.access_token),
                        call,
                    )
                    .await
                {
                    Err(error) if error.is_session_expired() => Err(SfError::SessionInvalid {
                        org: self.org().to_owned(),
                        message: error.session_message(),
                    }),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Sends the request once and classifies the answer.
    async fn send(
        &self,
        base: &Url,
        token: Option<&SecretString>,
        call: &Call<'_>,
    ) -> Result<Reply, SfError> {
        let org = self.org();
        // Only root-relative paths: a `//host/...` or absolute URL from a response would
        // otherwise carry the token to another host.
        if !call.path.starts_with('/') || call.path.starts_with("//") {
            return Err(SfError::decode(
                org,
                &call.path,
                "a root-relative path",
                "the path does not start with a single '/'",
            ));
        }
        let url = base
            .join(&call.path)
            .map_err(|error| SfError::decode(org, &call.path, "a valid URL path", error))?;
        // The path may come from a response (`nextRecordsUrl`); for `http(s)` URLs `/\host`
        // is read like `//host`, so check where the joined URL really points.
        if url.origin() != base.origin() {
            return Err(SfError::decode(
                org,
                &call.path,
                "a path on the org's own host",
                "the path would leave the instance URL's host",
            ));
        }
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .header(ACCEPT, "application/json")
            .timeout(self.inner.settings.request_timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(token) = token {
            // reqwest marks this header sensitive; it is never logged here either.
            request = request.bearer_auth(token.expose_secret());
            self.inner.api_calls.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(body) = call.body {
            request = request.json(body);
        }
        if let Some(parts) = call.multipart {
            let mut form = reqwest::multipart::Form::new();
            for part in parts {
                let built = part
                    .to_part()
                    .map_err(|error| transport_error(org, &call.path, &error))?;
                form = form.part(part.name, built);
            }
            request = request.multipart(form);
        }
        trace!(org, method = %call.method, path = %call.path, "sending request");
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(org, &call.path, &error))?;
        self.record_usage(response.headers());
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(org, &call.path, &error))?;
        debug!(org, method = %call.method, path = %call.path, status, "response");
        if (200..300).contains(&status) {
            Ok(Reply {
                status,
                path: call.path.clone(),
                body: body.to_vec(),
            })
        } else {
            Err(from_error_response(org, &call.path, status, &body))
        }
    }

    fn record_usage(&self, headers: &HeaderMap) {
        let usage = headers
            .get_all(LIMIT_INFO_HEADER)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(parse_limit_info);
        if let Some(usage) = usage {
            trace!(
                org = self.org(),
                used = usage.used,
                max = usage.max,
                "api usage"
            );
            *self
                .inner
                .usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(usage);
        }
    }
}

/// Percent-encodes one URL path segment (keeps only unreserved characters).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(login_url: &str) -> ClientSettings {
        ClientSettings::new(
            "prod",
            Url::parse(login_url).expect("url"),
            "consumer-key",
            SecretString::from("s3cr3t-value"),
        )
    }

    #[test]
    fn refuses_plain_http_login_urls() {
        let error = OrgClient::new(settings("http://acme.my.salesforce.com")).expect_err("refused");
        assert!(matches!(error, SfError::Config { .. }));
        assert!(error.to_string().contains("plain http"), "{error}");
        assert_eq!(error.org(), "prod");
        OrgClient::new(settings("http://127.0.0.1:4000")).expect("loopback is fine");
        OrgClient::new(settings("https://acme.my.salesforce.com")).expect("https is fine");
    }

    #[test]
    fn debug_hides_the_secret() {
        let client = OrgClient::new(settings("https://acme.my.salesforce.com")).expect("client");
        let debug = format!("{client:?}");
        assert!(debug.contains("prod"));
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }

    #[tokio::test]
    async fn paths_that_leave_the_host_are_refused_before_sending() {
        let client = OrgClient::new(settings("https://acme.my.salesforce.com")).expect("client");
        let base = Url::parse("https://acme.my.salesforce.com").expect("url");
        let token = SecretString::from("00Dx!token-value");
        for path in [
            "//evil.example/services/data",
            "/\\evil.example/services/data",
            "https://evil.example/services/data",
            "services/data",
        ] {
            let error = client
                .send(&base, Some(&token), &Call::get(path.to_owned()))
                .await
                .expect_err(path);
            assert!(matches!(error, SfError::Decode { .. }), "{path}: {error:?}");
        }
        assert_eq!(client.api_calls(), 0, "nothing was sent");
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_segment("03dXX0000000001AAA"), "03dXX0000000001AAA");
        assert_eq!(encode_segment("a b/c?"), "a%20b%2Fc%3F");
    }

    #[test]
    fn user_agent_names_the_version() {
        assert!(USER_AGENT.starts_with("pauseplay/"));
        assert!(USER_AGENT.ends_with("(+https://github.com/pauseplay)"));
    }
}
