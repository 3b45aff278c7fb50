//! The read-only JSON endpoints and the server-sent event stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use serde_json::Value;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::{Stream, StreamExt};

use super::ApiError;
use crate::events::Record;
use crate::shared::{Shared, MAX_EVENT_SUBSCRIBERS};
use crate::views::{self, LocalView, MemberInfo};

/// The member list, this node first.
pub async fn member_list(shared: &Shared) -> Result<Vec<MemberInfo>, ApiError> {
    let local = shared
        .node
        .local()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let members = shared
        .node
        .members()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(views::member_list(
        &local,
        members,
        shared.started.elapsed(),
        Instant::now(),
    ))
}

/// This node's view of itself.
pub async fn local_view(shared: &Shared) -> Result<LocalView, ApiError> {
    let local = shared
        .node
        .local()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(views::local_view(
        &local,
        shared.node.local_addr(),
        shared.node.protection().name(),
        shared.started.elapsed(),
    ))
}

/// `GET /v1/members`.
pub async fn members(State(shared): State<Arc<Shared>>) -> Result<Json<Vec<MemberInfo>>, ApiError> {
    member_list(&shared).await.map(Json)
}

/// `GET /v1/local`.
pub async fn local(State(shared): State<Arc<Shared>>) -> Result<Json<LocalView>, ApiError> {
    local_view(&shared).await.map(Json)
}

/// `GET /v1/counters`.
pub async fn counters(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let set = shared
        .node
        .counters()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(Value::Object(set.to_json_object())))
}

/// What an event stream carries before it becomes server-sent events.
enum StreamItem {
    Record(Result<Record, BroadcastStreamRecvError>),
    Close,
}

/// Holds an event stream slot while the stream lives.
struct SubscriberSlot(Arc<Shared>);

impl Drop for SubscriberSlot {
    fn drop(&mut self) {
        self.0.release_event_subscriber();
    }
}

/// `GET /v1/events`: one server-sent event per record, named after its
/// kind, its data the record in JSON. A subscriber too slow to keep up
/// loses the oldest records and gets a `lagged` event with their number.
/// At most [`MAX_EVENT_SUBSCRIBERS`] streams are open at once (503 beyond).
pub async fn events(
    State(shared): State<Arc<Shared>>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    if !shared.take_event_subscriber() {
        return Err(ApiError::unavailable(format!(
            "{MAX_EVENT_SUBSCRIBERS} event streams are open already"
        )));
    }
    let slot = SubscriberSlot(shared.clone());
    let records = BroadcastStream::new(shared.hub.subscribe()).map(StreamItem::Record);
    let closing = WatchStream::from_changes(shared.closing()).map(|_| StreamItem::Close);
    let stream = records
        .merge(closing)
        .take_while(|item| !matches!(item, StreamItem::Close))
        .map(move |item| {
            let _slot = &slot;
            Ok(match item {
                StreamItem::Record(Ok(record)) => SseEvent::default()
                    .event(record.event.clone())
                    .data(serde_json::to_string(&record).unwrap_or_default()),
                StreamItem::Record(Err(BroadcastStreamRecvError::Lagged(missed))) => {
                    SseEvent::default().event("lagged").data(missed.to_string())
                }
                StreamItem::Close => SseEvent::default().event("closing"),
            })
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
