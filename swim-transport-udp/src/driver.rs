//! The node thread: waits on the socket and the handle's waker with one
//! `epoll`/`kqueue` call (mio), receives every datagram that is ready,
//! sends without ever blocking, and leaves everything else to the
//! [`Station`].

use std::io;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use swim_driver::StdChannels;

use crate::station::{Command, Station, RECV_BUF};
use crate::view::NodeCounters;

/// The socket's readiness.
pub(crate) const SOCKET: Token = Token(0);
/// The handle's waker: a command is queued.
pub(crate) const WAKER: Token = Token(1);
/// Datagrams received in a row before the loop looks at its commands and
/// timers again.
const RECV_BATCH: usize = 64;
/// Pause after a receive error that may persist, so as not to spin on it.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Everything the node thread owns.
pub(crate) struct Driver {
    pub station: Station<StdChannels>,
    pub socket: UdpSocket,
    pub poll: Poll,
    pub commands: Receiver<Command<StdChannels>>,
}

impl Driver {
    /// Registers the socket (and nothing else: the waker registered
    /// itself when created) with `poll`.
    pub fn new(
        station: Station<StdChannels>,
        mut socket: UdpSocket,
        poll: Poll,
        commands: Receiver<Command<StdChannels>>,
    ) -> io::Result<Self> {
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE)?;
        Ok(Driver {
            station,
            socket,
            poll,
            commands,
        })
    }

    /// Runs until [`Command::Stop`] or until the handle is dropped; writes
    /// the final identity and returns the final counters.
    ///
    /// System calls: one wait per turn of the loop (`epoll_wait`), one
    /// receive per datagram plus the one that finds the socket empty,
    /// one non-blocking send per datagram sent. A send that finds the
    /// socket's buffer full drops the datagram and counts it
    /// (`send_buffer_full`): the loop never blocks on a send.
    pub fn run(mut self) -> NodeCounters {
        let mut recv_buf = vec![0u8; RECV_BUF];
        let mut events = Events::with_capacity(8);
        // The socket may hold datagrams the last turn did not read (the
        // readiness is edge-triggered: it is reported again only after a
        // receive found the socket empty).
        let mut readable = false;
        loop {
            if !self.drain_commands() {
                break;
            }
            self.station.core.handle_timeout();
            self.flush();
            let wait = match readable {
                true => Duration::ZERO,
                false => self.station.core.wait_time(),
            };
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.station.transport.recv_errors += 1;
                    std::thread::sleep(ERROR_PAUSE);
                    continue;
                }
            }
            for event in events.iter() {
                match event.token() {
                    SOCKET => readable = true,
                    WAKER => self.station.transport.wakeups += 1,
                    _ => {}
                }
            }
            if readable {
                readable = self.receive(&mut recv_buf);
            }
        }
        self.station.core.finish();
        self.station.counters()
    }

    /// Handles every queued command; false when the thread must stop.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => {
                    if !self.station.handle(command) {
                        return false;
                    }
                }
                Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn flush(&mut self) {
        let socket = &self.socket;
        self.station
            .flush(|datagram, to| socket.send_to(datagram, to));
    }

    /// Receives up to [`RECV_BATCH`] datagrams, answering each at once;
    /// true if the socket may still hold some.
    fn receive(&mut self, buf: &mut [u8]) -> bool {
        for _ in 0..RECV_BATCH {
            match self.socket.recv_from(buf) {
                Ok((len, from)) => {
                    self.station.receive(from, &mut buf[..len]);
                    self.flush();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    if self.station.receive_error(&e) {
                        std::thread::sleep(ERROR_PAUSE);
                        return true;
                    }
                }
            }
        }
        true
    }
}
