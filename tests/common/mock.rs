//! A scripted HTTP server for client tests that need answers the simulated org does not
//! give on demand (a second 401, a non-JSON error body, a malformed success body).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use url::Url;

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Wait this long before answering (to provoke client timeouts).
    pub delay: Option<std::time::Duration>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json;charset=UTF-8".into())],
            body: body.to_string(),
            delay: None,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: body.to_owned(),
            delay: None,
        }
    }

    pub fn delayed(mut self, delay: std::time::Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

pub type Handler = dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync;

/// A running mock server.
pub struct Mock {
    pub url: Url,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Mock {
    /// Starts the server on 127.0.0.1; `handler` sees the request and all earlier ones.
    pub async fn start(
        handler: impl Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync + 'static,
    ) -> Mock {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::clone(&requests);
        let app = axum::Router::new().fallback(move |request: Request| {
            let seen = Arc::clone(&seen);
            let handler = Arc::clone(&handler);
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .expect("request body");
                let recorded = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let reply = {
                    let mut seen = seen.lock().expect("lock");
                    let reply = handler(&recorded, &seen);
                    seen.push(recorded);
                    reply
                };
                if let Some(delay) = reply.delay {
                    tokio::time::sleep(delay).await;
                }
                let mut response = Response::new(Body::from(reply.body));
                *response.status_mut() = StatusCode::from_u16(reply.status).expect("status");
                for (name, value) in reply.headers {
                    response
                        .headers_mut()
                        .append(name, HeaderValue::from_str(&value).expect("header"));
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock {
            url: Url::parse(&format!("http://{address}")).expect("url"),
            requests,
            task,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// How many requests had this path.
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A successful token response pointing API calls back at the mock (from the Host header).
pub fn token_reply(request: &Recorded, token: &str) -> Reply {
    let host = request
        .headers
        .get("host")
        .and_then(|host| host.to_str().ok())
        .expect("host header");
    Reply::json(
        200,
        serde_json::json!({
            "access_token": token,
            "signature": "c2lnbmF0dXJl",
            "instance_url": format!("http://{host}"),
            "id": "https://login.salesforce.com/id/00DXX0000001abcEAA/005XX000001xyzAAA",
            "token_type": "Bearer",
            "issued_at": "1735689600000",
        }),
    )
}
