//! What starting a node takes, whichever driver runs it.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use swim_core::Identity;
use swim_driver::{Channels, NodeCore};

use crate::envelope::ENVELOPE_OVERHEAD;
use crate::error::Error;
use crate::options::NodeOptions;
use crate::replay::ReplayFilter;
use crate::socket::advertise_addr;
use crate::station::{Crypto, Station};

/// A node ready to run: its station and its bound, non-blocking socket.
pub(crate) struct Prepared<C: Channels> {
    pub station: Station<C>,
    pub socket: UdpSocket,
    pub local_addr: SocketAddr,
    pub identity: Identity<SocketAddr>,
    pub leave_timeout: Duration,
}

/// Checks the options, binds the socket (non-blocking), picks the
/// identity and starts the protocol, handing events to `events`.
///
/// With a keyring, the protocol runs with a `packet_budget` of the
/// configured one minus [`ENVELOPE_OVERHEAD`], so that sealed datagrams
/// never exceed the configured size.
pub(crate) fn prepare<C: Channels>(
    mut options: NodeOptions,
    events: C::Events,
) -> Result<Prepared<C>, Error> {
    options.core.config.validate()?;
    let crypto = match options.keyring.take() {
        Some(keyring) => {
            let configured = options.core.config.packet_budget;
            let minimum = swim_core::wire::MIN_PACKET_BUDGET + ENVELOPE_OVERHEAD;
            if usize::from(configured) < minimum {
                return Err(Error::PacketBudgetTooSmall {
                    configured,
                    minimum,
                });
            }
            // Cannot truncate: `configured` is a u16 above the overhead.
            options.core.config.packet_budget = configured - ENVELOPE_OVERHEAD as u16;
            options.core.config.validate()?;
            Some(Crypto {
                keyring,
                datagram_budget: usize::from(configured),
                replay: ReplayFilter::new(options.replay),
            })
        }
        None => None,
    };
    let socket = UdpSocket::bind(options.bind)?;
    socket.set_nonblocking(true)?;
    let local_addr = socket.local_addr()?;
    let advertise = advertise_addr(local_addr, options.core.advertise, &options.core.seeds)?;
    let core = NodeCore::start(options.core, advertise, local_addr, events)?;
    let identity = core.identity().clone();
    let leave_timeout = core.leave_timeout();
    let station = Station::new(core, crypto, local_addr.is_ipv6());
    Ok(Prepared {
        station,
        socket,
        local_addr,
        identity,
        leave_timeout,
    })
}

/// A copy of `key` for the driver, once its length is known good.
pub(crate) fn checked_key(key: &[u8]) -> Result<crate::station::KeyBytes, crate::KeyError> {
    if key.len() != crate::KEY_LEN {
        return Err(crate::KeyError::InvalidLength { len: key.len() });
    }
    Ok(crate::station::KeyBytes::new(key.to_vec()))
}
