//! What both UDP drivers (the thread and the tokio task) run between the
//! socket and the [`NodeCore`]: the handle's commands, the envelope
//! (sealing, opening, replay filter) and the socket counters. The drivers
//! themselves only wait, receive and send.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use swim_driver::{Channels, NodeCore, Request};

use crate::envelope::{OpenError, ENVELOPE_HEADER_LEN, ENVELOPE_OVERHEAD};
use crate::keyring::{KeyError, KeyId, Keyring};
use crate::replay::{unix_time, ReplayFilter};
use crate::socket::{canonical, destination, TransportCounters};
use crate::view::NodeCounters;

/// Largest UDP payload: incoming datagrams are never truncated by the
/// buffer; the protocol itself drops those above its packet budget.
pub(crate) const RECV_BUF: usize = 65_536;

/// Commands queued from a handle to its driver; a handle whose queue is
/// full waits for room (commands are never dropped).
pub(crate) const COMMAND_QUEUE: usize = 64;

/// A key on its way to the driver, wiped once used.
pub(crate) type KeyBytes = zeroize::Zeroizing<Vec<u8>>;

/// What a handle asks of its driver; `C` are the driver's channels.
pub(crate) enum Command<C: Channels> {
    /// A command for the state machine, carried out by the [`NodeCore`].
    Swim(Request<C>),
    Counters(C::Reply<NodeCounters>),
    InstallKey(KeyBytes, C::Reply<Result<(), KeyError>>),
    UseKey(KeyBytes, C::Reply<Result<(), KeyError>>),
    RemoveKey(KeyBytes, C::Reply<Result<(), KeyError>>),
    KeyIds(C::Reply<Vec<KeyId>>),
    Stop,
}

/// Encryption state of a node.
pub(crate) struct Crypto {
    pub keyring: Keyring,
    /// The configured `packet_budget`: the largest datagram on the wire.
    pub datagram_budget: usize,
    /// Which datagrams of which senders were already accepted.
    pub replay: ReplayFilter,
}

/// The node between its socket and its driver loop.
pub(crate) struct Station<C: Channels> {
    pub core: NodeCore<C>,
    pub transport: TransportCounters,
    /// `None`: plaintext datagrams.
    crypto: Option<Crypto>,
    socket_is_v6: bool,
    send_buf: Vec<u8>,
    /// Where the protocol writes its packet in `send_buf`: after the
    /// envelope header when encrypting, the tag's room kept free at the
    /// end, so that sealing happens in place.
    packet_area: Range<usize>,
}

impl<C: Channels> Station<C> {
    pub fn new(core: NodeCore<C>, crypto: Option<Crypto>, socket_is_v6: bool) -> Self {
        let budget = core.packet_budget();
        let (len, packet_area) = match crypto {
            Some(_) => (
                budget + ENVELOPE_OVERHEAD,
                ENVELOPE_HEADER_LEN..ENVELOPE_HEADER_LEN + budget,
            ),
            None => (budget, 0..budget),
        };
        Station {
            core,
            transport: TransportCounters::default(),
            crypto,
            socket_is_v6,
            send_buf: vec![0u8; len],
            packet_area,
        }
    }

    pub fn counters(&self) -> NodeCounters {
        let mut transport = self.transport;
        if let Some(crypto) = &self.crypto {
            transport.replay_evictions = crypto.replay.evictions();
        }
        NodeCounters {
            protocol: self.core.swim().counters(),
            transport,
            driver: self.core.counters(),
        }
    }

    /// Carries out a command; false for [`Command::Stop`]. Replies are
    /// best effort: a handle that stopped waiting is no error.
    pub fn handle(&mut self, command: Command<C>) -> bool {
        match command {
            Command::Swim(request) => self.core.apply(request),
            Command::Counters(reply) => C::reply(reply, self.counters()),
            Command::InstallKey(key, reply) => {
                C::reply(reply, self.with_keyring(|ring| ring.install(&key)));
            }
            Command::UseKey(key, reply) => {
                C::reply(reply, self.with_keyring(|ring| ring.use_key(&key)));
            }
            Command::RemoveKey(key, reply) => {
                C::reply(reply, self.with_keyring(|ring| ring.remove(&key)));
            }
            Command::KeyIds(reply) => {
                let ids = self
                    .crypto
                    .as_ref()
                    .map(|c| c.keyring.key_ids())
                    .unwrap_or_default();
                C::reply(reply, ids);
            }
            Command::Stop => return false,
        }
        true
    }

