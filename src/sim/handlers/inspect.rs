//! The inspection endpoint under `/__sim` (no authentication, not part of Salesforce): read
//! the true state, the counters, the request log and the write tally, change faults, arm and
//! thaw crash points, act as an admin. Errors are `{"error": "..."}` with 400.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::admin::{self, AdminAction};
use crate::sim::faults::Faults;
use crate::sim::freeze::FreezeAt;
use crate::sim::server::{App, json_response};

fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, Some(&body), None)
}

fn error(message: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        Some(&json!({ "error": message })),
        None,
    )
}

pub async fn state(State(app): State<App>) -> Response {
    let snapshot = app.shared.lock().snapshot();
    ok(snapshot)
}

pub async fn counters(State(app): State<App>) -> Response {
    let counters = app.shared.lock().counters.clone();
    ok(json!(counters))
}

pub async fn reset_counters(State(app): State<App>) -> Response {
    app.shared.lock().counters.clear();
    ok(json!({ "ok": true }))
}

pub async fn faults(State(app): State<App>) -> Response {
    let faults = app.shared.lock().faults.faults().clone();
    ok(json!(faults))
}

pub async fn set_faults(State(app): State<App>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(err) => return error(format!("invalid faults: {err}")),
    };
    if let Err(err) = faults.validate() {
        return error(err);
    }
    app.shared.lock().set_faults(faults);
    ok(json!({ "ok": true }))
}

pub async fn admin(State(app): State<App>, body: Bytes) -> Response {
    let action: AdminAction = match serde_json::from_slice(&body) {
        Ok(action) => action,
        Err(err) => return error(format!("invalid admin action: {err}")),
    };
    let outcome = admin::apply(&mut app.shared.lock(), action);
    match outcome {
        Ok(()) => ok(json!({ "ok": true })),
        Err(err) => error(format!("{err:#}")),
    }
}

pub async fn freeze_status(State(app): State<App>) -> Response {
    let status = app.shared.lock().freezer.status();
    ok(status)
}

pub async fn freeze(State(app): State<App>, body: Bytes) -> Response {
    let point: FreezeAt = match serde_json::from_slice(&body) {
        Ok(point) => point,
        Err(err) => return error(format!("invalid freeze: {err}")),
    };
    let armed = app.shared.lock().freezer.arm(point);
    match armed {
        Ok(()) => ok(json!({ "ok": true })),
        Err(err) => error(err),
    }
}

pub async fn thaw(State(app): State<App>) -> Response {
    app.shared.lock().freezer.thaw();
    ok(json!({ "ok": true }))
}

pub async fn requests(State(app): State<App>) -> Response {
    let log = app.shared.lock().freezer.log();
    ok(json!(log))
}

pub async fn writes(State(app): State<App>) -> Response {
    let writes = app.shared.lock().org.writes.by_id().clone();
    ok(json!(writes))
}
