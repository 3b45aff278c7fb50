//! Node addresses and identities.
//!
//! The state machine is generic over the address type so that any transport
//! can carry it: a socket address, a radio id, an in-process index.

use core::fmt::Debug;
use core::hash::Hash;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::wire::codec::{Reader, Writer};

/// An address a transport can deliver datagrams to, with its wire encoding.
///
/// Member lookups hash addresses (`Hash`, with a fixed hasher: no random
/// state) in the `alloc` build, and use ordered indexes (`Ord`) without it.
pub trait Address: Clone + Ord + Hash + Debug {
    /// Upper bound of [`Address::encode`]'s output, in bytes.
    const MAX_ENCODED_LEN: usize;

    /// Writes the address; `None` when `out` is too small.
    fn encode(&self, out: &mut Writer<'_>) -> Option<()>;

    /// Reads an address; `None` on truncated or invalid input.
    fn decode(input: &mut Reader<'_>) -> Option<Self>;

    /// Moves past an address without building it (the validation pass of
    /// [`Packet::decode`](crate::wire::Packet::decode)): `None` exactly when
    /// [`Address::decode`] returns `None`, and otherwise consuming the same
    /// bytes. The default decodes; override it when building is costly.
    #[inline]
    fn skip(input: &mut Reader<'_>) -> Option<()> {
        Self::decode(input).map(drop)
    }
}

impl Address for SocketAddrV4 {
    const MAX_ENCODED_LEN: usize = 6;
    fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        out.bytes(&self.ip().octets())?;
        out.bytes(&self.port().to_be_bytes())
    }
    #[inline]
    fn decode(input: &mut Reader<'_>) -> Option<Self> {
        let ip = Ipv4Addr::from(input.array::<4>()?);
        let port = u16::from_be_bytes(input.array::<2>()?);
        Some(SocketAddrV4::new(ip, port))
    }
    #[inline]
    fn skip(input: &mut Reader<'_>) -> Option<()> {
        input.skip(6)
    }
}

impl Address for SocketAddrV6 {
    const MAX_ENCODED_LEN: usize = 18;
    fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        out.bytes(&self.ip().octets())?;
        out.bytes(&self.port().to_be_bytes())
    }
    #[inline]
    fn decode(input: &mut Reader<'_>) -> Option<Self> {
        let ip = Ipv6Addr::from(input.array::<16>()?);
        let port = u16::from_be_bytes(input.array::<2>()?);
        Some(SocketAddrV6::new(ip, port, 0, 0))
    }
    #[inline]
    fn skip(input: &mut Reader<'_>) -> Option<()> {
        input.skip(18)
    }
}

const TAG_V4: u8 = 4;
const TAG_V6: u8 = 6;

/// One tag byte (4 or 6), then the IP octets and the port, big-endian.
/// Flow info and scope id of IPv6 addresses are not carried.
impl Address for SocketAddr {
    const MAX_ENCODED_LEN: usize = 19;
    fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        match self {
            SocketAddr::V4(a) => {
                out.u8(TAG_V4)?;
                a.encode(out)
            }
            SocketAddr::V6(a) => {
                out.u8(TAG_V6)?;
                a.encode(out)
            }
        }
    }
    #[inline]
    fn decode(input: &mut Reader<'_>) -> Option<Self> {
        match input.u8()? {
            TAG_V4 => SocketAddrV4::decode(input).map(SocketAddr::V4),
            TAG_V6 => SocketAddrV6::decode(input).map(SocketAddr::V6),
            _ => None,
        }
    }
    #[inline]
    fn skip(input: &mut Reader<'_>) -> Option<()> {
        match input.u8()? {
            TAG_V4 => SocketAddrV4::skip(input),
            TAG_V6 => SocketAddrV6::skip(input),
            _ => None,
        }
    }
}

macro_rules! integer_address {
    ($($t:ty),*) => {$(
        /// Encoded as a varint: for in-process indexes and radio ids.
        impl Address for $t {
            const MAX_ENCODED_LEN: usize = (<$t>::BITS as usize).div_ceil(7);
            fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
                out.varint(u64::from(*self))
            }
            #[inline]
            fn decode(input: &mut Reader<'_>) -> Option<Self> {
                <$t>::try_from(input.varint()?).ok()
            }
        }
    )*};
}
integer_address!(u16, u32, u64);

/// Who a node is: where it can be reached, plus a generation that tells a
/// restarted process apart from its previous life on the same address.
///
/// The generation is chosen by the user when the node starts. Persist a
/// counter (or use a coarse wall-clock time) and raise it at every start: a
/// member with a higher generation replaces the one with a lower generation,
/// whatever their incarnations. Small values encode in fewer bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Identity<A> {
    /// Address other members send datagrams to.
    pub addr: A,
    /// Process generation on this address.
    pub generation: u32,
}

impl<A: Address> Identity<A> {
    /// An identity at `addr` in its `generation`.
    pub fn new(addr: A, generation: u32) -> Self {
        Identity { addr, generation }
    }

    pub(crate) fn encode(&self, out: &mut Writer<'_>) -> Option<()> {
        self.addr.encode(out)?;
        out.varint(u64::from(self.generation))
    }

    #[inline(always)]
    pub(crate) fn decode(input: &mut Reader<'_>) -> Option<Self> {
        let addr = A::decode(input)?;
        let generation = input.varint_u32()?;
        Some(Identity { addr, generation })
    }

    /// Moves past an identity; `None` exactly when `decode` would fail.
    #[inline]
    pub(crate) fn skip(input: &mut Reader<'_>) -> Option<()> {
        A::skip(input)?;
        input.varint_u32().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<A: Address + PartialEq>(a: A) -> usize {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        a.encode(&mut w).unwrap();
        let n = w.len();
        assert!(n <= A::MAX_ENCODED_LEN);
        let mut r = Reader::new(&buf[..n]);
        assert_eq!(A::decode(&mut r).as_ref(), Some(&a));
        assert!(r.is_empty());
        n
    }

    #[test]
    fn addresses_round_trip() {
        assert_eq!(
            round_trip("10.0.0.1:7946".parse::<SocketAddr>().unwrap()),
            7
        );
        assert_eq!(round_trip("[::1]:7946".parse::<SocketAddr>().unwrap()), 19);
        assert_eq!(
            round_trip("10.0.0.1:7946".parse::<SocketAddrV4>().unwrap()),
            6
        );
        assert_eq!(round_trip(u32::MAX), 5);
        assert_eq!(round_trip(7u16), 1);
        assert_eq!(round_trip(u64::MAX), 10);
    }

    #[test]
    fn bad_addresses_are_rejected() {
        assert_eq!(
            SocketAddr::decode(&mut Reader::new(&[5, 1, 2, 3, 4, 0, 1])),
            None
        );
        assert_eq!(SocketAddr::decode(&mut Reader::new(&[4, 1, 2, 3])), None);
        assert_eq!(u16::decode(&mut Reader::new(&[0xff, 0xff, 0x7f])), None);
    }
}
