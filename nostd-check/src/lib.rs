//! Builds a whole `Swim` node without std and without an allocator.

#![no_std]

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::panic::PanicInfo;

use swim_core::{Config, Event, Identity, Instant, Swim};

/// A tiny deterministic generator, enough to prove the RNG is injected.
struct XorShift(u64);

impl rand_core::TryRng for XorShift {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}

/// Runs a node for a few steps and returns how many bytes it sent.
#[no_mangle]
pub extern "C" fn swim_nostd_smoke(seed: u64) -> u32 {
    let me = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7946));
    let seed_node = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7947));
    let Ok(mut node) = Swim::<SocketAddr, XorShift, 16, 32>::new(
        Identity::new(me, 1),
        Config::local(),
        XorShift(seed | 1),
        Instant::ZERO,
    ) else {
        return 0;
    };
    let _ = node.join(Instant::ZERO, &[seed_node]);
    let mut buf = [0u8; 1400];
    let mut sent = 0u32;
    let mut now = Instant::ZERO;
    for _ in 0..10 {
        while let Some(t) = node.poll_transmit(now, &mut buf) {
            sent += t.len as u32;
            node.handle_datagram(now, t.destination, &buf[..t.len]);
        }
        while let Some(event) = node.poll_event() {
            if let Event::MemberJoined(_) = event {
                sent += 1;
            }
        }
        now = node.poll_timeout().unwrap_or(now);
        node.handle_timeout(now);
    }
    sent
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}
