// Helpers shared by the examples (included with `#[path]`).
#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use swim_transport_udp::{Event, LocalEvent, MemberState};

/// The current UTC time of day, `HH:MM:SS.mmm`.
pub fn time_of_day() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    )
}

/// Milliseconds since the UNIX epoch.
#[allow(dead_code)]
pub fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// A short lowercase name for an event kind.
pub fn kind(event: &Event) -> &'static str {
    match event {
        Event::MemberJoined(_) => "joined",
        Event::MemberSuspected(_) => "suspect",
        Event::MemberAlive(_) => "alive",
        Event::MemberFailed(_) => "failed",
        Event::MemberLeft(_) => "left",
        Event::MemberUpdated(_) => "updated",
        Event::MemberRemoved(_) => "removed",
        Event::Broadcast { .. } => "broadcast",
        Event::Message { .. } => "message",
        Event::Local(LocalEvent::Joined) => "local-joined",
        Event::Local(LocalEvent::Refuted { .. }) => "local-refuted",
        Event::Local(LocalEvent::Left) => "local-left",
        Event::Local(LocalEvent::NewGeneration { .. }) => "local-new-generation",
        Event::Local(_) => "local-other",
        Event::Lagged { .. } => "lagged",
        _ => "other",
    }
}

/// A member state's name.
pub fn state_name(state: MemberState) -> &'static str {
    match state {
        MemberState::Alive => "alive",
        MemberState::Suspect => "suspect",
        MemberState::Dead => "dead",
        MemberState::Left => "left",
    }
}
