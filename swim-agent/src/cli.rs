//! The command line: `swim agent` and the client commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The HTTP address an agent listens on by default, and clients talk to.
pub const DEFAULT_HTTP: &str = "127.0.0.1:7947";
/// The cluster address an agent binds by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:7946";

/// `swim`: a SWIM cluster agent and its clients.
#[derive(Debug, Parser)]
#[command(
    name = "swim",
    version,
    about = "A SWIM gossip cluster agent, with a status page and an HTTP API, and the commands that talk to it"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a cluster member with its HTTP status page and API.
    Agent(AgentArgs),
    /// Lists the members an agent sees.
    Members {
        /// Print JSON (the agent's `/v1/members`).
        #[arg(long)]
        json: bool,
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Makes an agent join (again) through these members.
    Join {
        /// Members to join through (`IP:PORT`).
        #[arg(required = true)]
        seeds: Vec<String>,
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Makes an agent leave the cluster gracefully; the agent then exits.
    Leave {
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Broadcasts a text to every member (an application event).
    Broadcast {
        /// The text.
        payload: String,
        /// A key: a newer broadcast with the same key replaces older ones.
        #[arg(long)]
        key: Option<u64>,
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Sends a text to one member.
    Message {
        /// The member (`IP:PORT`).
        to: String,
        /// The text.
        payload: String,
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Takes a node out of the cluster for good: every agent refuses it
    /// at that generation and older, and the node stops if it runs.
    /// Needs a cluster with a key file or QUIC certificates.
    Decommission {
        /// The node's address (`IP:PORT`).
        addr: String,
        /// Its generation (default: the one the agent knows it by).
        #[arg(long)]
        generation: Option<u32>,
        /// The agent to ask.
        #[command(flatten)]
        agent: AgentAddress,
    },
    /// Writes a new random cluster key to a new file (mode 0600).
    Keygen {
        /// The file to create (never overwritten).
        path: PathBuf,
    },
    /// QUIC certificates: a cluster CA and node certificates.
    Ca {
        /// What to do.
        #[command(subcommand)]
        command: CaCommand,
    },
}

/// `swim ca` subcommands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Creates a cluster CA: DIR/ca.pem and DIR/ca-key.pem (mode 0600).
    Init {
        /// Directory to write into (created if missing).
        dir: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "swim cluster CA")]
        name: String,
    },
    /// Issues a certificate for the node at ADDR, signed by the CA.
    Issue {
        /// The node's address, as other members know it (`IP:PORT`).
        addr: String,
        /// The CA's directory (from `swim ca init`).
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// Where to write node-IP-PORT.pem and node-IP-PORT-key.pem.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

/// How a client command reaches its agent.
#[derive(Clone, Debug, Args)]
pub struct AgentAddress {
    /// The agent's HTTP address.
    #[arg(long, value_name = "ADDR", env = "SWIM_HTTP", default_value = DEFAULT_HTTP)]
    pub http: String,
    /// A file holding the agent's bearer token (agents started with
    /// `--http-token-file`).
    #[arg(long, value_name = "PATH", env = "SWIM_HTTP_TOKEN_FILE")]
    pub http_token_file: Option<PathBuf>,
}

/// `swim agent` options.
#[derive(Clone, Debug, Args)]
pub struct AgentArgs {
    /// Address to bind for cluster traffic (port 0 picks a free one).
    #[arg(long, default_value = DEFAULT_BIND)]
    pub bind: String,
    /// A member to join through (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub join: Vec<String>,
    /// Address announced to others, if not the bound one (NAT, containers).
    #[arg(long)]
    pub advertise: Option<String>,
    /// Cluster name: members with another label ignore this one.
    #[arg(long)]
    pub label: Option<String>,
    /// Metadata entry KEY=VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Directory keeping the node's identity (generation, incarnation) and
    /// member table across restarts; a decommissioned node leaves a marker
    /// there that keeps it from starting again.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Timing preset.
    #[arg(long, value_enum, default_value_t = Preset::Lan)]
    pub preset: Preset,
    /// Print JSON lines instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Encrypt and authenticate every datagram with the keys in this file
    /// (`swim keygen`; one key per line, the first one seals; mode 0600).
    #[arg(long, value_name = "PATH", conflicts_with = "quic")]
    pub key_file: Option<PathBuf>,
    /// Use the QUIC transport with mutual TLS (needs --ca, --cert, --cert-key).
    #[arg(long, requires_all = ["ca", "cert", "cert_key"])]
    pub quic: bool,
    /// The cluster CA certificate (PEM), with --quic.
    #[arg(long, value_name = "PATH", requires = "quic")]
    pub ca: Option<PathBuf>,
    /// This node's certificate (PEM), naming its address, with --quic.
    #[arg(long, value_name = "PATH", requires = "quic")]
    pub cert: Option<PathBuf>,
    /// This node's certificate key (PEM, mode 0600), with --quic.
    #[arg(long, value_name = "PATH", requires = "quic")]
    pub cert_key: Option<PathBuf>,
    /// Address of the HTTP status page and API (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_HTTP)]
    pub http: String,
    /// A file holding a bearer token (mode 0600): control requests must
    /// carry it, and may then come from any address.
    #[arg(long, value_name = "PATH")]
    pub http_token_file: Option<PathBuf>,
}

/// Timing presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Loopback or one rack: 1 s probes, 200 ms timeout.
    Local,
    /// memberlist's LAN defaults: 1 s probes, 500 ms timeout.
    Lan,
    /// memberlist's WAN defaults: 5 s probes, 3 s timeout.
    Wan,
}
