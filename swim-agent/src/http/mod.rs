//! The agent's HTTP server (axum): the status page, the JSON API, the
//! server-sent event stream, the Prometheus endpoint and the control
//! endpoints.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /` | status page (members, local health, counters, recent events; refreshes itself) |
//! | `GET /v1/members` | the member list, this node first (`"self": true`) |
//! | `GET /v1/local` | this node: identity, status, health, protection, uptime |
//! | `GET /v1/counters` | every counter, name to value |
//! | `GET /v1/events` | server-sent events, one per membership event or agent notice |
//! | `GET /metrics` | Prometheus text format |
//! | `POST /v1/join` | `{"seeds": ["ADDR", ...]}`: join (again) through these |
//! | `POST /v1/leave` | leave the cluster gracefully; the agent then exits |
//! | `POST /v1/broadcast` | `{"payload": "TEXT", "key": N}` (key optional): broadcast to every member |
//! | `POST /v1/message` | `{"to": "ADDR", "payload": "TEXT"}`: direct message to one member |
//! | `POST /v1/decommission` | `{"addr": "ADDR", "generation": N}` (generation optional): take a node out for good |
//!
//! Control endpoints (`POST`) follow [`auth::ControlAuth`]. Request
//! bodies above [`MAX_BODY`] bytes are refused (413). Connections are
//! bounded in number and time ([`connections::ConnectionLimits`]).

pub mod api;
pub mod auth;
pub mod connections;
pub mod control;
pub mod metrics;
pub mod page;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::shared::Shared;

/// Largest request body taken, in bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// The agent's routes over its shared state.
pub fn router(shared: Arc<Shared>) -> Router {
    let control = Router::new()
        .route("/v1/join", post(control::join))
        .route("/v1/leave", post(control::leave))
        .route("/v1/broadcast", post(control::broadcast))
        .route("/v1/message", post(control::message))
        .route("/v1/decommission", post(control::decommission))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            control::require_permission,
        ));
    Router::new()
        .route("/", get(page::status_page))
        .route("/v1/members", get(api::members))
        .route("/v1/local", get(api::local))
        .route("/v1/counters", get(api::counters))
        .route("/v1/events", get(api::events))
        .route("/metrics", get(metrics::metrics))
        .merge(control)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Serves until `shutdown` completes (open event streams are cut then).
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve_within(
        listener,
        router(shared),
        connections::ConnectionLimits::default(),
        shutdown,
    )
    .await
}

/// An error answer: a status and a message, sent as `{"error": MESSAGE}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 503: the node has stopped or failed to answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
