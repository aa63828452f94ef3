//! Sim-level tests: a real server bound on 127.0.0.1:0, driven over raw HTTP with reqwest.

mod admin;
mod auth;
mod composite;
mod deploy;
mod faults;
mod freeze;
mod query;
mod robustness;
mod scenarios;
mod sobjects;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{Scenario, SimHandle, SimServer};

pub const V: &str = "/services/data/v66.0";

/// A running org and an HTTP client for it.
pub struct Org {
    pub handle: SimHandle,
    pub http: Client,
    pub token: String,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `errorCode` of a Salesforce error array.
    pub fn error_code(&self) -> &str {
        self.body[0]["errorCode"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body[0]["message"].as_str().unwrap_or("")
    }

    /// `USED` of `Sforce-Limit-Info: api-usage=USED/MAX`.
    pub fn api_used(&self) -> u64 {
        let header = self.headers["sforce-limit-info"].to_str().unwrap();
        let usage = header.strip_prefix("api-usage=").unwrap();
        usage.split('/').next().unwrap().parse().unwrap()
    }
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

pub async fn start(scenario: Scenario) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    SimServer::start(scenario, listener).await.unwrap()
}

pub fn scenario(text: &str) -> Scenario {
    Scenario::from_toml_str(text).unwrap()
}

pub async fn mint(http: &Client, handle: &SimHandle) -> String {
    let response = http
        .post(handle.base_url().join("/services/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", handle.client_id()),
            ("client_secret", handle.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

impl Org {
    pub async fn start(scenario: Scenario) -> Org {
        let handle = start(scenario).await;
        let http = client();
        let token = mint(&http, &handle).await;
        Org {
            handle,
            http,
            token,
        }
    }

    pub async fn mixed() -> Org {
        Org::start(Scenario::demo()).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        send(&self.http, &self.handle, &self.token, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// A POST, e.g. to the inspection endpoint (`/__sim/...`, which ignores the token).
    pub async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        self.send(Method::POST, path, body).await
    }

    pub async fn query(&self, soql: &str) -> Answer {
        self.get(&format!("{V}/query?q={}", encode(soql))).await
    }

    pub async fn tooling_query(&self, soql: &str) -> Answer {
        self.get(&format!("{V}/tooling/query/?q={}", encode(soql)))
            .await
    }

    pub async fn composite(&self, body: Value) -> Answer {
        self.send(Method::POST, &format!("{V}/tooling/composite"), Some(body))
            .await
    }

    /// The id of a component in the true state.
    pub fn id_of(&self, list: &str, key: &str, name: &str) -> String {
        let snapshot = self.handle.snapshot();
        snapshot[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item[key] == name)
            .unwrap_or_else(|| panic!("no {list} entry {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn flow_id(&self, name: &str) -> String {
        self.id_of("flows", "name", name)
    }

    pub fn flow(&self, name: &str) -> Value {
        self.handle.snapshot()["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    }
}

pub async fn send(
    http: &Client,
    handle: &SimHandle,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = http
        .request(method, handle.base_url().join(path).unwrap())
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text }))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Form-encodes a query string value with `+` for spaces.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
