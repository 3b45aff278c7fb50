//! The `swim` agent: a SWIM cluster member (UDP with an optional keyring,
//! or QUIC with mutual TLS) with a status page, a JSON API, server-sent
//! events, Prometheus metrics and control endpoints over HTTP, and the
//! command-line clients that talk to it (`swim members`, `swim join`,
//! `swim leave`, `swim broadcast`, `swim decommission`...), plus
//! `swim keygen` and `swim ca` for keys and certificates.
//!
//! The binary is `swim` (`cargo install --path swim-agent`); this library
//! holds its parts, so that they are tested one by one. Exit codes are in
//! [`exit`], the HTTP API in [`http`], the decommission rules and their
//! threat model in [`decommission`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod certs;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod counters;
pub mod decommission;
pub mod drop_watch;
pub mod events;
pub mod exit;
pub mod http;
pub mod join_watch;
pub mod keyfile;
pub mod node;
pub mod orders;
pub mod output;
pub mod progress;
pub mod refusals;
pub mod secret_file;
pub mod shared;
pub mod shutdown;
pub mod start;
pub mod views;

use cli::{CaCommand, Cli, Command};
use exit::Failure;

/// Runs one `swim` command line (already parsed).
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Agent(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Failure::internal(format!("tokio runtime: {e}")))?;
            runtime.block_on(agent::run(args))
        }
        Command::Members { json, agent } => commands::members(&agent, json),
        Command::Join { seeds, agent } => commands::join(&agent, &seeds),
        Command::Leave { agent } => commands::leave(&agent),
        Command::Broadcast {
            payload,
            key,
            agent,
        } => commands::broadcast(&agent, &payload, key),
        Command::Message { to, payload, agent } => commands::message(&agent, &to, &payload),
        Command::Decommission {
            addr,
            generation,
            agent,
        } => commands::decommission(&agent, &addr, generation),
        Command::Keygen { path } => {
            keyfile::generate(&path)?;
            crate::output::line(&format!(
                "wrote a new cluster key to {} (mode 0600); give every agent --key-file {}",
                path.display(),
                path.display()
            ));
            Ok(())
        }
        Command::Ca { command } => match command {
            CaCommand::Init { dir, name } => {
                certs::init_ca(&dir, &name)?;
                crate::output::line(&format!(
                    "wrote {} and {} (keep the key safe: whoever holds it can admit nodes)",
                    dir.join(certs::CA_CERT_FILE).display(),
                    dir.join(certs::CA_KEY_FILE).display()
                ));
                Ok(())
            }
            CaCommand::Issue { addr, ca_dir, out } => {
                let addr = start::resolve("address", &addr)?;
                let files = certs::issue(&ca_dir, addr, &out)?;
                crate::output::line(&format!(
                    "wrote {} and {} for {addr}: start it with --quic --ca {} --cert {} --cert-key {}",
                    files.cert.display(),
                    files.key.display(),
                    ca_dir.join(certs::CA_CERT_FILE).display(),
                    files.cert.display(),
                    files.key.display()
                ));
                Ok(())
            }
        },
    }
}
