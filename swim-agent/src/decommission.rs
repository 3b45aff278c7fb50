//! Decommission orders: "the node at ADDR, generation G and older, is out
//! of the cluster for good".
//!
//! An order travels as an application broadcast under a reserved key
//! (every agent learns it) and as a direct message to the node itself
//! (so that it hears it even once the others have forgotten it). Every
//! agent that receives one refuses the identity
//! (`swim_core::Swim::refuse`: records about that address at that
//! generation or lower are ignored from then on, a present member is
//! removed); the node named stops (it leaves and exits) when it receives
//! the order about itself.
//!
//! Authority: whoever can send a datagram the cluster accepts. Orders are
//! therefore acted on only in clusters whose traffic is authenticated (a
//! UDP keyring, or QUIC certificates); on plaintext UDP anyone could forge
//! one, and agents refuse to send them and ignore those they receive. Any
//! key or certificate holder is an authority. An outsider cannot forge
//! one: it would have to seal it with the cluster key or hold a cluster
//! certificate. An order is not a protocol record: the protocol's own
//! rule that no gossiped record evicts a live member still holds; only
//! the application, on an authenticated order, calls the refusal.

use std::net::SocketAddr;

use swim_transport_udp::Identity;

/// The first text of every order's payload.
pub const MAGIC: &str = "swim-decommission/1";
/// The top 16 bits of every broadcast key the agent reserves for itself;
/// applications' broadcast keys must not use them.
pub const RESERVED_KEY_PREFIX: u64 = 0x5357 << 48;
const RESERVED_KEY_MASK: u64 = 0xffff << 48;
/// Longest payload taken for an order.
const MAX_ORDER_LEN: usize = 128;

/// True if `key` is in the range reserved by the agent.
pub fn is_reserved_key(key: u64) -> bool {
    key & RESERVED_KEY_MASK == RESERVED_KEY_PREFIX
}

/// True if a payload begins like an order (applications may not send such
/// broadcasts or messages themselves).
pub fn looks_like_order(payload: &[u8]) -> bool {
    payload.starts_with(MAGIC.as_bytes())
}

/// An order to decommission one identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The address and generation taken out (older generations too).
    pub identity: Identity<SocketAddr>,
}

impl Order {
    /// The order for `identity`.
    pub fn new(identity: Identity<SocketAddr>) -> Self {
        Order { identity }
    }

    /// The payload: `swim-decommission/1 ADDR GENERATION`.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{MAGIC} {} {}",
            self.identity.addr, self.identity.generation
        )
        .into_bytes()
    }

    /// The broadcast key of this order: reserved, and distinct per
    /// identity so that two orders from one agent do not supersede each
    /// other.
    pub fn broadcast_key(&self) -> u64 {
        // FNV-1a over the encoded order: stable across builds and hosts.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.encode() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        RESERVED_KEY_PREFIX | (hash & !RESERVED_KEY_MASK)
    }

    /// Reads an order; `None` for anything else (never panics).
    pub fn decode(payload: &[u8]) -> Option<Order> {
        if payload.len() > MAX_ORDER_LEN {
            return None;
        }
        let text = std::str::from_utf8(payload).ok()?;
        let mut words = text.split(' ');
        if words.next()? != MAGIC {
            return None;
        }
        let addr: SocketAddr = words.next()?.parse().ok()?;
        let generation: u32 = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        Some(Order::new(Identity::new(addr, generation)))
    }

    /// True if the order is about the node with identity `me`: same
    /// address, and a generation not newer than the order's.
    pub fn names(&self, me: &Identity<SocketAddr>) -> bool {
        self.identity.addr == me.addr && me.generation <= self.identity.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order::new(Identity::new("127.0.0.1:7002".parse().unwrap(), 42))
    }

    #[test]
    fn round_trip_and_reserved_key() {
        let o = order();
        assert_eq!(Order::decode(&o.encode()), Some(o.clone()));
        assert!(is_reserved_key(o.broadcast_key()));
        assert!(!is_reserved_key(7));
        let other = Order::new(Identity::new("127.0.0.1:7003".parse().unwrap(), 42));
        assert_ne!(o.broadcast_key(), other.broadcast_key());
        assert!(looks_like_order(&o.encode()));
    }

    #[test]
    fn anything_else_is_not_an_order() {
        for bad in [
            &b""[..],
            b"swim-decommission/1",
            b"swim-decommission/1 127.0.0.1:7002",
            b"swim-decommission/1 127.0.0.1:7002 x",
            b"swim-decommission/1 127.0.0.1:7002 42 extra",
            b"swim-decommission/2 127.0.0.1:7002 42",
            b"\xff\xfe",
        ] {
            assert_eq!(Order::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Order::decode(&[b'a'; 4096]), None);
    }

    #[test]
    fn names_this_generation_and_older_only() {
        let o = order();
        let addr = o.identity.addr;
        assert!(o.names(&Identity::new(addr, 42)));
        assert!(o.names(&Identity::new(addr, 41)));
        assert!(!o.names(&Identity::new(addr, 43)));
        assert!(!o.names(&Identity::new("127.0.0.1:7004".parse().unwrap(), 42)));
    }
}
