//! Memory per member, and zero heap allocations per packet in steady state.

#![cfg(feature = "alloc")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use swim_core::{Config, Identity, Instant, Swim};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn memory_per_member_entry() {
    let v4 = Swim::<SocketAddrV4, Pcg32>::storage_bytes_per_member();
    let any = Swim::<SocketAddr, Pcg32>::storage_bytes_per_member();
    println!("storage per member: {v4} bytes (SocketAddrV4), {any} bytes (SocketAddr)");
    assert!(v4 <= 128, "{v4} bytes per member with an IPv4 identity");
}

type Node = Swim<u32, Pcg32>;

/// Three nodes exchange datagrams through fixed buffers; after warm-up,
/// probing, acking and gossip allocate nothing.
#[test]
fn steady_state_allocates_nothing_per_packet() {
    let config = Config::local();
    let mut now = Instant::from_secs(1);
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            Node::new(
                Identity::new(i, 1),
                config.clone(),
                Pcg32::seed_from_u64(u64::from(i)),
                now,
            )
            .unwrap()
        })
        .collect();
    // Fixed-size mailbox: (from, to, len, bytes).
    let mut mailbox = vec![(0u32, 0u32, 0usize, [0u8; 1400]); 256];
    let mut pending = 0usize;
    let mut buf = [0u8; 1400];
    let mut step = |nodes: &mut Vec<Node>,
                    now: Instant,
                    mailbox: &mut Vec<(u32, u32, usize, [u8; 1400])>,
                    pending: &mut usize| {
        let delivered = *pending;
        *pending = 0;
        for &(from, to, len, bytes) in mailbox.iter().take(delivered) {
            nodes[to as usize].handle_datagram(now, from, &bytes[..len]);
        }
        for (i, node) in nodes.iter_mut().enumerate() {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
            while let Some(t) = node.poll_transmit(now, &mut buf) {
                if *pending < mailbox.len() {
                    let slot = &mut mailbox[*pending];
                    slot.0 = i as u32;
                    slot.1 = t.destination;
                    slot.2 = t.len;
                    slot.3[..t.len].copy_from_slice(&buf[..t.len]);
                    *pending += 1;
                }
            }
            while node.poll_event().is_some() {}
        }
    };
    nodes[1].join(now, &[0]).unwrap();
    nodes[2].join(now, &[0]).unwrap();
    // Warm up for two minutes of virtual time: every queue reaches its
    // working size and every record has been gossiped out.
    for _ in 0..12_000 {
        now += Duration::from_millis(10);
        step(&mut nodes, now, &mut mailbox, &mut pending);
    }
    assert!(nodes.iter().all(|n| n.active_members() == 2));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let sent_before: u64 = nodes.iter().map(|n| n.counters().datagrams_out).sum();
    for _ in 0..6_000 {
        now += Duration::from_millis(10);
        step(&mut nodes, now, &mut mailbox, &mut pending);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let sent: u64 = nodes
        .iter()
        .map(|n| n.counters().datagrams_out)
        .sum::<u64>()
        - sent_before;
    println!("{sent} datagrams in steady state, {allocations} heap allocations");
    assert!(sent > 300, "the nodes kept talking ({sent} datagrams)");
    assert_eq!(allocations, 0);
}
