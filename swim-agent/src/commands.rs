//! The client commands: each one request to a running agent.

use serde_json::json;

use crate::cli::AgentAddress;
use crate::client::{self, Response};
use crate::exit::{Failure, FailureKind};
use crate::secret_file;
use crate::views::{self, MemberInfo};

fn token(agent: &AgentAddress) -> Result<Option<String>, Failure> {
    agent
        .http_token_file
        .as_ref()
        .map(|path| secret_file::read_private(path, "token file").map(|t| t.trim().to_string()))
        .transpose()
}

fn call(
    agent: &AgentAddress,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Response, Failure> {
    let token = token(agent)?;
    let body = body.map(|b| b.to_string());
    let response = client::request(&agent.http, method, path, token.as_deref(), body.as_deref())?;
    if response.status >= 300 {
        return Err(Failure::new(
            FailureKind::AgentRefused,
            format!(
                "the agent at {} refused ({}): {}",
                agent.http,
                response.status,
                client::error_message(&response)
            ),
        ));
    }
    Ok(response)
}

/// `swim members [--json]`.
pub fn members(agent: &AgentAddress, json: bool) -> Result<(), Failure> {
    let response = call(agent, "GET", "/v1/members", None)?;
    if json {
        crate::output::line(response.body.trim());
        return Ok(());
    }
    let members: Vec<MemberInfo> = serde_json::from_str(&response.body)
        .map_err(|e| Failure::internal(format!("unexpected answer from the agent: {e}")))?;
    crate::output::text(&views::member_table(&members));
    Ok(())
}

/// `swim join SEED...`.
pub fn join(agent: &AgentAddress, seeds: &[String]) -> Result<(), Failure> {
    call(agent, "POST", "/v1/join", Some(json!({ "seeds": seeds })))?;
    crate::output::line(&format!("joining through {}", seeds.join(", ")));
    Ok(())
}

/// `swim leave`.
pub fn leave(agent: &AgentAddress) -> Result<(), Failure> {
    call(agent, "POST", "/v1/leave", None)?;
    crate::output::line(&format!(
        "the agent at {} is leaving the cluster and will exit",
        agent.http
    ));
    Ok(())
}

/// `swim broadcast TEXT [--key N]`.
pub fn broadcast(agent: &AgentAddress, payload: &str, key: Option<u64>) -> Result<(), Failure> {
    call(
        agent,
        "POST",
        "/v1/broadcast",
        Some(json!({ "payload": payload, "key": key })),
    )?;
    crate::output::line("broadcast sent");
    Ok(())
}

/// `swim message ADDR TEXT`.
pub fn message(agent: &AgentAddress, to: &str, payload: &str) -> Result<(), Failure> {
    call(
        agent,
        "POST",
        "/v1/message",
        Some(json!({ "to": to, "payload": payload })),
    )?;
    crate::output::line(&format!("message sent to {to}"));
    Ok(())
}

/// `swim decommission ADDR [--generation N]`.
pub fn decommission(
    agent: &AgentAddress,
    addr: &str,
    generation: Option<u32>,
) -> Result<(), Failure> {
    let response = call(
        agent,
        "POST",
        "/v1/decommission",
        Some(json!({ "addr": addr, "generation": generation })),
    )?;
    let value: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let generation = &value["decommissioned"]["generation"];
    crate::output::line(&format!("{addr} (generation {generation} and older) decommissioned: every agent refuses it, and it stops if it runs"));
    Ok(())
}
