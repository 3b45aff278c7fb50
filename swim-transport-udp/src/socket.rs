//! The UDP socket: address mapping, error classification and counters.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};

use crate::envelope::DecryptDrops;
use crate::error::Error;

/// Socket-level counters: what the operating system refused or reported.
/// None of these stop the node: the datagram is lost, as the protocol
/// expects datagrams to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportCounters {
    /// Datagrams the socket accepted for sending.
    pub datagrams_sent: u64,
    /// Sends refused because an earlier datagram drew an ICMP "port
    /// unreachable" (`ECONNREFUSED`, `ECONNRESET`).
    pub send_refused: u64,
    /// Sends refused as too large for the path (`EMSGSIZE`).
    pub send_too_large: u64,
    /// Sends dropped because the socket's send buffer was full (`EAGAIN`,
    /// `ENOBUFS`): sends never wait for room.
    pub send_buffer_full: u64,
    /// Sends to an unreachable network or host, or to an address family the
    /// socket cannot reach (an IPv6 member seen from an IPv4 socket).
    pub send_unreachable: u64,
    /// Other send errors.
    pub send_other_errors: u64,
    /// Receives that reported an ICMP error (some systems report them on
    /// the next receive).
    pub recv_refused: u64,
    /// Other receive errors.
    pub recv_errors: u64,
    /// Wake-ups of the node thread by its handle, for a command (the
    /// tokio driver does not count them).
    pub wakeups: u64,
    /// Incoming datagrams dropped by the envelope layer, by reason: they
    /// could not be opened with the keyring, or they opened but were
    /// replayed or stale (see [`ReplayFilter`](crate::ReplayFilter)); they
    /// never reached the protocol. Always zero without a keyring.
    pub decrypt_drops: DecryptDrops,
    /// Senders the replay filter forgot because its table was full
    /// ([`ReplayConfig::max_senders`](crate::ReplayConfig)); each one
    /// could have one more of its datagrams replayed, within the freshness
    /// window. Always zero without a keyring.
    pub replay_evictions: u64,
    /// Incoming datagrams opened with a key other than the primary one:
    /// some members still seal with an older key (during a rotation, the
    /// old key can be removed once this stops growing everywhere).
    pub opened_with_secondary_key: u64,
    /// Outgoing datagrams dropped because they could not be sealed (the
    /// operating system's random number generator failed to give the
    /// sender id).
    pub seal_errors: u64,
}

/// What a failed send means for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendFailure {
    Refused,
    TooLarge,
    BufferFull,
    Unreachable,
    Other,
}

impl TransportCounters {
    /// Counts one failed send.
    pub(crate) fn count_send_error(&mut self, error: &io::Error) {
        let slot = match classify_send_error(error) {
            SendFailure::Refused => &mut self.send_refused,
            SendFailure::TooLarge => &mut self.send_too_large,
            SendFailure::BufferFull => &mut self.send_buffer_full,
            SendFailure::Unreachable => &mut self.send_unreachable,
            SendFailure::Other => &mut self.send_other_errors,
        };
        *slot += 1;
    }

    /// All send failures.
    pub fn send_errors(&self) -> u64 {
        self.send_refused
            + self.send_too_large
            + self.send_buffer_full
            + self.send_unreachable
            + self.send_other_errors
    }
}

pub(crate) fn classify_send_error(error: &io::Error) -> SendFailure {
    if let Some(code) = error.raw_os_error() {
        if let Some(failure) = classify_os_error(code) {
            return failure;
        }
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => SendFailure::Refused,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SendFailure::BufferFull,
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::Unsupported => SendFailure::Unreachable,
        _ => SendFailure::Other,
    }
}

#[cfg(unix)]
fn classify_os_error(code: i32) -> Option<SendFailure> {
    match code {
        libc::EMSGSIZE => Some(SendFailure::TooLarge),
        libc::ENOBUFS => Some(SendFailure::BufferFull),
        libc::EAFNOSUPPORT => Some(SendFailure::Unreachable),
        _ => None,
    }
}

#[cfg(windows)]
fn classify_os_error(code: i32) -> Option<SendFailure> {
    const WSAEMSGSIZE: i32 = 10040;
    const WSAENOBUFS: i32 = 10055;
    match code {
        WSAEMSGSIZE => Some(SendFailure::TooLarge),
        WSAENOBUFS => Some(SendFailure::BufferFull),
        _ => None,
    }
}

#[cfg(not(any(unix, windows)))]
fn classify_os_error(_code: i32) -> Option<SendFailure> {
    None
}

