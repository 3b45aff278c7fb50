//! The node task's loop: waits for commands, received datagrams,
//! connection events and the protocol's deadline, and hands each to the
//! [`NodeCore`] or the [`Peers`] table; after each, sends every pending
//! datagram through the table and hands every pending event over.

use std::time::Duration;

use bytes::Bytes;
use swim_driver::{NodeCore, Request, TokioChannels};
use tokio::sync::mpsc;

use crate::peers::{Inbound, Peers};
use crate::view::NodeCounters;

/// Received datagrams handled in a row before looking at other inputs.
const INBOUND_BATCH: usize = 64;
/// How often the peer table is tidied (unused and duplicate connections
/// closed, forgotten peers pruned).
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// A connection to a member is kept while the member was talked to within
/// this many probe rounds (a round probes every member once).
const WARM_ROUNDS: u32 = 2;

/// A reply channel for one command.
pub(crate) type Reply<T> = tokio::sync::oneshot::Sender<T>;

/// What the handle asks of the node task.
pub(crate) enum Command {
    /// A command for the state machine, carried out by the [`NodeCore`].
    Swim(Request<TokioChannels>),
    Counters(Reply<NodeCounters>),
    Stop,
}

/// Everything the node task owns.
pub(crate) struct Driver {
    pub core: NodeCore<TokioChannels>,
    pub peers: Peers,
    pub inbound: mpsc::Receiver<Inbound>,
    pub commands: mpsc::Receiver<Command>,
}

impl Driver {
    /// Runs until [`Command::Stop`] or until the handle is dropped; closes
    /// the endpoint, writes the final identity and returns the final
    /// counters.
    pub(crate) async fn run(mut self) -> NodeCounters {
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut accepting = true;
        let mut send_buf = vec![0u8; self.core.packet_budget()];
        loop {
            // Outputs of the last input (and of the commands issued before
            // the task started).
            self.flush(&mut send_buf);
            sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(self.core.next_wake()));
            let endpoint = self.peers.endpoint().clone();
            tokio::select! {
                command = self.commands.recv() => match command {
                    None | Some(Command::Stop) => break,
                    Some(Command::Swim(request)) => self.core.apply(request),
                    Some(Command::Counters(reply)) => {
                        let _ = reply.send(self.counters());
                    }
                },
                Some(inbound) = self.inbound.recv() => {
                    self.handle_inbound(inbound, &mut send_buf);
                    for _ in 1..INBOUND_BATCH {
                        match self.inbound.try_recv() {
                            Ok(inbound) => self.handle_inbound(inbound, &mut send_buf),
                            Err(_) => break,
                        }
                    }
                }
                Some(done) = self.peers.next_done(), if self.peers.has_tasks() => {
                    self.peers.task_done(done);
                }
                incoming = endpoint.accept(), if accepting => match incoming {
                    Some(incoming) => self.peers.accept(incoming),
                    None => accepting = false,
                },
                () = &mut sleep => {
                    self.core.handle_timeout();
                }
                _ = housekeeping.tick() => {
                    let unused_for = self.unused_for();
                    self.peers.housekeeping(unused_for);
                }
            }
        }
        let counters = self.counters();
        self.peers.close().await;
        self.core.finish();
        NodeCounters {
            driver: self.core.counters(),
            ..counters
        }
    }

    fn counters(&self) -> NodeCounters {
        NodeCounters {
            protocol: self.core.swim().counters(),
            transport: self.peers.counters(),
            driver: self.core.counters(),
        }
    }

    /// How long a peer may go without a datagram either way before its
    /// connections are closed: [`WARM_ROUNDS`] probe rounds of the current
    /// membership (every member is probed once a round), and never less
    /// than the idle timeout.
    fn unused_for(&self) -> Duration {
        let swim = self.core.swim();
        let members = u32::try_from(swim.queue_lengths().members).unwrap_or(u32::MAX);
        let round = swim
            .config()
            .probe_interval
            .saturating_mul(members.saturating_add(1));
        round
            .saturating_mul(WARM_ROUNDS)
            .max(self.peers.idle_timeout())
    }

    /// Only reader tasks of verified connections produce these.
    fn handle_inbound(&mut self, inbound: Inbound, send_buf: &mut [u8]) {
        self.peers.received(inbound.from, inbound.data.len());
        self.core.handle_datagram(inbound.from, &inbound.data);
        // Drain right away: replies leave before the next datagram is read.
        self.flush(send_buf);
    }

    /// Sends every pending datagram and hands every pending event over.
    fn flush(&mut self, buf: &mut [u8]) {
        let peers = &mut self.peers;
        let len = buf.len();
        self.core.flush(buf, 0..len, |buf, end, to| {
            peers.send_to(to, Bytes::copy_from_slice(&buf[..end]));
        });
    }
}
