//! `POST /services/data/vNN.0/metadata/deployRequest` and
//! `GET /services/data/vNN.0/metadata/deployRequest/{id}` (reference §5.4.2).
//!
//! The multipart body is read by the HTTP layer (it is async) into an [`Upload`]; this
//! module checks it, queues the deploy and answers polls. The state machine, tests and
//! package checks are in `sim::deploy` and `sim::package`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::sim::api::ApiResponse;
use crate::sim::deploy;
use crate::sim::state::{SimState, counter};

/// The two parts of a deploy request, as read from `multipart/form-data`.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The `json` part: `{"deployOptions": {...}}`.
    pub json: Option<Vec<u8>>,
    /// The `file` part: the zip.
    pub file: Option<Vec<u8>>,
}

/// The multipart body as the HTTP layer read it: the parts, or why it could not be read.
pub type UploadResult = Result<Upload, String>;

/// `INVALID_MULTIPART_REQUEST` is [INFERRED]: the reference shows no error for a bad body.
fn bad_multipart(message: impl Into<String>) -> ApiResponse {
    ApiResponse::bad_request("INVALID_MULTIPART_REQUEST", message)
}

/// `POST .../metadata/deployRequest`.
pub fn create(state: &mut SimState, version: &str, upload: Option<&UploadResult>) -> ApiResponse {
    state.count(counter::DEPLOY_REQUEST);
    let upload = match upload {
        None => return bad_multipart("The request must be multipart/form-data"),
        Some(Err(err)) => return bad_multipart(err.clone()),
        Some(Ok(upload)) => upload,
    };
    let Some(json_part) = &upload.json else {
        return bad_multipart("The request has no part named json");
    };
    let Some(file) = &upload.file else {
        return bad_multipart("The request has no part named file");
    };
    let body: Value = match serde_json::from_slice(json_part) {
        Ok(body) => body,
        Err(err) => return ApiResponse::bad_request("JSON_PARSER_ERROR", err.to_string()),
    };
    let Some(raw_options) = body.get("deployOptions") else {
        return ApiResponse::bad_request("JSON_PARSER_ERROR", "The json part has no deployOptions");
    };
    let options = match deploy::options(raw_options, state.org.info.is_sandbox) {
        Ok(options) => options,
        Err((code, message)) => return ApiResponse::bad_request(code, message),
    };
    let index = state.deploys.create(options, file.clone());
    let Some(created) = state.deploys.get(index) else {
        return ApiResponse::not_found();
    };
    let id = created.id.clone();
    let instance_url = &state.instance_url;
    ApiResponse {
        status: StatusCode::CREATED,
        body: Some(json!({
            "id": id,
            "validatedDeployRequestId": null,
            "url": format!("{instance_url}/services/data/v{version}/metadata/deployRequest/{id}"),
            "deployOptions": raw_options,
            "deployResult": created.result(&state.org, false),
        })),
    }
}

/// `GET .../metadata/deployRequest/{id}`: one poll.
pub fn status(state: &mut SimState, id: &str, include_details: bool) -> ApiResponse {
    state.count(counter::DEPLOY_POLL);
    let Some(index) = state.deploys.find(id) else {
        return ApiResponse::not_found();
    };
    let SimState { deploys, org, .. } = state;
    deploys.poll(index, org);
    let Some(found) = deploys.get(index) else {
        return ApiResponse::not_found();
    };
    ApiResponse::ok(json!({
        "id": found.id,
        "validatedDeployRequestId": null,
        // The recorded poll answer carries no options (reference §5.4.2).
        "deployOptions": null,
        "deployResult": found.result(org, include_details),
    }))
}