    fn with_keyring(
        &mut self,
        change: impl FnOnce(&mut Keyring) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        match &mut self.crypto {
            Some(crypto) => change(&mut crypto.keyring),
            None => Err(KeyError::EncryptionDisabled),
        }
    }

    /// Seals (with a keyring) and sends every pending datagram with `send`,
    /// which must not block; hands every pending event over. Send errors
    /// are counted: the datagram is lost, as datagrams may be.
    pub fn flush(&mut self, mut send: impl FnMut(&[u8], SocketAddr) -> io::Result<usize>) {
        let Station {
            core,
            transport,
            crypto,
            socket_is_v6,
            send_buf,
            packet_area,
        } = self;
        let tag = core.swim().config().cluster_tag;
        core.flush(send_buf, packet_area.clone(), |buf, end, to| {
            let Some(to) = destination(*socket_is_v6, to) else {
                transport.send_unreachable += 1;
                return;
            };
            let len = match crypto {
                Some(crypto) => match crypto.keyring.seal(tag, buf, end - ENVELOPE_HEADER_LEN) {
                    Ok(len) => len,
                    Err(_) => {
                        transport.seal_errors += 1;
                        return;
                    }
                },
                None => end,
            };
            let Some(datagram) = buf.get(..len) else {
                transport.send_other_errors += 1;
                return;
            };
            match send(datagram, to) {
                Ok(_) => transport.datagrams_sent += 1,
                Err(e) => {
                    swim_driver::log!(debug, "send to {to} failed: {e}");
                    transport.count_send_error(&e);
                }
            }
        });
    }

    /// Opens (with a keyring) a datagram received from `from` and hands it
    /// to the protocol; drops and counts what does not open or was
    /// replayed.
    pub fn receive(&mut self, from: SocketAddr, datagram: &mut [u8]) {
        let from = canonical(from);
        let Some(crypto) = &mut self.crypto else {
            self.core.handle_datagram(from, datagram);
            return;
        };
        if datagram.len() > crypto.datagram_budget {
            // Not worth authenticating: the protocol would drop it.
            self.transport.decrypt_drops.count(OpenError::Oversized);
            return;
        }
        let tag = self.core.swim().config().cluster_tag;
        // Authenticate first; only then may the header move the sender's
        // replay window.
        let accepted = crypto.keyring.open(tag, datagram).and_then(|opened| {
            if Some(opened.sender_id) == crypto.keyring.sender_id() {
                // One of this node's own datagrams, sent back.
                return Err(OpenError::Replayed);
            }
            crypto.replay.check(&opened, unix_time())?;
            Ok(opened)
        });
        match accepted {
            Ok(opened) => {
                if opened.key_index > 0 {
                    self.transport.opened_with_secondary_key += 1;
                }
                self.core.handle_datagram(from, &datagram[opened.plaintext]);
            }
            Err(reason) => {
                swim_driver::log!(debug, "datagram from {from} dropped: {reason:?}");
                self.transport.decrypt_drops.count(reason);
            }
        }
    }

    /// Counts a failed receive; true if it may persist (the caller should
    /// not retry at once).
    pub fn receive_error(&mut self, error: &io::Error) -> bool {
        match error.kind() {
            io::ErrorKind::Interrupted | io::ErrorKind::TimedOut => false,
            io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
                self.transport.recv_refused += 1;
                false
            }
            _ => {
                swim_driver::log!(warn, "receive failed: {error}");
                self.transport.recv_errors += 1;
                true
            }
        }
    }
}
