//! `swim agent`: starts the node and the HTTP server, prints what happens,
//! acts on decommission orders, and leaves on a signal or a request.

use std::sync::Arc;
use std::time::Duration;

use swim_transport_udp::Event;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::cli::AgentArgs;
use crate::decommission::{self, Order};
use crate::events::{EventHub, Record};
use crate::exit::Failure;
use crate::http;
use crate::http::auth::ControlAuth;
use crate::orders;
use crate::progress;
use crate::refusals::RefusalFile;
use crate::secret_file;
use crate::shared::{Shared, StopReason};
use crate::shutdown;
use crate::start;
use swim_transport_udp::signal::Terminate;

/// Runs the agent until it is told to stop; `Err` with exit code 5 when
/// it stopped because it was decommissioned.
pub async fn run(args: AgentArgs) -> Result<(), Failure> {
    if let Some(dir) = &args.data_dir {
        shutdown::refuse_if_decommissioned(dir)?;
    }
    let http_addr = start::resolve("--http", &args.http)?;
    let token = args
        .http_token_file
        .as_ref()
        .map(|path| secret_file::read_private(path, "token file"))
        .transpose()?;
    let auth = ControlAuth::new(token);
    // The HTTP address first: failing there leaves no trace in the cluster.
    let listener = TcpListener::bind(http_addr)
        .await
        .map_err(|e| start::bind_failure("--http", http_addr, &e))?;
    // The real port when asked for port 0.
    let http_addr = listener.local_addr().unwrap_or(http_addr);
    let config = start::config(&args);
    let mut node = start::start_node(&args).await?;
    let events = node.take_events();
    let hub = EventHub::new(args.json);
    let refusals = RefusalFile::new(args.data_dir.as_deref());
    let (shared, stops) = Shared::new(node, hub, auth, refusals);
    let shared = Arc::new(shared);
    announce(&shared, &args, http_addr).await;
    refuse_again(&shared).await;

    let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, shared.clone(), async {
        let _ = server_stopped.await;
    }));
    let seeds = shared_seeds(&args);
    let watcher = tokio::spawn(progress::follow(
        shared.clone(),
        seeds,
        config.join_retry_initial,
        config.join_retry_max,
    ));
    let reason = event_loop(&shared, events, stops).await?;
    if let (StopReason::Decommissioned { by }, Some(dir)) = (reason, &args.data_dir) {
        shutdown::mark_decommissioned(&shared.hub, dir, by);
    }
    let _ = server_stop.send(());
    shared.close_event_streams();
    watcher.abort();
    let _ = server.await;
    let _ = watcher.await;
    // Connections still being served hold the shared state for a moment.
    for _ in 0..20 {
        if Arc::strong_count(&shared) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    shutdown::stop(shared, reason).await
}

fn shared_seeds(args: &AgentArgs) -> Vec<std::net::SocketAddr> {
    args.join
        .iter()
        .filter_map(|s| start::resolve("--join", s).ok())
        .collect()
}

async fn announce(shared: &Shared, args: &AgentArgs, http_addr: std::net::SocketAddr) {
    let node = &shared.node;
    let (generation, incarnation) = node
        .local()
        .await
        .map(|l| (l.identity.generation, l.incarnation))
        .unwrap_or_default();
    let protection = node.protection();
    if shared.hub.json() {
        let line = serde_json::json!({
            "event": "started", "unix_ms": crate::clock::unix_millis(),
            "addr": node.advertise_addr().to_string(), "bind": node.local_addr().to_string(),
            "generation": generation, "incarnation": incarnation,
            "http": format!("http://{http_addr}/"), "protection": protection.name(),
            "version": env!("CARGO_PKG_VERSION"),
        });
        crate::output::line(&line.to_string());
    } else {
        crate::output::line(&format!(
            "swim agent {}: node {} (bound to {}, generation {generation}, incarnation {incarnation}), {}",
            env!("CARGO_PKG_VERSION"),
            node.advertise_addr(),
            node.local_addr(),
            protection.name()
        ));
        crate::output::line(&format!("status page and API: http://{http_addr}/"));
    }
    if !protection.is_authenticated() {
        shared.hub.notice(
            "plaintext",
            "traffic is plaintext: anyone who reaches the port can read and forge it, and decommissioning is off; use --key-file (see `swim keygen`) or --quic",
        );
    }
    if !http_addr.ip().is_loopback() && !shared.auth.has_token() {
        shared.hub.notice(
            "http",
            format!("the HTTP API listens on {http_addr}: anyone reaching it can read the member list; control requests are taken from loopback only (set --http-token-file to allow others)"),
        );
    }
    if args.join.is_empty() {
        shared.hub.notice(
            "join",
            "no --join given: waiting for others to join this node",
        );
    } else {
        shared
            .hub
            .notice("join", format!("joining through {}", args.join.join(", ")));
    }
}

/// Refuses the identities decommissioned before this start.
async fn refuse_again(shared: &Shared) {
    let kept = shared.refusals.load();
    if kept.is_empty() {
        return;
    }
    let mut refused = 0;
    for identity in &kept {
        match shared.node.refuse(identity).await {
            Ok(()) => refused += 1,
            Err(e) => shared.hub.notice(
                "decommission-failed",
                format!("could not refuse {} again: {e}", identity.addr),
            ),
        }
    }
    let from = shared
        .refusals
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    shared.hub.notice(
        "decommission",
        format!(
            "refusing {refused} decommissioned identit{} again (kept in {from})",
            if refused == 1 { "y" } else { "ies" }
        ),
    );
}

/// Prints and publishes events, acts on orders, until a stop request or
/// a signal.
async fn event_loop(
    shared: &Arc<Shared>,
    mut events: mpsc::Receiver<Event>,
    mut stops: mpsc::Receiver<StopReason>,
) -> Result<StopReason, Failure> {
    let mut terminate =
        Terminate::new().map_err(|e| Failure::internal(format!("signal handlers: {e}")))?;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => handle_event(shared, event).await,
                None => {
                    shared.hub.notice("stopped", "the node stopped on its own");
                    return Ok(StopReason::NodeStopped);
                }
            },
            reason = stops.recv() => return Ok(reason.unwrap_or(StopReason::Signal)),
            () = terminate.recv() => return Ok(StopReason::Signal),
        }
    }
}

/// One node event: an order, or a record to publish.
pub async fn handle_event(shared: &Shared, event: Event) {
    match &event {
        Event::Broadcast {
            origin,
            key: Some(key),
            payload,
            ..
        } if decommission::is_reserved_key(*key) => {
            if let Some(order) = Order::decode(payload) {
                orders::obey(shared, order, origin.addr).await;
            }
            return;
        }
        Event::Message { from, payload } if decommission::looks_like_order(payload) => {
            if let Some(order) = Order::decode(payload) {
                orders::obey(shared, order, *from).await;
            }
            return;
        }
        _ => {}
    }
    let me = shared.node.advertise_addr();
    let generation = shared
        .node
        .local()
        .await
        .map(|l| l.identity.generation)
        .unwrap_or_default();
    shared
        .hub
        .publish(Record::from_event(&event, me, generation));
}
