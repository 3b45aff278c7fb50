//! The control endpoints (`POST`), behind [`require_permission`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ApiError;
use crate::decommission;
use crate::orders::{self, IssueError};
use crate::shared::{Shared, StopReason};

/// Applies the control rule ([`super::auth::ControlAuth`]) before any
/// control handler runs, and before its body is read.
pub async fn require_permission(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match shared.auth.check(client.ip(), authorization) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            shared.hub.notice(
                "control-refused",
                format!("refused a control request from {client}: {refusal}"),
            );
            ApiError::new(StatusCode::FORBIDDEN, refusal.to_string()).into_response()
        }
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

fn address(text: &str) -> Result<SocketAddr, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not an IP:PORT address")))
}

fn refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// `POST /v1/join` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Members to join through (`IP:PORT`).
    pub seeds: Vec<String>,
}

/// `POST /v1/join`.
pub async fn join(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: JoinRequest = parse(&body)?;
    if request.seeds.is_empty() {
        return Err(ApiError::bad_request("no seeds given"));
    }
    let seeds = request
        .seeds
        .iter()
        .map(|s| address(s))
        .collect::<Result<Vec<_>, _>>()?;
    shared.node.join(&seeds).await.map_err(refused)?;
    shared.hub.notice(
        "join",
        format!(
            "joining through {} (asked over HTTP)",
            request.seeds.join(", ")
        ),
    );
    Ok(Json(json!({ "joining": request.seeds })))
}

/// `POST /v1/leave`: the agent leaves and exits.
pub async fn leave(State(shared): State<Arc<Shared>>) -> (StatusCode, Json<Value>) {
    shared.request_stop(StopReason::LeaveRequested);
    (StatusCode::ACCEPTED, Json(json!({ "leaving": true })))
}

/// `POST /v1/broadcast` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BroadcastRequest {
    /// The text to send.
    pub payload: String,
    /// A key: a newer broadcast with the same key replaces an older one.
    #[serde(default)]
    pub key: Option<u64>,
}

/// `POST /v1/broadcast`.
pub async fn broadcast(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: BroadcastRequest = parse(&body)?;
    if request.key.is_some_and(decommission::is_reserved_key) {
        return Err(ApiError::bad_request(
            "keys whose top 16 bits are 0x5357 are reserved by the agent",
        ));
    }
    if decommission::looks_like_order(request.payload.as_bytes()) {
        return Err(ApiError::bad_request(
            "payloads beginning with the decommission marker are reserved: use /v1/decommission",
        ));
    }
    shared
        .node
        .broadcast(request.key, request.payload.as_bytes())
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "sent": request.payload.len() })))
}

/// `POST /v1/message` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageRequest {
    /// The member to send to (`IP:PORT`).
    pub to: String,
    /// The text to send.
    pub payload: String,
}

/// `POST /v1/message`.
pub async fn message(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: MessageRequest = parse(&body)?;
    let to = address(&request.to)?;
    if decommission::looks_like_order(request.payload.as_bytes()) {
        return Err(ApiError::bad_request(
            "payloads beginning with the decommission marker are reserved: use /v1/decommission",
        ));
    }
    shared
        .node
        .send_message(to, request.payload.as_bytes())
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "sent": request.payload.len() })))
}

/// `POST /v1/decommission` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DecommissionRequest {
    /// The node's address (`IP:PORT`).
    pub addr: String,
    /// Its generation (this one and older ones are taken out); by default
    /// the generation this agent knows it by.
    #[serde(default)]
    pub generation: Option<u32>,
}

/// `POST /v1/decommission`.
pub async fn decommission(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: DecommissionRequest = parse(&body)?;
    let addr = address(&request.addr)?;
    match orders::issue(&shared, addr, request.generation).await {
        Ok(identity) => Ok(Json(json!({
            "decommissioned": { "addr": identity.addr.to_string(), "generation": identity.generation }
        }))),
        Err(e @ IssueError::Unauthenticated) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e @ IssueError::OwnNode) => Err(ApiError::bad_request(e.to_string())),
        Err(e @ IssueError::UnknownMember(_)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e @ IssueError::Node(_)) => Err(refused(e)),
    }
}
