//! `GET /`: the status page, rendered on the server (it reads fine without
//! JavaScript); a small script re-fetches it when a server-sent event
//! arrives, and every 5 s for the "since" column. The header says whether
//! live updates run (the script replaces the text it is served with).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::api::{local_view, member_list};
use super::ApiError;
use crate::clock;
use crate::counters::CounterSet;
use crate::events::Record;
use crate::shared::Shared;
use crate::views::{LocalView, MemberInfo};

/// Recent events shown on the page.
const EVENTS_SHOWN: usize = 15;

/// The counters shown on the page (all are in `/v1/counters`).
const COUNTERS_SHOWN: &[(&str, &str)] = &[
    ("protocol_datagrams_in", "datagrams in"),
    ("protocol_datagrams_out", "datagrams out"),
    ("protocol_probes_sent", "probes sent"),
    ("protocol_probes_failed", "probes failed"),
    ("protocol_suspicions_raised", "suspicions raised"),
    ("protocol_suspicions_refuted", "suspicions refuted"),
    ("protocol_members_declared_dead", "declared dead"),
    ("protocol_records_refused", "refused (decommissioned)"),
    ("protocol_drops_wrong_cluster", "dropped: other label"),
    (
        "transport_decrypt_drops_unauthenticated",
        "dropped: other key",
    ),
    ("transport_decrypt_drops_plaintext", "dropped: plaintext"),
];

/// Query of `GET /`.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// Only the part that refreshes (used by the page's script).
    #[serde(default)]
    pub fragment: Option<String>,
}

/// `GET /`.
pub async fn status_page(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let local = local_view(&shared).await?;
    let members = member_list(&shared).await?;
    let counters = shared.node.counters().await.unwrap_or_default();
    let events = shared.hub.recent();
    let body = render_status(&local, &members, &counters, &events);
    if query.fragment.is_some() {
        return Ok(Html(body));
    }
    Ok(Html(page(&local, &body)))
}

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The part of the page that refreshes.
pub fn render_status(
    local: &LocalView,
    members: &[MemberInfo],
    counters: &CounterSet,
    events: &[Record],
) -> String {
    let mut out = String::new();
    let active = members
        .iter()
        .filter(|m| m.state == "alive" || m.state == "suspect")
        .count();
    let health = if local.health == 0 {
        "healthy".to_string()
    } else {
        format!("degraded (Lifeguard score {})", local.health)
    };
    let facts = [
        ("address", escape(&local.addr)),
        ("status", escape(&local.status)),
        ("health", escape(&health)),
        (
            "generation / incarnation",
            format!("{} / {}", local.generation, local.incarnation),
        ),
        ("traffic", escape(&local.protection)),
        ("up", clock::human_duration(local.uptime_secs)),
    ];
    out.push_str(
        "<div class=\"col\"><section class=\"local\"><h2>This node</h2><dl class=\"facts\">",
    );
    for (name, value) in facts {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    }
    out.push_str("</dl></section>");
    let _ = write!(
        out,
        "<section><h2>Members <span class=\"count\">{active} active of {}</span></h2>\
         <table id=\"members\"><thead><tr><th>address</th><th>state</th><th>generation</th>\
         <th>incarnation</th><th>round trip</th><th>metadata</th><th>since</th></tr></thead><tbody>",
        members.len()
    );
    for m in members {
        let rtt = match (m.is_self, m.rtt_ms) {
            (true, _) => "-".to_string(),
            (false, Some(r)) => format!("{r:.1} ms"),
            (false, None) => "not yet".to_string(),
        };
        let addr = if m.is_self {
            format!("{} <small>(this node)</small>", escape(&m.addr))
        } else {
            escape(&m.addr)
        };
        let _ = write!(
            out,
            "<tr class=\"member state-{state}\" data-addr=\"{addr_attr}\"><td>{addr}</td>\
             <td><span class=\"badge\">{state}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            m.generation,
            m.incarnation,
            escape(&rtt),
            escape(&m.metadata.replace('\n', ", ")),
            clock::human_duration(m.since_secs),
            state = escape(&m.state),
            addr_attr = escape(&m.addr),
        );
    }
    out.push_str("</tbody></table></section>");
    out.push_str("<section><h2>Recent events</h2><ul class=\"events\">");
    for record in events.iter().rev().take(EVENTS_SHOWN) {
        let line = record.to_text_line();
        let text = line.split_once("] ").map_or("", |(_, rest)| rest);
        let _ = write!(
            out,
            "<li><time>{}</time> {}</li>",
            clock::time_of_day(record.unix_ms),
            escape(text)
        );
    }
    out.push_str("</ul></section></div><div class=\"col\">");
    out.push_str("<section><h2>Counters</h2><table class=\"counters\">");
    for (name, label) in COUNTERS_SHOWN {
        if let Some(value) = counters.get(name) {
            let _ = write!(out, "<tr><td>{label}</td><td>{value}</td></tr>");
        }
    }
    out.push_str("</table><p><a href=\"/v1/counters\">all counters</a> · <a href=\"/metrics\">metrics</a></p></section>");
    out.push_str("</div>");
    out
}

