//! `POST /services/oauth2/token`: the OAuth 2.0 client-credentials grant.
//!
//! Credentials come either in the form body (`client_id`, `client_secret`) or as
//! `Authorization: Basic base64(id:secret)` with only `grant_type` in the body. Errors are a
//! JSON *object* `{error, error_description}` with 400 and `Cache-Control: no-store`, unlike
//! every other endpoint. Token calls do not count toward the API limit.

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::sim::scenario::AuthMode;
use crate::sim::state::{SimState, counter};

/// A token endpoint answer: 200 with the token, or 400 with an OAuth error object.
#[derive(Debug)]
pub struct TokenResponse {
    pub status: StatusCode,
    pub body: Value,
}

fn oauth_error(error: &str, description: &str) -> TokenResponse {
    TokenResponse {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": error, "error_description": description }),
    }
}

/// Client id and secret from a `Basic` authorization header, if there is one.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub fn token(
    state: &mut SimState,
    headers: &HeaderMap,
    body: &[u8],
    instance_url: &str,
    now: Instant,
) -> TokenResponse {
    let response = mint(state, headers, body, instance_url, now);
    state.count(if response.status.is_success() {
        counter::TOKEN
    } else {
        counter::TOKEN_REJECTED
    });
    response
}

fn mint(
    state: &mut SimState,
    headers: &HeaderMap,
    body: &[u8],
    instance_url: &str,
    now: Instant,
) -> TokenResponse {
    if state.auth == AuthMode::WrongDomain {
        return oauth_error("invalid_grant", "request not supported on this domain");
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let (client_id, client_secret) = match basic_credentials(headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (field("client_id"), field("client_secret")),
    };
    if client_id.as_deref() != Some(state.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if client_secret.as_deref() != Some(state.client_secret.as_str()) {
        // [INFERRED] 400: reports disagree (400 or 401, Appendix C); clients handle both.
        return oauth_error("invalid_client", "invalid client credentials");
    }
    if state.auth == AuthMode::FlowDisabled {
        // [REPORTED] the error of an app whose client-credentials flow is off. Checked after
        // the key and secret [INFERRED]: Salesforce has to find the app to know its flows.
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    if state.auth == AuthMode::NoRunAsUser {
        return oauth_error("invalid_grant", "no client credentials user enabled");
    }
    let access_token = state.mint_token(now);
    let signature = state.signature();
    let login_host = if state.org.info.is_sandbox {
        "test.salesforce.com"
    } else {
        "login.salesforce.com"
    };
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    TokenResponse {
        status: StatusCode::OK,
        body: json!({
            "access_token": access_token,
            "signature": signature,
            "token_format": "opaque",
            "scope": "api",
            "instance_url": instance_url,
            "id": format!(
                "https://{login_host}/id/{}/{}",
                state.org.info.id, state.org.info.user.id
            ),
            "token_type": "Bearer",
            "issued_at": issued_at.to_string(),
        }),
    }
}
