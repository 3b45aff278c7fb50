//! Membership events and the agent's own notices as records: printed as
//! log lines (text or JSON), kept in a bounded list of recent ones, and
//! fanned out to the server-sent event subscribers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;

use serde::Serialize;
use swim_transport_udp::{Event, LocalEvent};
use tokio::sync::broadcast;

use crate::clock;

/// Recent records kept for the status page; older ones are dropped.
pub const RECENT_CAPACITY: usize = 200;
/// Records a slow server-sent event subscriber may lag behind before it
/// misses some (it is then told how many with a `lagged` event).
pub const SUBSCRIBER_CAPACITY: usize = 256;

/// One thing that happened, as shown to people and scripts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Kind: `joined`, `suspect`, `failed`, `left`, `local-joined`... or a
    /// notice kind such as `join-retry`, `drops`, `decommission`.
    pub event: String,
    /// UNIX time in milliseconds.
    pub unix_ms: u64,
    /// The member it is about (the local node for `local-*` events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// That member's generation, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
    /// Payload text (broadcasts, messages) or the notice itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Record {
    /// A notice of the agent itself.
    pub fn notice(kind: &str, message: impl Into<String>) -> Record {
        Record {
            event: kind.to_string(),
            unix_ms: clock::unix_millis(),
            addr: None,
            generation: None,
            data: Some(message.into()),
        }
    }

    /// The record of a node event; `local` is this node's address, given
    /// to `local-*` events.
    pub fn from_event(event: &Event, local: SocketAddr, local_generation: u32) -> Record {
        let mut record = Record {
            event: event.kind_name().to_string(),
            unix_ms: clock::unix_millis(),
            addr: None,
            generation: None,
            data: None,
        };
        if let Some(id) = event.member() {
            record.addr = Some(id.addr);
            record.generation = Some(id.generation);
            return record;
        }
        match event {
            Event::Broadcast {
                origin, payload, ..
            } => {
                record.addr = Some(origin.addr);
                record.generation = Some(origin.generation);
                record.data = Some(String::from_utf8_lossy(payload).into_owned());
            }
            Event::Message { from, payload } => {
                record.addr = Some(*from);
                record.data = Some(String::from_utf8_lossy(payload).into_owned());
            }
            Event::Local(local_event) => {
                record.addr = Some(local);
                record.generation = Some(local_generation);
                match local_event {
                    LocalEvent::Refuted { incarnation, .. } => {
                        record.data = Some(format!("incarnation {incarnation}"));
                    }
                    LocalEvent::NewGeneration { generation } => {
                        record.generation = Some(*generation);
                    }
                    _ => {}
                }
            }
            Event::Lagged { dropped } => {
                record.data = Some(format!(
                    "{dropped} events were lost (the agent did not keep up); the member list is current"
                ));
            }
            _ => {}
        }
        record
    }

    /// The record as one JSON line.
    pub fn to_json_line(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["time"] = clock::time_of_day(self.unix_ms).into();
        value.to_string()
    }

    /// The record as one readable line.
    pub fn to_text_line(&self) -> String {
        let time = clock::time_of_day(self.unix_ms);
        match (self.addr, &self.data) {
            (Some(addr), data) => {
                let generation = self
                    .generation
                    .map(|g| format!(" (generation {g})"))
                    .unwrap_or_default();
                let data = data.as_ref().map(|d| format!(": {d}")).unwrap_or_default();
                format!("[{time}] {:<13} {addr}{generation}{data}", self.event)
            }
            (None, Some(data)) => format!("[{time}] {data}"),
            (None, None) => format!("[{time}] {}", self.event),
        }
    }
}

/// Where records go: standard output, the recent list, the subscribers.
#[derive(Debug)]
pub struct EventHub {
    json: bool,
    recent: Mutex<VecDeque<Record>>,
    subscribers: broadcast::Sender<Record>,
}

impl EventHub {
    /// A hub printing JSON lines if `json`, readable lines otherwise.
    pub fn new(json: bool) -> Self {
        let (subscribers, _) = broadcast::channel(SUBSCRIBER_CAPACITY);
        EventHub {
            json,
            recent: Mutex::new(VecDeque::with_capacity(RECENT_CAPACITY)),
            subscribers,
        }
    }

    /// Whether log lines are JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Prints, keeps and fans out one record.
    pub fn publish(&self, record: Record) {
        let line = if self.json {
            record.to_json_line()
        } else {
            record.to_text_line()
        };
        crate::output::line(&line);
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT_CAPACITY {
                recent.pop_front();
            }
            recent.push_back(record.clone());
        }
        // No subscriber is fine.
        let _ = self.subscribers.send(record);
    }

    /// Prints and publishes a notice of the agent.
    pub fn notice(&self, kind: &str, message: impl Into<String>) {
        self.publish(Record::notice(kind, message));
    }

    /// The recent records, oldest first.
    pub fn recent(&self) -> Vec<Record> {
        self.recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A new subscription to the records published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Record> {
        self.subscribers.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swim_transport_udp::Identity;

    #[test]
    fn local_events_carry_the_local_address() {
        let local: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let r = Record::from_event(&Event::Local(LocalEvent::Left), local, 3);
        assert_eq!(r.addr, Some(local));
        let v: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(v["event"], "local-left");
        assert_eq!(v["addr"], "127.0.0.1:7000");
        assert_eq!(v["generation"], 3);
    }

    #[test]
    fn member_events_name_the_member() {
        let local: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let r = Record::from_event(&Event::MemberFailed(Identity::new(other, 9)), local, 1);
        assert_eq!((r.addr, r.generation), (Some(other), Some(9)));
        assert!(r
            .to_text_line()
            .contains("failed        127.0.0.1:7001 (generation 9)"));
    }

    #[test]
    fn recent_list_is_bounded() {
        let hub = EventHub::new(true);
        for i in 0..RECENT_CAPACITY + 5 {
            hub.publish(Record::notice("test", format!("{i}")));
        }
        let recent = hub.recent();
        assert_eq!(recent.len(), RECENT_CAPACITY);
        assert_eq!(recent[0].data.as_deref(), Some("5"));
    }
}