fn page(local: &LocalView, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>swim · {addr}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }}
header {{ background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }}
header h1 {{ font-size: 18px; margin: 0; }}
#live {{ margin-left: auto; font-size: 12px; opacity: .8; }}
main {{ display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 16px; padding: 16px 20px; align-items: start; }}
.col {{ display: flex; flex-direction: column; gap: 16px; min-width: 0; }}
section {{ background: #fff; border-radius: 6px; padding: 8px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }}
h2 {{ font-size: 14px; margin: 4px 0 8px; }} .count {{ font-weight: normal; color: #667; }}
dl.facts {{ display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0 0 4px; }} dt {{ color: #667; font-size: 12px; }} dd {{ margin: 0; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; }}
th {{ color: #667; font-weight: 600; font-size: 12px; }}
.badge {{ padding: 1px 8px; border-radius: 9px; font-size: 12px; background: #ddd; }}
.state-alive .badge {{ background: #d3f5dc; color: #126b2b; }} .state-suspect .badge {{ background: #fff0c2; color: #7a5b00; }}
.state-dead .badge {{ background: #fbd5d5; color: #8a1c1c; }} .state-left .badge {{ background: #e3e6ee; color: #4a5266; }}
.state-joining .badge {{ background: #dbe8ff; color: #1f4aa8; }}
.events {{ list-style: none; padding: 0; margin: 0; font-size: 12px; }} .events time {{ color: #667; }}
.counters td:last-child {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style></head>
<body><header><h1>swim</h1><span>{addr}</span><span id="live">live updates: off (they need JavaScript)</span></header>
<main id="status">{body}</main>
<script>
(function () {{
  var status = document.getElementById('status'), live = document.getElementById('live'), pending = null;
  live.textContent = 'live updates: connecting…';
  function refresh() {{
    pending = null;
    fetch('/?fragment=1').then(function (r) {{ return r.ok ? r.text() : null; }})
      .then(function (html) {{ if (html !== null) status.innerHTML = html; }})
      .catch(function () {{ live.textContent = 'agent unreachable'; }});
  }}
  function soon() {{ if (!pending) pending = setTimeout(refresh, 250); }}
  if (window.EventSource) {{
    var events = new EventSource('/v1/events');
    events.onopen = function () {{ live.textContent = 'live updates: on'; }};
    events.onerror = function () {{ live.textContent = 'live updates: reconnecting…'; }};
    events.onmessage = soon;
    ['joined','suspect','alive','failed','left','updated','removed','local-joined','local-left','local-refuted','decommission','decommissioned'].forEach(function (k) {{ events.addEventListener(k, soon); }});
  }}
  setInterval(refresh, 5000);
}})();
</script></body></html>
"#,
        addr = escape(&local.addr),
        body = body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_markup_could_hide_in() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn member_rows_are_rendered_with_their_state() {
        let local = LocalView {
            addr: "127.0.0.1:7000".into(),
            bind: "127.0.0.1:7000".into(),
            generation: 1,
            incarnation: 0,
            status: "joined".into(),
            health: 0,
            metadata: String::new(),
            protection: "plaintext UDP".into(),
            uptime_secs: 3,
            version: "0".into(),
        };
        let member = MemberInfo {
            addr: "127.0.0.1:7001".into(),
            generation: 2,
            incarnation: 1,
            state: "suspect".into(),
            metadata: "role=<db>".into(),
            since_secs: 4,
            rtt_ms: None,
            is_self: false,
        };
        let html = render_status(&local, &[member], &CounterSet::default(), &[]);
        assert!(
            html.contains("class=\"member state-suspect\" data-addr=\"127.0.0.1:7001\""),
            "{html}"
        );
        assert!(html.contains("role=&lt;db&gt;"));
        assert!(html.contains("<td>not yet</td>"));
    }
}