pub(crate) use swim_driver::canonical;

/// Where to send a datagram for `to` from a socket of the given family:
/// IPv4 destinations are mapped for IPv6 sockets; IPv6 destinations cannot
/// be reached from IPv4 sockets (unless they are v4-mapped).
pub(crate) fn destination(socket_is_v6: bool, to: SocketAddr) -> Option<SocketAddr> {
    match (socket_is_v6, to) {
        (true, SocketAddr::V4(v4)) => Some(SocketAddr::V6(SocketAddrV6::new(
            v4.ip().to_ipv6_mapped(),
            v4.port(),
            0,
            0,
        ))),
        (false, SocketAddr::V6(v6)) => v6
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, v6.port()))),
        _ => Some(to),
    }
}

/// The address other members should use, given the bound one.
///
/// An explicit `advertise` wins (port 0 there means the bound port). A specific bound address is used as is. A
/// wildcard bind (`0.0.0.0`, `::`) takes the local address the system
/// would use to reach the first seed (found with a `connect`, which sends
/// nothing), with the bound port.
pub(crate) fn advertise_addr(
    bound: SocketAddr,
    advertise: Option<SocketAddr>,
    seeds: &[SocketAddr],
) -> Result<SocketAddr, Error> {
    if let Some(addr) = advertise {
        let port = if addr.port() == 0 {
            bound.port()
        } else {
            addr.port()
        };
        return Ok(SocketAddr::new(addr.ip(), port));
    }
    if !bound.ip().is_unspecified() {
        return Ok(bound);
    }
    for seed in seeds {
        let probe_ip: IpAddr = match seed {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let Ok(probe) = UdpSocket::bind((probe_ip, 0)) else {
            continue;
        };
        if probe.connect(seed).is_err() {
            continue;
        }
        if let Ok(local) = probe.local_addr() {
            if !local.ip().is_unspecified() {
                return Ok(SocketAddr::new(canonical(local).ip(), bound.port()));
            }
        }
    }
    Err(Error::NoAdvertiseAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn destinations_follow_the_socket_family() {
        assert_eq!(
            destination(true, a("10.1.2.3:7")),
            Some(a("[::ffff:10.1.2.3]:7"))
        );
        assert_eq!(destination(true, a("[::1]:7")), Some(a("[::1]:7")));
        assert_eq!(destination(false, a("[::1]:7")), None);
        assert_eq!(
            destination(false, a("[::ffff:10.1.2.3]:7")),
            Some(a("10.1.2.3:7"))
        );
        assert_eq!(destination(false, a("10.1.2.3:7")), Some(a("10.1.2.3:7")));
    }

    #[test]
    fn advertise_address_resolution() {
        let bound = a("127.0.0.1:4000");
        assert_eq!(advertise_addr(bound, None, &[]).unwrap(), bound);
        assert_eq!(
            advertise_addr(bound, Some(a("10.0.0.9:80")), &[]).unwrap(),
            a("10.0.0.9:80")
        );
        assert_eq!(
            advertise_addr(bound, Some(a("10.0.0.9:0")), &[]).unwrap(),
            a("10.0.0.9:4000")
        );
        let wildcard = a("0.0.0.0:4000");
        assert!(matches!(
            advertise_addr(wildcard, None, &[]),
            Err(Error::NoAdvertiseAddress)
        ));
        // Towards a loopback seed, the route's source is loopback.
        assert_eq!(
            advertise_addr(wildcard, None, &[a("127.0.0.1:9")]).unwrap(),
            a("127.0.0.1:4000")
        );
    }

    #[test]
    fn send_errors_are_classified() {
        use io::ErrorKind as K;
        assert_eq!(
            classify_send_error(&K::ConnectionRefused.into()),
            SendFailure::Refused
        );
        assert_eq!(
            classify_send_error(&K::WouldBlock.into()),
            SendFailure::BufferFull
        );
        assert_eq!(
            classify_send_error(&K::HostUnreachable.into()),
            SendFailure::Unreachable
        );
        assert_eq!(
            classify_send_error(&K::PermissionDenied.into()),
            SendFailure::Other
        );
        #[cfg(unix)]
        {
            let e = io::Error::from_raw_os_error(libc::EMSGSIZE);
            assert_eq!(classify_send_error(&e), SendFailure::TooLarge);
            let e = io::Error::from_raw_os_error(libc::ENOBUFS);
            assert_eq!(classify_send_error(&e), SendFailure::BufferFull);
            let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
            assert_eq!(classify_send_error(&e), SendFailure::Refused);
        }
    }
}
