//! `GET /metrics`: every counter, the members by state and the local
//! node's figures, in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client` from a registry built for each scrape.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use super::ApiError;
use crate::counters::{CounterSet, SampleKind};
use crate::shared::Shared;
use crate::views::MemberInfo;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The member states counted in `swim_members`.
const STATES: [&str; 4] = ["alive", "suspect", "dead", "left"];

/// Builds the exposition text.
pub fn render(
    counters: &CounterSet,
    members: &[MemberInfo],
    uptime_secs: u64,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("swim");
    for sample in counters.samples() {
        let value = i64::try_from(sample.value).unwrap_or(i64::MAX);
        match sample.kind {
            SampleKind::Counter => {
                registry.register(&sample.name, sample.help, ConstCounter::new(sample.value))
            }
            SampleKind::Gauge => {
                registry.register(&sample.name, sample.help, ConstGauge::new(value))
            }
        }
    }
    let by_state = Family::<Vec<(String, String)>, Gauge>::default();
    for state in STATES {
        let n = members
            .iter()
            .filter(|m| !m.is_self && m.state == state)
            .count();
        by_state
            .get_or_create(&vec![("state".to_string(), state.to_string())])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    registry.register("members", "Remote members known, by state", by_state);
    if let Some(me) = members.iter().find(|m| m.is_self) {
        registry.register(
            "local_incarnation",
            "This node's incarnation",
            ConstGauge::new(i64::from(me.incarnation)),
        );
        registry.register(
            "local_generation",
            "This node's generation",
            ConstGauge::new(i64::from(me.generation)),
        );
    }
    registry.register(
        "uptime_seconds",
        "Seconds since the agent started",
        ConstGauge::new(i64::try_from(uptime_secs).unwrap_or(i64::MAX)),
    );
    let mut text = String::new();
    prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<Shared>>) -> Result<impl IntoResponse, ApiError> {
    let counters = shared
        .node
        .counters()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let members = super::api::member_list(&shared).await?;
    let text = render(&counters, &members, shared.started.elapsed().as_secs())
        .map_err(|_| ApiError::unavailable("encoding failed"))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_member_states_are_exposed() {
        let mut set = CounterSet::default();
        set.counter("protocol", "datagrams_in", "Datagrams in.", 12);
        set.gauge("protocol", "health_score", "Health.", 1);
        let member = |state: &str, is_self| MemberInfo {
            addr: "127.0.0.1:1".into(),
            generation: 3,
            incarnation: 2,
            state: state.into(),
            metadata: String::new(),
            since_secs: 0,
            rtt_ms: None,
            is_self,
        };
        let text = render(
            &set,
            &[
                member("alive", true),
                member("alive", false),
                member("dead", false),
            ],
            5,
        )
        .unwrap();
        assert!(
            text.contains("# TYPE swim_protocol_datagrams_in_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("swim_protocol_datagrams_in_total 12\n"),
            "{text}"
        );
        assert!(text.contains("swim_protocol_health_score 1\n"), "{text}");
        assert!(text.contains("swim_members{state=\"alive\"} 1\n"), "{text}");
        assert!(text.contains("swim_members{state=\"dead\"} 1\n"), "{text}");
        assert!(text.contains("swim_local_generation 3\n"), "{text}");
    }
}
