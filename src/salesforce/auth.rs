//! The OAuth 2.0 client-credentials grant and the per-org token cache.
//!
//! Salesforce returns no lifetime for these tokens, so a token is kept until an API call
//! answers 401; then exactly one new token is minted, however many requests saw the 401.

use std::future::Future;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tracing::debug;
use url::Url;

use super::error::{SfError, from_token_error};
use super::settings::check_url_scheme;
use super::wire::TokenResponse;

/// Path of the token endpoint, relative to the org's My Domain.
pub(crate) const TOKEN_PATH: &str = "/services/oauth2/token";

/// Who the client acts as, from the token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The 18-character org id.
    pub org_id: String,
    /// The 18-character id of the app's Run As user.
    pub user_id: String,
    /// The base URL of every API call.
    pub instance_url: Url,
}

/// A minted access token and what came with it. `Debug` shows no token.
pub(crate) struct Session {
    pub access_token: SecretString,
    pub identity: Identity,
    /// Counts mints, so a request that saw a 401 can tell whether someone already replaced
    /// the token it used.
    pub generation: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("identity", &self.identity)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The token of one org. Minting is single-flight: the lock is held while a token is minted,
/// so concurrent callers wait for that one mint and share its result.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    session: Option<Arc<Session>>,
    generation: u64,
}

impl TokenCache {
    /// The cached session, or a new one from `mint`. With `stale = Some(generation)`, a cached
    /// session of that generation is thrown away first (the caller saw it answer 401); a newer
    /// one, minted meanwhile by another caller, is returned as is.
    pub async fn session<F, Fut>(
        &self,
        stale: Option<u64>,
        mint: F,
    ) -> Result<Arc<Session>, SfError>
    where
        F: FnOnce(u64) -> Fut,
        Fut: Future<Output = Result<Session, SfError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(session) = &slot.session
            && Some(session.generation) != stale
        {
            return Ok(Arc::clone(session));
        }
        slot.session = None;
        let generation = slot.generation + 1;
        let session = Arc::new(mint(generation).await?);
        slot.generation = generation;
        slot.session = Some(Arc::clone(&session));
        Ok(session)
    }
}

/// What minting needs from the client.
pub(crate) struct MintRequest<'a> {
    pub http: &'a reqwest::Client,
    pub org: &'a str,
    pub login_url: &'a Url,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub timeout: std::time::Duration,
}

/// Runs the client-credentials grant once (no retry here; the caller's retry loop decides).
pub(crate) async fn mint(request: MintRequest<'_>, generation: u64) -> Result<Session, SfError> {
    let org = request.org;
    let url = request
        .login_url
        .join(TOKEN_PATH)
        .map_err(|error| SfError::Config {
            org: org.to_owned(),
            message: format!("cannot build the token URL from login_url: {error}"),
        })?;
    debug!(org, url = %url, "minting an access token");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", request.client_id),
        ("client_secret", request.client_secret.expose_secret()),
    ];
    let response = request
        .http
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .timeout(request.timeout)
        .send()
        .await
        .map_err(|error| super::client::transport_error(org, TOKEN_PATH, &error))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|error| super::client::transport_error(org, TOKEN_PATH, &error))?;
    if !(200..300).contains(&status) {
        return Err(from_token_error(org, TOKEN_PATH, status, &body));
    }
    // The body holds the token: a decode error names only the serde category and position,
    // never the text.
    let token: TokenResponse = serde_json::from_slice(&body).map_err(|error| {
        SfError::decode(
            org,
            TOKEN_PATH,
            "a token response with access_token, instance_url and id",
            format!(
                "{:?} error at line {} column {}",
                error.classify(),
                error.line(),
                error.column()
            ),
        )
    })?;
    let instance_url = Url::parse(&token.instance_url)
        .map_err(|error| SfError::decode(org, TOKEN_PATH, "instance_url to be a URL", error))?;
    check_url_scheme(&instance_url, "the token response's instance_url")
        .map_err(|message| SfError::decode(org, TOKEN_PATH, "an https instance_url", message))?;
    let (org_id, user_id) = parse_identity_url(&token.id).ok_or_else(|| {
        SfError::decode(
            org,
            TOKEN_PATH,
            "id to be an identity URL ending in /{orgId}/{userId}",
            prefix_of(&token.id),
        )
    })?;
    debug!(org, org_id = %org_id, user_id = %user_id, generation, "access token minted");
    Ok(Session {
        access_token: token.access_token,
        identity: Identity {
            org_id,
            user_id,
            instance_url,
        },
        generation,
    })
}

fn prefix_of(text: &str) -> String {
    super::error::prefix(text, 200)
}

/// The org id and user id: the last two path segments of the identity URL. The host is not
/// looked at (it may be login, test or an internal host).
pub(crate) fn parse_identity_url(id: &str) -> Option<(String, String)> {
    let url = Url::parse(id).ok()?;
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., org_id, user_id] => Some(((*org_id).to_owned(), (*user_id).to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_url_gives_org_and_user() {
        assert_eq!(
            parse_identity_url(
                "https://login.salesforce.com/id/00DXX0000001abcEAA/005XX000001xyzAAA"
            ),
            Some(("00DXX0000001abcEAA".into(), "005XX000001xyzAAA".into()))
        );
        assert_eq!(
            parse_identity_url("https://login.pc-rnd.salesforce.com/id/00D1/0052/"),
            Some(("00D1".into(), "0052".into()))
        );
        assert_eq!(parse_identity_url("https://x/id"), None);
        assert_eq!(parse_identity_url("not a url"), None);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_mint() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let cache = Arc::new(TokenCache::default());
        let mints = Arc::new(AtomicU64::new(0));
        let fake = |generation: u64| Session {
            access_token: SecretString::from("t"),
            identity: Identity {
                org_id: "o".into(),
                user_id: "u".into(),
                instance_url: Url::parse("https://x.my.salesforce.com").expect("url"),
            },
            generation,
        };
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = Arc::clone(&cache);
            let mints = Arc::clone(&mints);
            tasks.push(tokio::spawn(async move {
                cache
                    .session(None, |generation| async move {
                        mints.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok(fake(generation))
                    })
                    .await
                    .map(|session| session.generation)
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("joins").expect("session"), 1);
        }
        assert_eq!(mints.load(Ordering::SeqCst), 1);

        // Two callers that both saw generation 1 fail: only one re-mint.
        for _ in 0..2 {
            let mints = Arc::clone(&mints);
            let session = cache
                .session(Some(1), |generation| async move {
                    mints.fetch_add(1, Ordering::SeqCst);
                    Ok(fake(generation))
                })
                .await
                .expect("session");
            assert_eq!(session.generation, 2);
        }
        assert_eq!(mints.load(Ordering::SeqCst), 2);
    }
}
